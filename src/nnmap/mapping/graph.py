"""Mapping a whole graph: per compute layer, the module and mapping with the fewest cycles."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from nnmap.errors import MappingError
from nnmap.hw import Target
from nnmap.ir.graph import Graph
from nnmap.ir.layers import COMPUTE_KINDS
from nnmap.ir.workload import Workload, workload_of
from nnmap.mapping.model import Cost, Mapping
from nnmap.mapping.search import search_result

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
    """The cheapest (module, mapping) of one workload; MappingError when no module can hold it."""
    best: LayerMapping | None = None
    reasons = []
    for module in target.modules():
        try:
            found = search_result(workload, module, budget_s)
        except MappingError as error:
            reasons.append(str(error).removeprefix(f"layer {workload.name}: "))
            continue
        log.debug(
            "layer %s on %s: %.0f cycles", workload.name, module.name, found.cost.total_cycles
        )
        if best is None or found.cost.total_cycles < best.cost.total_cycles:
            best = LayerMapping(
                workload.name, module.name, workload, found.mapping, found.cost, found.seconds
            )
    if best is None:
        raise MappingError(
            f"layer {workload.name}: no module of target {target.name} can hold "
            f"it ({'; '.join(reasons)}); split the layer or pick a target with "
            "larger memories"
        )
    return best
