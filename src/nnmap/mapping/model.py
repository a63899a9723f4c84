"""Values of the mapping engine: ``Mapping`` (a schedule of a layer on a module) and ``Cost``."""

from __future__ import annotations

from dataclasses import dataclass

from nnmap.ir.workload import LOOPS


@dataclass(frozen=True)
class Mapping:
    """A schedule of one workload on one module.

    ``spatial``: (array axis, loop, factor) per axis. For each tiled level ``i`` (every memory level
    but the outermost, which holds whole tensors), ``tiles[i]`` gives the tile size of every loop in
    ``LOOPS`` order (edge tiles allowed: a tile need not divide its loop), ``orders[i]`` the order,
    outermost first, of the loops that step through level-``i`` tiles inside a level-``i+1`` tile,
    and ``double_buffered[i]`` the operands kept in two buffers at level ``i``.
    """

    spatial: tuple[tuple[str, str, int], ...]
    tiles: tuple[tuple[int, ...], ...]
    orders: tuple[tuple[str, ...], ...]
    double_buffered: tuple[frozenset[str], ...]

    def unrolling(self) -> dict[str, int]:
        """Spatial unrolling per loop (1 for loops on no array axis)."""
        unroll = dict.fromkeys(LOOPS, 1)
        for _, loop, factor in self.spatial:
            unroll[loop] *= factor
        return unroll

    def tile(self, level: int, loop: str) -> int:
        return self.tiles[level][LOOPS.index(loop)]

    def describe_level(self, level: int) -> str:
        pairs = zip(LOOPS, self.tiles[level], strict=True)
        sizes = " ".join(f"{loop}{size}" for loop, size in pairs if size > 1)
        order = "".join(f"[{loop}]" for loop in self.orders[level])
        buffered = "".join(sorted(self.double_buffered[level])) or "-"
        return f"tile {sizes or '1'} order {order} 2x:{buffered}"

    def describe_spatial(self) -> str:
        return " ".join(f"{loop}{factor}" for _, loop, factor in self.spatial if factor > 1) or "-"


@dataclass(frozen=True)
class Cost:
    """What a mapping costs: cycles with their breakdown, utilization, footprints and energy.

    ``transfer_cycles[i]`` and ``transfer_bytes[i]`` are the traffic between level ``i+1`` and level
    ``i``; ``footprint[i]`` lists (memory, bytes used, capacity) at level ``i``.
    """

    macs: int
    compute_cycles: float
    transfer_cycles: tuple[float, ...]
    transfer_bytes: tuple[float, ...]
    total_cycles: float
    utilization: float
    spatial_utilization: float
    footprint: tuple[tuple[tuple[str, int, int], ...], ...]
    energy_pj: float | None

    @property
    def fits(self) -> bool:
        return all(used <= size for level in self.footprint for _, used, size in level)

    def overflows(self) -> list[str]:
        """Memories whose capacity the mapping exceeds, as 'name (used > size B)'."""
        return [
            f"{name} ({used} > {size} B)"
            for level in self.footprint
            for name, used, size in level
            if used > size
        ]
