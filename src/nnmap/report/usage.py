"""Memory use per level over the layer sequence, and the deviation of each output: the report
figures beyond time. None when the report lacks what a figure needs."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from nnmap.report import fields

ARENA = "arena"


def _last_uses(layers: list[dict[str, Any]]) -> dict[str, int]:
    """Tensor -> index of the last layer reading it (from the graph facts)."""
    last: dict[str, int] = {}
    for i, layer in enumerate(layers):
        for tensor in layer.get("graph", {}).get("inputs", []):
            last[tensor] = i
    return last


def arena_in_use(layers: list[dict[str, Any]]) -> list[int] | None:
    """Per layer: the arena bytes up to the end of the highest live tensor (a tensor lives from
    its producer to its last reader); None without output placements or graph facts."""
    outputs = [layer.get("output") for layer in layers]
    placed = all(isinstance(output, dict) for output in outputs)
    if not layers or not placed or not all("graph" in layer for layer in layers):
        return None
    last = _last_uses(layers)
    spans = []
    for i, output in enumerate(outputs):
        assert isinstance(output, dict)
        if output.get("region") == ARENA:
            end = last.get(output.get("tensor", ""), len(layers) - 1)
            spans.append((i, max(i, end), output.get("offset", 0) + output.get("bytes", 0)))
    return [max((top for first, end, top in spans if first <= i <= end), default=0)
            for i in range(len(layers))]


def _on_chip_use(report: dict[str, Any], layers: list[dict[str, Any]]
                 ) -> dict[str, tuple[list[int], int]]:
    """On-chip memory -> (bytes the mapping of each layer uses there, capacity)."""
    capacities = {memory: size for roof in report.get("roofs", {}).values()
                  for memory, size in roof.get("on_chip_bytes", {}).items()}
    used: dict[str, tuple[list[int], int]] = {}
    for memory, capacity in capacities.items():
        series = [int(layer.get("cost", {}).get("footprint", {}).get(memory, 0))
                  if fields.module(layer) == layer.get("cost", {}).get("module") else 0
                  for layer in layers]
        if any(series):
            used[memory] = (series, capacity)
    return used


def memory_use(report: dict[str, Any]) -> go.Figure | None:
    """Arena bytes in use (top) and each on-chip memory's bytes used per layer (bottom)."""
    layers = fields.layers(report)
    arena = arena_in_use(layers)
    on_chip = _on_chip_use(report, layers)
    if arena is None and not on_chip:
        return None
    names = [fields.name(layer) for layer in layers]
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                           subplot_titles=("activation arena (host memory)",
                                           "accelerator memories (the mapping's footprint)"))
    if arena is not None:
        figure.add_trace(go.Scatter(x=names, y=arena, name="arena in use", line_shape="hv"),
                         row=1, col=1)
        if "arena_bytes" in report:
            figure.add_trace(go.Scatter(x=names, y=[report["arena_bytes"]] * len(names),
                                        name="arena size", line={"dash": "dot"}), row=1, col=1)
    for memory, (series, capacity) in on_chip.items():
        figure.add_trace(go.Bar(x=names, y=series, name=memory,
                                hovertext=[f"{memory}: {used:,} of {capacity:,} B" for used in
                                           series], hoverinfo="text"), row=2, col=1)
    figure.update_yaxes(title_text="bytes")
    figure.update_layout(height=520, barmode="group")
    return figure


def deviation(report: dict[str, Any]) -> go.Figure | None:
    """Per output: how many values differ from the reference by 0, 1, 2, ... (hardware numerics)."""
    entries = [entry for entry in report.get("deviation", []) if entry.get("histogram")]
    if not entries:
        return None
    figure = go.Figure()
    for entry in entries:
        counts = entry["histogram"]
        figure.add_trace(go.Bar(x=list(range(len(counts))), y=counts,
                                name=f"{entry.get('output', 'output')} "
                                     f"(max {entry.get('max_abs', len(counts) - 1)})"))
    figure.update_layout(barmode="group", height=360, xaxis_title="|difference| (int8 steps)",
                         yaxis_title="values", yaxis_type="log")
    return figure
