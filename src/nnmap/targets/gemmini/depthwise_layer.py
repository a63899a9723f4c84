"""A depthwise Conv2D as one kernel whose block-diagonal GEMM runs on Gemmini.

The layout is the one the cost model planned from the embedding solver's results
(``cost.chosen_layout``, ``nnmap.embedding.grouped``). The kernel gathers, for every output
pixel, each block's window positions in the layout's order (the input zero point for padding,
zeros where the layout pads), runs ``gemm[m, n] = sum_r staged[m, block(n) * depth + r] *
weight[r, n]`` on Gemmini with the block-diagonal weights (the same stream as a dense GEMM:
one block per output tile, each tile reading its block's reduction columns), then:

- exact numerics: adds the folded bias and requantizes on the host with TFLite's arithmetic,
  as the dense kernels do;
- hardware numerics: Gemmini's own scaling, as for the dense layers (``hardware``): the bias
  is moved into the accumulator, every DIM-column mvout block gets one float32 scale (the
  largest real multiplier of the channels its columns hold), each channel's remaining factor
  is folded into its taps and bias, and the int8 results leave through the scaled mvout; the
  host only copies each channel's column into the output tensor with the activation's clamp.
"""

from __future__ import annotations

import numpy as np
from tvm import te, tirx

from nnmap.codegen.accel_depthwise import depthwise_gather, depthwise_taps, folded_column_bias
from nnmap.codegen.accel_gemm import requantized
from nnmap.codegen.kernels import KernelDef, clamp_range
from nnmap.embedding.grouped import BlockDiagonal
from nnmap.ir import Conv2D, Graph
from nnmap.ir.workload import workload_of
from nnmap.targets.gemmini.depthwise import depthwise_shape
from nnmap.targets.gemmini.hardware import block_scales, saturated, scaled_mvout
from nnmap.targets.gemmini.lower import GemmStage, kernel_def
from nnmap.targets.gemmini.tiling import GemminiGeometry, GemmShape, pad_to


def _depthwise_stage(
    layer: Conv2D, graph: Graph, layout: BlockDiagonal, dim: int, m_tile: int
) -> GemmStage:
    """The gather and the block-diagonal GEMM (without its bias), M padded to ``m_tile``."""
    inp, out = graph.tensor(layer.inputs[0]), graph.tensor(layer.output)
    workload = workload_of(graph, layer)
    assert workload is not None
    whole = depthwise_shape(workload, layout, dim)
    shape = GemmShape(pad_to(whole.rows, m_tile), whole.n, whole.r, whole.rows, whole.blocks)
    zp_in = int(inp.zero_point or 0)
    data = te.placeholder(inp.shape, "int8", name="data")
    weight = te.placeholder((shape.r, shape.n), "int8", name="weight")
    bias = te.placeholder((shape.n,), "int32", name="bias")
    gather = depthwise_gather(layer, graph, layout, data, whole.rows, zp_in)

    def value(m: tirx.PrimExpr, q: tirx.PrimExpr) -> tirx.PrimExpr:
        return gather(m, q // shape.r, q % shape.r)

    staged = te.compute((shape.m, shape.input_width), value, name="staged")
    r = te.reduce_axis((0, shape.r), "r")

    def product(m: tirx.PrimExpr, n: tirx.PrimExpr) -> tirx.PrimExpr:
        column = n // layout.columns * shape.r + r
        return te.sum(staged[m, column].astype("int32") * weight[r, n].astype("int32"), axis=r)

    gemm = te.compute((shape.m, shape.n), product, name="gemm")
    return GemmStage(shape, whole.rows, layout.channels, out.shape, data, weight, bias, gemm)


def depthwise_kernel(
    layer: Conv2D, graph: Graph, layout: BlockDiagonal, dim: int, m_tile: int
) -> tuple[KernelDef, GemmShape]:
    """The layer's TE pipeline in exact numerics (gather, block-diagonal GEMM, bias and
    requantization on the host) and its GEMM shape, M padded to whole ``m_tile`` rows."""
    assert layer.requant is not None
    stage = _depthwise_stage(layer, graph, layout, dim, m_tile)
    zp_in = int(graph.tensor(layer.inputs[0]).zero_point or 0)
    zp_out = int(graph.tensor(layer.output).zero_point or 0)
    channels = layout.channels
    mult = te.placeholder((channels,), "int32", name="mult")
    shift = te.placeholder((channels,), "int32", name="shift")
    result = requantized(stage.gemm, stage.out_shape, layer.requant, layer.clamp, zp_out, mult,
                         shift, stage.bias, column=layout.column_of_channel)
    constants = {
        "weight": layout.weight_matrix(depthwise_taps(layer)),
        "bias": folded_column_bias(layer, layout, zp_in),
        "mult": np.ascontiguousarray(
            np.broadcast_to(layer.requant.multiplier, (channels,)), dtype=np.int32
        ),
        "shift": np.ascontiguousarray(
            np.broadcast_to(layer.requant.shift, (channels,)), dtype=np.int32
        ),
    }
    return kernel_def(stage, (mult, shift), result, constants), stage.shape


def depthwise_hardware_operands(
    layer: Conv2D, layout: BlockDiagonal, zp_in: int, zp_out: int, dim: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The block-diagonal int8 [depth, width] weights, the int32 bias and the float32 scale of
    every result column in hardware numerics (padding columns: zero weights and bias)."""
    assert layer.requant is not None
    channels = layout.channels
    multiplier = np.broadcast_to(layer.requant.multiplier, (channels,)).astype(np.float64)
    shift = np.broadcast_to(layer.requant.shift, (channels,)).astype(np.float64)
    real = np.zeros(layout.width, np.float64)
    bias = np.zeros(layout.width, np.float64)
    for channel in range(channels):
        column = layout.column_of_channel(channel)
        real[column] = multiplier[channel] * np.exp2(shift[channel] - 31)
        bias[column] = float(layer.bias[channel])
    scales = block_scales(real, dim)
    factor = real / scales.astype(np.float64)
    matrix = layout.weight_matrix(depthwise_taps(layer)).astype(np.float64)
    scaled = np.clip(np.rint(matrix * factor[None, :]), -128, 127).astype(np.int64)
    folded = np.rint(bias * factor).astype(np.int64) - zp_in * scaled.sum(axis=0)
    folded += np.rint(zp_out / scales.astype(np.float64)).astype(np.int64)
    folded[real == 0] = 0
    bound = np.iinfo(np.int32)
    return (scaled.astype(np.int8), np.clip(folded, bound.min, bound.max).astype(np.int32),
            scales)


def depthwise_hardware_kernel(
    layer: Conv2D, graph: Graph, layout: BlockDiagonal, geometry: GemminiGeometry, m_tile: int
) -> tuple[KernelDef, GemmShape, str]:
    """The layer's TE pipeline in hardware numerics (gather, block-diagonal GEMM from the bias,
    scaled mvout, the host's copy of each channel's column with the clamp), its GEMM shape and
    its mvout intrinsic."""
    stage = _depthwise_stage(layer, graph, layout, geometry.dim, m_tile)
    shape = stage.shape
    zp_in = int(graph.tensor(layer.inputs[0]).zero_point or 0)
    zp_out = int(graph.tensor(layer.output).zero_point or 0)
    matrix, bias, scales = depthwise_hardware_operands(layer, layout, zp_in, zp_out, geometry.dim)
    low, high = clamp_range(layer.clamp)
    relu = low >= 0
    scale = te.placeholder((shape.n,), "float32", name="scale")
    floor = 0.0 if relu else -128.0
    scaled = te.compute(
        (shape.m, shape.n), lambda m, n: saturated(stage.gemm[m, n], scale[n], floor),
        name="scaled",
    )

    def value(*index: tirx.Var) -> tirx.PrimExpr:
        row: tirx.PrimExpr = tirx.const(0, "int32")
        for axis, size in zip(index[:-1], stage.out_shape[:-1], strict=True):
            row = row * size + axis
        element = scaled[row, layout.column_of_channel(index[-1])]
        return tirx.max(tirx.min(element, tirx.const(high, "int8")), tirx.const(low, "int8"))

    result = te.compute(stage.out_shape, value, name="out")
    constants = {"weight": matrix, "bias": bias, "scale": scales}
    kernel = kernel_def(stage, (scale,), result, constants)
    return kernel, shape, scaled_mvout(geometry, relu)
