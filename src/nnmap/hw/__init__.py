"""The hardware model: ``Memory``, ``ComputeArray``, ``ExecModule`` and ``Target`` values."""

from nnmap.hw.model import (
    LOOP_NAMES,
    OPERANDS,
    ArrayAxis,
    ComputeArray,
    ExecModule,
    Instruction,
    Memory,
    Target,
)

__all__ = [
    "LOOP_NAMES",
    "OPERANDS",
    "ArrayAxis",
    "ComputeArray",
    "ExecModule",
    "Instruction",
    "Memory",
    "Target",
]
