"""The timing of the command stream nnmap's code generator emits for a GEMM on VTA.

The machine is the one the emulator times (``runtime/vta/vta_pipeline.c``), read from the same
target parameters (``nnmap.targets.vta.params`` renders them into the emulator): three stages
(load: INP/WGT loads; compute: UOP/ACC loads, GEMM, ALU; store) each run their commands in
order, each command occupying its stage for its cost (per-entry cost in tenths of a cycle times
the transfer's area, rounded up, plus a fixed overhead). Stages overlap freely; only dependency
tokens order them: a push carries the later of the cycle the sender's last command finished
and the cycle the sender last became ready; a pop delays the receiver's next command to it.

The stream of one layer (``nnmap.targets.vta.helpers`` and ``schedule``): ``begin`` pushes two
compute -> load credits and one store -> compute credit; per output tile (m pixels x n channel
blocks) the compute stage pops a store credit and loads the bias (LOAD ACC, m x n entries); per
reduction step the load stage pops a credit, loads the input (m x r) and weight (n x r) tiles
and signals compute, which pops it, runs the GEMM (m x n x r micro-op steps, after loading the
step's slot kernel into the micro-op buffer on its first use) and returns the credit; then per
byte plane (after the first: a store credit popped and an ALU SHR over m x n entries, its kernel
loaded on first use) compute signals store, which stores m x n entries and returns a credit.
Every token a command pops is pushed earlier in program order, so one pass in program order
gives the emulator's schedule.

All output tiles are alike, so the stream is periodic: a few steps and tiles are simulated and
the rest extrapolated from the per-step and per-tile increments of the simulation.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from functools import lru_cache

from nnmap.hw import ExecModule

LOAD, COMPUTE, STORE = 0, 1, 2
LOAD_TO_COMPUTE, COMPUTE_TO_LOAD, COMPUTE_TO_STORE, STORE_TO_COMPUTE = 0, 1, 2, 3
SIMULATED_GEMMS = 2048  # streams of up to this many GEMM steps are simulated whole
SIMULATED_STEPS = 6  # else: reduction steps simulated per output tile before extrapolating
SIMULATED_TILES = 6  # and output tiles simulated before extrapolating


@dataclass(frozen=True)
class VtaTiming:
    """Per-entry costs in tenths of a cycle and fixed overheads, as ``vta_params.h`` has them."""

    load_inp_x10: int
    load_wgt_x10: int
    load_uop_x10: int
    load_acc_x10: int
    store_x10: int
    gemm_x10: int
    alu_imm_x10: int
    memory_overhead: int
    gemm_overhead: int
    alu_imm_overhead: int

    @staticmethod
    def of(module: ExecModule) -> VtaTiming:
        timing = module.timing

        def tenths(key: str) -> int:
            return round(10 * timing[key])

        return VtaTiming(
            load_inp_x10=tenths("load_inp_cycles_per_entry"),
            load_wgt_x10=tenths("load_wgt_cycles_per_entry"),
            load_uop_x10=tenths("load_uop_cycles_per_entry"),
            load_acc_x10=tenths("load_acc_cycles_per_entry"),
            store_x10=tenths("store_cycles_per_entry"),
            gemm_x10=tenths("gemm_cycles_per_uop"),
            alu_imm_x10=tenths("alu_imm_cycles_per_element"),
            memory_overhead=round(timing["memory_overhead"]),
            gemm_overhead=module.array.fill_cycles,
            alu_imm_overhead=round(timing["alu_imm_overhead"]),
        )

    def transfer(self, tenths: int, entries: int) -> int:
        return -(-tenths * entries // 10) + self.memory_overhead


@dataclass(frozen=True)
class VtaStreamShape:
    """One layer's stream: the tile (m, n, r entries), GEMM steps per output tile, output tiles
    and byte planes per result."""

    m: int
    n: int
    r: int
    steps: int
    tiles: int
    planes: int


@dataclass(frozen=True)
class VtaCommandCosts:
    """The cost of every command of a stream (all tiles are alike)."""

    load_inp: int
    load_wgt: int
    load_bias: int
    gemm_kernel: int
    shift_kernel: int
    gemm: int
    shift: int
    store: int

    @staticmethod
    def of(timing: VtaTiming, shape: VtaStreamShape) -> VtaCommandCosts:
        m, n, r = shape.m, shape.n, shape.r
        return VtaCommandCosts(
            load_inp=timing.transfer(timing.load_inp_x10, m * r),
            load_wgt=timing.transfer(timing.load_wgt_x10, n * r),
            load_bias=timing.transfer(timing.load_acc_x10, m * n),
            gemm_kernel=timing.transfer(timing.load_uop_x10, r),
            shift_kernel=timing.transfer(timing.load_uop_x10, 1),
            gemm=-(-timing.gemm_x10 * m * n * r // 10) + timing.gemm_overhead,
            shift=-(-timing.alu_imm_x10 * m * n // 10) + timing.alu_imm_overhead,
            store=timing.transfer(timing.store_x10, m * n),
        )


@dataclass(frozen=True)
class VtaStreamCycles:
    """Cycles of a layer's stream and the busy cycles of each stage."""

    total: float
    load_busy: float
    compute_busy: float
    store_busy: float


class _Pipeline:
    """The three stages and four token queues of ``vta_pipeline.c``."""

    def __init__(self) -> None:
        self.ready = [0, 0, 0]
        self.last_finish = [0, 0, 0]
        self.free = [0, 0, 0]
        self.tokens: list[deque[int]] = [deque() for _ in range(4)]

    def run(self, stage: int, cycles: int) -> None:
        start = max(self.ready[stage], self.free[stage])
        self.free[stage] = self.last_finish[stage] = start + cycles

    def push(self, stage: int, queue: int) -> None:
        self.tokens[queue].append(max(self.last_finish[stage], self.ready[stage]))

    def pop(self, stage: int, queue: int) -> None:
        self.ready[stage] = max(self.ready[stage], self.tokens[queue].popleft())

    def end(self) -> int:
        return max(self.last_finish)


def _output_tile(
    pipe: _Pipeline,
    costs: VtaCommandCosts,
    shape: VtaStreamShape,
    loaded: set[str],
    first_step: int,
) -> None:
    """One output tile's commands; ``loaded``: the micro-op kernels already resident."""
    pipe.pop(COMPUTE, STORE_TO_COMPUTE)
    pipe.run(COMPUTE, costs.load_bias)
    for step in range(first_step, first_step + shape.steps):
        pipe.pop(LOAD, COMPUTE_TO_LOAD)
        pipe.run(LOAD, costs.load_inp)
        pipe.run(LOAD, costs.load_wgt)
        pipe.push(LOAD, LOAD_TO_COMPUTE)
        pipe.pop(COMPUTE, LOAD_TO_COMPUTE)
        kernel = f"gemm{step % 2}"
        if kernel not in loaded:
            loaded.add(kernel)
            pipe.run(COMPUTE, costs.gemm_kernel)
        pipe.run(COMPUTE, costs.gemm)
        pipe.push(COMPUTE, COMPUTE_TO_LOAD)
    for plane in range(shape.planes):
        if plane > 0:
            pipe.pop(COMPUTE, STORE_TO_COMPUTE)
            if "shift" not in loaded:
                loaded.add("shift")
                pipe.run(COMPUTE, costs.shift_kernel)
            pipe.run(COMPUTE, costs.shift)
        pipe.push(COMPUTE, COMPUTE_TO_STORE)
        pipe.pop(STORE, COMPUTE_TO_STORE)
        pipe.run(STORE, costs.store)
        pipe.push(STORE, STORE_TO_COMPUTE)


def _extrapolated(timing: VtaTiming, shape: VtaStreamShape) -> float:
    steps = min(shape.steps, SIMULATED_STEPS)
    tiles = min(shape.tiles, SIMULATED_TILES)

    def run(s: int, t: int) -> int:
        return simulate(timing, VtaStreamShape(shape.m, shape.n, shape.r, s, t, shape.planes))

    base = run(steps, tiles)
    total = float(base)
    if shape.steps > steps:
        extra, odd = divmod(shape.steps - steps, 2)
        two, one = run(steps + 2, tiles) - base, run(steps + 1, tiles) - base
        total += shape.tiles / tiles * (extra * two + odd * one)
    if shape.tiles > tiles:
        extra, odd = divmod(shape.tiles - tiles, 2)
        two, one = run(steps, tiles + 2) - base, run(steps, tiles + 1) - base
        total += extra * two + odd * one
    return total


def simulate(timing: VtaTiming, shape: VtaStreamShape) -> int:
    """Cycles of the whole stream of ``shape``, command by command (begin to VTASynchronize)."""
    pipe = _Pipeline()
    costs = VtaCommandCosts.of(timing, shape)
    pipe.push(COMPUTE, COMPUTE_TO_LOAD)
    pipe.push(COMPUTE, COMPUTE_TO_LOAD)
    pipe.push(STORE, STORE_TO_COMPUTE)
    loaded: set[str] = set()
    for tile in range(shape.tiles):
        _output_tile(pipe, costs, shape, loaded, tile * shape.steps)
    return pipe.end()


def stream_busy(timing: VtaTiming, shape: VtaStreamShape) -> tuple[float, float, float]:
    """The busy cycles of the load, compute and store stages, in closed form: each stage runs
    its commands one after another, so their largest is a lower bound on the stream's cycles."""
    costs = VtaCommandCosts.of(timing, shape)
    gemms = shape.tiles * shape.steps
    kernels = min(gemms, 2) * costs.gemm_kernel + (costs.shift_kernel if shape.planes > 1 else 0)
    shifts = shape.tiles * (shape.planes - 1) * costs.shift
    return (
        gemms * (costs.load_inp + costs.load_wgt),
        shape.tiles * costs.load_bias + kernels + gemms * costs.gemm + shifts,
        shape.tiles * shape.planes * costs.store,
    )


def stream_bound(timing: VtaTiming, shape: VtaStreamShape) -> float:
    """A lower bound on the stream's cycles, in closed form: the busiest stage's busy cycles, or
    the compute stage's chain if longer. Each output tile's compute commands (bias load, GEMMs,
    the SHR between byte planes) wait, through the store -> compute credits, for every store of
    the tile before them, so tiles cost at least their computes plus their stores in series."""
    costs = VtaCommandCosts.of(timing, shape)
    per_tile = costs.load_bias + shape.steps * costs.gemm
    per_tile += (shape.planes - 1) * costs.shift + shape.planes * costs.store
    return max(*stream_busy(timing, shape), shape.tiles * per_tile)


@lru_cache(maxsize=8192)
def stream_cycles(timing: VtaTiming, shape: VtaStreamShape) -> VtaStreamCycles:
    """Cycles of the stream: simulated up to ``SIMULATED_GEMMS`` GEMM steps, beyond that
    extrapolated from ``SIMULATED_STEPS`` x ``SIMULATED_TILES`` by the increments of two more
    steps and two more tiles (the two slots alternate, so the steady state repeats every two)."""
    if shape.steps * shape.tiles <= SIMULATED_GEMMS:
        total = float(simulate(timing, shape))
    else:
        total = _extrapolated(timing, shape)
    load, compute, store = stream_busy(timing, shape)
    return VtaStreamCycles(total=total, load_busy=load, compute_busy=compute, store_busy=store)
