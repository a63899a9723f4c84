"""The timing of the instruction stream nnmap's code generator emits for a GEMM on Gemmini.

The machine is the one the emulator times (``runtime/gemmini/gemmini_timing.c`` on
``runtime/common/decoupled_timing.c``), read from the same target parameters: the host issues
one command per ``issue_interval`` into the load, execute or store queue (an entry is held
until its command finishes, so a full queue stalls the host, and with it every later command);
a command reaches its unit ``frontend_latency + issue_latency`` cycles after issue; each unit
runs its commands in order, each occupying it for its throughput cost and finishing its latency
later; commands wait for the local rows they read (last write) and write (reads and writes by
other units). Every command of the generated stream moves or computes whole DIM x DIM blocks,
so dependencies are tracked per block.

The stream of one layer (``nnmap.targets.gemmini.schedule``): configuration, then per output
tile (m x n, ``a x b`` blocks) its DIM-deep reduction columns, each with ``a`` input blocks and
``b`` weight blocks in alternating scratchpad slots and ``b x a`` preload + compute pairs; the
blocks of column c + 1 are moved in before the pairs of column c (column 0's before the loop),
the first column overwrites the accumulator (no bias is moved in), then the int32 output blocks
are moved out; a fence at the end. When the panel of the outer tile is resident (the input
panel of an m tile across its n tiles, or the weight panel of an n tile across its m tiles),
its blocks are moved in, column by column in the same way, by the first inner tile only, into
the panel's own rows, and every later inner tile reads them there.

A layer has ``outer`` identical outer tiles of ``inner`` identical output tiles of ``columns``
identical columns, so the stream is periodic in all three: a few of each are simulated and the
rest extrapolated (multilinearly) from the increments of the simulation's steady state.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

from nnmap.hw import ExecModule

LOAD, EXECUTE, STORE = 0, 1, 2
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
class StreamTiming:
    """The timing parameters of the target module the emulator is built with."""

    dim: int
    dram_read_bw: int
    dram_write_bw: int
    dram_latency: int
    spad_write_bw: int
    acc_write_bw: int
    acc_read_bw: int
    acc_bytes: int
    fill: int
    drain: int
    reload: int
    issue_interval: int
    dispatch_latency: int
    fence: int
    store_latency: int
    queues: tuple[int, int, int]

    @staticmethod
    def of(module: ExecModule) -> StreamTiming:
        spad, acc = module.memory_for(0, "I"), module.memory_for(0, "O")
        dram = module.memory_for(1, "I")
        timing, array = module.timing, module.array
        return StreamTiming(
            dim=array.axes[0].size,
            dram_read_bw=int(dram.read_bw),
            dram_write_bw=int(dram.write_bw),
            dram_latency=int(dram.latency),
            spad_write_bw=int(spad.write_bw),
            acc_write_bw=int(acc.write_bw),
            acc_read_bw=int(acc.read_bw),
            acc_bytes=array.acc_bytes,
            fill=array.fill_cycles,
            drain=array.drain_cycles,
            reload=array.reload_cycles,
            issue_interval=int(timing["issue_interval"]),
            dispatch_latency=int(timing["frontend_latency"] + timing["issue_latency"]),
            fence=int(timing["fence"]),
            store_latency=int(timing["store_latency"]),
            queues=(
                int(timing["load_queue"]),
                int(timing["execute_queue"]),
                int(timing["store_queue"]),
            ),
        )

    def block_load(self, width: int) -> int:
        """Load-unit cycles of one DIM x DIM block of ``width``-byte elements."""
        rows = self.dim
        row_bw = self.acc_write_bw if width == self.acc_bytes else self.spad_write_bw
        local = rows * -(-(self.dim * width) // row_bw)
        return max(-(-(rows * self.dim * width) // self.dram_read_bw), local)

    def block_store(self, width: int) -> int:
        """Store-unit cycles of one DIM x DIM accumulator block moved out as ``width``-byte
        elements (``acc_bytes``: int32 at full width; 1: scaled to int8); the accumulator rows
        are read at full width either way."""
        size = self.dim * self.dim * width
        reads = self.dim * -(-(self.dim * self.acc_bytes) // self.acc_read_bw)
        return max(-(-size // self.dram_write_bw), reads)


@dataclass(frozen=True)
class StreamShape:
    """One layer's stream: output tile of a x b blocks, reduction columns per tile, outer tiles
    (the tiles whose panel is resident), output tiles per outer tile, whether output tiles
    alternate between accumulator halves, the resident panel ("input", "weight" or "") and
    whether the outputs are scaled on the way out (hardware numerics: the bias is moved into
    the accumulator before each output tile, and each int8 mvout follows its config_st), and
    the real rows of each tile's last m block when fewer than DIM (``GemmTiles.last_rows``)."""

    a: int
    b: int
    columns: int
    outer: int
    inner: int
    double_acc: bool
    resident: str = ""
    scaled: bool = False
    last_rows: int | None = None

    def block_rows(self, block: int, dim: int) -> int:
        """Rows the array streams for m block ``block`` of a tile."""
        return self.last_rows if self.last_rows and block == self.a - 1 else dim

    def compute_cycles(self, timing: StreamTiming) -> list[int]:
        """Execute cycles of the computes of one weight block in a column, m block by m block:
        the first waits for the weights to stream into the mesh, the others reuse them."""
        rows = [self.block_rows(block, timing.dim) for block in range(self.a)]
        return [max(rows[0], timing.reload), *rows[1:]]

    def store_width(self, timing: StreamTiming) -> int:
        """Bytes per output element moved out: int8 when scaled, else int32."""
        return 1 if self.scaled else timing.acc_bytes


@dataclass(frozen=True)
class StreamCycles:
    """Cycles of a layer's stream and the busy cycles of each unit."""

    total: float
    load_busy: float
    execute_busy: float
    store_busy: float


class _Machine:
    """The decoupled-queue machine of ``decoupled_timing.c`` at block granularity."""

    def __init__(self, timing: StreamTiming) -> None:
        self.t = timing
        self.clock = 0
        self.all_done = 0
        self.free = [0, 0, 0]
        self.rings = [[0] * depth for depth in timing.queues]
        self.heads = [0, 0, 0]
        self.written: dict[tuple, tuple[int, int]] = {}  # block -> (written at, writer)
        self.read: dict[tuple, list[int]] = {}  # block -> read at, per unit
        self.staged_reload = 0

    def _dispatch(self, unit: int) -> int:
        issued = max(self.clock, self.rings[unit][self.heads[unit]])
        self.clock = issued + self.t.issue_interval
        return issued + self.t.dispatch_latency

    def _run(self, unit: int, ready: int, occupancy: int, latency: int) -> tuple[int, int]:
        start = max(ready, self.free[unit])
        finish = start + occupancy + latency
        self.free[unit] = start + occupancy
        head = self.heads[unit]
        self.rings[unit][head] = finish
        self.heads[unit] = head + 1 if head + 1 < self.t.queues[unit] else 0
        return start, finish

    def _ready_to_read(self, block: tuple) -> int:
        return self.written.get(block, (0, -1))[0]

    def _ready_to_write(self, block: tuple, unit: int) -> int:
        written, writer = self.written.get(block, (0, -1))
        reads = self.read.get(block, [0, 0, 0])
        others = max(reads[(unit + 1) % 3], reads[(unit + 2) % 3])
        return max(others, written if writer != unit else 0)

    def _mark_read(self, block: tuple, unit: int, when: int) -> None:
        reads = self.read.setdefault(block, [0, 0, 0])
        reads[unit] = max(reads[unit], when)

    def _mark_written(self, block: tuple, unit: int, when: int) -> None:
        self.written[block] = (max(self._ready_to_read(block), when), unit)

    def config(self, unit: int) -> None:
        _, finish = self._run(unit, self._dispatch(unit), 0, 0)
        self.all_done = max(self.all_done, finish)

    def load(self, block: tuple, occupancy: int) -> None:
        ready = max(self._dispatch(LOAD), self._ready_to_write(block, LOAD))
        _, finish = self._run(LOAD, ready, occupancy, self.t.dram_latency)
        self._mark_written(block, LOAD, finish)
        self.all_done = max(self.all_done, finish)

    def store(self, block: tuple, occupancy: int) -> None:
        ready = max(self._dispatch(STORE), self._ready_to_read(block))
        start, finish = self._run(STORE, ready, occupancy, self.t.store_latency)
        self._mark_read(block, STORE, start + occupancy)
        self.all_done = max(self.all_done, finish)

    def preload(self, weights: tuple | None) -> None:
        """Stage ``weights`` for the next compute (None: keep the mesh's weights)."""
        if weights is None:
            self._run(EXECUTE, self._dispatch(EXECUTE), 0, 0)
            return
        ready = max(self._dispatch(EXECUTE), self._ready_to_read(weights))
        start, _ = self._run(EXECUTE, ready, 0, 0)
        self.staged_reload = self.t.reload
        self._mark_read(weights, EXECUTE, start + self.staged_reload)

    def compute(self, inputs: tuple, output: tuple, rows: int) -> None:
        ready = max(self._dispatch(EXECUTE), self._ready_to_read(inputs))
        ready = max(ready, self._ready_to_write(output, EXECUTE))
        occupancy = max(rows, self.staged_reload)
        self.staged_reload = 0
        start, finish = self._run(EXECUTE, ready, occupancy, self.t.fill + self.t.drain)
        self._mark_read(inputs, EXECUTE, start + occupancy)
        self._mark_written(output, EXECUTE, finish)
        self.all_done = max(self.all_done, finish)

    def fence(self) -> int:
        self.clock = max(self.clock, self.all_done) + self.t.fence
        return self.clock


def _block(shape: StreamShape, operand: str, slot: int, column: int, index: int) -> tuple:
    """The scratchpad block of ``operand`` ("input" or "weight") a column reads: in the
    resident panel, or in the column's slot."""
    if shape.resident == operand:
        return (operand, "panel", column, index)
    return (operand, slot, index)


def _column_loads(
    machine: _Machine, shape: StreamShape, slot: int, column: int, first_inner: bool
) -> None:
    block = machine.t.block_load(1)
    for operand, count in (("input", shape.a), ("weight", shape.b)):
        if shape.resident != operand or first_inner:
            for index in range(count):
                machine.load(_block(shape, operand, slot, column, index), block)


def _output_tile(machine: _Machine, shape: StreamShape, step: int, first_inner: bool) -> None:
    """The commands of output tile number ``step`` (``first_inner``: the first inner tile of
    its outer tile, which moves the resident panel in)."""
    timing = machine.t
    half = step % 2 if shape.double_acc else 0
    first = step * shape.columns
    if shape.scaled:
        for j in range(shape.b):
            for i in range(shape.a):
                machine.load(("acc", half, i, j), timing.block_load(timing.acc_bytes))
    rows = [shape.block_rows(i, timing.dim) for i in range(shape.a)]
    outputs = [[("acc", half, i, j) for i in range(shape.a)] for j in range(shape.b)]
    _column_loads(machine, shape, first % 2, 0, first_inner)
    for column in range(shape.columns):
        slot = (first + column) % 2
        if column + 1 < shape.columns:
            _column_loads(machine, shape, 1 - slot, column + 1, first_inner)
        inputs = [_block(shape, "input", slot, column, i) for i in range(shape.a)]
        for j in range(shape.b):
            machine.preload(_block(shape, "weight", slot, column, j))
            machine.compute(inputs[0], outputs[j][0], rows[0])
            for i in range(1, shape.a):
                machine.preload(None)
                machine.compute(inputs[i], outputs[j][i], rows[i])
    store = timing.block_store(shape.store_width(timing))
    for i in range(shape.a):
        for j in range(shape.b):
            if shape.scaled:
                machine.config(STORE)
            machine.store(("acc", half, i, j), store)


@lru_cache(maxsize=4096)
def simulate(timing: StreamTiming, shape: StreamShape) -> int:
    """Cycles of the whole stream of ``shape``, command by command."""
    machine = _Machine(timing)
    for unit in (EXECUTE, LOAD, LOAD, LOAD, STORE):  # config_ex, three config_ld, config_st
        machine.config(unit)
    step = 0
    for _ in range(shape.outer):
        for inner in range(shape.inner):
            _output_tile(machine, shape, step, inner == 0)
            step += 1
    return machine.fence()


def _extrapolated(timing: StreamTiming, shape: StreamShape) -> float:
    """Cycles of ``shape`` extrapolated multilinearly in (columns, inner, outer) from the
    simulations of the corners of a box past the simulated sizes: each size is simulated at the
    largest size up to its limit that is a whole number of periods below it, and one period
    more, and extrapolated in steps of one period."""
    actual = (shape.columns, shape.inner, shape.outer)
    short = shape.a * shape.b < timing.queues[STORE]
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
            return simulate(timing, replace(shape, columns=columns, inner=inner, outer=outer))
        if actual[dim] == base[dim]:
            return value((*fixed, base[dim]))
        low, period = value((*fixed, base[dim])), periods[dim]
        high = value((*fixed, base[dim] + period))
        return low + (actual[dim] - base[dim]) // period * (high - low)

    return value(())


def stream_busy(timing: StreamTiming, shape: StreamShape) -> tuple[float, float, float]:
    """The busy cycles of the load, execute and store units, in closed form: each unit runs its
    commands one after another, so their largest is a lower bound on the stream's cycles."""
    tiles = shape.outer * shape.inner
    blocks = tiles * shape.a * shape.b
    input_loads = (shape.outer if shape.resident == "input" else tiles) * shape.a
    weight_loads = (shape.outer if shape.resident == "weight" else tiles) * shape.b
    loads = (input_loads + weight_loads) * shape.columns
    bias_loads = blocks * timing.block_load(timing.acc_bytes) if shape.scaled else 0
    return (
        loads * timing.block_load(1) + bias_loads,
        tiles * shape.b * shape.columns * sum(shape.compute_cycles(timing)),
        blocks * timing.block_store(shape.store_width(timing)),
    )


def _blocked(commands: int, queue: int, occupancy: int) -> int:
    """How long the host at least waits while issuing a run of ``commands`` to a unit with a
    ``queue``-entry queue: all but the first ``queue`` wait for a command of the run to finish,
    and the unit finishes one at most every ``occupancy`` cycles."""
    return max(0, commands - queue) * occupancy


def stream_bound(timing: StreamTiming, shape: StreamShape) -> float:
    """A lower bound on the stream's cycles, in closed form, tighter than the busiest unit.

    The host issues in program order: while it waits for room in one unit's queue (a run of
    loads, of preload + compute pairs or of stores, ``_blocked``), it issues nothing else, so the
    other units can only run the commands they already hold, at most a queue of them plus one
    under way. Whatever waiting they cannot fill that way adds to their busy cycles."""
    load_busy, execute_busy, store_busy = stream_busy(timing, shape)
    computes = shape.compute_cycles(timing)
    block_load = timing.block_load(1)
    block_store = timing.block_store(shape.store_width(timing))
    load_queue, execute_queue, store_queue = timing.queues
    held_executes = (execute_queue // 2 + 1) * max(computes)  # every other command computes
    largest_load = timing.block_load(timing.acc_bytes) if shape.scaled else block_load
    held_loads = (load_queue + 1) * largest_load
    pairs = shape.a * shape.b
    panel = {"input": shape.a, "weight": shape.b}.get(shape.resident, 0)
    tiles = shape.outer * shape.inner
    load_runs = (  # (loads per column, columns with that many): first inner tiles move the panel
        (shape.a + shape.b, shape.outer * shape.columns),
        (shape.a + shape.b - panel, (tiles - shape.outer) * shape.columns),
    )
    load_waits = [(_blocked(n, load_queue, block_load), runs) for n, runs in load_runs]
    execute_wait = _blocked(pairs, execute_queue // 2, min(computes))
    store_wait = _blocked(pairs, store_queue, block_store)
    execute = execute_busy + tiles * max(0, store_wait - held_executes)
    execute += sum(runs * max(0, wait - held_executes) for wait, runs in load_waits)
    load = load_busy + tiles * max(0, store_wait - held_loads)
    load += tiles * shape.columns * max(0, execute_wait - held_loads)
    return max(load, execute, store_busy)


@lru_cache(maxsize=4096)
def stream_cycles(timing: StreamTiming, shape: StreamShape) -> StreamCycles:
    """Cycles of the stream, extrapolated past the simulated columns and tiles."""
    load, execute, store = stream_busy(timing, shape)
    return StreamCycles(
        total=_extrapolated(timing, shape),
        load_busy=load,
        execute_busy=execute,
        store_busy=store,
    )
