"""A depthwise Conv2D as one kernel whose block-diagonal GEMM runs on Gemmini (exact numerics).

The layout is the one the cost model planned from the embedding solver's results
(``cost.chosen_layout``, ``nnmap.embedding.grouped``). The kernel gathers, for every output
pixel, each block's window positions in the layout's order (the input zero point for padding,
zeros where the layout pads), runs ``gemm[m, n] = sum_r staged[m, block(n) * depth + r] *
weight[r, n]`` on Gemmini with the block-diagonal weights (the same stream as a dense GEMM:
one block per output tile, each tile reading its block's reduction columns), and adds the
folded bias and requantizes on the host with TFLite's arithmetic, as the dense kernels do.
"""

from __future__ import annotations

import numpy as np
from tvm import te, tirx

from nnmap.codegen.accel_depthwise import depthwise_gather, depthwise_taps, folded_column_bias
from nnmap.codegen.accel_gemm import requantized
from nnmap.codegen.kernels import KernelDef
from nnmap.embedding.grouped import BlockDiagonal
from nnmap.ir import Conv2D, Graph
from nnmap.ir.workload import workload_of
from nnmap.targets.gemmini.depthwise import depthwise_shape
from nnmap.targets.gemmini.lower import GemmStage, kernel_def
from nnmap.targets.gemmini.tiling import GemmShape, pad_to


def depthwise_kernel(
    layer: Conv2D, graph: Graph, layout: BlockDiagonal, dim: int, m_tile: int
) -> tuple[KernelDef, GemmShape]:
    """The layer's TE pipeline (gather, block-diagonal GEMM, bias and requantization) and its
    GEMM shape, M padded to whole ``m_tile`` rows."""
    assert layer.requant is not None
    inp, out = graph.tensor(layer.inputs[0]), graph.tensor(layer.output)
    workload = workload_of(graph, layer)
    assert workload is not None
    whole = depthwise_shape(workload, layout, dim)
    shape = GemmShape(pad_to(whole.rows, m_tile), whole.n, whole.r, whole.rows, whole.blocks)
    zp_in, zp_out = int(inp.zero_point or 0), int(out.zero_point or 0)
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
    channels = layout.channels
    mult = te.placeholder((channels,), "int32", name="mult")
    shift = te.placeholder((channels,), "int32", name="shift")
    result = requantized(gemm, out.shape, layer.requant, layer.clamp, zp_out, mult, shift, bias,
                         column=layout.column_of_channel)
    stage = GemmStage(shape, whole.rows, channels, out.shape, data, weight, bias, gemm)
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
    return kernel_def(stage, (mult, shift), result, constants), shape
