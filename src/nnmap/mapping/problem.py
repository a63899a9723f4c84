"""A workload on a module, precomputed once so the cost model is plain integer arithmetic.

Loops are indexed in ``LOOPS`` order (B, K, C, OY, OX, FY, FX). A depthwise convolution is viewed
as one group whose K loop runs over the channels and whose input is indexed by K instead of C.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import prod

from nnmap.hw import ExecModule
from nnmap.ir.workload import LOOPS, Workload

B, K, C, OY, OX, FY, FX = range(7)
Parts = tuple[tuple[int, int], ...]  # (tile size, how many tiles of that size) along one loop


@dataclass(frozen=True)
class Problem:
    workload: Workload
    module: ExecModule
    sizes: tuple[int, ...]
    groups: int
    relevant: dict[str, tuple[int, ...]]
    input_channel: int
    operand_bytes: dict[str, float]

    @property
    def macs(self) -> int:
        return self.groups * prod(self.sizes)

    @property
    def tiled_levels(self) -> int:
        return len(self.module.levels) - 1

    def input_rows(self, outputs: int, taps: int) -> int:
        return (outputs - 1) * self.workload.stride[0] + (taps - 1) * self.workload.dilation[0] + 1

    def input_cols(self, outputs: int, taps: int) -> int:
        return (outputs - 1) * self.workload.stride[1] + (taps - 1) * self.workload.dilation[1] + 1

    def layout(self, operand: str, tile: tuple[int, ...]) -> tuple[int, ...]:
        """The operand's tile along its memory layout, outermost axis first (NHWC / OHWI)."""
        if operand == "I":
            return (
                tile[B],
                self.input_rows(tile[OY], tile[FY]),
                self.input_cols(tile[OX], tile[FX]),
                tile[self.input_channel],
            )
        if operand == "W":
            return (tile[K], tile[FY], tile[FX], tile[C])
        return (tile[B], tile[OY], tile[OX], tile[K])

    def elements(self, operand: str, tile: tuple[int, ...]) -> int:
        return prod(self.layout(operand, tile))

    def contiguous_run(self, operand: str, tile: tuple[int, ...]) -> int:
        """Elements in one contiguous row of a tile transfer (axes merge while the tile is full)."""
        full = self.layout(operand, self.sizes)
        part = self.layout(operand, tile)
        run = 1
        for whole, piece in zip(reversed(full), reversed(part), strict=True):
            run *= piece
            if piece < whole:
                break
        return run


def problem_of(workload: Workload, module: ExecModule) -> Problem:
    sizes = [workload.loops[loop] for loop in LOOPS]
    groups = workload.groups
    relevant = {"I": (B, C, OY, OX, FY, FX), "W": (K, C, FY, FX), "O": (B, K, OY, OX)}
    input_channel = C
    if workload.kind == "depthwise" and sizes[C] == 1:
        sizes[K] *= groups
        groups = 1
        relevant["I"] = (B, K, OY, OX, FY, FX)
        input_channel = K
    if not workload.has_weights:
        relevant["W"] = ()
    weight_bytes = module.operand_bytes["W"] if workload.has_weights else 0.0
    operand_bytes = {
        "I": module.operand_bytes["I"],
        "W": weight_bytes,
        "O": module.operand_bytes["O"],
    }
    return Problem(workload, module, tuple(sizes), groups, relevant, input_channel, operand_bytes)


@lru_cache(maxsize=65536)
def split(parts: Parts, tile: int) -> Parts:
    """Cut every piece of ``parts`` into tiles of ``tile`` (a piece's last tile may be short)."""
    out: dict[int, int] = {}
    for size, count in parts:
        step = min(tile, size)
        whole, rest = divmod(size, step)
        out[step] = out.get(step, 0) + whole * count
        if rest:
            out[rest] = out.get(rest, 0) + count
    return tuple(out.items())


def level_parts(problem: Problem, tiles: tuple[tuple[int, ...], ...]) -> list[list[Parts]]:
    """For every level (innermost first, the outermost whole), the tiles along every loop."""
    outer: list[Parts] = [((size, 1),) for size in problem.sizes]
    levels = [outer]
    for tile in reversed(tiles):
        outer = [split(parts, size) for parts, size in zip(outer, tile, strict=True)]
        levels.append(outer)
    return levels[::-1]


def count(parts: Parts) -> int:
    return sum(number for _, number in parts)
