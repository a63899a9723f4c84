"""report.json, rendered from a Plan: sizes, tensors, and per layer where it runs, why, and what
it costs.

Cycles are labelled by their source: ``emulated_cycles`` are measured on the accelerator's
emulator (filled in by ``Artifact.measure_cycles``), ``modelled_cycles`` are the cost model's
for the accelerator kernel, ``host_cycles`` are modelled host cycles (whole host layers, and the
host stages of accelerator kernels), broken down in ``host_stages``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nnmap.codegen.layers import LayerCode
from nnmap.ir import Graph
from nnmap.plan.plan import LayerPlan, Plan


def _tensor_entries(graph: Graph, names: Sequence[str]) -> list[dict[str, Any]]:
    return [
        {
            "name": n,
            "shape": list(graph.tensor(n).shape),
            "dtype": graph.tensor(n).dtype,
            "scale": graph.tensor(n).scale,
            "zero_point": graph.tensor(n).zero_point,
        }
        for n in names
    ]


def _layer_entry(plan: Plan, layer: LayerPlan, code: LayerCode | None) -> dict[str, Any]:
    graph, mapped = plan.graph, layer.mapped
    placement = plan.memory.placement(layer.layer.output)
    on_accelerator = layer.on_accelerator
    return {
        "index": layer.index,
        "name": layer.layer.name,
        "kind": layer.layer.kind,
        "macs": graph.macs(layer.layer),
        "module": layer.module,
        "placement": layer.reason,
        "mapped_module": mapped.module if mapped else None,
        "mapped_cycles": mapped.cost.total_cycles if mapped else None,
        "emulated_cycles": None,
        "modelled_cycles": layer.accelerator_cycles,
        "modelled_utilization": mapped.cost.utilization if on_accelerator and mapped else None,
        "peak_macs_per_cycle": plan.module(layer).peak_macs_per_cycle if on_accelerator else None,
        "host_cycles": layer.host_cycles,
        "host_stages": dict(layer.host_stages),
        "kernel": code.symbol if code else None,
        "file": code.file_name if code else None,
        "output": {
            "tensor": layer.layer.output,
            "region": placement.region,
            "index": placement.index,
            "offset": placement.offset,
            "bytes": graph.tensor(layer.layer.output).nbytes,
        },
        "scratch_offset": plan.memory.scratch_offsets.get(layer.layer.name),
    }


def report(plan: Plan, codes: Sequence[LayerCode], sizes: dict[str, int]) -> dict[str, Any]:
    """report.json of ``plan`` emitted as ``codes``: sizes, tensors, per-layer placement."""
    graph, target = plan.graph, plan.target
    by_name = {code.layer.name: code for code in codes}
    backends = [m.backend for m in plan.accelerator_modules() if m.backend is not None]
    layers = [_layer_entry(plan, layer, by_name.get(layer.layer.name)) for layer in plan.layers]
    return summarize({
        "model": graph.name,
        "target": target.name,
        "numerics": plan.numerics,
        "clock_hz": target.clock_hz,
        "emulators": [backend.emulator_prefix for backend in backends],
        "emulator_functions": sorted(
            {prefix for backend in backends for prefix in backend.emulator_functions}
        ),
        **sizes,
        "inputs": _tensor_entries(graph, graph.inputs),
        "outputs": _tensor_entries(graph, graph.outputs),
        "macs": sum(entry["macs"] for entry in layers),
        "layers": layers,
    })


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
    core = report.get("host_core")
    host += core["driver_cycles"] if core else 0.0
    total = accelerator + host
    report["latency"] = {
        "total_cycles": total,
        "accelerator_cycles": accelerator,
        "accelerator_source": "emulated" if emulated_everywhere else "modelled",
        "host_cycles": host,
        "host_source": f"measured on {core['name']}" if core else "modelled",
        "clock_hz": clock,
        "microseconds": total / clock * 1e6 if clock else None,
    }
    return report
