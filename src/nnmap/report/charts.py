"""The figures of a report page, each built with Plotly from a (possibly enriched) report dict.
A figure function returns None when the report lacks what it needs; the page then says so."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from nnmap.report import fields

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
ARC_POINTS = 24


def module_colours(report: dict[str, Any]) -> dict[str, str]:
    names = sorted({fields.module(layer) for layer in fields.layers(report)})
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def _edges(layers: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """(producer index, consumer index) from the graph facts, else the layer order."""
    if not all("graph" in layer for layer in layers):
        return [(i - 1, i) for i in range(1, len(layers))]
    position = {fields.name(layer): i for i, layer in enumerate(layers)}
    return [(position[producer], i) for i, layer in enumerate(layers)
            for producer in layer["graph"].get("producers", []) if producer in position]


def _arc(start: int, end: int) -> tuple[list[float | None], list[float | None]]:
    """A half ellipse above the axis from ``start`` to ``end`` (a straight line for neighbours)."""
    if end - start <= 1:
        return [start, end, None], [0.0, 0.0, None]
    xs: list[float | None] = []
    ys: list[float | None] = []
    for step in range(ARC_POINTS + 1):
        t = step / ARC_POINTS
        xs.append(start + (end - start) * t)
        ys.append((end - start) ** 0.5 * 0.4 * (1 - (2 * t - 1) ** 2) ** 0.5)
    return [*xs, None], [*ys, None]


def layer_graph(report: dict[str, Any]) -> go.Figure | None:
    """The layers in execution order, coloured by module, with their data edges as arcs."""
    layers = fields.layers(report)
    if not layers:
        return None
    edge_x: list[float | None] = []
    edge_y: list[float | None] = []
    for start, end in _edges(layers):
        xs, ys = _arc(start, end)
        edge_x += xs
        edge_y += ys
    figure = go.Figure(go.Scatter(x=edge_x, y=edge_y, mode="lines", hoverinfo="skip",
                                  line={"color": "#999", "width": 1}, showlegend=False))
    for module, colour in module_colours(report).items():
        members = [(i, layer) for i, layer in enumerate(layers) if fields.module(layer) == module]
        figure.add_trace(go.Scatter(
            x=[i for i, _ in members], y=[0.0] * len(members), mode="markers", name=module,
            marker={"size": 14, "color": colour, "line": {"width": 1, "color": "#333"}},
            hovertext=[fields.hover(layer) for _, layer in members], hoverinfo="text"))
    figure.update_layout(height=260, xaxis_title="layer (execution order)",
                         yaxis={"visible": False}, margin={"t": 30})
    return figure


def _accelerator_parts(layer: dict[str, Any]) -> dict[str, float]:
    """The accelerator cycles of a layer, split into compute and non-overlapped transfers by the
    mapper's cost (compute share of its total) when the report has it."""
    device, source = fields.device_cycles(layer)
    if device is None or fields.module(layer) == fields.HOST:
        return {}
    cost = layer.get("cost", {})
    compute, total = cost.get("compute_cycles"), cost.get("total_cycles")
    if not compute or not total:
        return {f"accelerator ({source})": device}
    share = min(1.0, compute / total)
    return {f"accelerator compute ({source})": device * share,
            f"transfers, not overlapped ({source})": device * (1 - share)}


def latency_bars(report: dict[str, Any]) -> go.Figure | None:
    """Per layer, its cycles stacked: accelerator compute, transfers, each host stage."""
    layers = fields.layers(report)
    parts = []
    for layer in layers:
        stages = fields.host_stages(layer)
        host = fields.number(layer, "host_cycles")
        if not stages and host:
            stages = {"host": host}
        parts.append({**_accelerator_parts(layer), **{f"host: {k}": v for k, v in stages.items()}})
    kinds = list(dict.fromkeys(kind for part in parts for kind in part))
    if not kinds:
        return None
    names = [fields.name(layer) for layer in layers]
    hovers = [fields.hover(layer) for layer in layers]
    figure = go.Figure()
    for kind in kinds:
        figure.add_trace(go.Bar(
            x=names, y=[part.get(kind, 0.0) for part in parts], name=kind,
            hovertext=[f"{kind}<br>{text}" for text in hovers], hoverinfo="text+y"))
    figure.update_layout(barmode="stack", height=460, yaxis_title="cycles",
                         xaxis_title="layer", legend={"orientation": "h", "y": -0.35},
                         updatemenus=[_scale_buttons()])
    return figure


def _scale_buttons() -> dict[str, Any]:
    """Buttons switching the y axis between linear and log (small accelerator parts show)."""
    return {"type": "buttons", "direction": "right", "x": 1, "y": 1.15, "buttons": [
        {"label": scale, "method": "relayout", "args": [{"yaxis.type": scale}]}
        for scale in ("linear", "log")]}


def _achieved(layer: dict[str, Any]) -> float | None:
    """MACs per cycle the layer reached on its module."""
    macs = fields.number(layer, "macs")
    if fields.module(layer) == fields.HOST:
        cycles = fields.number(layer, "host_cycles")
    else:
        cycles, _ = fields.device_cycles(layer)
    return macs / cycles if macs and cycles else None


def roofline(report: dict[str, Any]) -> go.Figure | None:
    """Per module: each layer at (MACs per compulsory byte, MACs per cycle), under its roofs."""
    points: dict[str, list[tuple[float, float, str]]] = {}
    for layer in fields.layers(report):
        achieved = _achieved(layer)
        moved = layer.get("graph", {}).get("compulsory_bytes")
        if achieved is not None and moved:
            intensity = fields.number(layer, "macs") or 0.0
            points.setdefault(fields.module(layer), []).append(
                (intensity / moved, achieved, fields.hover(layer)))
    if not points:
        return None
    modules = sorted(points)
    colours = module_colours(report)
    figure = make_subplots(rows=1, cols=len(modules), subplot_titles=modules)
    for column, module in enumerate(modules, start=1):
        xs, ys, texts = zip(*points[module], strict=True)
        figure.add_trace(go.Scatter(x=xs, y=ys, mode="markers", name=module,
                                    marker={"size": 10, "color": colours[module]},
                                    hovertext=texts, hoverinfo="text+x+y"), row=1, col=column)
        roof = report.get("roofs", {}).get(module)
        if roof:
            _add_roof(figure, roof, min(xs), max(xs), column)
        figure.update_xaxes(type="log", title_text="MACs per compulsory byte", row=1, col=column)
        figure.update_yaxes(type="log", title_text="MACs per cycle", row=1, col=column)
    figure.update_layout(height=420)
    return figure


def _add_roof(figure: go.Figure, roof: dict[str, Any], low: float, high: float,
              column: int) -> None:
    peak, bandwidth = roof.get("peak_macs_per_cycle"), roof.get("bandwidth_bytes_per_cycle")
    if not peak or not bandwidth:
        return
    ridge = peak / bandwidth
    xs = [min(low, ridge) / 2, ridge, max(high, ridge) * 2]
    figure.add_trace(go.Scatter(
        x=xs, y=[min(peak, bandwidth * x) for x in xs], mode="lines", showlegend=False,
        line={"color": "#444", "dash": "dash"},
        hovertext=f"roof: {peak:g} MACs/cycle, {bandwidth:g} B/cycle from "
                  f"{roof.get('bandwidth_memory', 'memory')}", hoverinfo="text"),
        row=1, col=column)
