"""Where each layer runs, why, and what it costs: the per-layer placement and latency of a report.

A layer runs on an accelerator when the mapper (``nnmap.mapping.graph.map_graph``) chose that
accelerator and its code generator can lower the layer; otherwise on the host. The reason names
which of the two decided. Cycles are labelled by their source: ``emulated_cycles`` are measured on
the accelerator's emulator (filled in by ``Artifact.measure_cycles``), ``modelled_cycles`` are the
cost model's for the accelerator work, ``host_cycles`` are modelled host cycles
(``nnmap.codegen.host_model``): whole host layers, and the host stages of accelerator kernels.
"""

from __future__ import annotations

from math import inf
from typing import Any

from nnmap.codegen.accelerators import host_work, modelled_cycles, refusal
from nnmap.codegen.host_model import host_layer_stages, stage_cycles
from nnmap.hw import ExecModule, Target
from nnmap.ir import Graph, Layer
from nnmap.ir.layers import COMPUTE_KINDS, Reshape
from nnmap.ir.workload import workload_of
from nnmap.mapping.graph import LayerMapping
from nnmap.mapping.search import search_below

HOST = "host"
SEARCH_BUDGET_S = 0.5


def _accelerator_verdict(module: ExecModule, layer: Layer, graph: Graph) -> tuple[bool, str]:
    """Whether ``module`` can run ``layer``, and its cycles or why not."""
    workload = workload_of(graph, layer)
    assert workload is not None
    refused = module.supports(workload)
    if refused is not None:
        return False, f"{module.name} cannot run it: {refused}"
    found = search_below(workload, module, inf, SEARCH_BUDGET_S)
    if found is None:
        return False, f"no tiling fits the memories of {module.name}"
    return True, f"{found.cost.total_cycles:,.0f} cycles on {module.name}"


def _host_reason(layer: Layer, graph: Graph, mapped: LayerMapping, target: Target) -> str:
    verdicts = [_accelerator_verdict(acc, layer, graph) for acc in target.accelerators]
    refusals = [text for runnable, text in verdicts if not runnable]
    if len(refusals) == len(verdicts):
        return "; ".join(refusals)
    others = ", ".join(text for runnable, text in verdicts if runnable)
    return f"cost model: host cheaper ({mapped.cost.total_cycles:,.0f} cycles vs {others})"


def placement_reason(
    layer: Layer,
    graph: Graph,
    module: str,
    mapped: LayerMapping | None,
    target: Target | None,
) -> str:
    """Why ``layer`` runs on ``module`` (the mapper's choice, and the code generators')."""
    if module != HOST:
        cycles = f" ({mapped.cost.total_cycles:,.0f} cycles)" if mapped is not None else ""
        return f"cost model: {module} cheapest{cycles}"
    if isinstance(layer, Reshape):
        return "Reshape: a storage alias, no kernel"
    if not isinstance(layer, COMPUTE_KINDS):
        return f"{layer.kind}: not an accelerator layer"
    if target is None or not target.accelerators:
        return "host target: no accelerator"
    if mapped is None:
        return f"{layer.kind}: no loop nest to map"
    if mapped.module == target.host.name:
        return _host_reason(layer, graph, mapped, target)
    why = refusal(mapped.module, layer) or f"no code generator for {mapped.module}"
    return f"{why} (the mapper chose {mapped.module}, {mapped.cost.total_cycles:,.0f} cycles)"


def layer_entry(
    layer: Layer,
    graph: Graph,
    module: str,
    mapped: LayerMapping | None,
    target: Target | None,
    numerics: str = "exact",
) -> dict[str, Any]:
    """The placement and cycle fields of one layer's report entry."""
    on_accelerator = module != HOST and mapped is not None
    stages: dict[str, float] = {}
    if target is not None and on_accelerator:
        works = host_work(module, layer, graph, numerics)
        stages = {work.stage: stage_cycles(work, target.host) for work in works}
    elif target is not None:
        stages = host_layer_stages(layer, graph, target.host)
    peak = target.module(module).peak_macs_per_cycle if target and on_accelerator else None
    return {
        "module": module,
        "placement": placement_reason(layer, graph, module, mapped, target),
        "mapped_module": mapped.module if mapped else None,
        "mapped_cycles": mapped.cost.total_cycles if mapped else None,
        "emulated_cycles": None,
        "modelled_cycles": (
            modelled_cycles(mapped, target.module(module), numerics)
            if on_accelerator and mapped and target
            else None
        ),
        "modelled_utilization": mapped.cost.utilization if on_accelerator and mapped else None,
        "peak_macs_per_cycle": peak,
        "host_cycles": sum(stages.values()) if target is not None else None,
        "host_stages": stages,
    }


def summarize(report: dict[str, Any]) -> dict[str, Any]:
    """Fill each layer's ``utilization`` and ``total_cycles`` and the report's ``latency``:
    accelerator cycles emulated where measured (else modelled) plus modelled host cycles."""
    accelerator = host = 0.0
    emulated_everywhere = True
    for entry in report["layers"]:
        emulated, modelled = entry["emulated_cycles"], entry["modelled_cycles"]
        if modelled is not None and emulated is None:
            emulated_everywhere = False
        device = emulated if emulated is not None else modelled or 0.0
        peak = entry["peak_macs_per_cycle"]
        entry["utilization"] = entry["macs"] / (emulated * peak) if emulated and peak else None
        entry["total_cycles"] = device + (entry["host_cycles"] or 0.0)
        accelerator += device
        host += entry["host_cycles"] or 0.0
    clock = report.get("clock_hz")
    total = accelerator + host
    report["latency"] = {
        "total_cycles": total,
        "accelerator_cycles": accelerator,
        "accelerator_source": "emulated" if emulated_everywhere else "modelled",
        "host_cycles": host,
        "host_source": "modelled",
        "clock_hz": clock,
        "microseconds": total / clock * 1e6 if clock else None,
    }
    return report
