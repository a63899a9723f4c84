"""A layer's Mapping applied as a TIR schedule of its GEMM on Gemmini, tensorized into intrinsics.

The layer arrives as a GEMM ``gemm[m, n] = bias[n] + sum_r staged[m, r] * weight[r, n]`` over
dimensions padded to multiples of DIM (m: output pixels, n: output channels, r: the window
``FY*FX*C``). ``nnmap.targets.gemmini.tiling.gemm_tiles`` turns the mapping's level-0 tile into the
GEMM's output tile (m x n, kept in the accumulator across the whole reduction) and the order of
the m/n tile loops; the cost model reads the same tiles. Inside an output tile the reduction
streams one DIM-deep block column at a time: its input and weight blocks are moved in, then
every output block is updated (the output blocks of one weight block consecutively: the first
preloads the weights, the others reuse them, and a partial last m block streams only its real
rows; in exact numerics the first column overwrites the accumulator, later ones
accumulate, so no initial value is moved in: the host adds the bias when it requantizes). When
the panel of the outer tile is resident (the input panel of an m tile, or the weight panel of
an n tile), the first inner tile moves its columns into their own rows and later inner tiles
skip those loads. Streamed columns alternate between two scratchpad slots and output tiles
between two accumulator halves (when two fit), and the blocks of the next column are moved in
before the computes of the current one are issued, so loads overlap computes instead of waiting
behind them in the in-order command stream.
"""

from __future__ import annotations

import tvm
import tvm_ffi
from tvm import ir, s_tir, tirx

from nnmap.codegen.accel_gemm import init_from_bias
from nnmap.targets.gemmini import tensor_intrinsics as gi
from nnmap.targets.gemmini import tiling as gemm_model
from nnmap.targets.gemmini.tensor_intrinsics import GemminiIntrinsics
from nnmap.targets.gemmini.tiling import GemmTiles


def _split_tile(
    sch: s_tir.Schedule, loop: s_tir.LoopRV, tile: int, dim: int
) -> list[s_tir.LoopRV]:
    """``loop`` -> (tile loop, DIM-block loop, DIM loop)."""
    return list(sch.split(loop, factors=[None, tile // dim, dim]))


def _bind_slot(
    sch: s_tir.Schedule, loop: s_tir.LoopRV, slot: tirx.Var, value: tirx.PrimExpr
) -> None:
    """Replace the free variable ``slot`` of the intrinsics under ``loop`` by ``value`` (an
    expression of the enclosing loop variables). Tensorize copies the intrinsics' free
    variables, so copies are matched by name."""
    node = sch.get(loop)

    def slot_value(var: tirx.Var) -> tirx.PrimExpr:
        return value if var.name == slot.name else var

    body = tvm_ffi.structural_map(node.body, [(tirx.Var, slot_value)])
    rebuilt = tirx.For(
        node.loop_var, node.min, node.extent, node.kind, body, node.thread_binding, node.annotations
    )
    sch.state.replace(sch.get_sref(loop), rebuilt, {})


def _tensorize_blocks(
    sch: s_tir.Schedule, block: s_tir.SBlockRV, intrin: str, depth: int, dim: int
) -> None:
    """Tile the innermost two loops of ``block`` (from loop ``depth`` on) by DIM and tensorize."""
    rows, cols = sch.get_loops(block)[depth : depth + 2]
    row_out, row_in = sch.split(rows, factors=[None, dim])
    col_out, col_in = sch.split(cols, factors=[None, dim])
    sch.reorder(row_out, col_out, row_in, col_in)
    sch.tensorize(row_in, intrin)


def _cache_read(
    sch: s_tir.Schedule,
    block: s_tir.SBlockRV,
    name: str,
    at: s_tir.LoopRV,
    intrin: str,
    blocked_rows_first: bool,
    dim: int,
) -> None:
    cached = sch.cache_read(block, name, gi.SCRATCH)
    sch.compute_at(cached, at)
    if blocked_rows_first:
        sch.transform_layout(cached, ("write", 0), lambda i, k: (k // dim, i, k % dim))
    else:
        sch.transform_layout(cached, ("write", 0), lambda k, j: (j // dim, k, j % dim))
    depth = len(sch.get_loops(cached)) - 2
    _tensorize_blocks(sch, cached, intrin, depth, dim)


def _sequence(stmts: list[tirx.Stmt]) -> tirx.Stmt:
    return stmts[0] if len(stmts) == 1 else tirx.SeqStmt(stmts)


def _top_sequence(stmt: tirx.Stmt) -> tirx.SeqStmt:
    """The statement sequence of a loop body, under the opaque blocks that allocate buffers."""
    while not isinstance(stmt, tirx.SeqStmt):
        stmt = stmt.block.body if isinstance(stmt, s_tir.SBlockRealize) else stmt.body
    return stmt


def _prefetch_next_column(func: tirx.PrimFunc, column: tirx.Var) -> tirx.PrimFunc:
    """Software-pipeline the reduction-column loop: its loads (every statement of its body but
    the last, the computes) run one iteration ahead of its computes, in a loop one iteration
    longer: iteration c moves in column c (if c is a column) and then issues the computes of
    column c - 1 (if c > 0). Scratchpad rows are already plain expressions here (match buffers
    lowered) and the slots are expressions of the column variable, so column c + 1 lands in the
    other slot while column c is computed."""

    def previous(var: tirx.Var) -> tirx.PrimExpr:
        return column - 1 if var.same_as(column) else var

    def pipelined(loop: tirx.For) -> tirx.Stmt:
        if not loop.loop_var.same_as(column):
            return loop
        top = _top_sequence(loop.body)
        *loads, computes = list(top.seq)
        staggered = tirx.SeqStmt(
            [
                tirx.IfThenElse(column < loop.min + loop.extent, _sequence(loads), None),
                tirx.IfThenElse(
                    column > loop.min,
                    tvm_ffi.structural_map(computes, [(tirx.Var, previous)]),
                    None,
                ),
            ]
        )

        def swap(seq: tirx.SeqStmt) -> tirx.Stmt:
            return staggered if seq.same_as(top) else seq

        body = tvm_ffi.structural_map(loop.body, [(tirx.SeqStmt, swap)])
        extent = loop.extent + 1
        return tirx.For(
            column, loop.min, extent, loop.kind, body, loop.thread_binding, loop.annotations
        )

    return func.with_body(tvm_ffi.structural_map(func.body, [(tirx.For, pipelined)]))


def _lowered_blocks(sch: s_tir.Schedule) -> tirx.PrimFunc:
    """The scheduled function with its blocks made opaque, its buffers compacted and its match
    buffers lowered (the first passes of TVM's lowering), so every scratchpad row is final."""
    passes = s_tir.transform
    early = tvm.transform.Sequential(
        [
            passes.LowerInitBlock(),
            passes.PlanAndUpdateBufferAllocationLocation(),
            passes.ConvertBlocksToOpaque(),
            passes.CompactBufferAllocation(),
            passes.LowerMatchBuffer(),
        ]
    )
    return early(sch.mod)[sch.func_working_on]


def schedule_gemm(
    sch: s_tir.Schedule,
    tiles: GemmTiles,
    bias: ir.expr.Var,
    intrinsics: GemminiIntrinsics,
    scaled_mvout: str | None = None,
) -> tirx.PrimFunc:
    """Tile, stage and tensorize the ``gemm`` block of ``sch`` (host stages stay as they are;
    its input is the gathered ``staged`` buffer, or the layer's input read as it is),
    bind the double-buffering slots and the accumulate flag, and prefetch the next column.

    Exact numerics (``scaled_mvout`` None): ``bias`` is not moved in (the host adds it), the
    first reduction column overwrites the accumulator and the int32 results leave at full width.
    Hardware numerics: ``bias`` is moved into the accumulator before each output tile, every
    column accumulates, and the ``scaled`` block (the int8 outputs) is tensorized into the
    ``scaled_mvout`` intrinsic."""
    dim, geometry = intrinsics.dim, intrinsics.geometry
    gemm = sch.get_sblock("gemm")
    if scaled_mvout is None:
        output = sch.cache_write(gemm, 0, gi.ACCUMULATOR)
    else:
        sch.set_scope(gemm, 0, gi.ACCUMULATOR)
        output = sch.get_sblock("scaled")
    m, n, r = sch.get_loops(gemm)
    mo, mb, mi = _split_tile(sch, m, tiles.m, dim)
    no, nb, ni = _split_tile(sch, n, tiles.n, dim)
    rb, ri = sch.split(r, factors=[None, dim])
    outer = (mo, no) if tiles.outer_first == "m" else (no, mo)
    sch.reorder(*outer, rb, nb, mb, mi, ni, ri)
    sch.transform_layout(gemm, ("write", 0), lambda i, j: (j // dim, i, j % dim))
    inputs = [read.source.name for read in sch.get(gemm).reads if read.source.name != "weight"]
    _cache_read(sch, gemm, inputs[0], rb, intrinsics.mvin_input, True, dim)
    _cache_read(sch, gemm, "weight", rb, intrinsics.mvin_weight, False, dim)
    sch.reverse_compute_at(output, outer[1])
    mvout = scaled_mvout or intrinsics.mvout
    _tensorize_blocks(sch, output, mvout, len(sch.get_loops(output)) - 2, dim)
    init = sch.decompose_reduction(gemm, rb)
    if scaled_mvout is None:
        zero = intrinsics.zero_by_overwrite
        _tensorize_blocks(sch, init, zero, len(sch.get_loops(init)) - 2, dim)
    else:
        init_from_bias(sch, init, bias, lambda iters: [iters[1]])
        _tensorize_blocks(sch, init, intrinsics.mvin_bias, len(sch.get_loops(init)) - 2, dim)
    sch.tensorize(mi, intrinsics.matmul)
    outer_vars = [sch.get(loop).loop_var for loop in outer]
    column = sch.get(rb).loop_var
    tile_step = outer_vars[0] * sch.get(outer[1]).extent + outer_vars[1]
    column_parity = tirx.floormod(tile_step * sch.get(rb).extent + column, 2)
    acc_parity = tirx.floormod(tile_step, 2) if tiles.double_acc else tirx.const(0, "int32")
    first_inner = tirx.Cast("int32", outer_vars[1] == 0)
    for operand, row, issued, rows in (
        ("input", gi.INPUT_ROW, gi.LOAD_INPUT, tiles.m),
        ("weight", gi.WEIGHT_ROW, gi.LOAD_WEIGHT, tiles.n),
    ):
        resident = tiles.resident == operand
        start = gemm_model.column_row(geometry, operand, resident, column, column_parity, rows)
        _bind_slot(sch, rb, row, start)
        _bind_slot(sch, rb, issued, first_inner if resident else tirx.const(1, "int32"))
    accumulate = tirx.const(1, "int32") if scaled_mvout else tirx.Cast("int32", column > 0)
    _bind_slot(sch, rb, gi.ACCUMULATE, accumulate)
    block = sch.get(mb).loop_var
    _bind_slot(sch, rb, gi.REUSE_WEIGHTS, tirx.Cast("int32", block > 0))
    last_block = tiles.m // dim - 1
    rows = tirx.const(tiles.last_rows or dim, "int32")
    _bind_slot(sch, rb, gi.A_ROWS, tirx.Select(block == last_block, rows, tirx.const(dim, "int32")))
    _bind_slot(sch, outer[1], gi.ACC_SLOT, acc_parity)
    return _prefetch_next_column(_lowered_blocks(sch), column)
