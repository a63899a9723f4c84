"""Convolutions read directly from their input on VTA (``nnmap.targets.vta.direct``): the halo
LOAD with padding and the GEMM's address-offset micro-ops against a numpy convolution (their
meanings in ``instructions.py``), the per-pixel border bias against TFLite's zero-point padding,
the whole-cost choice with its reason, and small layers compiled, run bit-exact against the
reference and timed by the model exactly as emulated."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import layer_graphs
import numpy as np
import pytest

import nnmap
from nnmap.codegen.accel_gemm import weight_matrix
from nnmap.ir import Requant
from nnmap.ir.workload import Workload, conv_workload
from nnmap.mapping.graph import map_graph
from nnmap.reference.run import run_batch
from nnmap.targets import get_target
from nnmap.targets.vta import instructions as vi
from nnmap.targets.vta.direct import ConvWindow, border_bias, column_span, conv_window, row_spans
from nnmap.targets.vta.instructions import UopKernel, UopLoop, VtaConfig, VtaState
from nnmap.verify import random_inputs

VTA = get_target("vta").module("vta")
CONFIG = VtaConfig.from_module(VTA)
RNG = np.random.default_rng(41)


def _requant(channels: int) -> Requant:
    return Requant.from_scales(0.05, RNG.uniform(0.0005, 0.01, channels), 0.3)


def _workload(size: int, channels: int, out: int, kernel: int, stride: int) -> Workload:
    """A "same"-padded square convolution's workload."""
    pad = kernel // 2
    side = (size + 2 * pad - kernel) // stride + 1
    return conv_workload("c", batch=1, in_channels=channels, out_channels=out, out_height=side,
                         out_width=side, kernel=(kernel, kernel), stride=(stride, stride),
                         padding=(pad, pad, pad, pad))


def _numpy_conv(image: np.ndarray, weight: np.ndarray, stride: int, pad: int) -> np.ndarray:
    """[H, W, C] int8 image (zero padding), [K, FY, FX, C] weights -> [OY, OX, K] int64."""
    padded = np.pad(image.astype(np.int64), ((pad, pad), (pad, pad), (0, 0)))
    k, fy, fx, _ = weight.shape
    out_h = (padded.shape[0] - fy) // stride + 1
    out_w = (padded.shape[1] - fx) // stride + 1
    out = np.zeros((out_h, out_w, k), np.int64)
    for y in range(out_h):
        for x in range(out_w):
            window = padded[y * stride : y * stride + fy, x * stride : x * stride + fx]
            out[y, x] = np.tensordot(weight.astype(np.int64), window, axes=([1, 2, 3], [0, 1, 2]))
    return out


def _direct_kernel(window: ConvWindow, rows: int, n: int) -> UopKernel:
    """The micro-op kernel of ``helpers._direct_gemm_kernel`` (slot 0), as a UopKernel."""
    blocks, width, r = window.blocks, window.width, window.reduction
    uops = tuple(
        vi.Uop(j, (fy * width + fx) * blocks + c, j * r + (fy * window.kernel_x + fx) * blocks + c)
        for j in range(n)
        for fy in range(window.kernel_y)
        for fx in range(window.kernel_x)
        for c in range(blocks)
    )
    loops = (
        UopLoop(rows, window.out_width * n, window.stride_y * width * blocks),
        UopLoop(window.out_width, n, window.stride_x * blocks),
    )
    return UopKernel(vi.MODE_GEMM, uops, loops)


@pytest.mark.parametrize(("size", "channels", "out", "kernel", "stride"),
                         [(7, 16, 16, 3, 1), (9, 32, 32, 3, 2), (6, 48, 16, 1, 1)])
def test_padded_load_and_offset_uops_compute_the_convolution(
    size: int, channels: int, out: int, kernel: int, stride: int
) -> None:
    """Per row tile: LOAD INP of its input rows with the halo padded on the fly, then the GEMM
    indexing the tile by address offsets; the accumulators are numpy's convolution."""
    pad = kernel // 2
    workload = _workload(size, channels, out, kernel, stride)
    window = conv_window(workload, CONFIG.block_in)
    assert isinstance(window, ConvWindow)
    image = RNG.integers(-128, 128, (size, size, channels)).astype(np.int8)
    weight = RNG.integers(-128, 128, (out, kernel, kernel, channels)).astype(np.int8)
    expected = _numpy_conv(image, weight, stride, pad)
    rows, n, bi = 2, out // CONFIG.block_out, CONFIG.block_in
    tiles = -(-window.out_height // rows)
    spans, columns = row_spans(window, rows, tiles, size), column_span(window, size)
    assert spans is not None and columns is not None
    dram = image.reshape(-1, 1, bi)  # NHWC: one entry per pixel and channel block
    blocked = weight_matrix(weight).T.reshape(n, CONFIG.block_out, -1, bi).transpose(0, 2, 1, 3)
    kernel_uops = _direct_kernel(window, rows, n)
    for tile, span in enumerate(spans):
        state = VtaState.empty(CONFIG)
        state.wgt[: blocked.shape[0] * blocked.shape[1]] = blocked.reshape(-1, CONFIG.block_out, bi)
        row_entries = size * window.blocks
        vi.load_2d(state, None, dram, span.first * row_entries + columns.first * window.blocks,
                   columns.size * window.blocks, span.size, row_entries,
                   columns.before * window.blocks, span.before, columns.after * window.blocks,
                   span.after, 0, vi.MEM_INP)
        vi.push_gemm(state, kernel_uops)
        got = state.acc[: rows * window.out_width * n].reshape(rows, window.out_width, out)
        real = min(rows, window.out_height - tile * rows)
        np.testing.assert_array_equal(got[:real], expected[tile * rows : tile * rows + real])


def test_border_bias_restores_the_zero_point_padding() -> None:
    """Zero padding plus the per-pixel bias equals TFLite's padding with the input zero point."""
    zp, size, channels, out = -7, 5, 16, 3
    workload = _workload(size, channels, out, 3, 1)
    window = conv_window(workload, CONFIG.block_in)
    assert isinstance(window, ConvWindow)
    image = RNG.integers(-128, 128, (size, size, channels)).astype(np.int8)
    weight = RNG.integers(-128, 128, (out, 3, 3, channels)).astype(np.int8)
    matrix = weight_matrix(weight)
    bias = RNG.integers(-1000, 1000, out) - zp * matrix.sum(axis=0)  # zero point folded in
    padded = np.pad(image.astype(np.int64), ((1, 1), (1, 1), (0, 0)), constant_values=zp)
    tflite = np.zeros((size, size, out), np.int64)
    for y in range(size):
        for x in range(size):
            tflite[y, x] = np.tensordot(weight, padded[y : y + 3, x : x + 3], 3)
    tflite += bias
    zeros = _numpy_conv(image, weight, 1, 1)
    got = zeros.reshape(-1, out) + border_bias(bias, matrix, window, size, size, zp)
    np.testing.assert_array_equal(got, tflite.reshape(-1, out))


def test_layers_that_cannot_be_read_directly_say_why() -> None:
    three = _workload(8, 3, 16, 3, 1)
    assert "not a multiple of BLOCK_IN=16" in str(conv_window(three, 16))
    wide = _workload(8, 256, 16, 3, 1)
    assert "4-bit pad field" in str(conv_window(wide, 16))


def test_the_mapper_reports_the_gather_where_the_input_cannot_be_read() -> None:
    graph = layer_graphs.conv_graph(RNG, _requant, (8, 3, 16, 3, 1))
    (mapped,) = map_graph(graph, get_target("vta"), place="vta")
    assert "host im2col gather: input channels C=3" in mapped.reason
    assert "im2col gather" in dict(mapped.host_stages)


@pytest.mark.parametrize("shape", [(12, 32, 24, 3, 1), (16, 16, 40, 3, 2), (9, 64, 20, 1, 1)],
                         ids=["3x3", "stride2", "1x1"])
def test_direct_conv_is_bit_exact_and_timed_as_emulated(
    shape: tuple[int, int, int, int, int], tmp_path: Path, record_line: Callable[[str], None]
) -> None:
    graph = layer_graphs.conv_graph(RNG, _requant, shape)
    target = get_target("vta")
    (mapped,) = map_graph(graph, target, place="vta")
    assert "input read directly" in mapped.reason
    assert "im2col gather" not in dict(mapped.host_stages)
    artifact = nnmap.compile(graph, target="vta", out_dir=tmp_path / "a", layer_mappings=[mapped])
    inputs = random_inputs(graph, 3, seed=5)
    for actual, expected in zip(artifact.run_batch(inputs), run_batch(graph, inputs), strict=True):
        np.testing.assert_array_equal(actual, expected)
    artifact.measure_cycles([x[:1] for x in inputs])
    (entry,) = [e for e in artifact.report["layers"] if e["module"] == "vta"]
    record_line(f"vta direct {shape}: emulated {entry['emulated_cycles']} "
                f"modelled {entry['modelled_cycles']:.0f}")
    assert entry["modelled_cycles"] == entry["emulated_cycles"]
