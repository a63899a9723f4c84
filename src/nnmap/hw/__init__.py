"""The hardware model: ``Memory``, ``ComputeArray``, ``ExecModule`` and ``Target`` values."""

from nnmap.hw.backend import Backend, DeviceBuild
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
    "Backend",
    "DeviceBuild",
    "LOOP_NAMES",
    "OPERANDS",
    "ArrayAxis",
    "ComputeArray",
    "ExecModule",
    "Instruction",
    "Memory",
    "Target",
]
