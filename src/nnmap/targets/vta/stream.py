"""The timing of the command stream nnmap's code generator emits for a GEMM on VTA.

This module says which commands a stream has; their timing is the emulator's own: the command
list is run through ``nnmap_vta_time_commands`` (``timing_engine``), which schedules it on the
emulator's pipeline (``vta_pipeline.c``: the stage of each command, its cost from the target's
cost table, the dependency tokens) without moving data. No timing rule is written here.

The stream of one layer (``nnmap.targets.vta.helpers`` and ``schedule``): ``begin`` pushes two
compute -> load credits and one store -> compute credit; per output tile (m pixels x n channel
blocks) the compute stage pops a store credit and loads the bias (LOAD ACC, m x n entries); per
reduction step the load stage pops a credit, loads the input (m x r) and weight (n x r) tiles
and signals compute, which pops it, runs the GEMM (m x n x r micro-op steps, after loading the
step's slot kernel into the micro-op buffer on its first use) and returns the credit; then per
byte plane (after the first: a store credit popped and an ALU SHR over m x n entries, its kernel
loaded on first use) compute signals store, which stores m x n entries and returns a credit;
``end`` pops the credits left.

A convolution read directly (``direct.py``) has the same stream with one GEMM step per tile,
its halo-padded input rows as the input load and a micro-op kernel of n x r micro-ops; a
residual Add has its own stream (``residual_kernel.py``).

Streams of up to ``SIMULATED_GEMMS`` GEMM steps are timed whole. All output tiles are alike, so
longer streams are periodic: a few steps and tiles are timed and the rest extrapolated from the
per-step and per-tile increments.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from nnmap.targets.vta.timing_engine import (
    COMPUTE_QUEUE,
    LOAD_QUEUE,
    MEM_ACC,
    MEM_INP,
    MEM_UOP,
    MEM_WGT,
    STORE_QUEUE,
    Command,
    VtaEngine,
    alu_immediate,
    gemm,
    load,
    pop,
    push,
    store,
)

SIMULATED_GEMMS = 2048  # streams of up to this many GEMM steps are timed whole
SIMULATED_STEPS = 6  # else: reduction steps simulated per output tile before extrapolating
SIMULATED_TILES = 6  # and output tiles simulated before extrapolating
SLOTS = 2  # the input and weight slots (and GEMM kernels) alternate between steps


@dataclass(frozen=True)
class VtaStreamShape:
    """One layer's stream: the tile (m, n, r entries), GEMM steps per output tile, output tiles
    and byte planes per result; the input entries one step loads and the micro-ops of its GEMM
    kernel where they differ from a gathered input's ``m * r`` and ``r`` (a convolution read
    directly: the halo-padded input rows, one micro-op per channel and reduction block)."""

    m: int
    n: int
    r: int
    steps: int
    tiles: int
    planes: int
    inp_entries: int | None = None
    kernel_uops: int | None = None

    @property
    def input_load(self) -> int:
        return self.m * self.r if self.inp_entries is None else self.inp_entries

    @property
    def uops(self) -> int:
        return self.r if self.kernel_uops is None else self.kernel_uops


@dataclass(frozen=True)
class VtaCommandCosts:
    """The cycles each command of a stream occupies its stage (all tiles are alike), as the
    emulator's pipeline costs them."""

    load_inp: int
    load_wgt: int
    load_bias: int
    gemm_kernel: int
    shift_kernel: int
    gemm: int
    shift: int
    store: int

    @staticmethod
    def of(engine: VtaEngine, shape: VtaStreamShape) -> VtaCommandCosts:
        return _command_costs(engine, shape.m, shape.n, shape.r, shape.input_load, shape.uops)


@lru_cache(maxsize=8192)
def _command_costs(
    engine: VtaEngine, m: int, n: int, r: int, inp: int, uops: int
) -> VtaCommandCosts:
    commands = [
        load(MEM_INP, inp),
        load(MEM_WGT, n * r),
        load(MEM_ACC, m * n),
        load(MEM_UOP, uops),
        load(MEM_UOP, 1),
        gemm(m * n * r),
        alu_immediate(m * n),
        store(m * n),
    ]
    return VtaCommandCosts(*engine.time(commands, occupancy=True).occupancy)


@dataclass(frozen=True)
class VtaStreamCycles:
    """Cycles of a layer's stream and the busy cycles of each stage."""

    total: float
    load_busy: float
    compute_busy: float
    store_busy: float


def _output_tile(shape: VtaStreamShape, loaded: set[str], first_step: int) -> list[Command]:
    """One output tile's commands; ``loaded``: the micro-op kernels already resident."""
    m, n, r = shape.m, shape.n, shape.r
    commands = [pop(STORE_QUEUE, COMPUTE_QUEUE), load(MEM_ACC, m * n)]
    for step in range(first_step, first_step + shape.steps):
        commands += [pop(COMPUTE_QUEUE, LOAD_QUEUE), load(MEM_INP, shape.input_load)]
        commands.append(load(MEM_WGT, n * r))
        commands += [push(LOAD_QUEUE, COMPUTE_QUEUE), pop(LOAD_QUEUE, COMPUTE_QUEUE)]
        kernel = f"gemm{step % SLOTS}"
        if kernel not in loaded:
            loaded.add(kernel)
            commands.append(load(MEM_UOP, shape.uops))
        commands += [gemm(m * n * r), push(COMPUTE_QUEUE, LOAD_QUEUE)]
    for plane in range(shape.planes):
        if plane > 0:
            commands.append(pop(STORE_QUEUE, COMPUTE_QUEUE))
            if "shift" not in loaded:
                loaded.add("shift")
                commands.append(load(MEM_UOP, 1))
            commands.append(alu_immediate(m * n))
        commands += [push(COMPUTE_QUEUE, STORE_QUEUE), pop(COMPUTE_QUEUE, STORE_QUEUE)]
        commands += [store(m * n), push(STORE_QUEUE, COMPUTE_QUEUE)]
    return commands


def stream_commands(shape: VtaStreamShape) -> np.ndarray:
    """The encoded commands of the whole stream of ``shape`` (begin to VTASynchronize): the
    tiles differ only in the kernels they load, so once a tile loads none, it repeats."""
    credits = [push(COMPUTE_QUEUE, LOAD_QUEUE)] * SLOTS + [push(STORE_QUEUE, COMPUTE_QUEUE)]
    parts = [np.array(credits)]
    loaded: set[str] = set()
    for tile in range(shape.tiles):
        kernels = len(loaded)
        parts.append(np.array(_output_tile(shape, loaded, tile * shape.steps)))
        if len(loaded) == kernels:
            parts.append(np.tile(parts[-1], (shape.tiles - tile - 1, 1)))
            break
    end = [pop(COMPUTE_QUEUE, LOAD_QUEUE)] * SLOTS + [pop(STORE_QUEUE, COMPUTE_QUEUE)]
    parts.append(np.array(end))
    return np.concatenate(parts)


@lru_cache(maxsize=8192)
def simulate(engine: VtaEngine, shape: VtaStreamShape) -> int:
    """Cycles of the whole stream of ``shape``, every command timed by the emulator's pipeline."""
    return engine.time(stream_commands(shape)).cycles


def extrapolated(engine: VtaEngine, shape: VtaStreamShape) -> float:
    """Cycles of ``shape`` from ``SIMULATED_STEPS`` x ``SIMULATED_TILES`` timed whole and the
    increments of two more steps and two more tiles (the two slots alternate, so the steady
    state repeats every two)."""
    steps = min(shape.steps, SIMULATED_STEPS)
    tiles = min(shape.tiles, SIMULATED_TILES)

    def run(s: int, t: int) -> int:
        return simulate(engine, replace(shape, steps=s, tiles=t))

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


def stream_busy(engine: VtaEngine, shape: VtaStreamShape) -> tuple[float, float, float]:
    """The busy cycles of the load, compute and store stages, in closed form (the commands of
    each kind times their cost): each stage runs its commands one after another, so their
    largest is a lower bound on the stream's cycles."""
    costs = VtaCommandCosts.of(engine, shape)
    gemms = shape.tiles * shape.steps
    kernels = min(gemms, SLOTS) * costs.gemm_kernel
    kernels += costs.shift_kernel if shape.planes > 1 else 0
    shifts = shape.tiles * (shape.planes - 1) * costs.shift
    return (
        gemms * (costs.load_inp + costs.load_wgt),
        shape.tiles * costs.load_bias + kernels + gemms * costs.gemm + shifts,
        shape.tiles * shape.planes * costs.store,
    )


def stream_bound(engine: VtaEngine, shape: VtaStreamShape) -> float:
    """A lower bound on the stream's cycles, in closed form: the busiest stage's busy cycles, or
    the compute stage's chain if longer. Each output tile's compute commands (bias load, GEMMs,
    the SHR between byte planes) wait, through the store -> compute credits, for every store of
    the tile before them, so tiles cost at least their computes plus their stores in series."""
    costs = VtaCommandCosts.of(engine, shape)
    per_tile = costs.load_bias + shape.steps * costs.gemm
    per_tile += (shape.planes - 1) * costs.shift + shape.planes * costs.store
    return max(*stream_busy(engine, shape), shape.tiles * per_tile)


@lru_cache(maxsize=8192)
def stream_cycles(engine: VtaEngine, shape: VtaStreamShape) -> VtaStreamCycles:
    """Cycles of the stream: timed whole up to ``SIMULATED_GEMMS`` GEMM steps, else
    extrapolated."""
    if shape.steps * shape.tiles <= SIMULATED_GEMMS:
        total = float(simulate(engine, shape))
    else:
        total = extrapolated(engine, shape)
    load_busy, compute_busy, store_busy = stream_busy(engine, shape)
    return VtaStreamCycles(total, load_busy, compute_busy, store_busy)
