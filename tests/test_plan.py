"""The Plan: every decision made once, before code generation, and followed by the C.

No layer is planned on a module whose backend cannot lower it; the modules of the Plan, of
report.json and of the generated C are the same; code generation searches nothing; each
kernel's scratch is sized in the Plan exactly; no file outside an accelerator's folder knows it.
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import mlperf_model

import nnmap
from nnmap.codegen.generate import generate, layer_codes
from nnmap.mapping import graph as mapping_graph
from nnmap.mapping import stream_search
from nnmap.plan.plan import Plan, with_host_scratch
from nnmap.targets import resolve_target
from nnmap.verify import random_inputs

SOURCE = Path(nnmap.__file__).resolve().parent
ACCELERATORS = ("gemmini", "vta", "gap9")


def _kws(model: str) -> str | Path:
    return mlperf_model("kws_ref_model") if model == "mlperf:kws" else model


@pytest.mark.parametrize("target", ["gemmini", "vta"])
@pytest.mark.parametrize("model", ["zoo:kws", "mlperf:kws"])
def test_no_layer_planned_where_its_backend_refuses(model: str, target: str) -> None:
    planned = nnmap.plan(_kws(model), target)
    assert any(layer.on_accelerator for layer in planned.layers)
    for layer in planned.layers:
        if layer.on_accelerator:
            module = planned.module(layer)
            assert module.backend is not None
            assert module.backend.refusal(layer.layer, planned.graph, module) is None
        elif layer.layer.kind == "Conv2D" and getattr(layer.layer, "groups", 1) > 1:
            # a depthwise layer the host keeps: refused, or slower on the accelerator in all
            assert layer.reason.startswith(
                (f"{target} cannot run it: depthwise conv", "cost model: host cheaper")
            )


def _count_calls(monkeypatch: pytest.MonkeyPatch, calls: list[str]) -> None:
    for owner, name in (
        (mapping_graph, "map_layer"),
        (mapping_graph, "search_below"),
        (importlib.import_module("nnmap.mapping.search"), "search_below"),
        (stream_search, "search_stream"),
    ):
        original = getattr(owner, name)

        def counted(*args: object, _name: str = name, _f: Callable = original, **kw: object):
            calls.append(_name)
            return _f(*args, **kw)

        monkeypatch.setattr(owner, name, counted)


@pytest.mark.parametrize("target", ["gemmini", "vta"])
def test_plan_report_and_c_agree_and_generation_searches_nothing(
    target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    planned = nnmap.plan("zoo:kws", target)
    calls: list[str] = []
    _count_calls(monkeypatch, calls)
    artifact = generate(planned, tmp_path / "out")
    assert calls == []
    report = {entry["name"]: entry for entry in artifact.report["layers"]}
    header = {"gemmini": '#include "gemmini.h"', "vta": '#include "vta/runtime/runtime.h"'}[target]
    for layer in planned.layers:
        entry = report[layer.layer.name]
        assert entry["module"] == layer.module
        assert entry["placement"] == layer.reason
        if entry["file"] is None:
            continue
        kernel = (artifact.path / entry["file"]).read_text()
        assert (header in kernel) == layer.on_accelerator, entry["file"]
    emulated = artifact.measure_cycles(random_inputs(planned.graph, 1, seed=0))
    assert set(emulated) == {layer.layer.name for layer in planned.layers if layer.on_accelerator}


SCRATCH_CASES = [
    (target, numerics)
    for target in ("gemmini", "vta", "gemmini:dim=8,scratchpad_kib=64")
    for numerics in ("exact", "hardware")
]


@pytest.mark.parametrize(("target", "numerics"), SCRATCH_CASES)
def test_planned_scratch_is_what_each_kernel_uses(target: str, numerics: str) -> None:
    """Accelerator kernels use the scratch their backend planned; host kernels' TVM workspace,
    known once their C is generated, is added to the plan code generation emits."""
    planned = nnmap.plan("zoo:resnet8", target, numerics)
    codes = layer_codes(planned)
    emitted = with_host_scratch(planned, {code.layer.name: code.workspace_bytes for code in codes})
    for code in codes:
        assert code.workspace_bytes == emitted.layers[code.index].scratch_bytes, code.symbol
    for before, after in zip(planned.layers, emitted.layers, strict=True):
        assert before.scratch_bytes == after.scratch_bytes or not before.on_accelerator


def test_plan_is_a_value_with_the_target_it_was_given() -> None:
    target = resolve_target("gemmini:dim=8,scratchpad_kib=64")
    planned = nnmap.plan("zoo:kws", target)
    assert isinstance(planned, Plan) and planned.target is target
    assert planned.memory.arena_bytes > 0
    with pytest.raises(AttributeError):
        planned.numerics = "hardware"  # type: ignore[misc]


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_file_outside_an_accelerator_folder_names_it() -> None:
    """Outside ``targets/`` nothing imports an accelerator's package or names it; inside, only
    the registry imports them."""
    word = re.compile(r"gemmini|\bvta\b|gap9|ne16", re.IGNORECASE)
    for path in SOURCE.rglob("*"):
        if path.suffix not in (".py", ".c", ".h") or "__pycache__" in path.parts:
            continue
        relative = path.relative_to(SOURCE)
        if relative.parts[0] == "targets":
            if relative.parts[1] not in ACCELERATORS and path.suffix == ".py":
                allowed = relative.name == "__init__.py"
                for name in _imports(path):
                    leaked = any(f"nnmap.targets.{a}" in name for a in ACCELERATORS)
                    assert allowed or not leaked, f"{relative} imports {name}"
            continue
        assert not word.search(path.read_text()), f"{relative} names an accelerator"
