"""Reading a layer's Mapping as the tile of its im2col GEMM (pixels x channels x window), shared by
the accelerator lowerings (``nnmap.codegen.accel_gemm``) and the cost models that time them."""

from __future__ import annotations

from nnmap.mapping.model import Mapping

M_LOOPS, N_LOOPS, R_LOOPS = ("B", "OY", "OX"), ("K",), ("C", "FY", "FX")


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def tile_product(mapping: Mapping, loops: tuple[str, ...], level: int = 0) -> int:
    """The number of iterations of ``loops`` one level-``level`` tile of ``mapping`` holds."""
    total = 1
    for loop in loops:
        total *= mapping.tile(level, loop)
    return total


def m_loops_first(mapping: Mapping, level: int = 0) -> bool:
    """Whether the mapping steps through output pixels (B/OY/OX) outside output channels (K)."""
    order = mapping.orders[level]
    first_m = min((order.index(loop) for loop in M_LOOPS if loop in order), default=0)
    first_n = order.index("K") if "K" in order else len(order)
    return first_m <= first_n


def even_tile(total: int, wanted: int, limit: int) -> int:
    """A tile of at most ``min(wanted, limit)`` (at least 1) that splits ``total`` into equal
    tiles with the least padding: ceil(total / tiles) for the fewest tiles allowed."""
    cap = max(1, min(wanted, limit, total))
    return ceil_div(total, ceil_div(total, cap))
