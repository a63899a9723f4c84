"""Defensive reading of a report dict: every accessor copes with a key an older report lacks."""

from __future__ import annotations

from typing import Any

HOST = "host"


def layers(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [layer for layer in report.get("layers", []) if isinstance(layer, dict)]


def name(layer: dict[str, Any]) -> str:
    return str(layer.get("name", f"layer {layer.get('index', '?')}"))


def module(layer: dict[str, Any]) -> str:
    return str(layer.get("module", HOST))


def number(layer: dict[str, Any], key: str) -> float | None:
    value = layer.get(key)
    return float(value) if isinstance(value, int | float) else None


def device_cycles(layer: dict[str, Any]) -> tuple[float | None, str]:
    """The accelerator cycles of a layer and their source: emulated where measured."""
    emulated = number(layer, "emulated_cycles")
    if emulated is not None:
        return emulated, "emulated"
    return number(layer, "modelled_cycles"), "modelled"


def host_stages(layer: dict[str, Any]) -> dict[str, float]:
    stages = layer.get("host_stages")
    if not isinstance(stages, dict):
        return {}
    return {str(k): float(v) for k, v in stages.items() if isinstance(v, int | float)}


def layer_cycles(layer: dict[str, Any]) -> float | None:
    """All cycles of a layer: its accelerator cycles plus its host cycles, where known."""
    total = number(layer, "total_cycles")
    if total is not None:
        return total
    device, _ = device_cycles(layer)
    host = number(layer, "host_cycles")
    return None if device is None and host is None else (device or 0.0) + (host or 0.0)


def hover(layer: dict[str, Any]) -> str:
    """The hover text of a layer: name, kind, module and the placement reason."""
    kind = layer.get("kind", "")
    reason = layer.get("placement", "placement reason not recorded")
    cycles = layer_cycles(layer)
    spent = "" if cycles is None else f"<br>{cycles:,.0f} cycles"
    return f"<b>{name(layer)}</b> ({kind}) on {module(layer)}{spent}<br>{reason}"
