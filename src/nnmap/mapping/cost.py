"""The analytical cost model: ``cost(workload, mapping, module) -> Cost``. Pure integer arithmetic.

Compute: every innermost tile steps the array over ceil(tile / unroll) positions per loop, so edge
tiles waste lanes; with a stationary operand each block of it takes max(streamed steps, reload);
each innermost tile pays the array's fill and drain. Transfers between level i+1 and level i: an
operand's tile is fetched again each time an outer loop it does not depend on steps, unless all
such loops sit inside its innermost relevant loop (stationarity); inputs carry the halo of the
convolution window; each contiguous row costs whole bursts; each fetch pays the outer latency.
Outputs spilled before the reduction ends travel as partial sums, out and back. Double-buffered
transfers overlap compute except the first tile; single-buffered ones add up.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from math import prod

from nnmap.hw import ExecModule
from nnmap.ir.workload import LOOPS, Workload
from nnmap.mapping.model import Cost, Mapping
from nnmap.mapping.problem import Parts, Problem, count, level_parts, problem_of
from nnmap.mapping.stream_search import stream_model

OPERAND_NAMES = ("I", "W", "O")


@dataclass(frozen=True)
class Traffic:
    """One operand's traffic across one interface: bytes, cycles and cycles of a single fetch."""

    bytes: float
    cycles: float
    first: float


def cost(workload: Workload, mapping: Mapping, module: ExecModule) -> Cost:
    """The cost of running ``workload`` on ``module`` with ``mapping`` (on a module whose backend
    runs the layer as an instruction stream, the cost of that stream: its stream model's)."""
    stream = stream_model(workload, module)
    if stream is not None:
        return stream.cost(workload, mapping, module)
    return evaluate(problem_of(workload, module), mapping)


def evaluate(problem: Problem, mapping: Mapping) -> Cost:
    parts = level_parts(problem, mapping.tiles)
    unroll = unroll_vector(mapping)
    compute, steps = compute_cycles(problem, parts[0], unroll)
    counts = [[count(loop) for loop in level] for level in parts]
    traffic = [
        level_traffic(
            problem,
            parts,
            level,
            multipliers(problem, counts, mapping.tiles, mapping.orders, level),
        )
        for level in range(problem.tiled_levels)
    ]
    total = combine(problem, compute, traffic, mapping.double_buffered)
    lanes = problem.module.array.lanes
    peak = problem.module.peak_macs_per_cycle
    return Cost(
        macs=problem.macs,
        compute_cycles=compute,
        transfer_cycles=tuple(sum(t.cycles for t in level.values()) for level in traffic),
        transfer_bytes=tuple(sum(t.bytes for t in level.values()) for level in traffic),
        total_cycles=total,
        utilization=problem.macs / (total * peak),
        spatial_utilization=problem.macs / (steps * lanes),
        footprint=footprints(problem, mapping.tiles, mapping.double_buffered),
        energy_pj=energy(problem, traffic),
    )


def unroll_vector(mapping: Mapping) -> tuple[int, ...]:
    unroll = mapping.unrolling()
    return tuple(unroll[loop] for loop in LOOPS)


def compute_cycles(
    problem: Problem, inner: list[Parts], unroll: tuple[int, ...]
) -> tuple[float, int]:
    """(cycles, array steps) of all innermost tiles."""
    array = problem.module.array
    factors = [
        sum(number * -(-size // lanes) for size, number in parts)
        for parts, lanes in zip(inner, unroll, strict=True)
    ]
    steps = prod(factors)
    tiles = prod(count(parts) for parts in inner)
    if array.stationary is None or array.reload_cycles == 0:
        busy = steps * array.step_cycles
    else:
        held = problem.relevant[array.stationary]
        blocks = prod(factors[d] for d in held)
        streamed = [d for d in range(len(LOOPS)) if d not in held]
        busy = blocks * stream_cycles(
            [inner[d] for d in streamed],
            [unroll[d] for d in streamed],
            array.step_cycles,
            array.reload_cycles,
        )
    fixed = tiles * (array.fill_cycles + array.drain_cycles)
    return problem.groups * (busy + fixed), problem.groups * steps


def stream_cycles(parts: list[Parts], unroll: list[int], step_cycles: int, reload: int) -> int:
    """Sum over tiles of max(streamed steps, reload) for one block of the stationary operand."""
    total = 0
    for combo in product(*parts):
        number = prod(n for _, n in combo)
        steps = prod(-(-size // lanes) for (size, _), lanes in zip(combo, unroll, strict=True))
        total += number * max(steps * step_cycles, reload)
    return total


def multipliers(
    problem: Problem,
    counts: list[list[int]],
    tiles: tuple[tuple[int, ...], ...],
    orders: tuple[tuple[str, ...], ...],
    level: int,
) -> dict[str, int]:
    """How often each operand's level-``level`` tiles are fetched (1: once); ``counts[level][loop]``
    is the number of tiles along a loop."""
    nest = loop_nest(problem, tiles, orders, level)
    result = {}
    for operand in OPERAND_NAMES:
        relevant = problem.relevant[operand]
        last = max((i for i, (d, _) in enumerate(nest) if d in relevant), default=-1)
        finest: dict[int, int] = {}
        for d, depth in nest[: max(last, 0)]:
            if d not in relevant:
                finest[d] = min(finest.get(d, depth), depth)
        result[operand] = prod(counts[depth][d] for d, depth in finest.items())
    return result


def loop_nest(
    problem: Problem,
    tiles: tuple[tuple[int, ...], ...],
    orders: tuple[tuple[str, ...], ...],
    level: int,
) -> list[tuple[int, int]]:
    """The loops stepping level-``level`` tiles, outermost first, as (loop, tile level stepped)."""
    sizes = (*tiles, problem.sizes)
    nest = []
    for outer in range(problem.tiled_levels, level, -1):
        for loop in orders[outer - 1]:
            d = LOOPS.index(loop)
            if sizes[outer - 1][d] < sizes[outer][d]:
                nest.append((d, outer - 1))
    return nest


def level_traffic(
    problem: Problem, parts: list[list[Parts]], level: int, mult: dict[str, int]
) -> dict[str, Traffic]:
    return {
        operand: scaled(operand_flow(problem, parts, level, operand), mult[operand])
        for operand in OPERAND_NAMES
        if problem.operand_bytes[operand]
    }


@dataclass(frozen=True)
class Flow:
    """One operand across one interface when each tile is fetched once; ``scaled`` repeats it."""

    operand: str
    elements: int  # elements moved, each tile once (halos included)
    fetches: int  # tile transfers, each tile once
    width: float  # bytes per element on the way in (final outputs on the way out)
    psum_width: float  # bytes per element of a spilled partial sum
    row: float  # contiguous elements per row of a transfer
    burst: int
    rate_in: float  # bytes/cycle from the outer level into the inner one
    rate_out: float  # bytes/cycle from the inner level out to the outer one
    latency: float  # cycles per transfer


def operand_flow(problem: Problem, parts: list[list[Parts]], level: int, operand: str) -> Flow:
    module = problem.module
    inner = module.memory_for(level, operand)
    outer = module.memory_for(level + 1, operand)
    tile = tuple(max(size for size, _ in loop) for loop in parts[level])
    width = problem.operand_bytes[operand]
    psum = module.array.acc_bytes if operand == "O" and inner.holds_psums else width
    fetches = problem.groups * prod(count(parts[level][d]) for d in problem.relevant[operand])
    return Flow(
        operand,
        problem.groups * touched_elements(problem, parts[level], operand),
        fetches,
        width,
        psum,
        problem.contiguous_run(operand, tile),
        outer.burst_bytes,
        min(outer.read_bw, inner.write_bw),
        min(inner.read_bw, outer.write_bw),
        outer.latency,
    )


def scaled(flow: Flow, mult: int) -> Traffic:
    """The traffic when every tile is fetched ``mult`` times (outputs: spilled partial sums)."""
    if flow.operand != "O":
        moved = burst_bytes(mult * flow.elements * flow.width, flow.row * flow.width, flow.burst)
        cycles = moved / flow.rate_in + mult * flow.fetches * flow.latency
        return Traffic(moved, cycles, cycles / (mult * flow.fetches))
    spills = (mult - 1) * flow.elements
    out_bytes = burst_bytes(
        flow.elements * flow.width + spills * flow.psum_width, flow.row * flow.width, flow.burst
    )
    back_bytes = burst_bytes(spills * flow.psum_width, flow.row * flow.psum_width, flow.burst)
    transfers = (2 * mult - 1) * flow.fetches
    cycles = out_bytes / flow.rate_out + back_bytes / flow.rate_in + transfers * flow.latency
    return Traffic(out_bytes + back_bytes, cycles, cycles / transfers)


def touched_elements(problem: Problem, parts: list[Parts], operand: str) -> int:
    """Elements of ``operand`` over all tiles of one level, each tile counted once (halos too)."""
    sizes = problem.sizes
    if operand != "I":
        return prod(sizes[d] for d in problem.relevant[operand])
    rows = sum(
        a * b * problem.input_rows(oy, fy) for (oy, a), (fy, b) in product(parts[3], parts[5])
    )
    cols = sum(
        a * b * problem.input_cols(ox, fx) for (ox, a), (fx, b) in product(parts[4], parts[6])
    )
    return sizes[0] * sizes[problem.input_channel] * rows * cols


def burst_bytes(total: float, row: float, burst: int) -> float:
    """Bytes on the bus when every contiguous row of ``row`` bytes is rounded up to bursts."""
    if burst <= 1 or row <= 0:
        return total
    return total / row * (-(-row // burst) * burst)


def combine(
    problem: Problem,
    compute: float,
    traffic: list[dict[str, Traffic]],
    double_buffered: tuple[frozenset[str], ...],
) -> float:
    """Total cycles: first tiles, then compute overlapped with double-buffered transfers."""
    first = 0.0
    single = 0.0
    overlap = 0.0
    for level, flows in enumerate(traffic):
        hidden = 0.0
        for operand, flow in flows.items():
            if operand in double_buffered[level]:
                first += flow.first
                hidden += flow.cycles - flow.first
            else:
                single += flow.cycles
        overlap = max(overlap, hidden)
    return problem.module.timing.get("layer_overhead", 0.0) + first + max(compute, overlap) + single


def footprints(
    problem: Problem,
    tiles: tuple[tuple[int, ...], ...],
    double_buffered: tuple[frozenset[str], ...],
) -> tuple[tuple[tuple[str, int, int], ...], ...]:
    """(memory, bytes used, capacity) at every level; the outermost holds whole tensors."""
    result = []
    for level, memories in enumerate(problem.module.levels):
        whole = level == problem.tiled_levels
        tile = problem.sizes if whole else tiles[level]
        copies = problem.groups if whole else 1
        rows = []
        for memory in memories:
            used = 0.0
            for operand in memory.operands:
                width = problem.operand_bytes[operand]
                if operand == "O" and memory.holds_psums and not whole:
                    width = problem.module.array.acc_bytes
                buffers = 1 if whole or operand not in double_buffered[level] else 2
                used += buffers * copies * width * problem.elements(operand, tile)
            rows.append((memory.name, int(-(-used // 1)), memory.size))
        result.append(tuple(rows))
    return tuple(result)


def energy(problem: Problem, traffic: list[dict[str, Traffic]]) -> float | None:
    """MAC energy plus that of every byte moved between levels, where the target gives both."""
    per_mac = problem.module.array.mac_energy_pj
    if per_mac is None:
        return None
    total = per_mac * problem.macs
    for level, flows in enumerate(traffic):
        for operand, flow in flows.items():
            for memory in (
                problem.module.memory_for(level, operand),
                problem.module.memory_for(level + 1, operand),
            ):
                if memory.energy_pj_per_byte is None:
                    return None
                total += memory.energy_pj_per_byte * flow.bytes
    return total
