"""Which layer loop may sit on which instruction axes, and with which factors.

A loop placed on a set of axes carries its index along all of them (two axes: a diagonal, the
positions off it padded). The result is right exactly when, for the loop's operands and the axes'
operands:
- every operand the loop indexes is indexed by one of the axes (it sees the loop's index);
- no axis indexes an operand the loop does not index (no operand is broadcast along the loop);
- a loop the output does not index (a reduction) sits on one axis, and that axis reduces.
An operand indexed by both axes of a diagonal holds zeros off the diagonal (weights: a
block-diagonal constant; inputs: a gathered tile), or, for the output, keeps only the diagonal.
These rules, from the operand sets alone, give today's fixed scheme (pixels on the rows, channels
and window on the reduction, output channels on the columns) and the embeddings it cannot express:
a depthwise convolution's groups on a diagonal.
"""

from __future__ import annotations

from itertools import combinations

from nnmap.embedding.dataflow import LOOP_OPERANDS, InstructionDataflow


def legal_axis_sets(loop: str, instruction: InstructionDataflow) -> list[tuple[str, ...]]:
    """Every set of one or two instruction axes the loop may sit on."""
    indexed = LOOP_OPERANDS[loop]
    sets = []
    for count in (1, 2):
        for axes in combinations(instruction.axes, count):
            seen = frozenset().union(*(axis.operands for axis in axes))
            broadcast = any(not axis.operands <= indexed for axis in axes)
            reduction = "O" not in indexed
            if seen >= indexed and not broadcast and (not reduction or (
                count == 1 and axes[0].reduces
            )):
                sets.append(tuple(axis.name for axis in axes))
    return sets


def factor_candidates(extent: int, capacity: int) -> list[int]:
    """The factors worth trying for a loop of ``extent`` on axes of ``capacity`` positions: for
    each number of calls ``q`` the smallest factor needing only ``q`` (a larger one pads more
    for the same calls). Always includes 1."""
    top = min(extent, capacity)
    return [f for f in range(1, top + 1) if f == 1 or -(-extent // f) < -(-extent // (f - 1))]
