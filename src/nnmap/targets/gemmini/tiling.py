"""Gemmini as nnmap's code generator drives it: a layer is an im2col GEMM, tiled in DIM blocks.

The code generator (``nnmap.codegen.gemmini``) runs every dense conv and fully connected layer
as ``gemm[m, n] = bias[n] + sum_r staged[m, r] * weight[r, n]`` on dimensions padded to whole
DIM blocks (M: output pixels ``B*OY*OX``, N: output channels ``K``, R: the window ``C*FY*FX``),
exact mode: int32 results moved out at full width, the bias added on the host.
``gemm_tiles`` is the one rule that turns a layer's Mapping into that GEMM's output tile; the
schedule emits it and the cost model (``nnmap.targets.gemmini.stream``) times it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from math import prod
from typing import Any

from nnmap.hw import ExecModule
from nnmap.ir.workload import Workload
from nnmap.mapping.model import Mapping

Row = Any  # a scratchpad row: an int, or a TIR expression of loop variables
M_LOOPS, N_LOOPS, R_LOOPS = ("B", "OY", "OX"), ("K",), ("C", "FY", "FX")
# assumed acceptable: M is padded up to a multiple of the m tile when that adds at most this
# fraction of rows (computed on zeros); otherwise the tile is rounded down to a divisor
MAX_M_PADDING = 1 / 8


@dataclass(frozen=True)
class GemmShape:
    """The padded GEMM of one layer: m rows, n output channels, r reduction (multiples of DIM),
    and its real rows (output pixels) before padding; a block-diagonal GEMM (a depthwise layer,
    ``nnmap.embedding.grouped``) has ``blocks`` column blocks of DIM, each over its own r-deep
    part of the staged input (one output tile is one block: ``gemm_tiles``)."""

    m: int
    n: int
    r: int
    rows: int
    blocks: int = 1

    @property
    def input_width(self) -> int:
        """Bytes of one staged input row: every block's reduction."""
        return self.blocks * self.r


@dataclass(frozen=True)
class GemmTiles:
    """The output tile held in the accumulator (m x n), the order of the m/n tile loops ("m" or
    "n" outermost), whether output tiles alternate between two accumulator halves and whether
    the panel of the outer tile stays in the scratchpad across the inner tiles: the input panel
    of an m tile (m x the whole reduction) across its n tiles, or the weight panel of an n tile
    across its m tiles (else both operands stream, one reduction column at a time); and, when
    the GEMM is one m tile whose last DIM block is only partly real rows, how many (the array
    streams only those: ``last_rows``)."""

    m: int
    n: int
    outer_first: str
    double_acc: bool
    resident_panel: bool = False
    last_rows: int | None = None

    @property
    def resident(self) -> str:
        """The operand whose panel is resident: "input", "weight" or "" (none)."""
        if not self.resident_panel:
            return ""
        return "input" if self.outer_first == "m" else "weight"


@dataclass(frozen=True)
class GemminiGeometry:
    """The sizes the tiling rule needs, read from the module: DIM and local rows."""

    dim: int
    spad_rows: int
    acc_rows: int

    @staticmethod
    def of(module: ExecModule) -> GemminiGeometry:
        dim = module.array.axes[0].size
        spad = module.memory_for(0, "I")
        acc = module.memory_for(0, "O")
        return GemminiGeometry(dim, spad.size // dim, acc.size // (dim * module.array.acc_bytes))


def slot_rows(geometry: GemminiGeometry) -> int:
    """Scratchpad rows of one slot of a streamed operand: a reduction column of an output tile
    (its m or n rows), at most the accumulator's rows, and at most a quarter of the scratchpad
    (two slots of each operand), in whole DIM blocks."""
    rows = min(geometry.acc_rows, geometry.spad_rows // 4)
    return rows // geometry.dim * geometry.dim


def panel_rows(geometry: GemminiGeometry) -> int:
    """Scratchpad rows a resident panel may fill: all but the two slots of the other operand.

    The layout: streamed input slots at the bottom and streamed weight slots at the top; an
    input panel from the bottom up to the weight slots, a weight panel from above the input
    slots up to the top."""
    return geometry.spad_rows - 2 * slot_rows(geometry)


def column_row(
    geometry: GemminiGeometry, operand: str, resident: bool, column: Row, parity: Row, rows: int
) -> Row:
    """The scratchpad row where the blocks of ``operand`` ("input" or "weight") of reduction
    column ``column`` start: in the operand's resident panel (a column every ``rows``, the
    tile's m or n), else in the slot of the column's ``parity``. Works on integers and on TIR
    expressions alike (the code generator binds it to its loop variables)."""
    slot = slot_rows(geometry)
    if operand == "input":
        return column * rows if resident else parity * slot
    if resident:
        return 2 * slot + column * rows
    return geometry.spad_rows - 2 * slot + parity * slot


def pad_to(size: int, dim: int) -> int:
    return -(-size // dim) * dim


def gemm_shape(workload: Workload, dim: int) -> GemmShape:
    """The padded im2col GEMM the code generator runs for ``workload`` (groups 1)."""
    loops = workload.loops
    rows = prod(loops[loop] for loop in M_LOOPS)
    return GemmShape(
        pad_to(rows, dim),
        pad_to(prod(loops[loop] for loop in N_LOOPS), dim),
        pad_to(prod(loops[loop] for loop in R_LOOPS), dim),
        rows,
    )


def _blocks_dividing(total: int, wanted: int, limit: int) -> int:
    """The largest number of blocks that divides ``total`` blocks, <= wanted and <= limit."""
    cap = max(1, min(wanted, limit))
    return max(blocks for blocks in range(1, min(total, cap) + 1) if total % blocks == 0)


def _m_blocks(total: int, wanted: int, limit: int) -> int:
    """Blocks of the m tile: ``wanted`` (capped), if padding M to a multiple of it adds at most
    ``MAX_M_PADDING`` of the rows, else the largest divisor of ``total`` below it."""
    blocks = max(1, min(wanted, limit, total))
    if -(-total // blocks) * blocks - total <= total * MAX_M_PADDING:
        return blocks
    return _blocks_dividing(total, wanted, limit)


def tiled_shape(shape: GemmShape, tiles: GemmTiles) -> GemmShape:
    """``shape`` with M padded to a whole number of m tiles (the GEMM the stream runs)."""
    return replace(shape, m=pad_to(shape.m, tiles.m))


def gemm_tiles(shape: GemmShape, mapping: Mapping, geometry: GemminiGeometry) -> GemmTiles:
    """The GEMM output tile of a layer's mapping (its level-0 tile, the scratchpad/accumulator).

    The m tile is the mapping's B*OY*OX tile and the n tile its K tile, each rounded up to whole
    DIM blocks and capped to fit the accumulator and a scratchpad slot (``slot_rows``); TIR
    tensorizes whole tiles only, so the n tile is rounded down to a divisor of N, and M is
    padded to a multiple of the m tile (``tiled_shape``) where that costs little
    (``MAX_M_PADDING``), else the m tile is rounded down to a divisor too. The reduction is not
    tiled: it streams through the scratchpad one DIM-deep block column at a time, so the
    mapping's C/FY/FX tiles do not change the code. Output tiles are double-buffered when the
    mapping double-buffers O and two tiles fit. The panel of the outer tile (input panel for the
    m loops outside K, weight panel for K outside them) stays resident across the inner tiles
    when the mapping's level-0 tile holds the whole reduction, there are several inner tiles and
    the panel fits ``panel_rows``. When the m tile is the whole (DIM-padded) M, its last block
    computes only its real rows. A block-diagonal GEMM's n tile is one block and keeps no
    panel resident (each block reads its own input columns).
    """
    dim = geometry.dim
    wanted_m = -(-prod(mapping.tile(0, loop) for loop in M_LOOPS) // dim)
    wanted_n = -(-prod(mapping.tile(0, loop) for loop in N_LOOPS) // dim)
    acc_blocks = geometry.acc_rows // dim
    slot_blocks = slot_rows(geometry) // dim
    n_limit = 1 if shape.blocks > 1 else min(acc_blocks, slot_blocks)
    n_blocks = _blocks_dividing(shape.n // dim, wanted_n, n_limit)
    m_blocks = _m_blocks(shape.m // dim, wanted_m, min(acc_blocks // n_blocks, slot_blocks))
    order = mapping.orders[0]
    first_m = min((order.index(loop) for loop in M_LOOPS if loop in order), default=0)
    first_n = order.index("K") if "K" in order else len(order)
    double = "O" in mapping.double_buffered[0] and 2 * m_blocks * n_blocks <= acc_blocks
    outer = "m" if first_m <= first_n else "n"
    whole_r = pad_to(prod(mapping.tile(0, loop) for loop in R_LOOPS), dim) >= shape.r
    outer_blocks, inner_total = (m_blocks, shape.n) if outer == "m" else (n_blocks, shape.m)
    inner_blocks = n_blocks if outer == "m" else m_blocks
    resident = (
        whole_r
        and shape.blocks == 1
        and inner_total > inner_blocks * dim
        and outer_blocks * shape.r <= panel_rows(geometry)
    )
    partial = shape.rows % dim
    last_rows = partial if partial and m_blocks * dim >= shape.m else None
    return GemmTiles(m_blocks * dim, n_blocks * dim, outer, double, resident, last_rows)
