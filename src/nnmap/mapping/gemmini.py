"""Gemmini as nnmap's code generator drives it: a layer is an im2col GEMM, tiled in DIM blocks.

The code generator (``nnmap.codegen.gemmini``) runs every dense conv and fully connected layer
as ``gemm[m, n] = bias[n] + sum_r staged[m, r] * weight[r, n]`` on dimensions padded to whole
DIM blocks (M: output pixels ``B*OY*OX``, N: output channels ``K``, R: the window ``C*FY*FX``),
exact mode: int32 results moved out at full width, the bias added on the host.
``gemm_tiles`` is the one rule that turns a layer's Mapping into that GEMM's output tile; the
schedule emits it and the cost model (``nnmap.mapping.gemmini_stream``) times it.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from nnmap.hw import ExecModule
from nnmap.ir.workload import Workload
from nnmap.mapping.model import Mapping

M_LOOPS, N_LOOPS, R_LOOPS = ("B", "OY", "OX"), ("K",), ("C", "FY", "FX")
# assumed acceptable: M is padded up to a multiple of the m tile when that adds at most this
# fraction of rows (computed on zeros); otherwise the tile is rounded down to a divisor
MAX_M_PADDING = 1 / 8


@dataclass(frozen=True)
class GemmShape:
    """The padded GEMM of one layer: m rows, n output channels, r reduction (multiples of DIM)."""

    m: int
    n: int
    r: int


@dataclass(frozen=True)
class GemmTiles:
    """The output tile held in the accumulator (m x n), the order of the m/n tile loops ("m" or
    "n" outermost), whether output tiles alternate between two accumulator halves and whether
    the input panel of an m tile (m x the whole reduction) stays in the scratchpad across its n
    tiles (else input blocks stream with the weights, one reduction column at a time)."""

    m: int
    n: int
    outer_first: str
    double_acc: bool
    resident_input: bool = False


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


def input_area_rows(geometry: GemminiGeometry) -> int:
    """Scratchpad rows for input blocks: the first three quarters (weights use the last one)."""
    return 3 * geometry.spad_rows // 4


def pad_to(size: int, dim: int) -> int:
    return -(-size // dim) * dim


def gemm_shape(workload: Workload, dim: int) -> GemmShape:
    """The padded im2col GEMM the code generator runs for ``workload`` (groups 1)."""
    loops = workload.loops
    return GemmShape(
        pad_to(prod(loops[loop] for loop in M_LOOPS), dim),
        pad_to(prod(loops[loop] for loop in N_LOOPS), dim),
        pad_to(prod(loops[loop] for loop in R_LOOPS), dim),
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
    return GemmShape(pad_to(shape.m, tiles.m), shape.n, shape.r)


def gemm_tiles(shape: GemmShape, mapping: Mapping, geometry: GemminiGeometry) -> GemmTiles:
    """The GEMM output tile of a layer's mapping (its level-0 tile, the scratchpad/accumulator).

    The m tile is the mapping's B*OY*OX tile and the n tile its K tile, each rounded up to whole
    DIM blocks and capped to fit the accumulator; TIR tensorizes whole tiles only, so the n tile
    is rounded down to a divisor of N, and M is padded to a multiple of the m tile
    (``tiled_shape``) where that costs little (``MAX_M_PADDING``), else the m tile is rounded
    down to a divisor too. The reduction is not tiled: it streams through the scratchpad one
    DIM-deep block column at a time, so the mapping's C/FY/FX tiles do not change the code.
    Output tiles are double-buffered when the mapping double-buffers O and two tiles fit. The
    input panel of an m tile stays resident across the n tiles when the mapping's level-0 tile
    holds the whole reduction with the m loops outside K, there are several n tiles and the
    panel fits the input area of the scratchpad.
    """
    dim = geometry.dim
    wanted_m = -(-prod(mapping.tile(0, loop) for loop in M_LOOPS) // dim)
    wanted_n = -(-prod(mapping.tile(0, loop) for loop in N_LOOPS) // dim)
    acc_blocks = geometry.acc_rows // dim
    n_blocks = _blocks_dividing(shape.n // dim, wanted_n, acc_blocks)
    m_blocks = _m_blocks(shape.m // dim, wanted_m, acc_blocks // n_blocks)
    order = mapping.orders[0]
    first_m = min((order.index(loop) for loop in M_LOOPS if loop in order), default=0)
    first_n = order.index("K") if "K" in order else len(order)
    double = "O" in mapping.double_buffered[0] and 2 * m_blocks * n_blocks <= acc_blocks
    outer = "m" if first_m <= first_n else "n"
    whole_r = pad_to(prod(mapping.tile(0, loop) for loop in R_LOOPS), dim) >= shape.r
    resident = (
        outer == "m"
        and whole_r
        and shape.n > n_blocks * dim
        and m_blocks * shape.r <= input_area_rows(geometry)
    )
    return GemmTiles(m_blocks * dim, n_blocks * dim, outer, double, resident)
