"""VTA as nnmap's code generator drives it: a layer is a blocked GEMM tiled in SRAM entries.

VTA's SRAM entries are the GEMM core's blocks (vta.md): an input entry is one output pixel's
BLOCK_IN reduction values, a weight entry a BLOCK_OUT x BLOCK_IN block, an accumulator entry one
pixel's BLOCK_OUT int32 sums (BATCH = 1: pixels are not blocked). A tile is ``m`` pixels x ``n``
channel blocks x ``r`` reduction blocks; the layer's Mapping gives the wanted sizes (its level-0
tile: B*OY*OX pixels, K channels, C*FY*FX reduction), clipped so that two input and two weight
tiles (double buffering) and one accumulator tile fit. The padded dimensions are whole tiles.

``vta_tile`` is the one rule that turns a Mapping into that tile: the code generator
(``nnmap.targets.vta.geometry``) emits it and the cost model (``nnmap.targets.vta.stream``)
times it. Results leave VTA as byte planes (STORE keeps an accumulator's low 8 bits); how many
follows from the layer's static bound on |result| (``planes_for_bound``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nnmap.embedding.grouped import BlockDiagonal
from nnmap.hw import ExecModule
from nnmap.ir.workload import Workload
from nnmap.mapping.gemm_tiling import (
    M_LOOPS,
    N_LOOPS,
    R_LOOPS,
    ceil_div,
    even_tile,
    m_loops_first,
    tile_product,
)
from nnmap.mapping.model import Mapping
from nnmap.targets.vta.direct import ConvWindow, DirectLimits, direct_tile

SLOTS = 2  # input and weight tiles are double-buffered
MAX_PLANES = 4  # an int32 result in bytes


@dataclass(frozen=True)
class VtaBuffers:
    """The GEMM core's block sizes and the entries of the input, weight, accumulator and
    micro-op SRAMs."""

    block_in: int
    block_out: int
    inp_entries: int
    wgt_entries: int
    acc_entries: int
    uop_entries: int

    @staticmethod
    def of(module: ExecModule) -> VtaBuffers:
        axes = {axis.name: axis.size for axis in module.array.axes}
        block_in, block_out = axes["block_in"], axes["block_out"]
        inp, wgt, acc = (module.memory_for(0, operand) for operand in ("I", "W", "O"))
        return VtaBuffers(
            block_in=block_in,
            block_out=block_out,
            inp_entries=inp.size // (axes["batch"] * block_in),
            wgt_entries=wgt.size // (block_out * block_in),
            acc_entries=acc.size // (axes["batch"] * block_out * module.array.acc_bytes),
            uop_entries=int(module.timing["uop_buffer_entries"]),
        )

    def direct_limits(self) -> DirectLimits:
        return DirectLimits(
            self.inp_entries // SLOTS, self.wgt_entries // SLOTS, self.acc_entries,
            self.uop_entries,
        )


@dataclass(frozen=True)
class VtaTile:
    """The tile in entries (m pixels, n channel blocks, r reduction blocks), the padded sizes
    in entries (multiples of the tile), whether pixel tiles are the outer tile loop and, for a
    convolution read directly from its input (``direct.py``), its window (None: the host
    gathers the input); a block-diagonal GEMM (a depthwise layer, ``nnmap.embedding.grouped``)
    has ``input_blocks`` channel blocks, each over its own ``r_blocks`` of the gathered input
    (a tile is then one channel block: ``n`` is 1)."""

    m: int
    n: int
    r: int
    rows_padded: int
    n_blocks: int
    r_blocks: int
    m_outer: bool
    window: ConvWindow | None
    input_blocks: int = field(default=1, kw_only=True)

    @property
    def inp_entries(self) -> int:
        """Input entries one tile loads (with the halo and its padding when read directly)."""
        if self.window is None:
            return self.m * self.r
        return self.window.tile_entries(self.m // self.window.out_width)

    @property
    def kernel_uops(self) -> int:
        """Micro-ops of the GEMM kernel: one per reduction block, or, read directly, one per
        (channel block, reduction block) inside the loops over output rows and columns."""
        return self.r if self.window is None else self.n * self.r

    @property
    def steps(self) -> int:
        """GEMM steps (reduction tiles) per output tile."""
        return self.r_blocks // self.r

    @property
    def output_tiles(self) -> int:
        return (self.rows_padded // self.m) * (self.n_blocks // self.n)


def reduction_blocks(depth: int, wanted: int, buffers: VtaBuffers) -> int:
    """Reduction blocks per tile for ``wanted`` reduction values: two input and two weight
    tiles (double buffering) must each hold at least one block per row."""
    slot = min(buffers.inp_entries, buffers.wgt_entries) // SLOTS
    bi = buffers.block_in
    return even_tile(ceil_div(depth, bi), ceil_div(wanted, bi), slot)


def channel_blocks(channels: int, wanted: int, r: int, buffers: VtaBuffers) -> int:
    """Channel blocks per tile for ``wanted`` channels, with ``r`` reduction blocks per tile."""
    bo, slot = buffers.block_out, buffers.wgt_entries // SLOTS
    return even_tile(ceil_div(channels, bo), ceil_div(wanted, bo), slot // r)


def pixel_rows(rows: int, wanted: int, r: int, n: int, buffers: VtaBuffers) -> int:
    """Pixels per tile for ``wanted`` pixels, with ``r`` reduction and ``n`` channel blocks."""
    return even_tile(rows, wanted, min(buffers.inp_entries // SLOTS // r, buffers.acc_entries // n))


def vta_tile(
    rows: int, depth: int, channels: int, mapping: Mapping, buffers: VtaBuffers
) -> VtaTile:
    """The tile of a ``rows`` x ``channels`` GEMM of reduction ``depth`` under ``mapping``."""
    r = reduction_blocks(depth, tile_product(mapping, R_LOOPS), buffers)
    n = channel_blocks(channels, tile_product(mapping, N_LOOPS), r, buffers)
    m = pixel_rows(rows, tile_product(mapping, M_LOOPS), r, n, buffers)
    return VtaTile(
        m=m,
        n=n,
        r=r,
        rows_padded=ceil_div(rows, m) * m,
        n_blocks=ceil_div(ceil_div(channels, buffers.block_out), n) * n,
        r_blocks=ceil_div(ceil_div(depth, buffers.block_in), r) * r,
        m_outer=m_loops_first(mapping),
        window=None,
    )


def direct_vta_tile(
    window: ConvWindow, channels: int, mapping: Mapping, buffers: VtaBuffers
) -> VtaTile | None:
    """The tile of a convolution read directly (whole output rows, the whole window as one
    reduction step) under ``mapping``; None when not even one output row fits."""
    tile = direct_tile(window, channels, mapping, buffers.block_out, buffers.direct_limits())
    if tile is None:
        return None
    m = tile.rows * window.out_width
    return VtaTile(
        m=m,
        n=tile.n,
        r=window.reduction,
        rows_padded=ceil_div(window.out_height, tile.rows) * m,
        n_blocks=ceil_div(ceil_div(channels, buffers.block_out), tile.n) * tile.n,
        r_blocks=window.reduction,
        m_outer=tile.m_outer,
        window=window,
    )


def depthwise_tile(
    layout: BlockDiagonal, rows: int, mapping: Mapping, buffers: VtaBuffers
) -> VtaTile:
    """The tile of a depthwise layer of ``rows`` output pixels in the block-diagonal ``layout``
    under ``mapping``: one channel block, the reduction blocks of the window positions in the
    mapping's FY x FX tile (one block per position around the calls), the pixels as for a
    dense GEMM."""
    taps_y, taps_x = layout.taps
    columns = ceil_div(mapping.tile(0, "FY"), taps_y) * ceil_div(mapping.tile(0, "FX"), taps_x)
    blocks_per_column = layout.reduction // buffers.block_in
    r = reduction_blocks(layout.depth, columns * layout.reduction, buffers)
    r = max(blocks_per_column, r // blocks_per_column * blocks_per_column)
    m = pixel_rows(rows, tile_product(mapping, M_LOOPS), r, 1, buffers)
    return VtaTile(
        m=m,
        n=1,
        r=r,
        rows_padded=ceil_div(rows, m) * m,
        n_blocks=ceil_div(layout.width, buffers.block_out),
        r_blocks=ceil_div(ceil_div(layout.depth, buffers.block_in), r) * r,
        m_outer=m_loops_first(mapping),
        window=None,
        input_blocks=layout.blocks,
    )


def workload_tile(workload: Workload, mapping: Mapping, buffers: VtaBuffers) -> VtaTile:
    """The tile of a dense conv (groups 1) or FC workload: rows B*OY*OX, reduction C*FY*FX."""
    loops = workload.loops
    rows = loops["B"] * loops["OY"] * loops["OX"]
    depth = loops["C"] * loops["FY"] * loops["FX"]
    return vta_tile(rows, depth, loops["K"], mapping, buffers)


def planes_for_bound(bound: int | None) -> int:
    """Bytes (STORE planes) that hold every result of magnitude at most ``bound`` as a signed
    integer; all four when the bound is unknown (assumed: any int32)."""
    if bound is None:
        return MAX_PLANES
    planes = 1
    while bound >= 1 << (8 * planes - 1):
        planes += 1
    return min(planes, MAX_PLANES)
