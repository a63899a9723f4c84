"""``nnmap report`` (the HTML report of an artifact) and ``nnmap sweep`` (a design-space sweep on
Dask, its table and Pareto plot)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nnmap.cli import console
from nnmap.errors import NnmapError
from nnmap.frontend import load_model
from nnmap.hw import Target
from nnmap.report import read_artifact_report, write_report
from nnmap.sweep import (
    AREA_PROXY,
    Point,
    PointResult,
    dask_client,
    expand_grid,
    grid_points,
    overall,
    sweep,
    with_pareto,
)
from nnmap.sweep.evaluate import OK
from nnmap.sweep.plot import PLOT_FORMATS, write_plot
from nnmap.sweep.table import check_output, read_table
from nnmap.targets import resolve_target

log = logging.getLogger(__name__)

LATENCY_CHOICES = ("total", "accelerator")


def report_target(name: str | None) -> Target | None:
    """The Target a report names, for its roofs; None (with a warning) when it is not known."""
    if name is None:
        return None
    try:
        return resolve_target(name)
    except NnmapError as error:
        log.warning("no roofs in the report: %s", error)
        return None


def report_command(
    artifact: str = typer.Argument(..., help="an artifact directory written by nnmap compile"),
    out: str = typer.Option("report.html", "-o", "--out", help="the HTML file to write"),
    model: str = typer.Option(None, "--model", help="the compiled model (adds the graph edges, "
                              "roofline and memory use)"),
) -> None:
    """Render ARTIFACT's report.json as one self-contained HTML page."""
    report = read_artifact_report(Path(artifact))
    graph = load_model(model) if model else None
    target = report_target(report.get("target")) if graph is not None else None
    path = write_report(report, Path(out), graph, target)
    console.print(f"wrote [bold]{path}[/] ({path.stat().st_size:,} bytes)", highlight=False)


def _progress() -> Progress:
    return Progress(TextColumn("[bold]sweep[/] {task.description}"), BarColumn(),
                    MofNCompleteColumn(), TimeElapsedColumn(), console=console)


def _pareto_table(points: list[dict[str, object]], title: str, latency: str) -> Table:
    table = Table(title=title)
    for column in ("model", "target", latency.replace("_", " "), "PEs", "SRAM KiB"):
        table.add_column(column, justify="left" if column in ("model", "target") else "right")
    for point in points:
        table.add_row(str(point["model"]), str(point["target"]), f"{point[latency]:,.0f}",
                      f"{point['processing_elements']:,.0f}",
                      f"{float(point['sram_bytes']) / 1024:,.0f}")  # type: ignore[arg-type]
    return table


def _run_sweep(points: list[Point], output: Path, scheduler: str | None, workers: int,
               emulate: bool) -> list[PointResult]:
    with dask_client(scheduler, workers) as client, _progress() as progress:
        task = progress.add_task("", total=len(points))

        def started(skipped: int, pending: int) -> None:
            progress.update(task, total=pending, description=f"({skipped} points already done)")

        def finished(result: PointResult) -> None:
            progress.advance(task)
            if result.status != OK:
                progress.console.print(f"[yellow]failed[/] {result.model} on {result.target}: "
                                       f"{result.reason}", highlight=False)

        return sweep(client, points, output, emulate, started, finished)


def sweep_command(
    models: Annotated[list[str], typer.Argument(help="models: .tflite/.onnx files or zoo:NAME")],
    target: str = typer.Option(..., "--target", help="the target generator whose parameters vary"),
    grid: Annotated[list[str] | None, typer.Option(
        "--grid", help="NAME=V1,V2,... (repeat per parameter)")] = None,
    out: str = typer.Option("sweep.parquet", "-o", "--out",
                             help="the table (.parquet or .csv); points already in it are "
                                  "skipped"),
    plot: str = typer.Option(None, "--plot", help="the Pareto plot, .html or .png (default: "
                              "the table's name with .html)"),
    emulate: bool = typer.Option(False, "--emulate", help="compile and run on the emulator "
                                 "instead of the cost model"),
    scheduler: str = typer.Option(None, "--scheduler", help="address of a running Dask "
                                  "scheduler (default: a local cluster)"),
    workers: int = typer.Option(2, "--workers", min=1, help="worker processes of the local "
                                "cluster"),
    latency: str = typer.Option("total", "--latency", help="the Pareto objective: total "
                                "(host stages included) or accelerator (its cycles alone)"),
) -> None:
    """Evaluate every MODEL on every point of the target's --grid, one Dask task per point."""
    logging.getLogger("distributed").setLevel(logging.WARNING)
    if latency not in LATENCY_CHOICES:
        raise NnmapError(f"--latency {latency}: choose total or accelerator")
    objective = f"{latency}_cycles"
    table_path = Path(out)
    check_output(table_path)
    plot_path = Path(plot) if plot else table_path.with_suffix(".html")
    if plot_path.suffix.lower() not in PLOT_FORMATS:
        raise NnmapError(f"--plot {plot_path}: write the plot as .html or .png")
    points = grid_points(models, expand_grid(target, grid or []))
    results = _run_sweep(points, table_path, scheduler, workers, emulate)
    table = read_table(table_path)
    wanted = {(point.model, point.target) for point in points}
    in_sweep = [key in wanted for key in zip(table["model"], table["target"], strict=True)]
    marked = with_pareto(table[in_sweep], objective)
    if marked.empty:
        raise NnmapError(f"{out}: no point of the sweep succeeded (see the reasons above)")
    write_plot(marked, plot_path, objective)
    front = marked[marked["pareto"]].sort_values(["model", objective])
    console.print(_pareto_table(front.to_dict("records"), "Pareto set per model", objective))
    if len(models) > 1:
        combined = overall(marked, objective)
        console.print(_pareto_table(combined[combined["pareto"]].to_dict("records"),
                                    "Pareto set over the summed cycles of all models", objective))
    failed = sum(result.status != OK for result in results)
    console.print(f"{AREA_PROXY}.", highlight=False)
    console.print(f"{len(results)} points run ({failed} failed), table [bold]{out}[/], plot "
                  f"[bold]{plot_path}[/]", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``report`` and ``sweep`` to ``app``."""
    app.command("report")(report_command)
    app.command("sweep")(sweep_command)
