"""The table of ``nnmap run --baseline host-only``: each layer's cycles on the heterogeneous SoC
next to its cycles with every layer on the host core, and the speed-up in total."""

from __future__ import annotations

from typing import Any

from rich.table import Table


def _speedup(alone: float, together: float) -> str:
    return f"{alone / together:.2f}x" if together else "-"


def baseline_table(together: dict[str, Any], alone: dict[str, Any]) -> Table:
    """Per layer: where it runs, its cycles there (accelerator + host), its cycles on the host
    alone, the speed-up; the totals as the caption (each report says what was measured)."""
    table = Table(title=f"{together['target']} vs {alone['target']}")
    for column in ("layer", "module", "cycles (SoC)", "cycles (host only)", "speed-up"):
        table.add_column(column, justify="left" if column in ("layer", "module") else "right")
    host_only = {layer["name"]: layer["total_cycles"] for layer in alone["layers"]}
    for layer in together["layers"]:
        cycles, baseline = layer["total_cycles"], host_only.get(layer["name"], 0.0)
        table.add_row(layer["name"], layer["module"], f"{cycles:,.0f}", f"{baseline:,.0f}",
                      _speedup(baseline, cycles))
    soc, host = together["latency"], alone["latency"]
    table.caption = (
        f"total {soc['total_cycles']:,.0f} cycles (accelerator {soc['accelerator_source']}, host "
        f"{soc['host_source']}) vs {host['total_cycles']:,.0f} host only ({host['host_source']}): "
        f"{_speedup(host['total_cycles'], soc['total_cycles'])}"
    )
    return table
