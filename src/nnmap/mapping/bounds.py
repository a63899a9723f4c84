"""Lower bounds on the cost of any completion of a partial mapping (for branch and bound).

Every bound here is <= the cost model's total for every mapping it covers:
total >= layer overhead + compute, and total >= layer overhead + all traffic of any one interface.
"""

from __future__ import annotations

from math import prod

from nnmap.mapping.cost import Flow, Traffic
from nnmap.mapping.problem import FX, FY, OX, OY, Problem


def input_extent_bound(outputs: int, taps: int, stride: int, dilation: int) -> int:
    """Least input rows that any tiling of ``outputs`` x ``taps`` fetches in total.

    n output tiles and m tap tiles fetch ``m*(outputs-n)*stride + n*(taps-m)*dilation + n*m`` rows
    whatever their sizes: bilinear in (n, m), so the minimum over the box is at a corner.
    """
    return min(
        m * (outputs - n) * stride + n * (taps - m) * dilation + n * m
        for n in (1, outputs)
        for m in (1, taps)
    )


def compulsory_bytes(problem: Problem) -> dict[str, float]:
    """Bytes each operand must cross every interface at least once (inputs with least halo)."""
    sizes = problem.sizes
    workload = problem.workload
    rows = input_extent_bound(sizes[OY], sizes[FY], workload.stride[0], workload.dilation[0])
    cols = input_extent_bound(sizes[OX], sizes[FX], workload.stride[1], workload.dilation[1])
    inputs = sizes[0] * sizes[problem.input_channel] * rows * cols
    result = {}
    for operand in ("I", "W", "O"):
        elements = inputs if operand == "I" else prod(sizes[d] for d in problem.relevant[operand])
        result[operand] = problem.groups * elements * problem.operand_bytes[operand]
    return result


TransferTerm = tuple[float, float, tuple[int, ...]]  # cycles of its bytes, per tile, its loops


def transfer_terms(problem: Problem) -> list[list[TransferTerm]]:
    """Per interface and operand: cycles to move it once, latency per tile, its relevant loops."""
    module = problem.module
    least = compulsory_bytes(problem)
    terms = []
    for level in range(problem.tiled_levels):
        row = []
        for operand, moved in least.items():
            if not moved:
                continue
            inner = module.memory_for(level, operand)
            outer = module.memory_for(level + 1, operand)
            rate = (
                min(inner.read_bw, outer.write_bw)
                if operand == "O"
                else min(outer.read_bw, inner.write_bw)
            )
            row.append((moved / rate, problem.groups * outer.latency, problem.relevant[operand]))
        terms.append(row)
    return terms


def transfer_bound(
    terms: list[list[TransferTerm]], tile_counts: list[list[int]], open_loops: list[bool]
) -> float:
    """Least cycles of the busiest interface, whatever the loop orders.

    ``tile_counts[level][loop]`` bounds the tile counts (1 for loops not yet chosen, which
    ``open_loops`` marks). Whichever loop ends up innermost, every operand it indexes is fetched
    again for every tile of the loops it does not index (counted at the coarsest tiled level).
    """
    busiest = 0.0
    coarsest = tile_counts[-1] if tile_counts else []
    for row, counts in zip(terms, tile_counts, strict=True):
        once = []
        for cycles, per_tile, loops in row:
            tiles = refetch = 1
            for d, number in enumerate(counts):
                if d in loops:
                    tiles *= number
                else:
                    refetch *= coarsest[d]
            once.append((cycles + per_tile * tiles, loops, refetch))
        innermost = [d for d, number in enumerate(counts) if number > 1 or open_loops[d]]
        least = min(
            (
                sum(cost * refetch if d in loops else cost for cost, loops, refetch in once)
                for d in innermost
            ),
            default=sum(cost for cost, _, _ in once),
        )
        busiest = max(busiest, least)
    return busiest


def compute_bound(problem: Problem, factors: list[int], tiles: int) -> float:
    """Least compute cycles given per-loop step counts (lower bounds) and innermost tile count."""
    array = problem.module.array
    busy = prod(factors) * array.step_cycles
    if array.stationary is not None and array.reload_cycles:
        blocks = prod(factors[d] for d in problem.relevant[array.stationary])
        busy = max(busy, blocks * array.reload_cycles)
    return problem.groups * (busy + tiles * (array.fill_cycles + array.drain_cycles))


def roofline_cycles(problem: Problem) -> float:
    """max(compute-bound, bandwidth-bound) cycles: peak MACs, each operand moved once."""
    compute = problem.macs / problem.module.peak_macs_per_cycle
    traffic = max(
        (sum(cycles for cycles, _, _ in row) for row in transfer_terms(problem)), default=0.0
    )
    return max(compute, traffic)


FetchTerm = tuple[str, float, float]  # operand, cycles per element moved, latency per transfer


def fetch_terms(problem: Problem) -> list[list[FetchTerm]]:
    """Per interface and operand: what one tile transfer costs per element, and its latency.

    Outputs take the faster of their two directions, so the bound also covers spilled sums.
    """
    module = problem.module
    terms = []
    for level in range(problem.tiled_levels):
        row = []
        for operand in ("I", "W", "O"):
            width = problem.operand_bytes[operand]
            if not width:
                continue
            inner = module.memory_for(level, operand)
            outer = module.memory_for(level + 1, operand)
            rate = min(outer.read_bw, inner.write_bw)
            if operand == "O":
                rate = max(rate, min(inner.read_bw, outer.write_bw))
            row.append((operand, width / rate, outer.latency))
        terms.append(row)
    return terms


def prologue_bound(
    problem: Problem, terms: list[list[FetchTerm]], averages: list[list[float]]
) -> float:
    """Least cycles of one tile transfer of every operand at every interface.

    Each operand's first tile is either exposed (double-buffered) or part of its serial transfers,
    so the total is at least compute plus this. ``averages[level][loop]`` bounds the mean tile.
    """
    total = 0.0
    for row, mean in zip(terms, averages, strict=True):
        for operand, per_element, latency in row:
            if operand == "I":
                elements = (
                    mean[0]
                    * mean[problem.input_channel]
                    * max(mean[OY], mean[FY])
                    * max(mean[OX], mean[FX])
                )
            else:
                elements = prod(mean[d] for d in problem.relevant[operand])
            total += elements * per_element + latency
    return total


def busiest_interface(traffic: list[dict[str, Traffic]]) -> float:
    """Cycles of the busiest interface: the total is never below them."""
    return max((sum(flow.cycles for flow in level.values()) for level in traffic), default=0.0)


def leaf_prologue(flows: list[list[Flow]], once: list[dict[str, Traffic]]) -> float:
    """Least cycles of the first tile transfers (see ``bounds.prologue_bound``), at a leaf."""
    total = 0.0
    for level_flows, level_once in zip(flows, once, strict=True):
        for flow in level_flows:
            if flow.operand != "O":
                total += level_once[flow.operand].first
            else:
                rate = max(flow.rate_in, flow.rate_out)
                total += flow.elements * flow.width / flow.fetches / rate + flow.latency
    return total
