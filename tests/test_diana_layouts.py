"""Activations kept channels first between layers of DIANA's digital array (``targets/diana/
layout.py``): which tensors the plan keeps so, what the layers then leave to the host, and the
compiled network bit-identical with the reference in both layouts, in both numerics.

The graph: a 3x3 conv (pad 1) whose only reader is a 3x3 stride-2 conv without padding, which
reads 11 of its 12 rows and 9 of its 10 columns (kept padded: the reader's staged input); that
conv's output read by a depthwise 3x3 (pad 1) and a 1x1 conv (two geometries: kept dense); both
model outputs (channels last)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import nnmap
from nnmap.ir import Clamp, Conv2D, Graph, Requant, Tensor
from nnmap.plan.plan import Plan
from nnmap.reference.run import run_batch
from nnmap.targets import get_target
from nnmap.targets.diana.baseline import dory_mappings
from nnmap.targets.diana.layout import DENSE, PADDED
from nnmap.verify import random_inputs

CHANNELS = 16


def _conv(rng: np.random.Generator, name: str, source: str, output: str, kernel: int,
          stride: int, padding: int, depthwise: bool = False) -> Conv2D:
    taps = 1 if depthwise else (8 if source == "x" else CHANNELS)
    return Conv2D(
        name=name, inputs=(source,), output=output,
        weight=rng.integers(-127, 128, (CHANNELS, kernel, kernel, taps)).astype(np.int8),
        bias=rng.integers(-4000, 4000, CHANNELS).astype(np.int32),
        stride=(stride, stride), dilation=(1, 1), padding=(padding,) * 4,
        groups=CHANNELS if depthwise else 1,
        requant=Requant.from_scales(0.05, np.full(CHANNELS, 0.01), 0.2),
        clamp=Clamp(-100, 127),
    )


def _graph() -> Graph:
    rng = np.random.default_rng(5)
    tensors = {
        "x": Tensor("x", (1, 12, 10, 8), "int8", 0.05, -3),
        "a": Tensor("a", (1, 12, 10, CHANNELS), "int8", 0.05, 7),
        "b": Tensor("b", (1, 5, 4, CHANNELS), "int8", 0.05, -9),
        "c": Tensor("c", (1, 5, 4, CHANNELS), "int8", 0.2, 4),
        "d": Tensor("d", (1, 5, 4, CHANNELS), "int8", 0.2, -2),
    }
    layers = (
        _conv(rng, "first", "x", "a", 3, 1, 1),
        _conv(rng, "strided", "a", "b", 3, 2, 0),
        _conv(rng, "depthwise", "b", "c", 3, 1, 1, depthwise=True),
        _conv(rng, "pointwise", "b", "d", 1, 1, 0),
    )
    return Graph("chain", tensors, layers, ("x",), ("c", "d"))


def _layouts(plan: Plan) -> dict[tuple[str, str], str]:
    return {(layer.layer.name, layout.role): layout.name for layer in plan.layers
            if layer.mapped is not None for layout in layer.mapped.layouts}


def test_plan_keeps_channels_first_only_between_array_layers() -> None:
    graph = _graph()
    plan = nnmap.plan(graph, "diana", "exact")
    assert all(layer.module == "digital" for layer in plan.layers)
    assert _layouts(plan) == {
        ("first", "output"): PADDED, ("strided", "input"): PADDED,
        ("strided", "output"): DENSE, ("depthwise", "input"): DENSE,
        ("pointwise", "input"): DENSE,
    }
    stages = {layer.layer.name: set(layer.host_stages) for layer in plan.layers}
    assert "input staging" not in stages["strided"]
    assert "input staging" in stages["first"] and "input staging" in stages["pointwise"]
    first = next(layer for layer in plan.layers if layer.layer.name == "first")
    assert first.mapped is not None
    (kept,) = first.mapped.layouts
    assert kept.nbytes == CHANNELS * 11 * 9  # the rows and columns its reader reads
    strided = next(layer for layer in plan.layers if layer.layer.name == "strided")
    assert strided.scratch_bytes == CHANNELS * 5 * 4 * 4  # its int32 results, no staging


def _bordered() -> Graph:
    """The graph with the strided conv padded by 1: its staged input has a zero-point border."""
    graph = _graph()
    layers = (*graph.layers[:1], replace(graph.layers[1], padding=(1, 1, 1, 1)),
              *graph.layers[2:])
    tensors = {name: replace(tensor, shape=(1, 6, 5, CHANNELS)) if name in "bcd" else tensor
               for name, tensor in graph.tensors.items()}
    return replace(graph, tensors=tensors, layers=layers)


def test_a_padded_reader_gets_its_zero_point_border_from_the_producer() -> None:
    plan = nnmap.plan(_bordered(), "diana", "exact")
    first = next(layer for layer in plan.layers if layer.layer.name == "first")
    assert first.mapped is not None and "padding fill" in first.host_stages
    assert first.mapped.layouts[0].nbytes == CHANNELS * 13 * 11  # rows and columns padded


@pytest.mark.parametrize(("numerics", "bordered"), [("exact", False), ("hardware", True)])
def test_both_layouts_compute_the_same_outputs(numerics: str, bordered: bool,
                                               tmp_path: Path) -> None:
    graph = _bordered() if bordered else _graph()
    target = get_target("diana")
    inputs = random_inputs(graph, 4, seed=3)
    ours = nnmap.compile(nnmap.plan(graph, target, numerics), out_dir=tmp_path / "ours")
    dory = nnmap.compile(nnmap.plan(graph, target, numerics,
                                    dory_mappings(graph, target, numerics)),
                         out_dir=tmp_path / "dory")
    ours_out, dory_out = ours.run_batch(inputs), dory.run_batch(inputs)
    for mine, theirs in zip(ours_out, dory_out, strict=True):
        np.testing.assert_array_equal(mine, theirs)
    if numerics == "exact":
        for mine, wanted in zip(ours_out, run_batch(graph, inputs), strict=True):
            np.testing.assert_array_equal(mine, wanted)
