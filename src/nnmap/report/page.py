"""One self-contained HTML page from a report dict: a summary, the figures (Plotly, its script
inlined once), a note in place of each figure the report lacks data for, and the layer table."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

from nnmap.report import charts, fields, usage

STYLE = """
body { font-family: sans-serif; margin: 1.5em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; }
td, th { border: 1px solid #ccc; padding: 2px 6px; text-align: left; }
td.n { text-align: right; }
p.note { color: #777; font-style: italic; }
"""


@dataclass(frozen=True)
class Section:
    """A figure of the page: its title, what it shows, how to build it, what is missing without."""

    title: str
    caption: str
    build: Callable[[dict[str, Any]], go.Figure | None]
    missing: str


SECTIONS = (
    Section("Layer graph", "Layers in execution order, coloured by the module that runs them; "
            "arcs are data edges. Hover a layer for why it runs there.", charts.layer_graph,
            "the report has no layers"),
    Section("Latency per layer", "Cycles per layer, stacked: accelerator compute, transfers the "
            "accelerator does not overlap with compute, and each host stage.",
            charts.latency_bars, "the report has no per-layer cycles"),
    Section("Roofline per module", "Each layer at its MACs per compulsory byte (inputs, weights, "
            "output moved once) and the MACs per cycle it reached; dashed: the module's peak and "
            "the bandwidth of its outermost memory.", charts.roofline,
            "needs each layer's compulsory bytes (render with the model: --model)"),
    Section("Memory use", "Per layer: the arena bytes in use up to the highest live tensor, and "
            "the bytes each accelerator memory holds for that layer's mapping.", usage.memory_use,
            "needs each layer's inputs and mapping footprint (render with the model: --model)"),
    Section("Deviation per output", "How many output values differ from the reference by each "
            "|difference| (hardware numerics).", usage.deviation,
            "no deviation recorded: `nnmap run --numerics hardware --report FILE` records it"),
)


def _summary(report: dict[str, Any]) -> str:
    latency = report.get("latency", {})
    rows = [
        ("model", report.get("model")), ("target", report.get("target")),
        ("numerics", report.get("numerics")), ("MACs", report.get("macs")),
        ("total cycles", latency.get("total_cycles")),
        ("accelerator cycles", latency.get("accelerator_cycles")),
        ("accelerator cycles from", latency.get("accelerator_source")),
        ("host cycles (modelled)", latency.get("host_cycles")),
        ("latency (us)", latency.get("microseconds")),
        ("arena bytes", report.get("arena_bytes")), ("weight bytes", report.get("weight_bytes")),
        ("code bytes", report.get("code_bytes")),
    ]
    return _table(["measure", "value"], [[k, v] for k, v in rows if v is not None])


def _cell(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:g}"
        return f'<td class="n">{text}</td>'
    return f"<td>{html.escape('-' if value is None else str(value))}</td>"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _layer_table(report: dict[str, Any]) -> str:
    rows = []
    for layer in fields.layers(report):
        device, source = fields.device_cycles(layer)
        rows.append([fields.name(layer), layer.get("kind"), fields.module(layer), device,
                     None if device is None else source, fields.number(layer, "host_cycles"),
                     layer.get("placement")])
    return _table(["layer", "kind", "module", "accelerator cycles", "from", "host cycles",
                   "placement"], rows)


def _figure_html(figure: go.Figure, first: bool) -> str:
    return str(figure.to_html(full_html=False, include_plotlyjs=first,
                              config={"displaylogo": False, "responsive": True}))


def render(report: dict[str, Any]) -> str:
    """The HTML page of ``report`` (a report.json dict, possibly enriched)."""
    title = f"nnmap report: {report.get('model', '?')} on {report.get('target', '?')}"
    parts = [f"<h1>{html.escape(title)}</h1>", _summary(report)]
    scripted = False
    for section in SECTIONS:
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        figure = section.build(report)
        if figure is None:
            parts.append(f'<p class="note">Not shown: {html.escape(section.missing)}.</p>')
            continue
        parts.append(f"<p>{html.escape(section.caption)}</p>")
        parts.append(_figure_html(figure, first=not scripted))
        scripted = True
    parts += ["<h2>Layers</h2>", _layer_table(report)]
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{html.escape(title)}"
            f"</title><style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")
