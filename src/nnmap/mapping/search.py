"""The mapping search: the optimum of the cost model over the candidate space, by branch and bound.

Loops are assigned one at a time (a chain of nested tile sizes per loop, one per tiled level).
A branch is cut when its smallest completion overflows a memory (footprints only grow with tile
sizes) or when a lower bound on every completion is no better than the best mapping found. At a
leaf every representative loop order and every double-buffering choice that fits is costed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from itertools import product
from math import inf, prod

from nnmap.errors import MappingError
from nnmap.hw import ExecModule
from nnmap.ir.workload import LOOPS, Workload
from nnmap.mapping.bounds import (
    busiest_interface,
    compute_bound,
    fetch_terms,
    leaf_prologue,
    prologue_bound,
    transfer_bound,
    transfer_terms,
)
from nnmap.mapping.cost import (
    combine,
    compute_cycles,
    evaluate,
    footprints,
    multipliers,
    operand_flow,
    scaled,
)
from nnmap.mapping.model import Cost, Mapping
from nnmap.mapping.partial import Choice, Partial, storage_width, tile_choices, unroll_of
from nnmap.mapping.problem import Problem, count, level_parts, problem_of
from nnmap.mapping.space import (
    Spatial,
    buffering_options,
    representative_orders,
    spatial_options,
)
from nnmap.mapping.stream_search import search_stream, stream_model

log = logging.getLogger(__name__)
DIM_ORDER = (5, 6, 2, 1, 4, 3, 0)  # FY, FX (small, usually whole) then C, K, OX, OY, B


@dataclass(frozen=True)
class SearchResult:
    """The best mapping, its cost, and how the search went (``complete``: proven optimal)."""

    mapping: Mapping
    cost: Cost
    leaves: int
    seconds: float
    complete: bool


def search(workload: Workload, module: ExecModule, budget_s: float = 2.0) -> Mapping:
    """The mapping of ``workload`` on ``module`` with the lowest modelled cycles."""
    return search_result(workload, module, budget_s).mapping


def search_result(workload: Workload, module: ExecModule, budget_s: float = 2.0) -> SearchResult:
    """The optimum with its cost and search statistics; MappingError when nothing fits."""
    found = search_below(workload, module, inf, budget_s)
    if found is None:
        raise MappingError(
            f"layer {workload.name}: no tiling fits the memories of module "
            f"{module.name}; split the layer or use a target with larger memories"
        )
    return found


def search_below(
    workload: Workload, module: ExecModule, cutoff: float, budget_s: float = 2.0
) -> SearchResult | None:
    """The optimum if it costs fewer than ``cutoff`` cycles, else None (pruned against it)."""
    problem = problem_of(workload, module)
    check_runnable(problem)
    stream = stream_model(workload, module)
    if stream is not None:
        found = search_stream(stream, workload, module, cutoff)
        if found is None:
            return None
        mapping, best, candidates, seconds = found
        return SearchResult(mapping, best, candidates, seconds, True)
    start = time.perf_counter()
    searcher = _Searcher(problem, start + budget_s)
    searcher.best_total = cutoff
    searcher.run()
    if searcher.best is None:
        return None
    if searcher.timed_out:
        log.warning(
            "layer %s on %s: search stopped at its %.2f s budget; the mapping is the best "
            "found, not proven optimal",
            workload.name,
            module.name,
            budget_s,
        )
    seconds = time.perf_counter() - start
    return SearchResult(
        searcher.best,
        evaluate(problem, searcher.best),
        searcher.leaves,
        seconds,
        not searcher.timed_out,
    )


def check_runnable(problem: Problem) -> None:
    """Raise MappingError when the module cannot run the layer or hold its whole tensors."""
    name, module = problem.workload.name, problem.module
    reason = module.supports(problem.workload)
    if reason is not None:
        raise MappingError(f"layer {name}: module {module.name} cannot run it: {reason}")
    whole = tuple(problem.sizes for _ in range(problem.tiled_levels))
    buffers = tuple(frozenset[str]() for _ in range(problem.tiled_levels))
    for memory, used, size in footprints(problem, whole, buffers)[-1]:
        if used > size:
            raise MappingError(
                f"layer {name}: its tensors need {used} B but {module.name}'s "
                f"{memory} holds {size} B; split the layer or use a larger target"
            )


class _Searcher:
    """Branch-and-bound state for one problem: the incumbent and the counters."""

    def __init__(self, problem: Problem, deadline: float) -> None:
        self.problem = problem
        self.deadline = deadline
        self.best: Mapping | None = None
        self.best_total = inf
        self.leaves = 0
        self.nodes = 0
        self.timed_out = False
        self.levels = problem.tiled_levels
        self.overhead = problem.module.timing.get("layer_overhead", 0.0)
        operands = tuple(op for op in ("I", "W", "O") if problem.operand_bytes[op])
        self.operands = operands
        self.buffering = list(
            product(
                *(
                    buffering_options(problem.module, level, operands)
                    for level in range(self.levels)
                )
            )
        )
        self.relevant = tuple(problem.relevant[op] for op in ("I", "W", "O"))
        self.terms = transfer_terms(problem)
        self.fetches = fetch_terms(problem)
        self.widths = [
            [
                (memory.size, [(op, storage_width(problem, memory, op)) for op in memory.operands])
                for memory in problem.module.levels[level]
            ]
            for level in range(self.levels)
        ]

    def run(self) -> None:
        ranked = []
        for spatial in spatial_options(self.problem):
            unroll = unroll_of(spatial)
            factors = [
                -(-size // lanes) for size, lanes in zip(self.problem.sizes, unroll, strict=True)
            ]
            ranked.append((compute_bound(self.problem, factors, 1), spatial, unroll, factors))
        ranked.sort(key=lambda item: item[0])
        order = [d for d in DIM_ORDER if self.problem.sizes[d] > 1]
        for bound, spatial, unroll, factors in ranked:
            if self.overhead + bound >= self.best_total or self.timed_out:
                continue
            choices = {
                d: tile_choices(self.problem.sizes[d], unroll[d], self.levels) for d in order
            }
            state = Partial(
                [[1] * len(LOOPS) for _ in range(self.levels)],
                [[1] * len(LOOPS) for _ in range(self.levels)],
                list(factors),
                [False] * len(LOOPS),
                [[1.0] * len(LOOPS) for _ in range(self.levels)],
            )
            self._assign(order, 0, spatial, unroll, choices, state)

    def _assign(
        self,
        order: list[int],
        position: int,
        spatial: Spatial,
        unroll: tuple[int, ...],
        choices: dict[int, list[Choice]],
        state: Partial,
    ) -> None:
        self.nodes += 1
        if self.nodes % 1024 == 0 and time.perf_counter() > self.deadline:
            self.timed_out = True
        if self.timed_out:
            return
        if position == len(order):
            self._leaf(spatial, unroll, tuple(tuple(level) for level in state.tiles))
            return
        d = order[position]
        least_factor = state.factors[d]
        state.assigned[d] = True
        options = choices[d]
        single_level = self.levels == 1
        start = self._first_fitting(d, options, state) if single_level else 0
        for choice in options[start:]:
            state.set(d, choice)
            if (single_level or self._fits_smallest(state.tiles)) and self._bound(
                state
            ) < self.best_total:
                self._assign(order, position + 1, spatial, unroll, choices, state)
        state.set(d, ((1,) * self.levels, (1,) * self.levels, least_factor, (1.0,) * self.levels))
        state.assigned[d] = False

    def _first_fitting(self, d: int, options: list[Choice], state: Partial) -> int:
        """Index of the largest tile of loop ``d`` that fits (options run largest first).

        With one tiled level footprints grow with the tile, so a bisection finds it.
        """
        low, high = 0, len(options)
        while low < high:
            middle = (low + high) // 2
            state.set(d, options[middle])
            if self._fits_smallest(state.tiles):
                high = middle
            else:
                low = middle + 1
        return low

    def _fits_smallest(self, tiles: list[list[int]]) -> bool:
        """Whether the partial tiles (unassigned loops at 1, nothing doubled) fit every memory."""
        for level, memories in enumerate(self.widths):
            tile = tuple(tiles[level])
            for size, widths in memories:
                used = 0.0
                for operand, width in widths:
                    used += width * self.problem.elements(operand, tile)
                if used > size:
                    return False
        return True

    def _bound(self, state: Partial) -> float:
        """A lower bound on every completion (the cheap compute side first)."""
        inner = prod(state.counts[0]) if self.levels else 1
        prologue = prologue_bound(self.problem, self.fetches, state.means)
        least = self.overhead + compute_bound(self.problem, state.factors, inner) + prologue
        if least >= self.best_total:
            return least
        open_loops = [not known for known in state.assigned]
        return max(least, self.overhead + transfer_bound(self.terms, state.counts, open_loops))

    def _leaf(
        self, spatial: Spatial, unroll: tuple[int, ...], tiles: tuple[tuple[int, ...], ...]
    ) -> None:
        """Cost every representative loop order with the widest double-buffering that fits."""
        self.leaves += 1
        if self.leaves % 256 == 0 and time.perf_counter() > self.deadline:
            self.timed_out = True
        problem = self.problem
        parts = level_parts(problem, tiles)
        counts = [[count(loop) for loop in level] for level in parts]
        compute, _ = compute_cycles(problem, parts[0], unroll)
        if self.overhead + compute >= self.best_total:
            return
        flows = [
            [operand_flow(problem, parts, level, op) for op in self.operands]
            for level in range(self.levels)
        ]
        once = [{flow.operand: scaled(flow, 1) for flow in level} for level in flows]
        least = self.overhead + compute + leaf_prologue(flows, once)
        if max(least, self.overhead + busiest_interface(once)) >= self.best_total:
            return
        buffers = self._widest_buffering(tiles)
        if not buffers:
            return
        leaf_best = inf
        for orders in product(*self._orders(tiles)):
            traffic = []
            for level in range(self.levels):
                mult = multipliers(problem, counts, tiles, orders, level)
                traffic.append(
                    {flow.operand: scaled(flow, mult[flow.operand]) for flow in flows[level]}
                )
            if max(least, self.overhead + busiest_interface(traffic)) >= self.best_total:
                continue
            for buffered in buffers:
                total = combine(problem, compute, traffic, buffered)
                leaf_best = min(leaf_best, total)
                if total < self.best_total:
                    self.best_total = total
                    self.best = Mapping(spatial, tiles, orders, buffered)
            if leaf_best <= least:  # no other order of this leaf can do better
                return

    def _orders(self, tiles: tuple[tuple[int, ...], ...]) -> list[tuple[tuple[str, ...], ...]]:
        """Per tiled level, one loop order per reuse signature of the loops that step there."""
        sizes = (*tiles, self.problem.sizes)
        return [
            representative_orders(
                tuple(d for d in range(len(LOOPS)) if sizes[level][d] < sizes[level + 1][d]),
                self.relevant,
            )
            for level in range(self.levels)
        ]

    def _widest_buffering(
        self, tiles: tuple[tuple[int, ...], ...]
    ) -> list[tuple[frozenset[str], ...]]:
        """The double-buffering choices that fit and are not contained in another that fits.

        Double-buffering one more operand never costs cycles in the model (its transfers move from
        the serial sum into the overlapped one, less its first tile), so only these matter.
        """
        singles = self._single_bytes(tiles)
        fitting = [buffered for buffered in self.buffering if self._fits(singles, buffered)]
        return [
            buffered
            for buffered in fitting
            if not any(
                other != buffered and all(a <= b for a, b in zip(buffered, other, strict=True))
                for other in fitting
            )
        ]

    def _single_bytes(self, tiles: tuple[tuple[int, ...], ...]) -> list[list[tuple[int, dict]]]:
        """Per level and memory: (capacity, bytes of one buffer of each operand it holds)."""
        problem = self.problem
        result = []
        for level in range(self.levels):
            rows = []
            for memory in problem.module.levels[level]:
                share = {}
                for operand in memory.operands:
                    width = problem.operand_bytes[operand]
                    if operand == "O" and memory.holds_psums:
                        width = problem.module.array.acc_bytes
                    share[operand] = width * problem.elements(operand, tiles[level])
                rows.append((memory.size, share))
            result.append(rows)
        return result

    @staticmethod
    def _fits(singles: list[list[tuple[int, dict]]], buffered: tuple[frozenset[str], ...]) -> bool:
        for level, rows in enumerate(singles):
            for size, share in rows:
                used = sum(
                    nbytes * (2 if op in buffered[level] else 1) for op, nbytes in share.items()
                )
                if -(-used // 1) > size:
                    return False
        return True
