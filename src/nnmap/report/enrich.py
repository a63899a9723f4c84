"""Facts a report page shows that report.json may not carry yet, taken from the Graph, the
Target and the cost model, and merged into a copy of the report dict.

- per layer ``graph``: its input tensors (the edges of the layer graph) and its compulsory bytes
  (inputs, weights and bias, output: each moved once), the x axis of the roofline;
- per mapped layer ``cost``: its Plan's module, the mapping's compute and total cycles and its
  footprint per memory;
- ``roofs``: per module, the peak MACs per cycle and the read bandwidth of its outermost memory;
- ``deviation``: per model output, the |difference| histogram of a ``numerics="hardware"`` run.
Keys a report already has are left as they are.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np

from nnmap.compiler import plan
from nnmap.hw import Target
from nnmap.ir import Graph, Layer
from nnmap.report.fields import HOST


def _weight_bytes(layer: Layer) -> int:
    weight, bias = getattr(layer, "weight", None), getattr(layer, "bias", None)
    return sum(int(array.nbytes) for array in (weight, bias) if array is not None)


def graph_facts(graph: Graph) -> dict[str, dict[str, Any]]:
    """Layer name -> its input tensors, producing layers and compulsory bytes."""
    producers = {layer.output: layer.name for layer in graph.layers}
    facts = {}
    for layer in graph.layers:
        moved = sum(graph.tensor(name).nbytes for name in layer.inputs)
        facts[layer.name] = {
            "inputs": list(layer.inputs),
            "producers": [producers[name] for name in layer.inputs if name in producers],
            "compulsory_bytes": moved + _weight_bytes(layer) + graph.tensor(layer.output).nbytes,
        }
    return facts


def cost_facts(graph: Graph, target: Target, numerics: str) -> dict[str, dict[str, Any]]:
    """Layer name -> the cost of its mapping in the model's Plan (the module that runs it, the
    mapping's compute and total cycles, and the bytes it uses per memory)."""
    facts = {}
    for layer in plan(graph, target, numerics).layers:
        if layer.mapped is None:
            continue
        spent = layer.mapped.cost
        facts[layer.layer.name] = {
            "module": layer.module,
            "compute_cycles": spent.compute_cycles,
            "total_cycles": spent.total_cycles,
            "footprint": {name: used for level in spent.footprint for name, used, _ in level},
        }
    return facts


def roofs(target: Target) -> dict[str, dict[str, Any]]:
    """Module name (``host`` for the host core, as report.json names it) -> its peak MACs per
    cycle, the read bandwidth (bytes per cycle) of its outermost memory, and the capacity of each
    of its on-chip memories."""
    result = {}
    for module in target.modules():
        outer = module.memory_for(len(module.levels) - 1, "I")
        result[HOST if module is target.host else module.name] = {
            "peak_macs_per_cycle": module.peak_macs_per_cycle,
            "bandwidth_bytes_per_cycle": outer.read_bw,
            "bandwidth_memory": outer.name,
            "on_chip_bytes": {m.name: m.size for level in module.levels[:-1] for m in level},
        }
    return result


def deviation_entries(names: Sequence[str], expected: Sequence[np.ndarray],
                      actual: Sequence[np.ndarray]) -> list[dict[str, Any]]:
    """Per output: how many values differ from the reference by each |difference| 0, 1, 2...
    (a float output's differences rounded up: any difference counts at least 1)."""
    entries = []
    for name, wanted, got in zip(names, expected, actual, strict=True):
        exact = np.abs(wanted.astype(np.float64) - got.astype(np.float64)).ravel()
        difference = np.ceil(exact).astype(np.int64)
        entries.append({
            "output": name,
            "values": int(difference.size),
            "max_abs": int(difference.max(initial=0)),
            "histogram": np.bincount(difference).tolist(),
        })
    return entries


def enriched(report: dict[str, Any], graph: Graph | None = None, target: Target | None = None,
             deviation: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A copy of ``report`` with the facts above filled in from what is given."""
    result = copy.deepcopy(report)
    layers = result.get("layers", [])
    sources = []
    if graph is not None:
        sources.append(("graph", graph_facts(graph)))
    if graph is not None and target is not None and target.accelerators:
        sources.append(("cost", cost_facts(graph, target, result.get("numerics", "exact"))))
    for key, facts in sources:
        for layer in layers:
            if key not in layer and layer.get("name") in facts:
                layer[key] = facts[layer["name"]]
    if target is not None:
        result.setdefault("roofs", roofs(target))
    if deviation is not None:
        result.setdefault("deviation", deviation)
    return result
