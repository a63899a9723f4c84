"""Whole-graph mapping: module choice per layer, errors for layers no module holds, baselines."""

from __future__ import annotations

import json

import numpy as np
import pytest
import typer
from conftest import mlperf_model
from typer.testing import CliRunner

from nnmap.cli import target_commands
from nnmap.errors import MappingError
from nnmap.ir import Clamp, Conv2D, FullyConnected, Graph, Requant, Tensor, gemm_workload
from nnmap.ir.workload import conv_workload
from nnmap.mapping import cost, search_result
from nnmap.mapping.graph import host_stages, kernel_cycles, map_graph, map_layer
from nnmap.mapping.host_model import host_mac_stage
from nnmap.targets import get_target
from nnmap.targets.gemmini.baseline import gemmini_default
from nnmap.targets.vta.baseline import vta_reference


def small_graph(features: int = 10, fc_inputs: int = 8 * 8 * 16) -> Graph:
    """input 1x8x8x3 -> 3x3 conv (16 channels) -> fully connected -> ``features``."""
    rng = np.random.default_rng(0)
    tensors = {
        "x": Tensor("x", (1, 8, 8, 3), "int8", 0.1, 0),
        "y": Tensor("y", (1, 8, 8, 16), "int8", 0.1, 0),
        "z": Tensor("z", (1, features), "int8", 0.1, 0),
    }
    conv = Conv2D(
        name="conv",
        inputs=("x",),
        output="y",
        weight=rng.integers(-5, 5, (16, 3, 3, 3), dtype=np.int8),
        bias=np.zeros(16, np.int32),
        stride=(1, 1),
        dilation=(1, 1),
        padding=(1, 1, 1, 1),
        groups=1,
        requant=Requant.from_scales(0.1, np.array([0.01]), 0.1),
        clamp=Clamp.int8(),
    )
    dense = FullyConnected(
        name="fc",
        inputs=("y",),
        output="z",
        weight=rng.integers(-5, 5, (features, fc_inputs), dtype=np.int8),
        bias=np.zeros(features, np.int32),
        requant=Requant.from_scales(0.1, np.array([0.01]), 0.1),
        clamp=Clamp.int8(),
    )
    return Graph("small", tensors, (conv, dense), ("x",), ("z",))


def test_map_graph_picks_the_cheapest_module_per_layer() -> None:
    """The chosen module has the fewest cycles in all: the optimum mapping's cycles (on the
    calibrated host, its calibrated multiply-accumulates; on Gemmini, the stream the kernel
    will run: a layer whose requantization is proven exact on mvout moves the bias in and int8
    out) plus the host stages and call overhead running the layer there costs, against every
    other module."""
    target = get_target("gemmini")
    graph = small_graph()
    layers = map_graph(graph, target)
    assert [layer.layer for layer in layers] == ["conv", "fc"]
    for layer, graph_layer in zip(layers, graph.layers, strict=True):
        module = target.module(layer.module)
        assert layer.cost.fits
        whole = []
        for other in target.modules():
            result = search_result(layer.workload, other)
            found = kernel_cycles(other, layer.workload, result.mapping, result.cost, "exact")
            if other is target.host:
                found = host_mac_stage(layer.workload, target, found)[1]
            stages = host_stages(other, layer.workload, target, "exact", graph_layer, graph)
            whole.append(found + sum(cycles for _, cycles in stages))
        assert layer.whole_cycles == pytest.approx(min(whole))
        assert layer.cost == cost(layer.workload, layer.mapping, module)


def test_a_layer_no_module_can_hold_names_the_layer_and_what_to_do() -> None:
    huge = small_graph(features=1024, fc_inputs=8 * 8 * 16)
    with pytest.raises(MappingError) as error:
        map_graph(huge, get_target("diana"))
    message = str(error.value)
    assert message.startswith("layer fc: no module of target diana can hold it")
    assert "analog cannot run it" in message and "split the layer" in message
    assert "\n" not in message


def test_map_layer_falls_back_to_the_host_when_the_accelerator_refuses() -> None:
    odd = conv_workload(
        "odd", batch=1, in_channels=8, out_channels=10, out_height=6, out_width=6, kernel=(2, 2)
    )  # NE16: 2x2 kernels and 10 channels refused
    choice = map_layer(odd, get_target("gap9"))
    assert choice.module in ("cluster", "fc")


def test_gemmini_default_tiling_follows_its_rules() -> None:
    module = get_target("gemmini").module("gemmini")
    layer = gemm_workload("g", 1024, 1024, 1024)
    mapping = gemmini_default(layer, module)
    # half the accumulator: 512 rows = 32 blocks -> tile_I = tile_J = 5 blocks, then J grows
    # while (I*K + K*J) * 16 <= 8192 and I*J*16 <= 512: J = 6 (I*J = 30 <= 32).
    assert mapping.tile(0, "B") == 5 * 16
    assert mapping.tile(0, "K") == 6 * 16
    # K fills the rest of half the scratchpad: (5 + 6) * K * 16 <= 8192 -> K = 46 blocks
    assert mapping.tile(0, "C") == 46 * 16
    assert cost(layer, mapping, module).fits
    assert (
        search_result(layer, module).cost.total_cycles <= cost(layer, mapping, module).total_cycles
    )


def test_gemmini_default_conv_and_vta_reference_fit() -> None:
    layer = conv_workload(
        "c",
        batch=1,
        in_channels=64,
        out_channels=128,
        out_height=28,
        out_width=28,
        kernel=(3, 3),
        padding=(1, 1, 1, 1),
    )
    for target, baseline in (("gemmini", gemmini_default), ("vta", vta_reference)):
        module = get_target(target).accelerators[0]
        mapping = baseline(layer, module)
        assert cost(layer, mapping, module).fits
        assert (
            search_result(layer, module).cost.total_cycles
            <= cost(layer, mapping, module).total_cycles
        )


def test_cli_map_prints_layers_and_json(monkeypatch: pytest.MonkeyPatch) -> None:
    import nnmap

    monkeypatch.setattr(nnmap, "load_model", lambda path: small_graph())
    app = typer.Typer()
    target_commands.register(app)
    runner = CliRunner()
    table = runner.invoke(app, ["map", "any.tflite", "--target", "vta"])
    assert table.exit_code == 0, table.output
    assert "conv" in table.output and "total: 2 layers" in table.output
    as_json = runner.invoke(app, ["map", "any.tflite", "--target", "vta", "--json"])
    data = json.loads(as_json.output)
    assert [layer["layer"] for layer in data["layers"]] == ["conv", "fc"]
    assert data["total_cycles"] == pytest.approx(
        sum((layer["accelerator_cycles"] or 0) + layer["host_cycles"] for layer in data["layers"])
    )
    explained = runner.invoke(app, ["map", "any.tflite", "--target", "vta", "--json", "--explain"])
    embeddings = json.loads(explained.output)["embeddings"]
    assert [(e["layer"], e["module"]) for e in embeddings] == [("conv", "vta"), ("fc", "vta")]
    assert all(e["legal_embeddings"] > 0 and e["calls"] <= e["fixed_calls"] for e in embeddings)
    shown = runner.invoke(app, ["map", "any.tflite", "--target", "vta", "--explain"])
    assert "instruction embeddings" in shown.output and "reduction[" in shown.output


def test_mlperf_tiny_model_maps_within_budget() -> None:
    import time

    from nnmap import load_model

    graph = load_model(str(mlperf_model("ad01_int8")))
    start = time.perf_counter()
    layers = map_graph(graph, get_target("gemmini"))
    assert time.perf_counter() - start < 10
    assert layers and all(layer.cost.fits for layer in layers)
