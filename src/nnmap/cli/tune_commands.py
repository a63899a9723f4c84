"""``nnmap tune``: measure the host kernels' schedules into the tuning database, or list it."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nnmap.cli import console
from nnmap.cli.compile_commands import TARGET_HELP
from nnmap.errors import NnmapError
from nnmap.frontend import load_model
from nnmap.targets import resolve_target
from nnmap.tuning.budget import Budget
from nnmap.tuning.database import TuningDatabase, TuningRecord, default_database_path

DEFAULT_TRIALS = 24


def _microseconds(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e6:.1f}"


def _schedule_text(record: TuningRecord | None) -> str:
    if record is None:
        return "-"
    if not record.schedule:
        return "default"
    return " ".join(f"{knob}={value}" for knob, value in record.schedule.items())


def show_table(database: TuningDatabase) -> Table:
    """The best record of every (workload, target, CPU) in the database, and how many points
    were measured."""
    groups: dict[tuple[str, str, tuple[str, ...]], list[TuningRecord]] = {}
    for record in database.records():
        groups.setdefault((record.workload, record.target, record.cpu_features), []).append(
            record)
    table = Table(title=f"tuning database {database.path}")
    for column in ("workload", "target", "CPU", "measured", "default us", "best us", "schedule"):
        table.add_column(column, justify="right" if column.endswith(("us", "measured")) else
                         "left")
    for (workload, target, features), records in sorted(groups.items()):
        best = min(records, key=lambda r: r.seconds)
        default = next((r.seconds for r in records if not r.schedule), None)
        table.add_row(workload, target, " ".join(features), str(len(records)),
                      _microseconds(default), _microseconds(best.seconds), _schedule_text(best))
    return table


def tune_command(
    model: str = typer.Argument(None, help="a .tflite/.onnx file or zoo:NAME (not with --show)"),
    target: str = typer.Option("host", "--target", help=TARGET_HELP),
    trials: int = typer.Option(None, "--trials", help="candidates per workload "
                               f"(default {DEFAULT_TRIALS} without --minutes)"),
    minutes: float = typer.Option(None, "--minutes", help="wall-time budget of the whole run"),
    db: str = typer.Option(None, "--db", help="tuning database (default: the user's cache)"),
    show: bool = typer.Option(False, "--show", help="list the database's best schedules"),
) -> None:
    """Time schedules of MODEL's host convolution and dense kernels on this machine and keep
    every measurement in the tuning database (resumable: measured points are skipped)."""
    database = TuningDatabase(Path(db) if db is not None else default_database_path())
    if show:
        console.print(show_table(database))
        return
    if model is None:
        raise NnmapError("nnmap tune: give a MODEL to tune, or --show to list the database")
    budget = Budget(trials if trials is not None or minutes is not None else DEFAULT_TRIALS,
                    None if minutes is None else minutes * 60)
    from nnmap.tuning.tuner import tune_graph

    graph = load_model(model)
    target_name = resolve_target(target).name
    columns = (TextColumn("[bold]tuning[/] {task.description}"), BarColumn(),
               MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(graph.name, total=None)

        def advance(key: str, done: int, total: int) -> None:
            progress.update(task, completed=done, total=total, description=key[:60])

        results = tune_graph(graph, target_name, database, budget, advance)
    table = Table(title=f"{graph.name} on {target_name}: {database.path}")
    for column in ("layers", "measured", "rejected", "default us", "best us", "speed-up",
                   "schedule"):
        table.add_column(column, justify="left" if column in ("layers", "schedule") else "right")
    for result in results:
        best = None if result.best is None else result.best.seconds
        ratio = "-" if best is None or result.default_seconds is None else (
            f"{result.default_seconds / best:.2f}x")
        table.add_row(", ".join(result.layers), str(result.measured), str(result.rejected),
                      _microseconds(result.default_seconds), _microseconds(best), ratio,
                      _schedule_text(result.best))
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``tune`` to ``app``."""
    app.command("tune")(tune_command)
