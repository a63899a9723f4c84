"""The layers an accelerator's code generator runs as a command stream, costed and searched by
a model of that stream (``gemmini_stream``, ``vta_stream``).

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
from nnmap.mapping import gemmini_cost, vta_cost
from nnmap.mapping.model import Cost, Mapping


@dataclass(frozen=True)
class StreamModel:
    """One code generator's stream: which workloads it runs, its candidate mappings (one per
    distinct stream), a closed-form lower bound on a mapping's cycles, and its cost."""

    runs: Callable[[Workload, ExecModule], bool]
    candidates: Callable[[Workload, ExecModule], list[Mapping]]
    bound: Callable[[Workload, Mapping, ExecModule], float]
    cost: Callable[[Workload, Mapping, ExecModule], Cost]


STREAM_MODELS = (
    StreamModel(
        gemmini_cost.runs_as_gemm_stream,
        gemmini_cost.candidate_mappings,
        gemmini_cost.gemm_stream_bound,
        gemmini_cost.gemm_stream_cost,
    ),
    StreamModel(
        vta_cost.runs_as_vta_stream,
        vta_cost.candidate_mappings,
        vta_cost.vta_stream_bound,
        vta_cost.vta_stream_cost,
    ),
)


def stream_model(workload: Workload, module: ExecModule) -> StreamModel | None:
    """The stream model of ``module``'s code generator for ``workload`` (None: not a stream)."""
    return next((model for model in STREAM_MODELS if model.runs(workload, module)), None)


def search_stream(
    model: StreamModel, workload: Workload, module: ExecModule, cutoff: float
) -> tuple[Mapping, Cost, int, float] | None:
    """The cheapest candidate below ``cutoff`` cycles: (mapping, cost, candidates, seconds)."""
    start = time.perf_counter()
    found = model.candidates(workload, module)
    ranked = sorted((model.bound(workload, mapping, module), i) for i, mapping in enumerate(found))
    best: tuple[Mapping, Cost] | None = None
    for least_possible, index in ranked:
        least = cutoff if best is None else best[1].total_cycles
        if least_possible >= least:
            break
        cost = model.cost(workload, found[index], module)
        if cost.total_cycles < least:
            best = (found[index], cost)
    if best is None:
        return None
    return best[0], best[1], len(found), time.perf_counter() - start
