"""A Conv2D (groups 1) or FullyConnected layer as one kernel whose GEMM runs on Gemmini.

Exact mode: the kernel gathers the input window of every output pixel (im2col, the input zero
point for padding, zeros past the edges) into a staging buffer padded to whole DIM x DIM tiles,
runs the GEMM on Gemmini (int32 accumulators initialised with the folded bias, moved out at full
width), and requantizes the int32 results on the host with TFLite's fixed-point arithmetic, as
the host kernels do. All three stages are one TE compute, scheduled and emitted to C by TVM.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import tvm
from tvm import s_tir, te, tirx

from nnmap.codegen import requant
from nnmap.codegen.gemmini import intrinsics as gi
from nnmap.codegen.gemmini.schedule import GemmShape, GemmTiles, pad_to_dim, schedule_gemm
from nnmap.codegen.kernels import (
    ACTIVATION,
    CONSTANT,
    OUTPUT,
    KernelDef,
    KernelParam,
    clamp_range,
)
from nnmap.ir import Conv2D, FullyConnected, Graph, Tensor
from nnmap.ir.layers import Clamp, Requant

if TYPE_CHECKING:
    Gather = Callable[[tirx.PrimExpr, tirx.PrimExpr], tirx.PrimExpr]

GEMMINI_SCHEDULE = "gemmini"


def _padded(matrix: np.ndarray, rows: int, cols: int, dtype: str) -> np.ndarray:
    out = np.zeros((rows, cols), dtype=dtype)
    out[: matrix.shape[0], : matrix.shape[1]] = matrix
    return out


def _gemm_operands(layer: Conv2D | FullyConnected, zp_in: int) -> tuple[np.ndarray, np.ndarray]:
    """The weights as an [r, n] matrix (window-major, channels last) and the folded bias."""
    weight = layer.weight.astype(np.int64)
    matrix = weight.reshape(weight.shape[0], -1).T
    folded = layer.bias.astype(np.int64) - zp_in * matrix.sum(axis=0)
    return matrix.astype(np.int8), folded.astype(np.int32)


def _conv_gather(layer: Conv2D, inp: Tensor, out: Tensor, data: te.Tensor, zp_in: int) -> Gather:
    _, height, width, channels = inp.shape
    _, out_h, out_w, _ = out.shape
    _, _, fx_n, _ = layer.weight.shape
    (sy, sx), (dy, dx), (top, left) = layer.stride, layer.dilation, layer.padding[:2]

    def value(m: tirx.PrimExpr, r: tirx.PrimExpr) -> tirx.PrimExpr:
        b, oy, ox = m // (out_h * out_w), (m // out_w) % out_h, m % out_w
        fy, fx, c = r // (fx_n * channels), (r // channels) % fx_n, r % channels
        iy, ix = oy * sy + fy * dy - top, ox * sx + fx * dx - left
        inside = tirx.all(iy >= 0, iy < height, ix >= 0, ix < width)
        return te.if_then_else(inside, data[b, iy, ix, c], tirx.const(zp_in, "int8"))

    return value


def _staged(
    layer: Conv2D | FullyConnected,
    inp: Tensor,
    out: Tensor,
    data: te.Tensor,
    shape: GemmShape,
    rows: int,
    depth: int,
    zp_in: int,
) -> te.Tensor:
    if isinstance(layer, Conv2D):
        gather = _conv_gather(layer, inp, out, data, zp_in)
    else:

        def gather(m: tirx.PrimExpr, r: tirx.PrimExpr) -> tirx.PrimExpr:
            return data[m, r]

    def value(m: tirx.PrimExpr, r: tirx.PrimExpr) -> tirx.PrimExpr:
        inside = tirx.all(m < rows, r < depth)
        return te.if_then_else(inside, gather(m, r), tirx.const(0, "int8"))

    return te.compute((shape.m, shape.r), value, name="staged")


def _requantized(
    gemm: te.Tensor,
    out_shape: tuple[int, ...],
    rq: Requant,
    clamp: Clamp,
    zp_out: int,
    mult: te.Tensor,
    shift: te.Tensor,
) -> te.Tensor:
    low, high = clamp_range(clamp)
    may_shift_left = bool((rq.shift > 0).any())

    def value(*index: tirx.Var) -> tirx.PrimExpr:
        row: tirx.PrimExpr = tirx.const(0, "int32")
        for axis, size in zip(index[:-1], out_shape[:-1], strict=True):
            row = row * size + axis
        k = index[-1]
        scaled = requant.multiply_by_quantized_multiplier(
            gemm[row, k], mult[k], shift[k], may_shift_left=may_shift_left, bind=False
        )
        return requant.saturate(scaled + zp_out, low, high, "int8", bind=False)

    return te.compute(out_shape, value, name="out")


def gemm_geometry(layer: Conv2D | FullyConnected, graph: Graph) -> tuple[GemmShape, int, int]:
    """The padded GEMM of a layer, its output rows (pixels) and its output channels."""
    channels = int(layer.weight.shape[0])
    depth = int(layer.weight.size) // channels
    rows = graph.tensor(layer.output).size // channels
    return GemmShape(pad_to_dim(rows), pad_to_dim(channels), pad_to_dim(depth)), rows, channels


def gemm_kernel(layer: Conv2D | FullyConnected, graph: Graph) -> tuple[KernelDef, GemmShape]:
    """The layer's TE pipeline (gather, GEMM with bias init, requantization) and its GEMM shape."""
    assert layer.requant is not None
    inp, out = graph.tensor(layer.inputs[0]), graph.tensor(layer.output)
    zp_in, zp_out = int(inp.zero_point or 0), int(out.zero_point or 0)
    matrix, bias = _gemm_operands(layer, zp_in)
    depth, channels = matrix.shape
    rows = out.size // channels
    shape = GemmShape(pad_to_dim(rows), pad_to_dim(channels), pad_to_dim(depth))
    data_shape = inp.shape if isinstance(layer, Conv2D) else (rows, depth)
    data = te.placeholder(data_shape, "int8", name="data")
    weight = te.placeholder((shape.r, shape.n), "int8", name="weight")
    bias_in = te.placeholder((shape.n,), "int32", name="bias")
    mult = te.placeholder((channels,), "int32", name="mult")
    shift = te.placeholder((channels,), "int32", name="shift")
    staged = _staged(layer, inp, out, data, shape, rows, depth, zp_in)
    r = te.reduce_axis((0, shape.r), "r")
    gemm = te.compute(
        (shape.m, shape.n),
        lambda m, n: te.sum(staged[m, r].astype("int32") * weight[r, n].astype("int32"), axis=r),
        name="gemm",
    )
    out_shape = out.shape if isinstance(layer, Conv2D) else (rows, channels)
    result = _requantized(gemm, out_shape, layer.requant, layer.clamp, zp_out, mult, shift)
    tensors = (data, weight, bias_in, mult, shift, result)
    roles = (ACTIVATION, CONSTANT, CONSTANT, CONSTANT, CONSTANT, OUTPUT)
    params = tuple(
        KernelParam(t.op.name, str(t.dtype), role) for t, role in zip(tensors, roles, strict=True)
    )
    constants = {
        "weight": _padded(matrix, shape.r, shape.n, "int8"),
        "bias": _padded(bias[None, :], 1, shape.n, "int32")[0],
        "mult": np.ascontiguousarray(
            np.broadcast_to(layer.requant.multiplier, (channels,)), dtype=np.int32
        ),
        "shift": np.ascontiguousarray(
            np.broadcast_to(layer.requant.shift, (channels,)), dtype=np.int32
        ),
    }
    return KernelDef(params, tensors, GEMMINI_SCHEDULE, constants), shape


def _with_prologue(func: tirx.PrimFunc, shape: GemmShape) -> tirx.PrimFunc:
    """Issue the layer's Gemmini configuration before the kernel and a fence after it."""
    configs = gi.config_calls(shape.r, shape.n, shape.n * 4)
    return func.with_body(tirx.SeqStmt([*configs, func.body, gi.fence_call()]))


def scheduled_gemm_module(
    kernel: KernelDef, shape: GemmShape, tiles: GemmTiles, symbol: str
) -> tvm.IRModule:
    """The kernel's PrimFunc under ``symbol``: host stages as they are, the GEMM tensorized."""
    gi.register_all()
    func = te.create_prim_func(list(kernel.tensors)).with_attr("global_symbol", symbol)
    sch = s_tir.Schedule(tvm.IRModule({symbol: func}))
    sch.work_on(symbol)
    schedule_gemm(sch, tiles, func.params[2])
    scheduled = sch.mod[symbol]
    return tvm.IRModule({symbol: _with_prologue(scheduled, shape)})
