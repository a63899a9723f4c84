"""The state of the branch and bound: the tile choices of each loop and the partial assignment."""

from __future__ import annotations

from dataclasses import dataclass

from nnmap.hw import Memory
from nnmap.ir.workload import LOOPS
from nnmap.mapping.problem import Parts, Problem, count, split
from nnmap.mapping.space import Spatial, tile_candidates

# tiles per level, tile counts per level, array steps, mean tile per level
Choice = tuple[tuple[int, ...], tuple[int, ...], int, tuple[float, ...]]


@dataclass
class Partial:
    """The loops assigned so far: tiles and tile counts per level, array steps per loop."""

    tiles: list[list[int]]
    counts: list[list[int]]
    factors: list[int]
    assigned: list[bool]
    means: list[list[float]]

    def set(self, d: int, choice: Choice) -> None:
        chain, counts, factor, means = choice
        for level, tile in enumerate(chain):
            self.tiles[level][d] = tile
            self.counts[level][d] = counts[level]
            self.means[level][d] = means[level]
        self.factors[d] = factor


def unroll_of(spatial: Spatial) -> tuple[int, ...]:
    unroll = dict.fromkeys(LOOPS, 1)
    for _, loop, factor in spatial:
        unroll[loop] *= factor
    return tuple(unroll[loop] for loop in LOOPS)


def storage_width(problem: Problem, memory: Memory, operand: str) -> float:
    if operand == "O" and memory.holds_psums:
        return problem.module.array.acc_bytes
    return problem.operand_bytes[operand]


def tile_choices(size: int, lanes: int, levels: int) -> list[Choice]:
    """Each tile chain of one loop with its tile count per level and its array steps."""
    result = []
    for chain in tile_chains(size, lanes, levels):
        parts: Parts = ((size, 1),)
        counts = [1] * levels
        for level in range(levels - 1, -1, -1):
            parts = split(parts, chain[level])
            counts[level] = count(parts)
        steps = sum(n * -(-s // lanes) for s, n in parts)
        result.append((chain, tuple(counts), steps, tuple(size / n for n in counts)))
    return result


def tile_chains(size: int, lanes: int, levels: int) -> list[tuple[int, ...]]:
    """Nested tile sizes (innermost first) of one loop across the tiled levels, largest first."""
    if levels == 0:
        return [()]
    candidates = tile_candidates(size, lanes)
    chains: list[tuple[int, ...]] = [(t,) for t in candidates]
    for _ in range(levels - 1):
        chains = [(inner, *outer) for outer in chains for inner in candidates if inner <= outer[0]]
    return sorted(chains, key=lambda chain: tuple(reversed(chain)), reverse=True)
