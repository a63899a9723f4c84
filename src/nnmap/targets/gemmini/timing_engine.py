"""The Gemmini emulator's timing engine as the cost model uses it: command lists encoded as
``emulator/gemmini_command_timing.h`` reads them, timed by ``nnmap_gemmini_time_commands``.

The opcodes and the row encoding below are that header's; what a command costs is not here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnmap.hw import ExecModule
from nnmap.runtime.command_timing import CommandTimer, Timed, command_timer, per_module
from nnmap.targets.gemmini.build import emulator

COMMAND_WORDS = 8  # [opcode, value, a.first, a.count, b.first, b.count, c.first, c.count]
ACCUMULATOR_ROWS = 1 << 31  # set in a row range's first row: accumulator rows
CONFIG, MVIN, MVOUT, PRELOAD, COMPUTE_PRELOADED, COMPUTE_ACCUMULATED, FENCE = range(1, 8)
LOAD, EXECUTE, STORE = 0, 1, 2  # the units, in the order of the busy counters

Command = tuple[int, int, int, int, int, int, int, int]


@dataclass(frozen=True)
class GemminiEngine:
    """The timing engine of one Gemmini configuration and the geometry its commands use: the
    mesh dimension (rows per block), accumulator element bytes and the units' queue depths."""

    dim: int
    acc_bytes: int
    queues: tuple[int, int, int]
    timer: CommandTimer

    @staticmethod
    def of(module: ExecModule) -> GemminiEngine:
        """The engine of ``module``'s configuration (looked up once per module object)."""
        return _engine(module)

    def time(self, commands: list[Command] | np.ndarray, occupancy: bool = False) -> Timed:
        """Cycles and busy cycles of ``commands`` (and each command's, with ``occupancy``)."""
        return self.timer.time(np.asarray(commands, dtype=np.uint32), occupancy)


@per_module
def _engine(module: ExecModule) -> GemminiEngine:
    timing = module.timing
    queues = (timing["load_queue"], timing["execute_queue"], timing["store_queue"])
    return GemminiEngine(
        dim=module.array.axes[0].size,
        acc_bytes=module.array.acc_bytes,
        queues=(int(queues[0]), int(queues[1]), int(queues[2])),
        timer=command_timer(emulator(module), "nnmap_gemmini_time_commands", COMMAND_WORDS, 3),
    )


NO_ROWS = (0, 0)  # no local rows: a garbage address


def block_rows(block: int, dim: int, accumulator: bool = False) -> tuple[int, int]:
    """The (first, count) row range of local block number ``block`` (DIM rows each)."""
    return (block * dim) | (ACCUMULATOR_ROWS if accumulator else 0), dim


def command(opcode: int, value: int = 0, *ranges: tuple[int, int]) -> Command:
    """One encoded command: up to three row ranges, the rest none."""
    words = [opcode, value]
    for first, count in (*ranges, NO_ROWS, NO_ROWS, NO_ROWS)[:3]:
        words += [first, count]
    return (words[0], words[1], words[2], words[3], words[4], words[5], words[6], words[7])
