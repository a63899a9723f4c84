"""An embedding of a layer into an instruction: which loop sits on which axes, with what factor.

Loops sharing an axis are packed in a fixed order, innermost first (``PACKING_ORDER``: channels
before the window, the window's x before its y, columns before rows of the image), the order in
which an NHWC tensor keeps them contiguous. Whatever is not on an axis runs in the loops around
the instruction calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nnmap.embedding.dataflow import InstructionDataflow

PACKING_ORDER = ("C", "FX", "FY", "G", "K", "OX", "OY", "B")


@dataclass(frozen=True)
class Placement:
    """A loop on one instruction axis, or on two (a diagonal), ``factor`` positions each."""

    loop: str
    axes: tuple[str, ...]
    factor: int

    @property
    def diagonal(self) -> bool:
        return len(self.axes) == 2


@dataclass(frozen=True)
class Embedding:
    """A legal embedding of a layer (its loop ``extents``) into ``instruction``."""

    instruction: InstructionDataflow
    extents: tuple[tuple[str, int], ...]
    placements: tuple[Placement, ...]

    def extent(self, loop: str) -> int:
        return dict(self.extents)[loop]

    def factor(self, loop: str) -> int:
        """Positions the loop takes on the instruction (1: it runs outside the calls)."""
        return next((p.factor for p in self.placements if p.loop == loop), 1)

    def on_axis(self, axis: str) -> tuple[Placement, ...]:
        """The placements on ``axis``, innermost first."""
        here = [p for p in self.placements if axis in p.axes]
        return tuple(sorted(here, key=lambda p: PACKING_ORDER.index(p.loop)))

    def axis_usage(self, axis: str) -> int:
        """Positions of ``axis`` the embedding uses (the rest are padding)."""
        return math.prod(p.factor for p in self.on_axis(axis))

    @property
    def calls(self) -> int:
        """Instruction calls for the whole layer."""
        return math.prod(-(-extent // self.factor(loop)) for loop, extent in self.extents)

    @property
    def macs(self) -> int:
        return math.prod(extent for _, extent in self.extents)

    @property
    def utilization(self) -> float:
        """Useful multiply-accumulates over those the calls perform."""
        return self.macs / (self.calls * self.instruction.lanes)

    def describe(self) -> str:
        """One line: the loops on each axis (``loop factor``; a diagonal marked ``diag``)."""
        parts = []
        for axis in self.instruction.axes:
            on = self.on_axis(axis.name)
            loops = " ".join(
                f"{p.loop}{p.factor}{' diag' if p.diagonal else ''}" for p in on
            ) or "-"
            parts.append(f"{axis.name}[{self.axis_usage(axis.name)}/{axis.size}]: {loops}")
        return "; ".join(parts)
