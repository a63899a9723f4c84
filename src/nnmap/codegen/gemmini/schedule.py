"""A layer's Mapping applied as a TIR schedule of its GEMM on Gemmini, tensorized into intrinsics.

The layer arrives as a GEMM ``gemm[m, n] = bias[n] + sum_r staged[m, r] * weight[r, n]`` over
dimensions padded to multiples of DIM (m: output pixels, n: output channels, r: the window
``FY*FX*C``). The mapping's scratchpad/accumulator tile becomes the GEMM tile: its B*OY*OX
outputs are the m tile, its K the n tile and its C*FY*FX the r tile, each rounded to whole DIM
blocks that divide the padded dimension and fit half the scratchpad (inputs in one half, weights
in the other) and the accumulator. The mapping's order of the B/OY/OX and K loops orders the m
and n tile loops; the reduction tile loop is innermost so each output tile stays in the
accumulator until it is moved out.
"""

from __future__ import annotations

from dataclasses import dataclass

from tvm import ir, s_tir, tirx

from nnmap.codegen.gemmini import intrinsics as gi
from nnmap.mapping.model import Mapping
from nnmap.targets.gemmini_intrinsics import ACC_ROWS

DIM = gi.DIM
M_LOOPS, N_LOOPS, R_LOOPS = ("B", "OY", "OX"), ("K",), ("C", "FY", "FX")


@dataclass(frozen=True)
class GemmShape:
    """The padded GEMM of one layer: m rows, n output channels, r reduction (multiples of DIM)."""

    m: int
    n: int
    r: int


@dataclass(frozen=True)
class GemmTiles:
    """The GEMM tile held on Gemmini and the order of the m/n tile loops ("m" or "n" first)."""

    m: int
    n: int
    r: int
    outer_first: str


def pad_to_dim(size: int) -> int:
    return -(-size // DIM) * DIM


def _blocks_dividing(total: int, wanted: int, limit: int) -> int:
    """The largest number of DIM blocks that divides ``total`` blocks, <= wanted and <= limit."""
    best = 1
    for blocks in range(1, total + 1):
        if total % blocks == 0 and blocks <= max(1, min(wanted, limit)):
            best = blocks
    return best


def _product(mapping: Mapping, loops: tuple[str, ...]) -> int:
    total = 1
    for loop in loops:
        total *= mapping.tile(0, loop)
    return total


def gemm_tiles(shape: GemmShape, mapping: Mapping) -> GemmTiles:
    """The GEMM tile of a layer's mapping (level 0: scratchpad and accumulator)."""
    half_spad = gi.WEIGHT_BASE_ROW
    r_blocks = _blocks_dividing(
        shape.r // DIM, -(-_product(mapping, R_LOOPS) // DIM), half_spad // DIM
    )
    r = r_blocks * DIM
    n_blocks = _blocks_dividing(
        shape.n // DIM, -(-_product(mapping, N_LOOPS) // DIM), half_spad // r
    )
    n = n_blocks * DIM
    m_limit = min(half_spad // r_blocks, ACC_ROWS // n_blocks) // DIM
    m = _blocks_dividing(shape.m // DIM, -(-_product(mapping, M_LOOPS) // DIM), m_limit) * DIM
    order = mapping.orders[0]
    first_m = min((order.index(loop) for loop in M_LOOPS if loop in order), default=0)
    first_n = order.index("K") if "K" in order else len(order)
    return GemmTiles(m, n, r, "m" if first_m <= first_n else "n")


def _split_tile(sch: s_tir.Schedule, loop: s_tir.LoopRV, tile: int) -> list[s_tir.LoopRV]:
    """``loop`` -> (tile loop, DIM-block loop, DIM loop)."""
    return list(sch.split(loop, factors=[None, tile // DIM, DIM]))


def _tensorize_blocks(sch: s_tir.Schedule, block: s_tir.SBlockRV, intrin: str, depth: int) -> None:
    """Tile the innermost two loops of ``block`` (from loop ``depth`` on) by DIM and tensorize."""
    rows, cols = sch.get_loops(block)[depth : depth + 2]
    row_out, row_in = sch.split(rows, factors=[None, DIM])
    col_out, col_in = sch.split(cols, factors=[None, DIM])
    sch.reorder(row_out, col_out, row_in, col_in)
    sch.tensorize(row_in, intrin)


def _cache_read(
    sch: s_tir.Schedule,
    block: s_tir.SBlockRV,
    name: str,
    at: s_tir.LoopRV,
    intrin: str,
    blocked_rows_first: bool,
) -> None:
    cached = sch.cache_read(block, name, gi.SCRATCH)
    sch.compute_at(cached, at)
    if blocked_rows_first:
        sch.transform_layout(cached, ("write", 0), lambda i, k: (k // DIM, i, k % DIM))
    else:
        sch.transform_layout(cached, ("write", 0), lambda k, j: (j // DIM, k, j % DIM))
    depth = len(sch.get_loops(cached)) - 2
    _tensorize_blocks(sch, cached, intrin, depth)


def init_with_bias(sch: s_tir.Schedule, init: s_tir.SBlockRV, bias: ir.expr.Var) -> None:
    """Make the decomposed init block of ``gemm[m, n]`` store ``bias[n]`` instead of zero (TE's
    create_prim_func drops a reduction's init value, so the block is rebuilt with it)."""
    block = sch.get(init)
    channel = block.iter_vars[1].var
    store = block.body
    body = tirx.BufferStore(store.buffer, tirx.BufferLoad(bias, [channel]), store.indices)
    region = ir.expr.TensorRegion(
        bias, [ir.Range.from_min_extent(channel, 1)], tirx.stmt.BufferRegionType()
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


def schedule_gemm(sch: s_tir.Schedule, tiles: GemmTiles, bias: ir.expr.Var) -> None:
    """Tile, stage and tensorize the ``gemm`` block of ``sch`` (host stages stay as they are)."""
    gemm = sch.get_sblock("gemm")
    writeback = sch.cache_write(gemm, 0, gi.ACCUMULATOR)
    m, n, r = sch.get_loops(gemm)
    mo, mb, mi = _split_tile(sch, m, tiles.m)
    no, nb, ni = _split_tile(sch, n, tiles.n)
    ro, rb, ri = _split_tile(sch, r, tiles.r)
    outer = (mo, no) if tiles.outer_first == "m" else (no, mo)
    sch.reorder(*outer, ro, mb, nb, rb, mi, ni, ri)
    sch.transform_layout(gemm, ("write", 0), lambda i, j: (j // DIM, i, j % DIM))
    _cache_read(sch, gemm, "staged", ro, gi.MVIN_INPUT, blocked_rows_first=True)
    _cache_read(sch, gemm, "weight", ro, gi.MVIN_WEIGHT, blocked_rows_first=False)
    sch.reverse_compute_at(writeback, outer[1])
    _tensorize_blocks(sch, writeback, gi.MVOUT, len(sch.get_loops(writeback)) - 2)
    init = sch.decompose_reduction(gemm, ro)
    init_with_bias(sch, init, bias)
    _tensorize_blocks(sch, init, gi.MVIN_BIAS, len(sch.get_loops(init)) - 2)
    sch.tensorize(mi, gi.MATMUL)
