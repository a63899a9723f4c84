"""Mapping a whole graph: per compute layer, the module and mapping with the fewest cycles."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from math import inf

from nnmap.errors import MappingError
from nnmap.hw import ExecModule, Target
from nnmap.ir.graph import Graph
from nnmap.ir.layers import COMPUTE_KINDS
from nnmap.ir.workload import Workload, workload_of
from nnmap.mapping.cost import cost
from nnmap.mapping.model import Cost, Mapping
from nnmap.mapping.search import search_below

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LayerMapping:
    """The choice for one layer: its module, workload, mapping and modelled cost."""

    layer: str
    module: str
    workload: Workload
    mapping: Mapping
    cost: Cost
    search_seconds: float


def map_graph(graph: Graph, target: Target, budget_s: float = 2.0) -> list[LayerMapping]:
    """Map every compute layer of ``graph`` onto the cheapest module of ``target`` that runs it."""
    result = []
    for layer in graph.layers:
        if not isinstance(layer, COMPUTE_KINDS):
            continue
        workload = workload_of(graph, layer)
        if workload is None:
            continue
        result.append(map_layer(workload, target, budget_s))
    return result


def map_layer(workload: Workload, target: Target, budget_s: float = 2.0) -> LayerMapping:
    """The cheapest (module, mapping) of one workload; MappingError when no module can hold it.

    Accelerators are searched first; each later module is searched only for mappings cheaper
    than the best so far, which prunes most of a slow host's space and keeps the choice exact.
    """
    best: LayerMapping | None = None
    reasons = []
    start = time.perf_counter()
    for module in target.modules():
        cutoff = inf if best is None else best.cost.total_cycles
        try:
            found = search_below(workload, module, cutoff, budget_s)
        except MappingError as error:
            reasons.append(str(error).removeprefix(f"layer {workload.name}: "))
            continue
        if found is None and best is None:
            reasons.append(f"no tiling fits the memories of module {module.name}")
            continue
        if found is None:
            log.debug("layer %s: %s cannot beat %.0f cycles", workload.name, module.name, cutoff)
            continue
        best = LayerMapping(workload.name, module.name, workload, found.mapping, found.cost, 0.0)
    if best is None:
        raise MappingError(
            f"layer {workload.name}: no module of target {target.name} can hold "
            f"it ({'; '.join(reasons)}); split the layer or pick a target with "
            "larger memories"
        )
    return replace(best, search_seconds=time.perf_counter() - start)


def with_baseline(
    mappings: list[LayerMapping],
    target: Target,
    module: str,
    baseline: Callable[[Workload, ExecModule], Mapping],
) -> list[LayerMapping]:
    """``mappings`` with every dense and conv layer placed on ``module`` re-tiled by
    ``baseline`` (Gemmini's default heuristic, TVM's VTA schedule) and costed for that tiling:
    nnmap's placement with the baseline's tiles, so both can be compiled and emulated."""
    exec_module = target.module(module)
    result = []
    for mapped in mappings:
        if mapped.module == module and mapped.workload.kind in ("dense", "conv"):
            mapping = baseline(mapped.workload, exec_module)
            spent = cost(mapped.workload, mapping, exec_module)
            mapped = replace(mapped, mapping=mapping, cost=spent, search_seconds=0.0)
        result.append(mapped)
    return result
