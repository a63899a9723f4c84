"""What every accelerator GEMM lowering shares: a conv/FC layer as gather -> GEMM -> requantize.

A dense convolution or a fully connected layer becomes ``gemm[m, n] = bias[n] + sum_r
staged[m, r] * weight[r, n]`` with m the output pixels, n the output channels and r the window
``FY*FX*C`` (channels last); the host gathers ``staged`` (im2col) and requantizes the int32
results with TFLite's arithmetic. This module holds the accelerator-independent pieces: the
operands, the gather, the requantization stage, reading a layer's Mapping as GEMM tile sizes and
loop order (from ``nnmap.mapping.gemm_tiling``, which the cost models share), and small TIR
rewrites both the Gemmini and the VTA lowering need.

The first three are still defined in ``nnmap.codegen.gemmini.lower`` and re-exported here under
public names; they should move here (and Gemmini import them from here).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tvm import ir, s_tir, tirx

from nnmap.codegen.gemmini.lower import _conv_gather, _gemm_operands, _requantized
from nnmap.mapping.gemm_tiling import (
    M_LOOPS,
    N_LOOPS,
    R_LOOPS,
    ceil_div,
    even_tile,
    m_loops_first,
    tile_product,
)

__all__ = [
    "M_LOOPS",
    "N_LOOPS",
    "R_LOOPS",
    "around_root_stmt",
    "ceil_div",
    "conv_gather",
    "even_tile",
    "gemm_operands",
    "init_from_bias",
    "m_loops_first",
    "requantized",
    "tile_product",
]

gemm_operands = _gemm_operands
conv_gather = _conv_gather
requantized = _requantized


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
