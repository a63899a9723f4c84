"""Pareto plots of a sweep: an interactive HTML page (Plotly, its script inlined) and a PNG
(matplotlib). Latency (whole, or the accelerator's alone) against on-chip SRAM, one marker per PE
count, the front joined."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from nnmap.sweep.pareto import AREA_PROXY

PLOT_FORMATS = (".html", ".png")


LATENCY_LABELS = {"total_cycles": "latency (cycles)",
                  "accelerator_cycles": "accelerator cycles"}


def _prepared(points: pd.DataFrame) -> pd.DataFrame:
    frame = points.copy()
    frame["sram_kib"] = frame["sram_bytes"] / 1024
    frame["PEs"] = frame["processing_elements"].astype(int).astype(str)
    frame["front"] = frame["pareto"].map({True: "Pareto", False: "dominated"})
    return frame.sort_values(["model", "sram_kib", "total_cycles"])


def write_html(points: pd.DataFrame, path: Path, latency: str = "total_cycles") -> None:
    """``points`` (with a ``pareto`` column) as one self-contained HTML page, a panel per model."""
    import plotly.express as px

    frame = _prepared(points)
    figure = px.scatter(
        frame, x="sram_kib", y=latency, color="PEs", symbol="front",
        facet_col="model", facet_col_wrap=2, log_x=True, log_y=True,
        hover_data=["target", "accelerator_cycles", "host_cycles", "source"],
        labels={"sram_kib": "on-chip SRAM (KiB)", latency: LATENCY_LABELS[latency]},
        title=f"Sweep: latency against area<br><sup>{AREA_PROXY}</sup>",
    )
    figure.update_yaxes(matches=None, showticklabels=True)
    figure.update_layout(height=420 * ((frame["model"].nunique() + 1) // 2) + 120)
    figure.write_html(path, include_plotlyjs=True, full_html=True)


def write_png(points: pd.DataFrame, path: Path, latency: str = "total_cycles") -> None:
    """``points`` as a PNG, a panel per model: one colour per PE count, Pareto points filled and
    joined by a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    frame = _prepared(points)
    models = list(dict.fromkeys(frame["model"]))
    columns = min(2, len(models))
    rows = -(-len(models) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(5.5 * columns, 3.6 * rows),
                                squeeze=False)
    colours = {pes: f"C{i}" for i, pes in enumerate(sorted(frame["PEs"].unique(), key=int))}
    for axis, model in zip(axes.flat, models, strict=False):
        group = frame[frame["model"] == model]
        for pes, colour in colours.items():
            subset = group[group["PEs"] == pes]
            axis.scatter(subset["sram_kib"], subset[latency], edgecolors=colour,
                         facecolors=[colour if p else "none" for p in subset["pareto"]])
        front = group[group["pareto"]].sort_values("sram_kib")
        axis.plot(front["sram_kib"], front[latency], color="grey", linewidth=0.8, zorder=0)
        axis.set(xscale="log", title=model, xlabel="on-chip SRAM (KiB)",
                 ylabel=LATENCY_LABELS[latency])
        axis.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
        sizes = sorted(group["sram_kib"].unique())
        axis.set_xticks(sizes, [f"{size:,.0f}" for size in sizes], minor=False, rotation=60,
                        fontsize="small")
        axis.set_xticks([], minor=True)
    for axis in list(axes.flat)[len(models):]:
        axis.set_visible(False)
    handles = [Line2D([], [], marker="o", linestyle="", color=colour, label=f"{pes} PEs")
               for pes, colour in colours.items()]
    figure.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False)
    figure.suptitle(f"{LATENCY_LABELS[latency]} against the area proxy (PEs, SRAM bytes); "
                    "filled: Pareto set", fontsize="medium")
    figure.tight_layout(rect=(0, 0.05, 1, 1))
    figure.savefig(path, dpi=80)
    plt.close(figure)


def write_plot(points: pd.DataFrame, path: Path, latency: str = "total_cycles") -> None:
    """The plot of ``points`` at ``path``, HTML or PNG by its suffix."""
    if path.suffix.lower() == ".png":
        write_png(points, path, latency)
    else:
        write_html(points, path, latency)
