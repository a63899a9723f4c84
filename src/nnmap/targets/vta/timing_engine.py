"""The VTA emulator's pipeline as the cost model uses it: command lists encoded as
``emulator/vta_command_timing.h`` reads them, timed by ``nnmap_vta_time_commands``.

The opcodes below are that header's; what a command costs, and which stage runs it, is not here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnmap.hw import ExecModule
from nnmap.runtime.command_timing import CommandTimer, Timed, command_timer, per_module
from nnmap.targets.vta.build import emulator

COMMAND_WORDS = 3  # [opcode, operand 0, operand 1]
LOAD, STORE, GEMM, ALU, PUSH, POP = range(1, 7)
MEM_UOP, MEM_WGT, MEM_INP, MEM_ACC = 0, 1, 2, 3  # VTA_MEM_ID_*
LOAD_QUEUE, COMPUTE_QUEUE, STORE_QUEUE = 1, 2, 3  # the token queue ids of VTADepPush/Pop

Command = tuple[int, int, int]


@dataclass(frozen=True)
class VtaEngine:
    """The pipeline timing of one VTA configuration."""

    timer: CommandTimer

    @staticmethod
    def of(module: ExecModule) -> VtaEngine:
        """The engine of ``module``'s configuration (looked up once per module object)."""
        return _engine(module)

    def time(self, commands: list[Command] | np.ndarray, occupancy: bool = False) -> Timed:
        """Cycles and busy cycles of ``commands`` (and each command's, with ``occupancy``)."""
        words = np.asarray(commands, dtype=np.uint32).reshape(-1, COMMAND_WORDS)
        return self.timer.time(words, occupancy)


@per_module
def _engine(module: ExecModule) -> VtaEngine:
    timer = command_timer(emulator(module), "nnmap_vta_time_commands", COMMAND_WORDS, 3)
    return VtaEngine(timer)


def load(memory: int, entries: int) -> Command:
    return (LOAD, memory, entries)


def store(entries: int) -> Command:
    return (STORE, 0, entries)


def gemm(steps: int) -> Command:
    return (GEMM, 0, steps)


def alu_immediate(steps: int) -> Command:
    return (ALU, 1, steps)


def push(sender: int, receiver: int) -> Command:
    return (PUSH, sender, receiver)


def pop(sender: int, receiver: int) -> Command:
    return (POP, sender, receiver)
