"""Which layers of a model DIANA's digital array can run exactly with its own shift: per layer
the array takes, the proof or the counterexample (``numerics.exact_shift``)."""

from __future__ import annotations

from typing import Any

from nnmap.hw import Target
from nnmap.ir import Conv2D, FullyConnected, Graph
from nnmap.targets.diana.backend import DianaBackend


def exactness_rows(graph: Graph, target: Target, module_name: str = "digital"
                   ) -> list[dict[str, Any]]:
    """One row per layer the digital array can lower: model, layer, whether the array's shift
    is TFLite's requantization on its whole accumulator range, and why not."""
    module = target.module(module_name)
    backend = module.backend
    assert isinstance(backend, DianaBackend)
    rows = []
    for layer in graph.layers:
        if not isinstance(layer, Conv2D | FullyConnected):
            continue
        if backend.refusal(layer, graph, module) is not None:
            continue
        found = backend.exactness(layer, graph)
        rows.append({"model": graph.name, "layer": layer.name,
                     "exact_on_array": not isinstance(found, str),
                     "why": found if isinstance(found, str) else "proven"})
    return rows
