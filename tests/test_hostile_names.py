"""Names from a model never reach generated C or file names unescaped: a layer named to close a
comment and define main, tensors named to climb out of the output folder, a graph name with a
newline and an #include. The artifact builds, runs bit-exact and contains no such name."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import layer_graphs
import numpy as np
import pytest

import nnmap
from nnmap.codegen.c_text import c_comment, c_string
from nnmap.ir import Graph, Requant
from nnmap.reference import run_batch

LAYER = "x */ int main(){} /*"
INPUT = "../../outside"
OUTPUT = "y\n#include <stdio.h>"
GRAPH = 'evil"\n#error injected'
RNG = np.random.default_rng(41)


def _requant(channels: int) -> Requant:
    return Requant.from_scales(0.05, RNG.uniform(0.002, 0.01, channels), 0.3)


def hostile_graph() -> Graph:
    graph = layer_graphs.conv_graph(RNG, _requant, (6, 16, 16, 3, 1))
    rename = {"x": INPUT, "y": OUTPUT}
    tensors = {rename[n]: dataclasses.replace(t, name=rename[n]) for n, t in graph.tensors.items()}
    layer = dataclasses.replace(graph.layers[0], name=LAYER, inputs=(INPUT,), output=OUTPUT)
    return Graph(GRAPH, tensors, (layer,), (INPUT,), (OUTPUT,))


def test_text_helpers_cannot_break_out() -> None:
    assert "*/" not in c_comment(LAYER) and "/*" not in c_comment(LAYER)
    assert "*/" not in c_comment("**//") and "\n" not in c_comment(OUTPUT)
    literal = c_string(GRAPH)
    assert literal.startswith('"') and literal.endswith('"') and "\n" not in literal
    assert '\\"' in literal and literal.count('"') == 3  # the quote inside is escaped


@pytest.mark.parametrize("target", ["host", "gemmini"])
def test_hostile_names_build_run_and_stay_out_of_the_c(tmp_path: Path, target: str) -> None:
    graph = hostile_graph()
    out = tmp_path / "deep" / "artifact"
    artifact = nnmap.compile(graph, target, out)
    samples = RNG.integers(-128, 128, (4, 6, 6, 16)).astype(np.int8)
    expected = run_batch(graph, [samples])[0]
    np.testing.assert_array_equal(artifact.run_batch([samples])[0], expected)
    written = {path.relative_to(tmp_path) for path in tmp_path.rglob("*")}
    assert all(str(path).startswith("deep") for path in written)
    assert not any("outside" in str(path) or "main" in path.name for path in written)
    for source in list(out.glob("*.[ch]")):
        text = source.read_text()
        for name in (LAYER, INPUT, OUTPUT, GRAPH):
            outside_literals = text.replace(c_string(name), "")
            assert name not in outside_literals, f"{name!r} written raw into {source.name}"
        directives = [line.strip() for line in text.splitlines() if line.lstrip().startswith("#")]
        assert not any(d.startswith("#error") or d == "#include <stdio.h>" for d in directives)
    if target != "host":
        assert any(entry["module"] == target for entry in artifact.report["layers"])
