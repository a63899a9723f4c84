"""The instruction stream of a residual add on Gemmini, its timing and its mapping.

A tensor of N int8 elements is read as rows of DIM elements (its flat NHWC order, the same in
both inputs and the output); pieces of up to DIM such rows (and a last row of N mod DIM elements)
go through the accumulator one after another, piece k in accumulator block k mod ``slots``:

    config_ld a (id 0), config_ld b (id 1), config_ld bias (id 2, stride 0), config_st
    per piece: mvin3 the int8 bias row (overwriting), mvin a and mvin2 b (accumulating),
               mvout (scaled to int8)
    fence

The command list below is what ``resadd_code`` emits; its timing is the emulator's own engine
(``timing_engine``), so modelled cycles are emulated cycles. A mapping's only free parameter is
the number of accumulator blocks the pieces rotate through (the elements in flight: the level-0
tile of OX), searched by the mapper.
"""

from __future__ import annotations

from dataclasses import dataclass

from nnmap.hw import ExecModule
from nnmap.ir.workload import LOOPS, Workload
from nnmap.mapping.model import Cost, Mapping
from nnmap.targets.gemmini.tiling import GemminiGeometry
from nnmap.targets.gemmini.timing_engine import (
    ACCUMULATOR_ROWS,
    CONFIG,
    FENCE,
    LOAD,
    MVIN,
    MVOUT,
    STORE,
    Command,
    GemminiEngine,
    command,
)


@dataclass(frozen=True)
class Piece:
    """One trip through the accumulator: elements from ``offset``, ``rows`` rows of ``cols``."""

    offset: int
    rows: int
    cols: int


def pieces(elements: int, dim: int) -> tuple[Piece, ...]:
    """The pieces of a tensor of ``elements`` int8 values: whole rows of ``dim`` in blocks of up
    to ``dim`` rows, then the last row's remainder."""
    full_rows, tail = divmod(elements, dim)
    found = [
        Piece(first * dim, min(dim, full_rows - first), dim) for first in range(0, full_rows, dim)
    ]
    if tail:
        found.append(Piece(full_rows * dim, 1, tail))
    return tuple(found)


def slots_of(workload: Workload, mapping: Mapping, dim: int) -> int:
    """Accumulator blocks the pieces rotate through under ``mapping``."""
    return max(1, -(-mapping.tile(0, "OX") // (dim * dim)))


def resadd_commands(elements: int, slots: int, dim: int) -> list[Command]:
    """The encoded commands of a residual add of ``elements`` per input, its pieces over
    ``slots`` accumulator blocks."""
    commands = [command(CONFIG, LOAD)] * 3 + [command(CONFIG, STORE)]
    for index, piece in enumerate(pieces(elements, dim)):
        rows = ((index % slots) * dim | ACCUMULATOR_ROWS, piece.rows)
        moved = piece.rows * piece.cols
        commands += [command(MVIN, moved, rows)] * 3
        commands.append(command(MVOUT, moved, rows))
    commands.append(command(FENCE))
    return commands


def candidate_mappings(workload: Workload, module: ExecModule) -> list[Mapping]:
    """One mapping per accumulator block count: powers of two up to the accumulator's blocks
    and the add's pieces."""
    geometry = GemminiGeometry.of(module)
    dim, elements = geometry.dim, workload.operand_elements("O")
    most = min(geometry.acc_rows // dim, len(pieces(elements, dim)))
    counts = sorted({min(most, 1 << power) for power in range(most.bit_length() + 1)})
    found = []
    for slots in counts:
        sizes = {**dict.fromkeys(LOOPS, 1), "OX": min(workload["OX"], slots * dim * dim)}
        tiles = (tuple(sizes[loop] for loop in LOOPS),)
        found.append(Mapping((), tiles, (LOOPS,), (frozenset({"O"}),)))
    return found


def resadd_cost(workload: Workload, mapping: Mapping, module: ExecModule) -> Cost:
    """The emulator engine's timing of the stream ``mapping`` gives, with its footprints."""
    geometry = GemminiGeometry.of(module)
    dim, elements = geometry.dim, workload.operand_elements("O")
    slots = slots_of(workload, mapping, dim)
    timed = GemminiEngine.of(module).time(resadd_commands(elements, slots, dim))
    load, execute, store = timed.busy
    acc, dram = module.memory_for(0, "O"), module.memory_for(1, "I")
    spad = module.memory_for(0, "I")
    moved = 4 * elements  # the bias row, a and b in; the sum out
    return Cost(
        macs=0,
        compute_cycles=float(execute),
        transfer_cycles=(float(load + store),),
        transfer_bytes=(float(moved),),
        total_cycles=float(timed.cycles),
        utilization=0.0,
        spatial_utilization=0.0,
        footprint=(
            ((spad.name, 0, spad.size), (acc.name, slots * dim * dim * 4, acc.size)),
            ((dram.name, 3 * elements + dim, dram.size),),
        ),
        energy_pj=None,
    )


def resadd_bound(workload: Workload, mapping: Mapping, module: ExecModule) -> float:
    """A lower bound on ``resadd_cost``'s cycles: the stream itself (it is short to time)."""
    return resadd_cost(workload, mapping, module).total_cycles
