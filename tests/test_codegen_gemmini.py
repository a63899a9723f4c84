"""Gemmini artifacts: dense convolutions and fully connected layers as TVM-tensorized gemmini.h
calls, run against nnmap's emulator, bit-exact with nnmap's reference and TFLite Micro; the
emulated cycles of every accelerator layer next to the modelled ones."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import layer_graphs
import numpy as np
import pytest

import nnmap
from nnmap.codegen.artifact import Artifact
from nnmap.codegen.deviation import Deviation
from nnmap.codegen.kernels import clamp_range
from nnmap.errors import NnmapError
from nnmap.ir import Clamp, Conv2D, FullyConnected, Graph, Layer, Requant, Reshape, Tensor
from nnmap.reference.run import run_batch
from nnmap.targets.gemmini.hardware import hardware_operands
from nnmap.verify import random_inputs

RNG = np.random.default_rng(11)
GRAPH_SAMPLES = 20


def _t(name: str, shape: tuple[int, ...], scale: float, zp: int) -> Tensor:
    return Tensor(name, shape, "int8", scale, zp)


def _fc(name: str, src: str, out: str, n_out: int, n_in: int, clamp: Clamp) -> FullyConnected:
    return FullyConnected(
        name=name,
        inputs=(src,),
        output=out,
        weight=RNG.integers(-127, 128, (n_out, n_in)).astype(np.int8),
        bias=RNG.integers(-3000, 3000, n_out).astype(np.int32),
        requant=Requant.from_scales(0.05, RNG.uniform(0.002, 0.01, n_out), 0.3),
        clamp=clamp,
    )


def fc_graph() -> Graph:
    """Two fully connected layers with edge tiles (37 -> 20 -> 24 features, 3 rows)."""
    tensors = {
        "x": _t("x", (1, 3, 37), 0.05, 4),
        "h": _t("h", (1, 3, 20), 0.3, -7),
        "y": _t("y", (1, 3, 24), 0.3, 2),
    }
    layers: tuple[Layer, ...] = (
        _fc("fc1", "x", "h", 20, 37, Clamp(0, 127)),
        _fc("fc2", "h", "y", 24, 20, Clamp.int8()),
    )
    return Graph("gemmini_fc", tensors, layers, ("x",), ("y",))


def conv_graph() -> Graph:
    """C=20 -> K=24 over a 5x7 image, 3x3 stride 2 with padding, then a 1x1 conv and an FC."""
    tensors = {
        "x": _t("x", (1, 5, 7, 20), 0.05, -3),
        "c": _t("c", (1, 3, 4, 24), 0.2, 5),
        "p": _t("p", (1, 3, 4, 18), 0.2, -1),
        "f": _t("f", (1, 216), 0.2, -1),
        "y": _t("y", (1, 10), 0.3, 0),
    }
    conv = Conv2D(
        name="conv3x3",
        inputs=("x",),
        output="c",
        weight=RNG.integers(-127, 128, (24, 3, 3, 20)).astype(np.int8),
        bias=RNG.integers(-4000, 4000, 24).astype(np.int32),
        stride=(2, 2),
        dilation=(1, 1),
        padding=(1, 1, 1, 1),
        groups=1,
        requant=Requant.from_scales(0.05, RNG.uniform(0.002, 0.01, 24), 0.2),
        clamp=Clamp.int8(),
    )
    point = Conv2D(
        name="conv1x1",
        inputs=("c",),
        output="p",
        weight=RNG.integers(-127, 128, (18, 1, 1, 24)).astype(np.int8),
        bias=RNG.integers(-4000, 4000, 18).astype(np.int32),
        stride=(1, 1),
        dilation=(1, 1),
        padding=(0, 0, 0, 0),
        groups=1,
        requant=Requant.from_scales(0.2, RNG.uniform(0.002, 0.01, 18), 0.2),
        clamp=Clamp(0, 127),
    )
    layers: tuple[Layer, ...] = (
        conv,
        point,
        Reshape(name="flatten", inputs=("p",), output="f"),
        _fc("fc", "f", "y", 10, 216, Clamp.int8()),
    )
    return Graph("gemmini_conv", tensors, layers, ("x",), ("y",))


def _report_cycles(
    artifact: Artifact, inputs: list[np.ndarray], record_line: Callable[[str], None]
) -> None:
    """Measure one inference; every Gemmini layer has emulated cycles > 0, recorded with the
    modelled ones and their relative deviation."""
    emulated = artifact.measure_cycles([x[:1] for x in inputs])
    layers = [entry for entry in artifact.report["layers"] if entry["module"] == "gemmini"]
    assert layers and set(emulated) == {entry["name"] for entry in layers}
    deviations = []
    for entry in layers:
        cycles, modelled = entry["emulated_cycles"], entry["modelled_cycles"]
        assert cycles > 0
        deviations.append(abs(modelled - cycles) / cycles)
        record_line(
            f"gemmini {artifact.report['model']} {entry['name']}: emulated {cycles} "
            f"modelled {modelled:.0f} |dev| {deviations[-1]:.1%}"
        )
    quartiles = np.percentile(deviations, [0, 50, 100])
    record_line(
        f"gemmini {artifact.report['model']}: |modelled-emulated|/emulated over "
        f"{len(deviations)} layers: min {quartiles[0]:.1%} median {quartiles[1]:.1%} "
        f"max {quartiles[2]:.1%}"
    )


def _compile(model: Graph | Path | str, tmp_path: Path) -> Artifact:
    return nnmap.compile(model, target="gemmini", out_dir=tmp_path / "out", place="gemmini")


@pytest.mark.parametrize("build", [fc_graph, conv_graph], ids=["fc", "conv"])
def test_graph_bit_exact_on_gemmini(
    build: Callable[[], Graph], tmp_path: Path, record_line: Callable[[str], None]
) -> None:
    graph = build()
    artifact = _compile(graph, tmp_path)
    modules = {e["name"]: e["module"] for e in artifact.report["layers"] if e["kernel"]}
    assert set(modules.values()) == {"gemmini"}
    inputs = random_inputs(graph, GRAPH_SAMPLES, seed=3)
    for actual, expected in zip(artifact.run_batch(inputs), run_batch(graph, inputs), strict=True):
        np.testing.assert_array_equal(actual, expected)
    _report_cycles(artifact, inputs, record_line)


def test_generated_kernel_calls_gemmini_macros(tmp_path: Path) -> None:
    artifact = _compile(conv_graph(), tmp_path)
    kernel = (artifact.path / "layer_00_conv2d.c").read_text()
    for macro in (
        "gemmini_extended_mvin(",
        "gemmini_extended_mvin2(",
        "gemmini_extended_preload(",
        "gemmini_extended_compute_preloaded(",
        "gemmini_extended_mvout(",
        "gemmini_extended3_config_ex(",
        "gemmini_extended3_config_ld(",
        "gemmini_extended_config_st(",
        "gemmini_fence(",
    ):
        assert macro in kernel
    assert "gemmini_extended_mvin3(" not in kernel  # exact mode: the host adds the bias
    # the host buffers (im2col staging, int32 results) are the only allocations: every
    # Gemmini command is one call, its operands plain expressions
    assert kernel.count("TVMBackendAllocWorkspace(") == 2
    # the fence sits between the last mvout and the host stage that reads the results, once
    assert kernel.count("gemmini_fence(") == 1
    assert kernel.rindex("gemmini_extended_mvout(") < kernel.index("gemmini_fence(")
    network = (artifact.path / "network.c").read_text()
    assert 'NNMAP_LAYER_BEGIN(nnmap_gemmini, "conv3x3");' in network
    assert "#ifdef NNMAP_EMULATOR" in network and '#include "gemmini.h"' not in network


def gather_graph() -> Graph:
    """A 3x3 "same" convolution of 16 channels over a 6x6 image: its GEMM needs no padding of
    the reduction (144 = 9 x 16) and 36 pixels pad to whole rows of 6."""
    tensors = {"x": _t("x", (1, 6, 6, 16), 0.05, -3), "y": _t("y", (1, 6, 6, 16), 0.2, 5)}
    conv = Conv2D(
        name="conv", inputs=("x",), output="y",
        weight=RNG.integers(-127, 128, (16, 3, 3, 16)).astype(np.int8),
        bias=RNG.integers(-4000, 4000, 16).astype(np.int32), stride=(1, 1), dilation=(1, 1),
        padding=(1, 1, 1, 1), groups=1,
        requant=Requant.from_scales(0.05, RNG.uniform(0.002, 0.01, 16), 0.2), clamp=Clamp.int8(),
    )
    return Graph("gather", tensors, (conv,), ("x",), ("y",))


def test_conv_gather_nests_rows_taps_and_channels(tmp_path: Path) -> None:
    """The im2col gather of a convolution loops over output rows, their pixels, kernel rows,
    taps and channels: no division or remainder per gathered byte (on Rocket each costs a
    multi-cycle multiply or divide), the innermost loop copies one tap's channels; bit-exact.
    (Padded loops are nested too, with a bounds test: ``test_graph_bit_exact_on_gemmini``.)"""
    graph = gather_graph()
    artifact = _compile(graph, tmp_path)
    kernel = (artifact.path / "layer_00_conv2d.c").read_text()
    gather = kernel[kernel.index("for (int32_t m_0") : kernel.index("gemmini_extended_mvin(")]
    for loop in ("m_0", "m_1", "r_0", "r_1", "r_2"):
        assert f"for (int32_t {loop} = 0;" in gather
    assert "staged[" in gather and " / " not in gather and " % " not in gather
    inputs = random_inputs(graph, GRAPH_SAMPLES, seed=5)
    for actual, expected in zip(artifact.run_batch(inputs), run_batch(graph, inputs), strict=True):
        np.testing.assert_array_equal(actual, expected)


def test_tiny_layer_stays_on_the_host_by_the_cost_model(tmp_path: Path) -> None:
    """A 4x4 fully connected layer: the mapper keeps it on the host, and the report gives both
    modelled costs."""
    tensors = {"x": _t("x", (1, 1, 4), 0.05, 1), "y": _t("y", (1, 1, 4), 0.3, 0)}
    graph = Graph("tiny", tensors, (_fc("fc", "x", "y", 4, 4, Clamp.int8()),), ("x",), ("y",))
    entry = nnmap.compile(graph, "gemmini", tmp_path / "out").report["layers"][0]
    assert entry["module"] == "host" and entry["mapped_module"] == "rocket"
    match = re.fullmatch(
        r"cost model: host cheaper \(([\d,]+) cycles vs ([\d,]+) cycles on gemmini\)",
        entry["placement"],
    )
    assert match is not None, entry["placement"]
    host, gemmini = (int(group.replace(",", "")) for group in match.groups())
    assert host < gemmini


def _hardware_numpy(layer: FullyConnected, graph: Graph, x: np.ndarray) -> np.ndarray:
    """Gemmini's numerics in numpy: int32 GEMM with the folded bias, float32 scale per mvout,
    round half to even, saturation (ReLU floor), then the host clamp."""
    zp_in = int(graph.tensor(layer.inputs[0]).zero_point or 0)
    zp_out = int(graph.tensor(layer.output).zero_point or 0)
    matrix, bias, scales = hardware_operands(layer, zp_in, zp_out, 16)
    rows = x.reshape(-1, matrix.shape[0]).astype(np.int64)
    acc = (rows @ matrix.astype(np.int64) + bias).astype(np.int32)
    scaled = np.rint(acc.astype(np.float32) * scales)
    low, high = clamp_range(layer.clamp)
    return np.clip(scaled, low, high).astype(np.int8).reshape(x.shape[:-1] + (-1,))


def test_hardware_numerics_scale_on_mvout(tmp_path: Path) -> None:
    """numerics="hardware": the kernel computes Gemmini's mvout scaling exactly (vs numpy), one
    config_st per mvout, and stays within a few LSB of the exact (TFLite) numerics."""
    full = fc_graph()
    graph = Graph("gemmini_fc1", {n: full.tensors[n] for n in ("x", "h")}, full.layers[:1],
                  ("x",), ("h",))
    artifact = nnmap.compile(
        graph, "gemmini", tmp_path / "hw", numerics="hardware", place="gemmini"
    )
    layer = graph.layers[0]
    assert isinstance(layer, FullyConnected)
    inputs = random_inputs(graph, GRAPH_SAMPLES, seed=4)
    (actual,) = artifact.run_batch(inputs)
    np.testing.assert_array_equal(actual, _hardware_numpy(layer, graph, inputs[0]))
    deviation = Deviation.between(run_batch(graph, inputs), [actual])
    assert 0 < deviation.max_abs <= 2
    kernel = (artifact.path / "layer_00_fullyconnected.c").read_text()
    assert kernel.count("gemmini_extended_config_st(") == 2  # prologue + one per mvout
    assert re.search(r"gemmini_extended_config_st\(\w+, 1, scale\[", kernel)  # ReLU, scale
    entry = artifact.report["layers"][0]
    assert artifact.report["numerics"] == "hardware"
    assert set(entry["host_stages"]) == {"im2col gather", "output copy and clamp", "call overhead"}


def test_hardware_operands_keep_per_tensor_weights() -> None:
    """One multiplier for all channels: the weights stay as they are and every mvout block
    scales by that multiplier; per-channel multipliers share their block's largest one."""
    layer = _fc("fc", "x", "y", 20, 37, Clamp.int8())
    shared = FullyConnected(
        name="fc", inputs=("x",), output="y", weight=layer.weight, bias=layer.bias,
        requant=Requant.from_scales(0.05, np.full(20, 0.004), 0.3), clamp=Clamp.int8(),
    )
    matrix, _, scales = hardware_operands(shared, 0, 0, 16)
    np.testing.assert_array_equal(matrix, layer.weight.T)
    assert np.all(scales == scales[0]) and scales[0] == pytest.approx(0.05 * 0.004 / 0.3)
    assert layer.requant is not None
    real = layer.requant.multiplier * np.exp2(layer.requant.shift - 31.0)
    _, _, block = hardware_operands(layer, 0, 0, 16)
    np.testing.assert_allclose(block[:16], real[:16].max(), rtol=1e-6)
    np.testing.assert_allclose(block[16:], real[16:].max(), rtol=1e-6)


def test_unknown_numerics_is_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(NnmapError, match="numerics 'fast'") as info:
        nnmap.compile(fc_graph(), "gemmini", tmp_path / "x", numerics="fast")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("numerics", ["exact", "hardware"])
def test_batch_one_fully_connected_reads_its_input_without_staging(
    numerics: str, tmp_path: Path
) -> None:
    """A batch-1 fully connected layer whose depth is whole DIM columns: the input mvins read
    its one input row from the input tensor (rows = 1), no host gather into a staging tile;
    exact numerics bit-exact, hardware within a few LSB, modelled cycles equal emulated."""
    rng = np.random.default_rng(12)
    graph = layer_graphs.fc_graph(rng, lambda k: Requant.from_scales(0.05, 0.004, 0.3),
                                  (1, 20, 48), input_zero_point=5)
    artifact = nnmap.compile(graph, "gemmini", tmp_path, numerics=numerics, place="gemmini")
    kernel = (artifact.path / "layer_00_fullyconnected.c").read_text()
    input_loads = re.findall(r"gemmini_extended_mvin\(\(&\(data\[[^;]*, 16, (\d+)\);", kernel)
    assert input_loads == ["1"], kernel
    (entry,) = artifact.report["layers"]
    assert "im2col gather" not in entry["host_stages"]
    inputs = random_inputs(graph, 5, seed=2)
    deviation = Deviation.between(run_batch(graph, inputs), artifact.run_batch(inputs))
    assert deviation.max_abs == 0 if numerics == "exact" else deviation.max_abs <= 2
    artifact.measure_cycles([inputs[0][:1]])
    (entry,) = artifact.report["layers"]
    assert entry["modelled_cycles"] == entry["emulated_cycles"] > 0
