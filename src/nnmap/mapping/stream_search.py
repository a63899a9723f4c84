"""The search over the candidate tiles of a stream model, pruned by a closed-form bound.

Timing a candidate's command stream (``gemmini_stream``, ``vta_stream``) means simulating it;
bounding it does not: each unit runs its commands one after another, so the busiest unit's busy
cycles are a lower bound on the stream's cycles. Candidates are timed in the order of their
bounds, and the search stops at the first whose bound is no better than the best stream timed
so far: every later one is at least as slow, so the result is the optimum of the whole list.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from nnmap.mapping.model import Cost, Mapping


def search_stream(
    candidates: Callable[[], list[Mapping]],
    bound: Callable[[Mapping], float],
    evaluate: Callable[[Mapping], Cost],
    cutoff: float,
) -> tuple[Mapping, Cost, int, float] | None:
    """The cheapest candidate below ``cutoff`` cycles: (mapping, cost, candidates, seconds)."""
    start = time.perf_counter()
    found = candidates()
    ranked = sorted(((bound(mapping), index) for index, mapping in enumerate(found)))
    best: tuple[Mapping, Cost] | None = None
    for least_possible, index in ranked:
        least = cutoff if best is None else best[1].total_cycles
        if least_possible >= least:
            break
        cost = evaluate(found[index])
        if cost.total_cycles < least:
            best = (found[index], cost)
    if best is None:
        return None
    return best[0], best[1], len(found), time.perf_counter() - start
