"""The driver's argument checks and the sanitized build itself: nnmap_run refuses NULL pointers
with an error code, and the sanitized program reports a write past the model's output buffer
(per-target runs of real models are in the test_codegen_* files; bench/sanitize.py runs all)."""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
import pytest
from layer_graphs import conv_graph

import nnmap
from nnmap.codegen.artifact import Artifact
from nnmap.codegen.driver import NULL_ARGUMENT_STATUS
from nnmap.codegen.sanitize import run_sanitized
from nnmap.ir import Requant

RNG = np.random.default_rng(21)


def _requant(channels: int) -> Requant:
    return Requant.from_scales(0.05, np.full(channels, 0.01), 0.2)


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Artifact:
    graph = conv_graph(RNG, _requant, (6, 3, 4, 3, 1))
    return nnmap.compile(graph, "host", tmp_path_factory.mktemp("conv") / "out")


def test_null_pointers_give_an_error_code(artifact: Artifact) -> None:
    library = ctypes.CDLL(str(artifact.library()))
    entry = library.nnmap_run
    entry.restype = ctypes.c_int
    inputs = np.zeros(artifact.input_shapes[0], np.int8)
    outputs = np.full(artifact.output_shapes[0], 55, np.int8)
    for arguments in ((None, outputs.ctypes.data), (inputs.ctypes.data, None), (None, None)):
        assert entry(*map(ctypes.c_void_p, arguments)) == NULL_ARGUMENT_STATUS
    assert (outputs == 55).all(), "nothing may run when an argument is NULL"
    assert entry(ctypes.c_void_p(inputs.ctypes.data), ctypes.c_void_p(outputs.ctypes.data)) == 0
    assert "#define NNMAP_ERROR_NULL_ARGUMENT (-1)" in (artifact.path / "network.h").read_text()


def test_sanitized_build_reports_a_write_past_the_output(artifact: Artifact,
                                                          tmp_path: Path) -> None:
    broken = Artifact(tmp_path / "broken")
    (tmp_path / "broken").mkdir()
    for source in artifact.path.iterdir():
        if source.is_file():
            (broken.path / source.name).write_bytes(source.read_bytes())
    network = broken.path / "network.c"
    text = network.read_text()
    assert text.count(", output) != 0)") == 1
    network.write_text(text.replace(", output) != 0)", ", output + 1) != 0)"))
    sample = [RNG.integers(-128, 128, artifact.input_shapes[0], dtype=np.int8)]
    run = run_sanitized(broken, [sample])
    assert "heap-buffer-overflow" in run.report
    assert run.outputs == ()
    clean = run_sanitized(artifact, [sample])
    assert clean.report == ""
    np.testing.assert_array_equal(clean.outputs[0][0], artifact.run(sample)[0])
