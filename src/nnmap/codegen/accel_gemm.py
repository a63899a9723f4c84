"""What every accelerator GEMM lowering shares: a conv/FC layer as gather -> GEMM -> requantize.

A dense convolution or a fully connected layer becomes ``gemm[m, n] = bias[n] + sum_r
staged[m, r] * weight[r, n]`` with m the output pixels, n the output channels and r the window
``FY*FX*C`` (channels last); the host gathers ``staged`` (im2col) and requantizes the int32
results with TFLite's arithmetic. This module holds the accelerator-independent pieces: the
operands, the gather, the requantization stage and small TIR rewrites the accelerator
backends' GEMM lowerings need (reading a layer's Mapping as GEMM tile sizes and loop order is
``nnmap.mapping.gemm_tiling``, which the cost models share).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
from tvm import ir, s_tir, te, tirx

from nnmap.codegen import requant
from nnmap.codegen.kernels import clamp_range
from nnmap.errors import UnsupportedOperatorError
from nnmap.ir import Conv2D, FullyConnected, IntegerRequant, Tensor
from nnmap.ir.layers import Clamp, Requant

__all__ = [
    "around_root_stmt",
    "conv_gather",
    "folded_bias",
    "gemm_operands",
    "init_from_bias",
    "requantized",
    "weight_matrix",
]

if TYPE_CHECKING:  # tirx.PrimExpr exists for the type checker only
    # The value of the staged (im2col) input at GEMM row m, reduction index r.
    Gather = Callable[[tirx.PrimExpr, tirx.PrimExpr], tirx.PrimExpr]


def weight_matrix(weight: np.ndarray) -> np.ndarray:
    """Weights (K first) as an int64 [r, n] matrix: window-major, channels last."""
    return weight.astype(np.int64).reshape(weight.shape[0], -1).T


def folded_bias(matrix: np.ndarray, bias: np.ndarray, zp_in: int) -> np.ndarray:
    """The int64 bias with the input zero point's share of every output folded in."""
    return bias.astype(np.int64) - zp_in * matrix.astype(np.int64).sum(axis=0)


def gemm_operands(layer: Conv2D | FullyConnected, zp_in: int) -> tuple[np.ndarray, np.ndarray]:
    """The weights as an int8 [r, n] matrix and the folded int32 bias."""
    matrix = weight_matrix(layer.weight)
    return matrix.astype(np.int8), folded_bias(matrix, layer.bias, zp_in).astype(np.int32)


def conv_gather(layer: Conv2D, inp: Tensor, out: Tensor, data: te.Tensor, zp_in: int) -> Gather:
    """The im2col value ``staged[m, r]`` of a convolution: input or, outside it, the zero point."""
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


def requantized(
    gemm: te.Tensor,
    out_shape: tuple[int, ...],
    rq: Requant | IntegerRequant,
    clamp: Clamp,
    zp_out: int,
    mult: te.Tensor,
    shift: te.Tensor,
    bias: te.Tensor | None = None,
    column: Callable[[tirx.PrimExpr], tirx.PrimExpr] | None = None,
) -> te.Tensor:
    """``gemm`` (plus ``bias`` per channel, if given) requantized to int8 in ``out_shape``;
    ``column`` gives the GEMM column of an output channel (by default the channel itself)."""
    if isinstance(rq, IntegerRequant):
        raise UnsupportedOperatorError(
            "an integer-only ONNX layer's multiply-add-shift requantization runs on the host; "
            "no accelerator lowering takes it")
    low, high = clamp_range(clamp)
    may_shift_left = bool((rq.shift > 0).any())

    def value(*index: tirx.Var) -> tirx.PrimExpr:
        row: tirx.PrimExpr = tirx.const(0, "int32")
        for axis, size in zip(index[:-1], out_shape[:-1], strict=True):
            row = row * size + axis
        k = index[-1]
        n = k if column is None else column(k)
        total = gemm[row, n] if bias is None else gemm[row, n] + bias[n]
        scaled = requant.multiply_by_quantized_multiplier(
            total, mult[k], shift[k], may_shift_left=may_shift_left, bind=False
        )
        return requant.saturate(scaled + zp_out, low, high, "int8", bind=False)

    return te.compute(out_shape, value, name="out")


def init_from_bias(
    sch: s_tir.Schedule,
    init: s_tir.SBlockRV,
    bias: ir.expr.Var,
    channel_axes: Callable[[Sequence[tirx.Var]], list[tirx.PrimExpr]],
) -> None:
    """Make the decomposed init block of a GEMM store ``bias[channel_axes(iter vars)]`` instead
    of zero (TE's create_prim_func drops a reduction's init value, so the block is rebuilt)."""
    block = sch.get(init)
    indices = channel_axes([iv.var for iv in block.iter_vars])
    store = block.body
    body = tirx.BufferStore(store.buffer, tirx.BufferLoad(bias, indices), store.indices)
    region = ir.expr.TensorRegion(
        bias, [ir.Range.from_min_extent(i, 1) for i in indices], tirx.stmt.BufferRegionType()
    )
    rebuilt = s_tir.SBlock(
        block.iter_vars,
        [region],
        block.writes,
        block.name_hint,
        body,
        None,
        block.alloc_buffers,
        block.match_buffers,
        block.annotations,
    )
    sch.state.replace(sch.get_sref(init), rebuilt, {block: rebuilt})


def around_root_stmt(
    func: tirx.PrimFunc, stmt: tirx.Stmt, before: Sequence[tirx.Stmt], after: Sequence[tirx.Stmt]
) -> tirx.PrimFunc:
    """Put ``before`` ahead of and ``after`` behind ``stmt``, a statement of ``func``'s root
    block (e.g. an accelerator's begin and synchronize around the loop nest that queues its
    commands)."""
    root = func.body.block
    stmts = list(root.body.seq) if isinstance(root.body, tirx.SeqStmt) else [root.body]
    at = next(i for i, s in enumerate(stmts) if s.same_as(stmt))
    wrapped = [*stmts[:at], *before, stmt, *after, *stmts[at + 1 :]]
    new_root = s_tir.SBlock(
        root.iter_vars,
        root.reads,
        root.writes,
        root.name_hint,
        tirx.SeqStmt(wrapped),
        root.init,
        root.alloc_buffers,
        root.match_buffers,
        root.annotations,
    )
    realize = func.body
    return func.with_body(s_tir.SBlockRealize(realize.iter_values, realize.predicate, new_root))
