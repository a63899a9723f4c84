"""The block-diagonal layout of a depthwise embedding, as a code generator lowers it.

The solver places a depthwise layer's groups on the diagonal of the reduction and column axes
(``G g diag``), optionally packs the window's columns and rows on the reduction beside them
(``FX``, ``FY``) and puts output pixels on the row axis; every other loop runs around the calls.
``BlockDiagonal`` reads such an embedding as a GEMM per block of ``group`` channels:

- ``gemm[m, n] = sum_r staged[m, block(n) * depth + r] * weight[r, n]`` with m the output
  pixels, n the columns (block ``n // columns``, its first ``group`` positions used) and r the
  block's reduction: ``tap_columns`` DIM-deep reduction columns, one per window position left
  outside the calls, each holding ``group x taps_y x taps_x`` positions packed in the embedding's
  order (the window's x innermost, then its y, then the channel of the block);
- the weights are block-diagonal: position r of column n holds the channel's tap when r's
  channel is n's, zero elsewhere.

The index arithmetic works on Python integers and on TIR expressions alike, so the numpy
weight layout and the code generator's gather read the same definitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from nnmap.embedding.dataflow import InstructionDataflow
from nnmap.embedding.embedding import Embedding
from nnmap.embedding.solver import search_embeddings
from nnmap.ir.workload import Workload

Index = Any  # an int, or a TIR expression of loop variables
WorkloadKey = tuple[tuple[tuple[str, int], ...], int, tuple[int, int], tuple[int, int],
                    tuple[int, int, int, int]]
# Host cycles per element the solver charges a gather when it ranks embeddings (assumed: a
# load, a store and index arithmetic); the mapper times the kernel's own gather.
GATHER_CYCLES = 4.0
LAYOUTS_KEPT = 4  # block-diagonal layouts of the solver's best embeddings a backend compares

PIXEL_LOOPS = frozenset({"B", "OY", "OX"})


@dataclass(frozen=True)
class BlockDiagonal:
    """A depthwise layer of ``channels`` channels and a ``kernel`` (FY, FX) window embedded with
    ``group`` channels on the diagonal and ``taps`` (FY, FX) window positions packed beside
    them on a reduction axis of ``reduction`` positions and a column axis of ``columns``."""

    channels: int
    group: int
    kernel: tuple[int, int]
    taps: tuple[int, int]
    reduction: int
    columns: int

    @property
    def blocks(self) -> int:
        """Blocks of ``group`` channels (the last may be partial)."""
        return -(-self.channels // self.group)

    @property
    def tap_grid(self) -> tuple[int, int]:
        """Window positions run around the calls along y and x."""
        return -(-self.kernel[0] // self.taps[0]), -(-self.kernel[1] // self.taps[1])

    @property
    def tap_columns(self) -> int:
        """Reduction columns per block: one per window position around the calls."""
        return self.tap_grid[0] * self.tap_grid[1]

    @property
    def depth(self) -> int:
        """Reduction positions of one block (its reduction columns, whole)."""
        return self.tap_columns * self.reduction

    @property
    def width(self) -> int:
        """Result columns of the whole layer (every block's, whole)."""
        return self.blocks * self.columns

    def describe(self) -> str:
        """One line: the embedding as the code generator lays it out."""
        taps_y, taps_x = self.taps
        packed = "".join(f" {name}{f}" for name, f in (("FX", taps_x), ("FY", taps_y)) if f > 1)
        return (
            f"solver's block-diagonal embedding: G{self.group} diag on reduction and columns"
            f"{packed and ', ' + packed.strip() + ' on the reduction'}; {self.blocks} channel "
            f"block(s) x {self.tap_columns} reduction column(s), pixels on the rows"
        )

    def position(self, r: Index) -> tuple[Index, Index, Index]:
        """(channel in the block, fy, fx) of reduction position ``r`` of a block."""
        column, k = r // self.reduction, r % self.reduction
        taps_y, taps_x = self.taps
        fy = column // self.tap_grid[1] * taps_y + k // taps_x % taps_y
        fx = column % self.tap_grid[1] * taps_x + k % taps_x
        return k // (taps_x * taps_y), fy, fx

    def used(self, r: int) -> bool:
        """Whether reduction position ``r`` of a block holds a real tap (else padding)."""
        member, fy, fx = self.position(r)
        return member < self.group and fy < self.kernel[0] and fx < self.kernel[1]

    def channel_of_column(self, n: Index) -> Index:
        """The layer channel result column ``n`` holds (when it holds one)."""
        return n // self.columns * self.group + n % self.columns

    def column_of_channel(self, channel: Index) -> Index:
        """The result column holding ``channel``."""
        return channel // self.group * self.columns + channel % self.group

    def weight_matrix(self, weights: np.ndarray) -> np.ndarray:
        """The block-diagonal int8 [depth, width] weights from [channels, FY, FX] taps."""
        matrix = np.zeros((self.depth, self.width), np.int8)
        for r in range(self.depth):
            member, fy, fx = self.position(r)
            if not self.used(r):
                continue
            for block in range(self.blocks):
                channel = block * self.group + member
                if channel < self.channels:
                    matrix[r, self.column_of_channel(channel)] = weights[channel, fy, fx]
        return matrix


def block_diagonal(embedding: Embedding) -> BlockDiagonal | None:
    """The block-diagonal layout of ``embedding``, or None when it is not of that form: the
    groups on the diagonal of the reduction and the columns, one channel per group (C = K = 1),
    the window's positions either on the reduction or around the calls, only output pixels on
    the rows (a code generator gathering the input lays out any pixel order there)."""
    extents = dict(embedding.extents)
    if extents["C"] != 1 or extents["K"] != 1 or extents["G"] < 2:
        return None
    sizes = {axis.name: axis.size for axis in embedding.instruction.axes}
    reduction = [a.name for a in embedding.instruction.axes if a.reduces]
    columns = [a.name for a in embedding.instruction.axes if a.operands == frozenset("WO")]
    rows = [a.name for a in embedding.instruction.axes if a.operands == frozenset("IO")]
    if len(reduction) != 1 or len(columns) != 1 or len(rows) != 1:
        return None
    diagonal = (reduction[0], columns[0])
    for placement in embedding.placements:
        if placement.loop == "G" and set(placement.axes) != set(diagonal):
            return None
        if placement.loop in ("FY", "FX") and placement.axes != (reduction[0],):
            return None
        if placement.loop in PIXEL_LOOPS and placement.axes != (rows[0],):
            return None
    return BlockDiagonal(
        channels=extents["G"],
        group=embedding.factor("G"),
        kernel=(extents["FY"], extents["FX"]),
        taps=(embedding.factor("FY"), embedding.factor("FX")),
        reduction=sizes[reduction[0]],
        columns=sizes[columns[0]],
    )


def workload_key(workload: Workload) -> WorkloadKey:
    """What a depthwise layout depends on, hashable (loops, groups, stride, dilation, padding)."""
    return (tuple(workload.loops.items()), workload.groups, workload.stride, workload.dilation,
            workload.padding)


def workload_of_key(key: WorkloadKey) -> Workload:
    loops, groups, stride, dilation, padding = key
    return Workload("depthwise", "depthwise", dict(loops), groups, stride, dilation, padding)


@lru_cache(maxsize=256)
def _solved(key: WorkloadKey, instruction: InstructionDataflow) -> tuple[BlockDiagonal, ...]:
    search = search_embeddings(
        workload_of_key(key), instruction, host_cycles_per_element=GATHER_CYCLES
    )
    found: list[BlockDiagonal] = []
    for ranked in search.ranked:
        layout = block_diagonal(ranked.embedding)
        if layout is not None and layout not in found:
            found.append(layout)
    return tuple(found[:LAYOUTS_KEPT])


def solver_layouts(
    workload: Workload, instruction: InstructionDataflow
) -> tuple[BlockDiagonal, ...]:
    """The block-diagonal layouts of the solver's best embeddings of a depthwise ``workload``
    into ``instruction``, best first (at most ``LAYOUTS_KEPT``; empty: none of that form, or a
    channel multiplier). A backend times each as its stream and emits the fastest."""
    if workload.kind != "depthwise" or workload["K"] != 1 or workload["C"] != 1:
        return ()
    return _solved(workload_key(workload), instruction)
