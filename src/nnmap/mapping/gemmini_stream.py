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

The stream of one layer (``nnmap.codegen.gemmini.schedule``): configuration, then per output
tile (m x n, ``a x b`` blocks) the int32 bias blocks, then per DIM-deep reduction column the
``a`` input and ``b`` weight blocks (alternating scratchpad slots) and ``b x a`` preload +
compute pairs, then the int32 output blocks; a fence at the end.

A layer has ``tiles`` identical output tiles of ``columns`` identical columns, so the stream is
periodic: a few columns and tiles are simulated and the rest extrapolated from the per-column
and per-tile increments of the simulation's steady state.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from nnmap.hw import ExecModule

LOAD, EXECUTE, STORE = 0, 1, 2
SIMULATED_COLUMNS = 4  # reduction columns simulated per tile before extrapolating
SIMULATED_TILES = 3  # output tiles simulated before extrapolating


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

    def block_store(self) -> int:
        """Store-unit cycles of one int32 DIM x DIM block moved out at full width."""
        size = self.dim * self.dim * self.acc_bytes
        reads = self.dim * -(-(self.dim * self.acc_bytes) // self.acc_read_bw)
        return max(-(-size // self.dram_write_bw), reads)


@dataclass(frozen=True)
class StreamShape:
    """One layer's stream: output tile of a x b blocks, columns per tile, tiles, acc halves."""

    a: int
    b: int
    columns: int
    tiles: int
    double_acc: bool


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
        self.rings[unit][self.heads[unit]] = finish
        self.heads[unit] = (self.heads[unit] + 1) % len(self.rings[unit])
        return start, finish

    def _ready_to_read(self, block: tuple) -> int:
        return self.written.get(block, (0, -1))[0]

    def _ready_to_write(self, block: tuple, unit: int) -> int:
        written, writer = self.written.get(block, (0, -1))
        reads = self.read.get(block, [0, 0, 0])
        others = max(r for u, r in enumerate(reads) if u != unit)
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

    def preload(self, weights: tuple) -> None:
        ready = max(self._dispatch(EXECUTE), self._ready_to_read(weights))
        start, _ = self._run(EXECUTE, ready, 0, 0)
        self.staged_reload = self.t.reload
        self._mark_read(weights, EXECUTE, start + self.staged_reload)

    def compute(self, inputs: tuple, output: tuple) -> None:
        ready = max(self._dispatch(EXECUTE), self._ready_to_read(inputs))
        ready = max(ready, self._ready_to_write(output, EXECUTE))
        occupancy = max(self.t.dim, self.staged_reload)
        self.staged_reload = 0
        start, finish = self._run(EXECUTE, ready, occupancy, self.t.fill + self.t.drain)
        self._mark_read(inputs, EXECUTE, start + occupancy)
        self._mark_written(output, EXECUTE, finish)
        self.all_done = max(self.all_done, finish)

    def fence(self) -> int:
        self.clock = max(self.clock, self.all_done) + self.t.fence
        return self.clock


def simulate(timing: StreamTiming, shape: StreamShape) -> int:
    """Cycles of the whole stream of ``shape``, command by command."""
    machine = _Machine(timing)
    for unit in (EXECUTE, LOAD, LOAD, LOAD, STORE):  # config_ex, three config_ld, config_st
        machine.config(unit)
    bias, block = timing.block_load(timing.acc_bytes), timing.block_load(1)
    out = timing.block_store()
    step = 0
    for tile in range(shape.tiles):
        half = tile % 2 if shape.double_acc else 0
        for j in range(shape.b):
            for i in range(shape.a):
                machine.load(("acc", half, i, j), bias)
        for _ in range(shape.columns):
            slot = step % 2
            step += 1
            for i in range(shape.a):
                machine.load(("in", slot, i), block)
            for j in range(shape.b):
                machine.load(("w", slot, j), block)
            for j in range(shape.b):
                for i in range(shape.a):
                    machine.preload(("w", slot, j))
                    machine.compute(("in", slot, i), ("acc", half, i, j))
        for i in range(shape.a):
            for j in range(shape.b):
                machine.store(("acc", half, i, j), out)
    return machine.fence()


@lru_cache(maxsize=4096)
def stream_cycles(timing: StreamTiming, shape: StreamShape) -> StreamCycles:
    """Cycles of the stream, extrapolated past ``SIMULATED_COLUMNS`` x ``SIMULATED_TILES``."""
    columns = min(shape.columns, SIMULATED_COLUMNS)
    tiles = min(shape.tiles, SIMULATED_TILES)

    def run(c: int, t: int) -> int:
        return simulate(timing, StreamShape(shape.a, shape.b, c, t, shape.double_acc))

    base = run(columns, tiles)
    per_column = (run(columns + 1, tiles) - base) / tiles if shape.columns > columns else 0.0
    per_tile = run(columns, tiles + 1) - base if shape.tiles > tiles else 0.0
    extra_columns = shape.columns - columns
    total = base + (shape.tiles - tiles) * per_tile + shape.tiles * extra_columns * per_column
    blocks = shape.tiles * shape.a * shape.b
    loads = shape.tiles * shape.columns * (shape.a + shape.b)
    return StreamCycles(
        total=total,
        load_busy=blocks * timing.block_load(timing.acc_bytes) + loads * timing.block_load(1),
        execute_busy=blocks * shape.columns * max(timing.dim, timing.reload),
        store_busy=blocks * timing.block_store(),
    )
