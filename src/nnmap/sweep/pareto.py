"""The Pareto set of a sweep: per model, the points no other point beats on latency and on both
halves of the area proxy (processing elements and on-chip SRAM bytes) at once."""

from __future__ import annotations

import pandas as pd

from nnmap.sweep.evaluate import OK

AREA = ("processing_elements", "sram_bytes")
LATENCIES = ("total_cycles", "accelerator_cycles")
AREA_PROXY = (
    "area proxy: processing elements (sum of array lanes) and on-chip SRAM bytes, kept apart; "
    "a point is on the Pareto front when no other point has no more cycles, no more PEs and no "
    "more SRAM bytes, and fewer of one"
)


def _dominated(costs: pd.DataFrame) -> list[bool]:
    values = costs.to_numpy(dtype=float)
    flags = []
    for row in values:
        no_worse = (values <= row).all(axis=1)
        better = (values < row).any(axis=1)
        flags.append(bool((no_worse & better).any()))
    return flags


def with_pareto(table: pd.DataFrame, latency: str = "total_cycles") -> pd.DataFrame:
    """The successful points of ``table`` with a boolean ``pareto`` column, per model, for the
    ``latency`` column (the whole latency, or the accelerator's cycles alone)."""
    ok = table[table["status"] == OK].copy()
    ok["pareto"] = False
    for _, group in ok.groupby("model"):
        objectives = group[[latency, *AREA]]
        ok.loc[group.index, "pareto"] = [not flag for flag in _dominated(objectives)]
    return ok


def overall(table: pd.DataFrame, latency: str = "total_cycles") -> pd.DataFrame:
    """Per target spec evaluated on every model: the summed cycles over the models, and whether
    that point is Pareto-optimal for the sum of ``latency``."""
    ok = table[table["status"] == OK]
    models = ok["model"].nunique()
    complete = ok.groupby("target").filter(lambda group: group["model"].nunique() == models)
    summed = complete.groupby("target", as_index=False).agg(
        **{column: (column, "sum") for column in LATENCIES},
        processing_elements=("processing_elements", "first"),
        sram_bytes=("sram_bytes", "first"),
    )
    summed["model"] = "all models"
    summed["status"] = OK
    return with_pareto(summed, latency)
