"""Depthwise convolutions on Gemmini and VTA: every distinct depthwise layer of the MLPerf Tiny
KWS and VWW models, alone, lowered from the embedding solver's block-diagonal layout, bit-exact
with nnmap's reference (itself bit-exact with TFLite Micro on these models) on a few random
inputs, its modelled cycles equal to its emulated cycles; random small depthwise workloads in
several of the solver's layouts bit-exact on the emulators; and the mapper choosing the
accelerator or the host for them by whole cost, with its reason; on Gemmini in hardware
numerics, a depthwise layer scaled on mvout exactly as numpy models it. (The whole models against
TFLite Micro on 20 inputs: ``bench/depthwise.py``.)"""

from __future__ import annotations

from pathlib import Path

import layer_graphs
import numpy as np
import pytest
from conftest import mlperf_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nnmap
from nnmap.codegen.deviation import Deviation
from nnmap.codegen.kernels import clamp_range
from nnmap.embedding import grouped
from nnmap.embedding.dataflow import instruction_of
from nnmap.embedding.grouped import solver_layouts
from nnmap.ir import Conv2D, Graph, Requant
from nnmap.ir.workload import workload_of
from nnmap.mapping.graph import map_graph
from nnmap.reference.run import run_batch
from nnmap.targets import get_target
from nnmap.targets.gemmini.cost import chosen_layout
from nnmap.targets.gemmini.depthwise_layer import depthwise_hardware_operands
from nnmap.verify import random_inputs

TARGETS = ("gemmini", "vta")
SAMPLES = 3
RNG = np.random.default_rng(31)


def _distinct_depthwise(model: str) -> list[Graph]:
    """One single-layer graph per distinct depthwise layer shape of an MLPerf Tiny model (its
    input and output shapes, stride and padding), in the model's order."""
    graph = nnmap.load_model(mlperf_model(model))
    found: dict[tuple[object, ...], Graph] = {}
    for layer in graph.layers:
        if not (isinstance(layer, Conv2D) and layer.groups > 1):
            continue
        source, result = graph.tensor(layer.inputs[0]), graph.tensor(layer.output)
        key = (source.shape, result.shape, layer.stride, layer.padding)
        tensors = {source.name: source, result.name: result}
        found.setdefault(key, Graph(f"{model}_{layer.name}", tensors, (layer,), (source.name,),
                                    (result.name,)))
    return list(found.values())


def _check_on(graph: Graph, target: str, out: Path, samples: int = SAMPLES) -> dict[str, object]:
    """Compile ``graph`` with its layer on ``target``'s accelerator; bit-exact with the
    reference on ``samples`` inputs and modelled cycles equal to emulated; the report entry."""
    artifact = nnmap.compile(graph, target=target, out_dir=out, place=target)
    (entry,) = artifact.report["layers"]
    assert entry["module"] == target, entry["placement"]
    assert "block-diagonal embedding" in entry["placement"]
    inputs = random_inputs(graph, samples, seed=5)
    for actual, expected in zip(artifact.run_batch(inputs), run_batch(graph, inputs), strict=True):
        np.testing.assert_array_equal(actual, expected)
    artifact.measure_cycles([x[:1] for x in inputs])
    (entry,) = artifact.report["layers"]
    assert entry["emulated_cycles"] > 0
    assert entry["modelled_cycles"] == entry["emulated_cycles"]
    return dict(entry)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("model", ["kws_ref_model", "vww_96_int8"])
def test_mlperf_depthwise_layers_bit_exact_on_the_accelerator(
    model: str, target: str, tmp_path: Path
) -> None:
    graphs = _distinct_depthwise(model)
    assert graphs
    # within the default run's time: the first shape (VWW: 8 channels, 48 x 48), the first
    # strided one and the last (VWW: 256 channels); bench/depthwise.py runs every layer
    strided = [g for g in graphs if getattr(g.layers[0], "stride", (1, 1)) != (1, 1)]
    chosen = {id(g): g for g in (graphs[0], *strided[:1], graphs[-1])}
    for index, graph in enumerate(chosen.values()):
        _check_on(graph, target, tmp_path / f"{index}")


def _requant(channels: int) -> Requant:
    return Requant.from_scales(0.05, RNG.uniform(0.002, 0.01, channels), 0.2)


@given(
    height=st.integers(2, 7), width=st.integers(2, 7), channels=st.integers(2, 40),
    kernel=st.sampled_from([1, 3, 5]), stride=st.sampled_from([1, 2]),
    target=st.sampled_from(TARGETS), zero_point=st.integers(-20, 20),
)
@settings(max_examples=3, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_depthwise_workloads_bit_exact_in_the_solvers_layouts(
    height: int, width: int, channels: int, kernel: int, stride: int, target: str,
    zero_point: int, tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A random small depthwise layer, lowered in each of the first two block-diagonal layouts
    among the solver's best embeddings (not only the one the cost model plans), runs
    bit-exact."""
    graph = layer_graphs.depthwise_graph(
        RNG, _requant, (height, width, channels, kernel, stride), zero_point
    )
    module = get_target(target).module(target)
    workload = workload_of(graph, graph.layers[0])
    assert workload is not None
    layouts = solver_layouts(workload, instruction_of(module.array))
    assert layouts
    for layout in layouts[:2]:
        out = tmp_path_factory.mktemp("depthwise") / "out"
        with pytest.MonkeyPatch.context() as patch:  # the solver offers this layout alone
            patch.setattr(grouped, "_solved", lambda key, instruction, only=layout: (only,))
            _check_on(graph, target, out, samples=2)


@pytest.mark.parametrize("target", TARGETS)
def test_mapper_chooses_accelerator_or_host_by_whole_cost(target: str) -> None:
    """On KWS each depthwise layer goes where its whole cost (kernel, host gather and
    requantization, call overhead) is lower, and the reason says which and why."""
    graph = nnmap.load_model(mlperf_model("kws_ref_model"))
    mapped = [m for m in map_graph(graph, get_target(target)) if m.workload.kind == "depthwise"]
    assert mapped
    for choice in mapped:
        if choice.module == target:
            assert choice.reason.startswith(f"cost model: {target} cheapest")
            assert "block-diagonal embedding" in choice.reason
        else:
            assert choice.reason.startswith("cost model: host cheaper")


def _gemmini_depthwise_numpy(graph: Graph, layout: grouped.BlockDiagonal, x: np.ndarray
                             ) -> np.ndarray:
    """Gemmini's hardware numerics of a depthwise layer in numpy, per channel: the int32
    window sum of its scaled taps (input padded with its zero point) plus its folded bias,
    times its column's float32 mvout scale, rounded half to even, saturated, host clamp."""
    layer = graph.layers[0]
    assert isinstance(layer, Conv2D)
    zp_in = int(graph.tensor("x").zero_point or 0)
    zp_out = int(graph.tensor("y").zero_point or 0)
    matrix, bias, scales = depthwise_hardware_operands(layer, layout, zp_in, zp_out, 16)
    taps = np.zeros(layer.weight.shape[:3], np.int64)
    for r in range(layout.depth):
        member, fy, fx = layout.position(r)
        for channel in range(member, layout.channels, layout.group):
            if layout.used(r):
                taps[channel, fy, fx] = matrix[r, layout.column_of_channel(channel)]
    top, left, bottom, right = layer.padding
    image = np.pad(x.astype(np.int64), ((0, 0), (top, bottom), (left, right), (0, 0)),
                   constant_values=zp_in)
    _, out_h, out_w, channels = graph.tensor("y").shape
    stride, (kernel_y, kernel_x) = layer.stride[0], layout.kernel
    acc = np.zeros((x.shape[0], out_h, out_w, channels), np.int64)
    for fy in range(kernel_y):
        for fx in range(kernel_x):
            window = image[:, fy:fy + stride * out_h:stride, fx:fx + stride * out_w:stride]
            acc += window * taps[:, fy, fx]
    columns = [layout.column_of_channel(c) for c in range(channels)]
    total = (acc + bias[columns]).astype(np.int32)
    scaled = np.rint(total.astype(np.float32) * scales[columns])
    return np.clip(scaled, *clamp_range(layer.clamp)).astype(np.int8)


def test_depthwise_in_hardware_numerics_scales_on_gemmini_mvout(tmp_path: Path) -> None:
    """numerics="hardware": a depthwise layer stays on Gemmini, its results are Gemmini's mvout
    scaling exactly (vs numpy), within a few LSB of TFLite's, modelled cycles equal emulated,
    and the host keeps only the gather and the output copy."""
    graph = layer_graphs.depthwise_graph(RNG, _requant, (6, 5, 20, 3, 1), 4)
    artifact = nnmap.compile(graph, target="gemmini", out_dir=tmp_path, place="gemmini",
                             numerics="hardware")
    (entry,) = artifact.report["layers"]
    assert entry["module"] == "gemmini" and "scaled on Gemmini's mvout" in entry["placement"]
    assert set(entry["host_stages"]) == {"im2col gather", "output copy and clamp", "call overhead"}
    module = get_target("gemmini").module("gemmini")
    workload = workload_of(graph, graph.layers[0])
    assert workload is not None
    layout = chosen_layout(workload, module)
    inputs = random_inputs(graph, 2, seed=8)
    (actual,) = artifact.run_batch(inputs)
    np.testing.assert_array_equal(actual, _gemmini_depthwise_numpy(graph, layout, inputs[0]))
    deviation = Deviation.between(run_batch(graph, inputs), [actual])
    assert 0 < deviation.max_abs <= 8
    artifact.measure_cycles([inputs[0][:1]])
    (entry,) = artifact.report["layers"]
    assert entry["modelled_cycles"] == entry["emulated_cycles"] > 0
