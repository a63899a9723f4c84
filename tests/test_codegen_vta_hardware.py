"""VTA with ``numerics="hardware"``: VTA's ALU requantizes (MUL, ADD, SHR with per-channel
accumulator operands, MIN/MAX clip) and one int8 STORE leaves VTA. The kernels equal a numpy
model of exactly that arithmetic, stay within the justified bound of TFLite's numerics, and a
zoo model runs end to end reporting its deviation."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from math import inf
from pathlib import Path

import numpy as np
import pytest

import nnmap
from nnmap.codegen.accel_gemm import gemm_operands
from nnmap.codegen.artifact import Artifact
from nnmap.codegen.deviation import Deviation
from nnmap.ir import Clamp, Conv2D, FullyConnected, Graph, Layer, Requant, Tensor
from nnmap.mapping.graph import map_graph
from nnmap.mapping.search import search_below
from nnmap.reference.run import run_batch
from nnmap.targets import get_target
from nnmap.targets.vta.baseline import vta_reference
from nnmap.targets.vta.hardware import accumulator_bound, alu_requant, alu_requantize
from nnmap.targets.vta.instructions import IMM_MAX
from nnmap.verify import random_inputs

RNG = np.random.default_rng(11)
SAMPLES = 20


def _t(name: str, shape: tuple[int, ...], scale: float, zp: int) -> Tensor:
    return Tensor(name, shape, "int8", scale, zp)


def conv_graph() -> Graph:
    """3x3 conv, 24 -> 32 channels (whole BLOCK_OUT entries: the STORE writes the output), 99
    output pixels, per-channel multipliers, int8 range."""
    k, c = 32, 24
    conv = Conv2D(
        name="conv", inputs=("x",), output="y",
        weight=RNG.integers(-127, 128, (k, 3, 3, c)).astype(np.int8),
        bias=RNG.integers(-4000, 4000, k).astype(np.int32),
        stride=(1, 1), dilation=(1, 1), padding=(1, 1, 1, 1), groups=1,
        requant=Requant.from_scales(0.05, RNG.uniform(0.0005, 0.002, k), 0.4),
        clamp=Clamp.int8(),
    )
    tensors = {"x": _t("x", (1, 9, 11, c), 0.05, -3), "y": _t("y", (1, 9, 11, k), 0.4, 5)}
    return Graph("vta_hw_conv", tensors, (conv,), ("x",), ("y",))


def fc_graph(weight_scales: np.ndarray | None = None) -> Graph:
    """300 -> 33 features (a partial channel block: the host copies it out), fused ReLU."""
    scales = RNG.uniform(0.0005, 0.002, 33) if weight_scales is None else weight_scales
    fc = FullyConnected(
        name="fc", inputs=("x",), output="y",
        weight=RNG.integers(-127, 128, (33, 300)).astype(np.int8),
        bias=RNG.integers(-20000, 20000, 33).astype(np.int32),
        requant=Requant.from_scales(0.05, scales, 0.3),
        clamp=Clamp(0, 127),
    )
    tensors = {"x": _t("x", (1, 300), 0.05, 4), "y": _t("y", (1, 33), 0.3, -20)}
    return Graph("vta_hw_fc", tensors, (fc,), ("x",), ("y",))


def fc_shared_graph() -> Graph:
    """As ``fc_graph`` with one weight scale: one multiplier, a MUL immediate, nothing loaded."""
    return fc_graph(np.full(33, 0.001))


def _compile_on_vta(graph: Graph, out: Path, reference: bool) -> Artifact:
    """Every conv/FC layer on VTA, whatever the mapper picks: nnmap's optimal VTA mapping, or
    TVM's reference VTA tiling (smaller tiles: the conv's last row tile is clipped)."""
    target = get_target("vta")
    module = target.module("vta")
    mappings = []
    for mapped in map_graph(graph, target, place="vta"):
        found = search_below(mapped.workload, module, inf, 0.5)
        assert found is not None
        tiling = vta_reference(mapped.workload, module) if reference else found.mapping
        mappings.append(replace(mapped, module="vta", mapping=tiling, cost=found.cost))
    return nnmap.compile(graph, "vta", out, layer_mappings=mappings, numerics="hardware")


def _accumulators(layer: Layer, graph: Graph, x: np.ndarray) -> np.ndarray:
    """int32 GEMM results, channels last: (x - zp_in) windows (zero padded) x weights + bias."""
    assert isinstance(layer, Conv2D | FullyConnected)
    zp_in = int(graph.tensor(layer.inputs[0]).zero_point or 0)
    data = x.astype(np.int64) - zp_in
    if isinstance(layer, FullyConnected):
        return data.reshape(len(x), -1) @ layer.weight.astype(np.int64).T + layer.bias
    k, fy, fx, _ = layer.weight.shape
    top, left, bottom, right = layer.padding
    padded = np.pad(data, ((0, 0), (top, bottom), (left, right), (0, 0)))
    out_h, out_w = graph.tensor(layer.output).shape[1:3]
    windows = np.stack(
        [padded[:, i : i + out_h, j : j + out_w] for i in range(fy) for j in range(fx)], axis=3
    )
    weight = layer.weight.astype(np.int64).reshape(k, fy * fx, -1)
    return np.einsum("nyxwc,kwc->nyxk", windows, weight) + layer.bias


def _error_bound(layer: Conv2D | FullyConnected, graph: Graph) -> int:
    """Largest |hardware - TFLite| the approximation allows: 1 LSB (both round to nearest), the
    multiplier's error times the accumulator bound, and the addend's rounding q / 2^(s+1)."""
    assert layer.requant is not None
    zp_in = int(graph.tensor(layer.inputs[0]).zero_point or 0)
    matrix, bias = gemm_operands(layer, zp_in)
    requant = alu_requant(layer, matrix, bias, int(graph.tensor(layer.output).zero_point or 0))
    real = layer.requant.multiplier * np.exp2(layer.requant.shift - 31.0)
    scale = 2.0**-requant.shift
    error = accumulator_bound(matrix, bias) * np.abs(requant.multiplier * scale - real)
    return 1 + int(np.ceil((error + requant.multiplier * scale / 2).max()))


@pytest.mark.parametrize(
    "build", [conv_graph, fc_graph, fc_shared_graph], ids=["conv", "fc", "fc_shared"]
)
@pytest.mark.parametrize("reference", [False, True], ids=["nnmap", "vta_reference"])
def test_hardware_kernel_is_the_alu_model(
    build: Callable[[], Graph], reference: bool, tmp_path: Path
) -> None:
    """Bit-exact with the numpy ALU model; within the approximation's bound of TFLite; only
    the gather (and the copy of a partial channel block) left on the host; one STORE."""
    graph = build()
    (layer,) = graph.layers
    assert isinstance(layer, Conv2D | FullyConnected)
    artifact = _compile_on_vta(graph, tmp_path / "out", reference)
    inputs = random_inputs(graph, SAMPLES, seed=2)
    (actual,) = artifact.run_batch(inputs)
    zp_in = int(graph.tensor(layer.inputs[0]).zero_point or 0)
    matrix, bias = gemm_operands(layer, zp_in)
    requant = alu_requant(layer, matrix, bias, int(graph.tensor(layer.output).zero_point or 0))
    expected = alu_requantize(_accumulators(layer, graph, inputs[0]), requant)
    np.testing.assert_array_equal(actual, expected.reshape(actual.shape))
    deviation = Deviation.between(run_batch(graph, inputs), [actual])
    assert deviation.max_abs <= _error_bound(layer, graph) <= 2
    assert deviation.share_differing < 0.25
    entry = artifact.report["layers"][0]
    assert entry["module"] == "vta" and artifact.report["numerics"] == "hardware"
    copy = {"output copy"} if isinstance(layer, FullyConnected) else set()
    assert set(entry["host_stages"]) == {"im2col gather", "call overhead"} | copy
    kernel = next(artifact.path.glob("layer_00_*.c")).read_text()
    assert kernel.count("VTAStoreBuffer2D(") == 1 and "VTAPushALUOp(" in kernel
    assert "_shift_uops" not in kernel
    loads = 3 if requant.ops().multiplier is not None else 4  # input, weight, bias, multipliers
    assert kernel.count("VTALoadBuffer2D(") == loads
    assert (build is fc_shared_graph) == (loads == 3)


def test_alu_multipliers_cannot_overflow() -> None:
    """Each channel's 16-bit multiplier times its accumulator bound with the addend stays inside
    int32; a larger bound gets a smaller shift."""
    layer = fc_graph().layers[0]
    assert isinstance(layer, FullyConnected)
    matrix, bias = gemm_operands(layer, 4)
    requant = alu_requant(layer, matrix, bias, -20)
    bound = accumulator_bound(matrix, bias)
    assert np.all(requant.multiplier <= IMM_MAX) and np.all(requant.multiplier > 0)
    assert np.all(requant.multiplier * (bound + np.abs(requant.addend)) < 1 << 31)
    assert requant.ops().multiplier is None
    wide = alu_requant(layer, matrix, bias + (1 << 26), -20)
    assert wide.shift < requant.shift and np.all(wide.multiplier <= requant.multiplier)


def test_zoo_model_runs_with_hardware_numerics(tmp_path: Path) -> None:
    """zoo:kws end to end with VTA's requantization: the deviation from the exact reference is
    a few LSB and the top-1 class agrees on nearly every random input."""
    graph = nnmap.load_model("zoo:kws")
    artifact = nnmap.compile(graph, "vta", tmp_path / "kws", numerics="hardware")
    on_vta = [e for e in artifact.report["layers"] if e["module"] == "vta"]
    assert on_vta and all("requantization" not in e["host_stages"] for e in on_vta)
    inputs = random_inputs(graph, SAMPLES, seed=5)
    deviation = Deviation.between(run_batch(graph, inputs), artifact.run_batch(inputs))
    assert 0 < deviation.max_abs <= 8
    assert deviation.top1_agreement >= 0.9


def test_run_reports_the_deviation_on_vta() -> None:
    """``nnmap run --target vta --numerics hardware`` prints the deviation and top-1 agreement."""
    result = subprocess.run(
        [sys.executable, "-m", "nnmap", "run", "zoo:kws", "--target", "vta", "--numerics",
         "hardware", "--inputs", "10", "--seed", "3"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "hardware numerics" in result.stdout
    top1 = re.search(r"top-1 agreement\s*│\s*(\d+)%", result.stdout)
    assert "share of differing values" in result.stdout and top1 is not None, result.stdout
    assert int(top1.group(1)) >= 90
