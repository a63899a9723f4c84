"""The timing of the instruction stream nnmap's code generator emits for a GEMM on Gemmini.

The stream's commands are ``stream_commands``'s; their timing is the emulator's own: the command
list is run through ``nnmap_gemmini_time_commands`` (``timing_engine``), which calls, command by
command, the ``gt_*`` function the emulator calls for that instruction (``gemmini_timing.c`` on
``runtime/common/decoupled_timing.c``). No timing rule is written here.

Streams of up to ``SIMULATED_COMMANDS`` commands are timed whole. A longer stream has ``outer``
identical outer tiles of ``inner`` identical output tiles of ``columns`` identical columns, so
it is periodic in all three: a few of each are timed and the rest extrapolated (multilinearly)
from the increments of the steady state. The closed forms (each unit's busy cycles and the
search's lower bound) count commands and take each kind's cycles from the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

from nnmap.targets.gemmini.stream_commands import StreamShape, stream_commands
from nnmap.targets.gemmini.timing_engine import (
    COMPUTE_ACCUMULATED,
    COMPUTE_PRELOADED,
    MVIN,
    MVOUT,
    NO_ROWS,
    PRELOAD,
    STORE,
    GemminiEngine,
    block_rows,
    command,
)

__all__ = [
    "StreamCycles",
    "StreamShape",
    "extrapolated",
    "simulate",
    "stream_bound",
    "stream_busy",
    "stream_cycles",
]

SIMULATED_COMMANDS = 50_000  # streams of up to this many commands are timed whole; longer
# ones are extrapolated:
SIMULATED_COLUMNS = 12  # reduction columns simulated per tile before extrapolating (past the
# columns at which a tile's computes outlast its output stores, so the increments are steady)
SIMULATED_TILES = 5  # output tiles per outer tile simulated before extrapolating
SIMULATED_OUTER = 2  # outer tiles simulated before extrapolating
PERIOD = 2  # the stream repeats every two columns, output tiles or outer tiles (slots and
# accumulator halves alternate), except:
SHORT_TILE_PERIOD, SHORT_TILES_SIMULATED = 6, 9  # output tiles with fewer blocks than the
# store queue has entries fall into step with the stores every two or three tiles;
PARTIAL_COLUMN_PERIOD, PARTIAL_COLUMNS_SIMULATED = 6, 14  # a partial last m block makes a
# column's computes a length that beats with its loads every six columns


@dataclass(frozen=True)
class StreamCycles:
    """Cycles of a layer's stream and the busy cycles of each unit."""

    total: float
    load_busy: float
    execute_busy: float
    store_busy: float


@lru_cache(maxsize=4096)
def simulate(engine: GemminiEngine, shape: StreamShape) -> int:
    """Cycles of the whole stream of ``shape``, every command timed by the emulator's engine."""
    return engine.time(stream_commands(shape, engine.dim, engine.acc_bytes)).cycles


def extrapolated(engine: GemminiEngine, shape: StreamShape) -> float:
    """Cycles of ``shape`` extrapolated multilinearly in (columns, inner, outer) from the
    simulations of the corners of a box past the simulated sizes: each size is simulated at the
    largest size up to its limit that is a whole number of periods below it, and one period
    more, and extrapolated in steps of one period."""
    actual = (shape.columns, shape.inner, shape.outer)
    short = shape.a * shape.b < engine.queues[STORE]
    partial = shape.last_rows is not None
    limits = (
        PARTIAL_COLUMNS_SIMULATED if partial else SIMULATED_COLUMNS,
        SHORT_TILES_SIMULATED if short else SIMULATED_TILES,
        SIMULATED_OUTER,
    )
    periods = (
        PARTIAL_COLUMN_PERIOD if partial else PERIOD,
        SHORT_TILE_PERIOD if short else PERIOD,
        PERIOD,
    )
    base = tuple(
        size if size <= limit else limit - (limit - size) % period
        for size, limit, period in zip(actual, limits, periods, strict=True)
    )

    def value(fixed: tuple[int, ...]) -> float:
        dim = len(fixed)
        if dim == 3:
            columns, inner, outer = fixed
            return simulate(engine, replace(shape, columns=columns, inner=inner, outer=outer))
        if actual[dim] == base[dim]:
            return value((*fixed, base[dim]))
        low, period = value((*fixed, base[dim])), periods[dim]
        high = value((*fixed, base[dim] + period))
        return low + (actual[dim] - base[dim]) // period * (high - low)

    return value(())


@dataclass(frozen=True)
class CommandCycles:
    """The cycles each kind of command of a stream occupies its unit, as the engine times them:
    an input or weight block moved in, a bias block moved in (hardware numerics), an output
    block moved out, and the preload + compute pairs of one weight block, m block by m block;
    ``input_loads``: each m block's input mvin (a whole block's, unless read directly)."""

    block_load: int
    bias_load: int
    block_store: int
    computes: tuple[int, ...]
    input_loads: tuple[int, ...]


@lru_cache(maxsize=1024)
def _command_cycles(
    engine: GemminiEngine, a: int, last_rows: int | None, store_width: int, direct_input: bool
) -> CommandCycles:
    probe = StreamShape(a, 1, 1, 1, 1, False, last_rows=last_rows, direct_input=direct_input)
    dim, acc = engine.dim, engine.acc_bytes
    weights, inputs = block_rows(0, dim), block_rows(1, dim)
    output = block_rows(0, dim, True)
    commands = [
        command(MVIN, dim * dim, inputs),
        command(MVIN, dim * dim * acc, output),
        command(MVOUT, dim * dim * store_width, output),
        command(PRELOAD, 0, weights),
    ]
    for i in range(a):
        rows = probe.block_rows(i, dim)
        opcode = COMPUTE_PRELOADED if i == 0 else COMPUTE_ACCUMULATED
        commands += [] if i == 0 else [command(PRELOAD)]
        commands.append(command(opcode, rows, (inputs[0], rows), NO_ROWS, (output[0], rows)))
    first_load = len(commands)
    for i in range(a):
        rows = probe.input_rows(i, dim)
        commands.append(command(MVIN, dim * rows, (inputs[0], rows)))
    cycles = engine.time(commands, occupancy=True).occupancy
    pairs = [cycles[3] + cycles[4], *(cycles[3 + 2 * i] + cycles[4 + 2 * i] for i in range(1, a))]
    return CommandCycles(cycles[0], cycles[1], cycles[2], tuple(pairs),
                         tuple(cycles[first_load:]))


def command_cycles(engine: GemminiEngine, shape: StreamShape) -> CommandCycles:
    """The cycles of each kind of command of ``shape``'s stream."""
    return _command_cycles(engine, shape.a, shape.last_rows, shape.store_width(engine.acc_bytes),
                           shape.direct_input)


def stream_busy(engine: GemminiEngine, shape: StreamShape) -> tuple[float, float, float]:
    """The busy cycles of the load, execute and store units, in closed form (the commands of
    each kind times their cycles): each unit runs its commands one after another, so their
    largest is a lower bound on the stream's cycles."""
    cycles = command_cycles(engine, shape)
    tiles = shape.tiles
    blocks = tiles * shape.a * shape.b
    input_tiles = shape.outer if shape.resident == "input" else tiles
    weight_loads = (shape.outer if shape.resident == "weight" else tiles) * shape.b
    loads = input_tiles * sum(cycles.input_loads) + weight_loads * cycles.block_load
    bias_loads = blocks * cycles.bias_load if shape.scaled else 0
    return (
        loads * shape.columns + bias_loads,
        tiles * shape.b * shape.columns * sum(cycles.computes),
        blocks * cycles.block_store,
    )


def _blocked(commands: int, queue: int, occupancy: int) -> int:
    """How long the host at least waits while issuing a run of ``commands`` to a unit with a
    ``queue``-entry queue: all but the first ``queue`` wait for a command of the run to finish,
    and the unit finishes one at most every ``occupancy`` cycles."""
    return max(0, commands - queue) * occupancy


def stream_bound(engine: GemminiEngine, shape: StreamShape) -> float:
    """A lower bound on the stream's cycles, in closed form, tighter than the busiest unit.

    The host issues in program order: while it waits for room in one unit's queue (a run of
    loads, of preload + compute pairs or of stores, ``_blocked``), it issues nothing else, so the
    other units can only run the commands they already hold, at most a queue of them plus one
    under way. Whatever waiting they cannot fill that way adds to their busy cycles."""
    load_busy, execute_busy, store_busy = stream_busy(engine, shape)
    cycles = command_cycles(engine, shape)
    computes = cycles.computes
    load_queue, execute_queue, store_queue = engine.queues
    held_executes = (execute_queue // 2 + 1) * max(computes)  # every other command computes
    largest_load = max(cycles.bias_load, cycles.block_load) if shape.scaled else cycles.block_load
    held_loads = (load_queue + 1) * largest_load
    pairs = shape.a * shape.b
    panel = {"input": shape.a, "weight": shape.b}.get(shape.resident, 0)
    tiles = shape.tiles
    load_runs = (  # (loads per column, columns with that many): first inner tiles move the panel
        (shape.a + shape.b, shape.outer * shape.columns),
        (shape.a + shape.b - panel, (tiles - shape.outer) * shape.columns),
    )
    fastest_load = min(cycles.block_load, *cycles.input_loads)
    load_waits = [(_blocked(n, load_queue, fastest_load), runs) for n, runs in load_runs]
    execute_wait = _blocked(pairs, execute_queue // 2, min(computes))
    store_wait = _blocked(pairs, store_queue, cycles.block_store)
    execute = execute_busy + tiles * max(0, store_wait - held_executes)
    execute += sum(runs * max(0, wait - held_executes) for wait, runs in load_waits)
    load = load_busy + tiles * max(0, store_wait - held_loads)
    load += tiles * shape.columns * max(0, execute_wait - held_loads)
    return max(load, execute, store_busy)


@lru_cache(maxsize=4096)
def stream_cycles(engine: GemminiEngine, shape: StreamShape) -> StreamCycles:
    """Cycles of the stream: timed whole up to ``SIMULATED_COMMANDS`` commands, longer streams
    extrapolated from the simulated columns and tiles."""
    load, execute, store = stream_busy(engine, shape)
    whole = shape.commands() <= SIMULATED_COMMANDS
    return StreamCycles(
        total=simulate(engine, shape) if whole else extrapolated(engine, shape),
        load_busy=load,
        execute_busy=execute,
        store_busy=store,
    )
