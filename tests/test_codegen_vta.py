"""VTA artifacts: dense convolutions and fully connected layers as TVM-scheduled kernels that call
VTA's public runtime API, run against nnmap's emulator, bit-exact with nnmap's reference and
TFLite Micro (exact numerics: int32 results come back as byte planes); per-layer cycles."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import MLPERF_MODELS, compiled_models, mlperf_model
from sanitized_runs import assert_clean_under_sanitizers

import nnmap
from nnmap.codegen.artifact import Artifact
from nnmap.ir import Clamp, Conv2D, FullyConnected, Graph, Layer, Requant, Reshape, Tensor
from nnmap.mapping.graph import map_graph, with_baseline
from nnmap.reference.run import run_batch
from nnmap.targets import get_target
from nnmap.targets.vta.baseline import vta_reference
from nnmap.targets.vta.geometry import SLOTS, result_planes, vta_gemm
from nnmap.targets.vta.instructions import VtaConfig
from nnmap.verify import random_inputs, tflite_micro_outputs

CONFIG = VtaConfig.from_module(get_target("vta").module("vta"))

RNG = np.random.default_rng(5)
GRAPH_SAMPLES = 20
MODEL_SAMPLES = 50
SEED = 7
ZOO_MODELS = ["kws", "vww", "resnet8", "autoencoder"]
API = (
    "VTALoadBuffer2D(",
    "VTAStoreBuffer2D(",
    "VTAPushGEMMOp(",
    "VTAPushALUOp(",
    "VTAUopLoopBegin(",
    "VTAUopPush(",
    "VTAUopLoopEnd(",
    "VTADepPush(",
    "VTADepPop(",
    "VTASynchronize(",
)


def _t(name: str, shape: tuple[int, ...], scale: float, zp: int) -> Tensor:
    return Tensor(name, shape, "int8", scale, zp)


def _conv(name: str, src: str, out: str, k: int, c: int, size: int, stride: int) -> Conv2D:
    pad = size // 2
    return Conv2D(
        name=name,
        inputs=(src,),
        output=out,
        weight=RNG.integers(-127, 128, (k, size, size, c)).astype(np.int8),
        bias=RNG.integers(-4000, 4000, k).astype(np.int32),
        stride=(stride, stride),
        dilation=(1, 1),
        padding=(pad, pad, pad, pad),
        groups=1,
        requant=Requant.from_scales(0.05, RNG.uniform(0.002, 0.01, k), 0.2),
        clamp=Clamp.int8(),
    )


def _fc(name: str, src: str, out: str, n_out: int, n_in: int, bias: int) -> FullyConnected:
    return FullyConnected(
        name=name,
        inputs=(src,),
        output=out,
        weight=RNG.integers(-127, 128, (n_out, n_in)).astype(np.int8),
        bias=RNG.integers(-bias, bias, n_out).astype(np.int32),
        requant=Requant.from_scales(0.05, RNG.uniform(0.0001, 0.01, n_out), 0.3),
        clamp=Clamp(0, 127),
    )


def conv_graph() -> Graph:
    """C=3 -> K=20 (3x3, stride 2, padded) -> K=40 (3x3) -> 1x1 K=24 -> flatten -> FC 10."""
    tensors = {
        "x": _t("x", (1, 9, 11, 3), 0.05, -3),
        "a": _t("a", (1, 5, 6, 20), 0.2, 5),
        "b": _t("b", (1, 5, 6, 40), 0.2, -1),
        "c": _t("c", (1, 5, 6, 24), 0.2, 2),
        "f": _t("f", (1, 720), 0.2, 2),
        "y": _t("y", (1, 10), 0.3, 0),
    }
    layers: tuple[Layer, ...] = (
        _conv("conv_c3", "x", "a", 20, 3, 3, 2),
        _conv("conv_c20", "a", "b", 40, 20, 3, 1),
        _conv("conv_1x1", "b", "c", 24, 40, 1, 1),
        Reshape(name="flatten", inputs=("c",), output="f"),
        _fc("fc", "f", "y", 10, 720, 4000),
    )
    return Graph("vta_conv", tensors, layers, ("x",), ("y",))


def fc_graph() -> Graph:
    """One row (an m tile of 1) through 300 -> 70 -> 200 features; huge biases need 4 planes.
    (With 33 features the second layer is cheaper on the host, and placed there.)"""
    tensors = {
        "x": _t("x", (1, 300), 0.05, 4),
        "h": _t("h", (1, 70), 0.3, -7),
        "y": _t("y", (1, 200), 0.3, 2),
    }
    layers: tuple[Layer, ...] = (
        _fc("fc1", "x", "h", 70, 300, 1 << 30),
        _fc("fc2", "h", "y", 200, 70, 100),
    )
    return Graph("vta_fc", tensors, layers, ("x",), ("y",))


def _compile(graph: Graph, tmp_path: Path, reference: bool = False) -> Artifact:
    target = get_target("vta")
    mappings = map_graph(graph, target, place="vta")
    if reference:
        mappings = with_baseline(mappings, target, "vta", vta_reference)
    return nnmap.compile(graph, target="vta", out_dir=tmp_path / "out", layer_mappings=mappings)


def _check_graph(artifact: Artifact, graph: Graph, record_line: Callable[[str], None]) -> None:
    modules = {e["name"]: e["module"] for e in artifact.report["layers"] if e["kernel"]}
    assert set(modules.values()) == {"vta"}
    inputs = random_inputs(graph, GRAPH_SAMPLES, seed=3)
    for actual, expected in zip(artifact.run_batch(inputs), run_batch(graph, inputs), strict=True):
        np.testing.assert_array_equal(actual, expected)
    cycles = artifact.measure_cycles([x[:1] for x in inputs])
    assert set(cycles) == set(modules) and all(c > 0 for c in cycles.values())
    record_line(f"vta {graph.name}: emulated cycles per layer {cycles}")


@pytest.mark.parametrize("build", [fc_graph, conv_graph], ids=["fc", "conv"])
@pytest.mark.parametrize("reference", [False, True], ids=["nnmap", "vta_reference"])
def test_graph_bit_exact_on_vta(
    build: Callable[[], Graph], reference: bool, tmp_path: Path,
    record_line: Callable[[str], None],
) -> None:
    """nnmap's mappings and TVM's reference VTA tiling (smaller tiles: several m, n and r
    tiles, double-buffered slots) both give the reference's bytes."""
    graph = build()
    _check_graph(_compile(graph, tmp_path, reference), graph, record_line)


def test_generated_kernel_calls_the_public_vta_api(tmp_path: Path) -> None:
    artifact = _compile(conv_graph(), tmp_path)
    kernel = (artifact.path / "layer_01_conv2d.c").read_text()
    for call in API:
        assert call in kernel
    assert '#include "vta/runtime/runtime.h"' in kernel and "TVMFFI" not in kernel
    assert "VTA_UOP_GEMM" not in kernel and "VTABufferAlloc(" in kernel
    assert "VTAReadBarrier(" in kernel and "VTAWriteBarrier(" in kernel
    network = (artifact.path / "network.c").read_text()
    assert 'NNMAP_LAYER_BEGIN(nnmap_vta, "conv_c20");' in network


def test_result_planes_cover_the_accumulator_bound() -> None:
    """One byte when |bias| + 128 * sum|w| < 128, else as many as that bound needs."""
    assert result_planes(np.zeros((4, 2), np.int8), np.array([127, -100], np.int32)) == 1
    assert result_planes(np.zeros((4, 2), np.int8), np.array([128, 0], np.int32)) == 2
    weights = np.full((512, 1), -128, np.int8)  # 512 * 128 * 128 = 2**23
    assert result_planes(weights, np.zeros(1, np.int32)) == 4
    assert result_planes(weights[:256], np.zeros(1, np.int32)) == 3
    assert result_planes(weights[:1], np.zeros(1, np.int32)) == 2


def test_tiles_fit_vta_sram_double_buffered() -> None:
    """Whatever the mapping asks, two input and two weight tiles and one accumulator tile fit."""
    graph = conv_graph()
    target = get_target("vta")
    for mapped in map_graph(graph, target, place="vta"):
        layer = next(x for x in graph.layers if x.name == mapped.layer)
        assert isinstance(layer, Conv2D | FullyConnected)
        matrix = layer.weight.reshape(layer.weight.shape[0], -1).T
        rows = graph.tensor(layer.output).size // matrix.shape[1]
        gemm = vta_gemm(layer.name, matrix, layer.bias, rows, mapped.mapping, CONFIG)
        assert SLOTS * gemm.m * gemm.r <= CONFIG.inp_entries
        assert SLOTS * gemm.n * gemm.r <= CONFIG.wgt_entries
        assert gemm.m * gemm.n <= CONFIG.acc_entries
        assert gemm.rows_padded % gemm.m == 0 and gemm.rows_padded >= rows


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Artifact]:
    return compiled_models(tmp_path_factory, "vta")


@pytest.mark.parametrize("name", MLPERF_MODELS)
def test_mlperf_bit_exact_with_tflite_micro_on_vta(
    name: str, compiled: Callable[[str], Artifact], record_line: Callable[[str], None]
) -> None:
    path = mlperf_model(name)
    artifact = compiled(name)
    graph = nnmap.load_model(path)
    inputs = random_inputs(graph, MODEL_SAMPLES, seed=SEED)
    expected = tflite_micro_outputs(path, inputs, len(graph.outputs))
    for actual, wanted in zip(artifact.run_batch(inputs), expected, strict=True):
        np.testing.assert_array_equal(actual, wanted)
    cycles = artifact.measure_cycles([x[:1] for x in inputs])
    assert cycles and all(c > 0 for c in cycles.values())
    record_line(f"vta {name}: {len(cycles)} VTA layers, {sum(cycles.values()):,} emulated cycles")


@pytest.mark.parametrize("name", ZOO_MODELS)
def test_zoo_bit_exact_on_vta(name: str, compiled: Callable[[str], Artifact]) -> None:
    artifact = compiled(f"zoo:{name}")
    graph = nnmap.load_model(f"zoo:{name}")
    inputs = random_inputs(graph, MODEL_SAMPLES, seed=SEED)
    for actual, expected in zip(artifact.run_batch(inputs), run_batch(graph, inputs), strict=True):
        np.testing.assert_array_equal(actual, expected)
    assert any(entry["module"] == "vta" for entry in artifact.report["layers"])


def test_kws_and_emulator_clean_under_sanitizers(compiled: Callable[[str], Artifact]) -> None:
    """VTA's generated C and the VTA emulator under ASan/UBSan (bench/sanitize.py runs every
    model)."""
    assert_clean_under_sanitizers(compiled("zoo:kws"), nnmap.load_model("zoo:kws"))
