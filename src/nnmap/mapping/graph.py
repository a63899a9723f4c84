"""Mapping a whole graph: per compute layer, the module with the fewest cycles in all.

A layer's whole cost on a module is what running it there costs the network: the module's
modelled cycles for its mapping (on an accelerator, the kernel its backend emits in the chosen
numerics), plus the host stages that kernel leaves (im2col gathers, requantization) and the
module's per-layer overhead. Only modules that can lower the layer are considered: the host
always can; an accelerator when its backend says so (for the numerics asked), asked once per
layer. Layers without multiply-accumulates (an elementwise add, ...) that some accelerator's
backend lowers are offloaded when that costs fewer cycles in all than the host's own kernel.
Every choice carries its reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from math import inf

from nnmap.errors import MappingError
from nnmap.hw import ExecModule, Target
from nnmap.hw.backend import TensorLayout
from nnmap.ir.graph import Graph
from nnmap.ir.layers import COMPUTE_KINDS, Layer
from nnmap.ir.quant import IntegerRequant
from nnmap.ir.workload import Workload, workload_of
from nnmap.mapping.cost import cost
from nnmap.mapping.host_model import (
    calibration_of,
    call_overhead,
    host_layer_work,
    host_mac_stage,
    stage_cycles,
)
from nnmap.mapping.model import Cost, Mapping
from nnmap.mapping.search import search_below

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LayerMapping:
    """The choice for one layer: its module, workload, mapping and modelled cost.

    ``kernel_cycles`` are the module's modelled cycles for the kernel that will be emitted (the
    mapping's cost, or the backend's figure where the numerics change the stream);
    ``host_stages`` the modelled host cycles the layer adds by stage; ``reason`` why this module;
    ``layouts`` the tensors it reads or writes in its module's own layout (decided by the plan
    once its neighbours are placed, or asked for by a baseline).
    """

    layer: str
    module: str
    workload: Workload
    mapping: Mapping
    cost: Cost
    search_seconds: float
    kernel_cycles: float = 0.0
    host_stages: tuple[tuple[str, float], ...] = ()
    reason: str = ""
    layouts: tuple[TensorLayout, ...] = ()

    @property
    def whole_cycles(self) -> float:
        return self.kernel_cycles + sum(cycles for _, cycles in self.host_stages)


def host_stages(
    module: ExecModule, workload: Workload, target: Target, numerics: str, layer: Layer | None,
    graph: Graph | None, layouts: tuple[TensorLayout, ...] = (),
) -> tuple[tuple[str, float], ...]:
    """The host cycles, by stage, of running ``workload`` on ``module`` of ``target`` (reading or
    writing the tensors of ``layouts`` in the module's own layout)."""
    if module.backend is not None and layouts:
        works = module.backend.linked_host_work(workload, module, numerics, layouts)
    elif module.backend is not None:
        works = module.backend.host_work(workload, module, numerics)
    elif layer is not None and graph is not None:
        works = host_layer_work(layer, graph)
    else:
        works = ()
    stages = [(work.stage, stage_cycles(work, target)) for work in works]
    return (*stages, ("call overhead", call_overhead(target)))


def kernel_cycles(module: ExecModule, workload: Workload, mapping: Mapping, found: Cost,
                   numerics: str) -> float:
    """The modelled cycles of the kernel ``module``'s backend emits for ``mapping`` in
    ``numerics`` (the mapping's cost unless the numerics change the stream)."""
    if module.backend is None:
        return found.total_cycles
    cycles = module.backend.kernel_cycles(workload, mapping, module, numerics)
    return found.total_cycles if cycles is None else cycles


def _refusal(layer: Layer, graph: Graph, module: ExecModule, numerics: str) -> str | None:
    if module.backend is None:
        return "no backend lowers it"
    reason = module.backend.refusal(layer, graph, module)
    return reason or module.backend.numerics_refusal(layer, graph, module, numerics)


def _refusals(
    layer: Layer | None, graph: Graph | None, target: Target, numerics: str = "exact"
) -> dict[str, str]:
    """Why each accelerator's backend cannot lower ``layer`` in ``numerics`` (one question per
    module)."""
    if layer is None or graph is None:
        return {}
    if isinstance(getattr(layer, "requant", None), IntegerRequant):
        return {module.name: f"{module.name} cannot run it: no accelerator lowers the integer "
                "multiply-add-shift requantization of integer-only ONNX" for module in
                target.accelerators}
    refusals = {}
    for module in target.accelerators:
        reason = _refusal(layer, graph, module, numerics)
        if reason is not None:
            refusals[module.name] = f"{module.name} cannot run it: {reason}"
    return refusals


def _best_on(
    module: ExecModule,
    workload: Workload,
    target: Target,
    numerics: str,
    layer: Layer | None,
    graph: Graph | None,
    best: float,
    place: str | None,
    budget_s: float,
) -> LayerMapping | str | None:
    """The mapping of ``workload`` on ``module`` with the fewest cycles in all, searched only
    below ``best`` (the fewest found so far on other modules); None when none beats it, or why
    the module cannot hold the layer."""
    stages = host_stages(module, workload, target, numerics, layer, graph)
    cutoff = best - sum(cycles for _, cycles in stages)
    calibrated_host = module is target.host and calibration_of(target) is not None
    if calibrated_host:
        # the host's kernel is costed by its calibration, not by the mapping searched
        if host_mac_stage(workload, target, 0.0)[1] >= cutoff and place != module.name:
            return None
        cutoff = inf
    try:
        found = search_below(workload, module, cutoff, budget_s)
    except MappingError as error:
        return str(error).removeprefix(f"layer {workload.name}: ")
    if found is None:
        return f"no tiling fits the memories of module {module.name}" if best == inf else None
    kernel = kernel_cycles(module, workload, found.mapping, found.cost, numerics)
    if calibrated_host:
        kernel = host_mac_stage(workload, target, kernel)[1]
    return LayerMapping(workload.name, module.name, workload, found.mapping, found.cost, 0.0,
                        kernel, stages)


def map_layer(
    workload: Workload,
    target: Target,
    budget_s: float = 2.0,
    numerics: str = "exact",
    layer: Layer | None = None,
    graph: Graph | None = None,
    place: str | None = None,
) -> LayerMapping:
    """The module and mapping of one workload with the fewest cycles in all; MappingError when
    no module can hold it. Accelerators are searched first; each later module is searched only
    for mappings that could still beat the best whole cost so far. ``place`` names a module
    that takes every layer it can lower and hold, whatever the cost."""
    refusals = _refusals(layer, graph, target, numerics)
    reasons = list(refusals.values())
    costed: list[LayerMapping] = []
    start = time.perf_counter()
    modules = target.modules()
    if place is not None and place not in refusals:
        forced = target.module(place)
        modules = (forced, *(m for m in modules if m is not forced))
    for module in modules:
        if module.name in refusals or (costed and costed[0].module == place):
            continue
        best = min((choice.whole_cycles for choice in costed), default=inf)
        outcome = _best_on(module, workload, target, numerics, layer, graph, best, place,
                           budget_s)
        if isinstance(outcome, LayerMapping):
            costed.append(outcome)
        elif outcome is not None:
            reasons.append(outcome)
    if not costed:
        raise MappingError(
            f"layer {workload.name}: no module of target {target.name} can hold "
            f"it ({'; '.join(reasons)}); split the layer or pick a target with "
            "larger memories"
        )
    chosen = min(costed, key=lambda choice: choice.whole_cycles)
    reason = _reason(chosen, costed, reasons, target)
    if costed[0].module == place:
        chosen = costed[0]
        reason = f"placed on {place} as asked ({chosen.whole_cycles:,.0f} cycles in all)"
    backend = target.module(chosen.module).backend
    note = "" if backend is None else backend.kernel_note(workload, target.module(chosen.module))
    reason = f"{reason}; {note}" if note else reason
    return replace(chosen, search_seconds=time.perf_counter() - start, reason=reason)


def _reason(chosen: LayerMapping, costed: list[LayerMapping], refused: list[str],
            target: Target) -> str:
    others = [c for c in costed if c is not chosen]
    if chosen.module != target.host.name:
        whole = f"{chosen.whole_cycles:,.0f} cycles in all"
        if not others:
            return f"cost model: {chosen.module} cheapest ({whole}; no other module can beat it)"
        rivals = ", ".join(f"{c.whole_cycles:,.0f} cycles on {c.module}" for c in others)
        return f"cost model: {chosen.module} cheapest ({whole} vs {rivals})"
    if not target.accelerators:
        return "host target: no accelerator"
    if others:
        rivals = ", ".join(f"{c.whole_cycles:,.0f} cycles on {c.module}" for c in others)
        return f"cost model: host cheaper ({chosen.whole_cycles:,.0f} cycles vs {rivals})"
    return "; ".join(refused) or "no accelerator could beat the host"


def _host_whole(layer: Layer, graph: Graph, target: Target) -> float:
    """The host's whole cycles for a layer without multiply-accumulates: its kernel's loops and
    the call overhead."""
    works = host_layer_work(layer, graph)
    return sum(stage_cycles(work, target) for work in works) + call_overhead(target)


def map_offload(
    workload: Workload, target: Target, budget_s: float, numerics: str, layer: Layer,
    graph: Graph, place: str | None = None,
) -> LayerMapping | str:
    """The accelerator that runs ``layer`` (no multiply-accumulates) in fewer cycles in all than
    the host's own kernel, or why the host keeps it; ``place`` names a module that takes it
    whatever the cost."""
    start = time.perf_counter()
    host = _host_whole(layer, graph, target)
    refusals = _refusals(layer, graph, target, numerics)
    costed: list[LayerMapping] = []
    for module in target.accelerators:
        if module.name in refusals:
            continue
        stages = host_stages(module, workload, target, numerics, layer, graph)
        ceiling = inf if module.name == place else host
        try:
            found = search_below(workload, module, ceiling - sum(c for _, c in stages), budget_s)
        except MappingError as error:
            refusals[module.name] = str(error).removeprefix(f"layer {workload.name}: ")
            continue
        if found is not None:
            kernel = kernel_cycles(module, workload, found.mapping, found.cost, numerics)
            costed.append(LayerMapping(workload.name, module.name, workload, found.mapping,
                                       found.cost, 0.0, kernel, stages))
    if not costed:
        cheaper = f"cost model: host cheaper ({host:,.0f} cycles; no accelerator can beat it)"
        return "; ".join(refusals.values()) or cheaper
    chosen = min(costed, key=lambda choice: choice.whole_cycles)
    whole = f"{chosen.whole_cycles:,.0f} cycles in all"
    reason = f"cost model: {chosen.module} cheapest ({whole} vs {host:,.0f} cycles on the host)"
    if chosen.module == place:
        reason = f"placed on {place} as asked ({whole})"
    module = target.module(chosen.module)
    note = module.backend.kernel_note(workload, module) if module.backend else ""
    reason = f"{reason}; {note}" if note else reason
    return replace(chosen, search_seconds=time.perf_counter() - start, reason=reason)


def map_graph(
    graph: Graph, target: Target, budget_s: float = 2.0, numerics: str = "exact",
    place: str | None = None, unmapped: dict[str, str] | None = None,
    host_reasons: dict[str, str] | None = None,
) -> list[LayerMapping]:
    """Map every compute layer of ``graph`` onto the module of ``target`` that runs it in the
    fewest cycles in all (its kernel, its host stages, its call overhead), and every other layer
    an accelerator lowers onto it where that is cheaper than the host (``host_reasons``, when
    given, receives why the host keeps such a layer); ``place`` names a module that takes every
    layer it can lower (to compare or test it). A layer no module can hold raises MappingError,
    or with ``unmapped`` is left out and its reason recorded there."""
    result = []
    for layer in graph.layers:
        workload = workload_of(graph, layer)
        if workload is None:
            continue
        if not isinstance(layer, COMPUTE_KINDS):
            if target.accelerators:
                choice = map_offload(workload, target, budget_s, numerics, layer, graph, place)
                if isinstance(choice, LayerMapping):
                    result.append(choice)
                elif host_reasons is not None:
                    host_reasons[layer.name] = choice
            continue
        try:
            result.append(map_layer(workload, target, budget_s, numerics, layer, graph, place))
        except MappingError as error:
            if unmapped is None:
                raise
            unmapped[layer.name] = str(error).removeprefix(f"layer {layer.name}: ")
    return result


def with_baseline(
    mappings: Sequence[LayerMapping],
    target: Target,
    module: str,
    baseline: Callable[[Workload, ExecModule], Mapping],
    numerics: str = "exact",
) -> list[LayerMapping]:
    """``mappings`` with every dense and conv layer placed on ``module`` re-tiled by
    ``baseline`` (an accelerator's default heuristic or reference schedule) and costed for that
    tiling: nnmap's placement with the baseline's tiles, so both can be compiled and emulated."""
    exec_module = target.module(module)
    result = []
    for mapped in mappings:
        if mapped.module == module and mapped.workload.kind in ("dense", "conv"):
            mapping = baseline(mapped.workload, exec_module)
            spent = cost(mapped.workload, mapping, exec_module)
            kernel = kernel_cycles(exec_module, mapped.workload, mapping, spent, numerics)
            mapped = replace(
                mapped, mapping=mapping, cost=spent, search_seconds=0.0, kernel_cycles=kernel,
                reason=f"{mapped.reason}; baseline tiling",
            )
        result.append(mapped)
    return result
