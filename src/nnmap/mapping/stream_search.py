"""The layers an accelerator's code generator runs as a command stream, costed and searched by
a model of that stream (each backend's ``stream_model``).

Timing a candidate's stream means simulating it; bounding it does not: each unit runs its
commands one after another, so the busiest unit's busy cycles (or a longer chain the stream
forces) are a lower bound on the stream's cycles. The search times candidates in the order of
their bounds and stops at the first whose bound is no better than the best stream timed so far:
every later one is at least as slow, so the result is the optimum of the whole candidate list.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from nnmap.hw import ExecModule
from nnmap.ir.workload import Workload
from nnmap.mapping.model import Cost, Mapping


@dataclass(frozen=True)
class StreamModel:
    """One backend's stream: its candidate mappings of a workload (one per distinct stream), a
    closed-form lower bound on a mapping's cycles, and its cost."""

    candidates: Callable[[Workload, ExecModule], list[Mapping]]
    bound: Callable[[Workload, Mapping, ExecModule], float]
    cost: Callable[[Workload, Mapping, ExecModule], Cost]


def stream_model(workload: Workload, module: ExecModule) -> StreamModel | None:
    """The stream model of ``module``'s backend for ``workload`` (None: not a stream)."""
    return None if module.backend is None else module.backend.stream_model(workload, module)


def search_stream(
    model: StreamModel, workload: Workload, module: ExecModule, cutoff: float
) -> tuple[Mapping, Cost, int, float] | None:
    """The cheapest candidate that fits the memories, below ``cutoff`` cycles: (mapping, cost,
    candidates, seconds)."""
    start = time.perf_counter()
    found = model.candidates(workload, module)
    ranked = sorted((model.bound(workload, mapping, module), i) for i, mapping in enumerate(found))
    best: tuple[Mapping, Cost] | None = None
    for least_possible, index in ranked:
        least = cutoff if best is None else best[1].total_cycles
        if least_possible >= least:
            break
        cost = model.cost(workload, found[index], module)
        if cost.fits and cost.total_cycles < least:
            best = (found[index], cost)
    if best is None:
        return None
    return best[0], best[1], len(found), time.perf_counter() - start
