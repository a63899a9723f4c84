"""What an embedding asks of each operand's layout, and whether the accelerator's loads reach it.

The model of a load (a systolic array's move-in, a GEMM core's 2-D LOAD): one tile row is a
contiguous run of DRAM along the reducing axis, the rows are a fixed stride apart, the tile's
origin moves freely between calls (micro-op offsets, loop bounds). Tensors are NHWC. Weights are
constants laid out at compile time in whatever order the embedding needs (zeros off a diagonal
included), so they always reach. The input reaches when its tile rows are contiguous and equally
spaced; otherwise the host gathers it (an im2col copy), whose elements are counted. The output
reaches unless a diagonal keeps only some positions of each result tile, which the host then picks
out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nnmap.embedding.embedding import Embedding, Placement


@dataclass(frozen=True)
class OperandLayout:
    """One operand's layout need: reached by the loads, or moved by the host (``moved``
    elements), and why."""

    operand: str
    reached: bool
    reason: str
    moved: int = 0


def _fills(embedding: Embedding, placement: Placement, operand: str) -> bool:
    """A diagonal placement whose two axes both index ``operand`` (zeros, or positions dropped,
    off the diagonal)."""
    axes = [embedding.instruction.axis(name) for name in placement.axes]
    return placement.diagonal and all(operand in axis.operands for axis in axes)


def _on_axes_indexing(embedding: Embedding, operands: frozenset[str]) -> tuple[Placement, ...]:
    """The placements on the axis whose operands are exactly ``operands``, innermost first."""
    for axis in embedding.instruction.axes:
        if axis.operands == operands:
            return embedding.on_axis(axis.name)
    return ()


# The input's reachability rules, one definition read two ways: ``_input_gather_reason`` checks
# an embedding against them, and the solver turns them into constraints (``solver._Model``) to
# search the embeddings the loads reach on their own.
REDUCTION = frozenset("IW")  # the axis the instruction sums over
ROWS = frozenset("IO")  # the axis of independent input rows
# Loops that may not sit on the reduction: the window's rows jump whole image rows.
NOT_ON_REDUCTION = {"FY": "the window's rows packed on the reduction jump whole image rows"}
# A loop that joins the channels on the reduction only when the channels are all there.
NEEDS_ALL_CHANNELS = {"FX": "the window's columns packed on the reduction skip channels"}
ROWS_ONE_LOOP = "together on the rows are not one stride apart"
DIAGONAL_INPUT = "a diagonal zero-fills the input tile"


def _input_gather_reason(embedding: Embedding) -> str:
    """Why the loads cannot reach the input tile ('' when they can)."""
    if any(_fills(embedding, p, "I") for p in embedding.placements):
        return DIAGONAL_INPUT
    reduction = [p.loop for p in _on_axes_indexing(embedding, REDUCTION)]
    for loop, reason in NOT_ON_REDUCTION.items():
        if loop in reduction:
            return reason
    all_channels = embedding.factor("C") == embedding.extent("C") and embedding.extent("G") == 1
    for loop, reason in NEEDS_ALL_CHANNELS.items():
        if loop in reduction and not all_channels:
            return reason
    spread = [p.loop for p in _on_axes_indexing(embedding, ROWS) if p.factor > 1]
    if len(spread) > 1:
        return f"{' and '.join(spread)} {ROWS_ONE_LOOP}"
    return ""


def input_layout(embedding: Embedding) -> OperandLayout:
    reason = _input_gather_reason(embedding)
    if not reason:
        return OperandLayout("I", True, "tile rows contiguous, one stride apart")
    im2col = math.prod(e for loop, e in embedding.extents if loop != "K")
    return OperandLayout("I", False, reason, im2col)


def output_layout(embedding: Embedding) -> OperandLayout:
    if any(_fills(embedding, p, "O") for p in embedding.placements):
        outputs = math.prod(e for loop, e in embedding.extents if loop not in ("C", "FY", "FX"))
        return OperandLayout("O", False, "only the diagonal of each result tile is kept", outputs)
    return OperandLayout("O", True, "result rows stored as contiguous channels")


def weight_layout(embedding: Embedding) -> OperandLayout:
    block_diagonal = any(_fills(embedding, p, "W") for p in embedding.placements)
    shape = "block-diagonal constant" if block_diagonal else "constant"
    return OperandLayout("W", True, f"{shape}, laid out at compile time")


def layouts(embedding: Embedding) -> tuple[OperandLayout, ...]:
    return input_layout(embedding), weight_layout(embedding), output_layout(embedding)
