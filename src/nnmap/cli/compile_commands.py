"""``nnmap compile`` and ``nnmap run``: standalone C for a target, built, run and compared."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nnmap.cli import console
from nnmap.cli.baseline_table import baseline_table
from nnmap.errors import NnmapError
from nnmap.frontend import load_model, resolve_model_path
from nnmap.ir import Graph
from nnmap.plan.plan import check_numerics
from nnmap.report import deviation_entries, write_report
from nnmap.targets import resolve_target
from nnmap.verify import random_inputs

if TYPE_CHECKING:  # the code generators import TVM: loaded only when a command compiles
    from nnmap.codegen.artifact import Artifact
    from nnmap.codegen.deviation import Deviation
    from nnmap.hw import Target

NUMERICS_HELP = "exact (bit-exact with TFLite Micro) or hardware (the accelerator's own scaling)"

TARGET_HELP = "target spec (NAME or NAME:key=value,...) or a target .py file"


DB_HELP = "tuning database to read (default: the user's, where `nnmap tune` writes)"


def _compile_with_progress(graph: Graph, target: str | Target, out_dir: Path, numerics: str,
                           database: str | None = None) -> tuple[Artifact, float]:
    columns = (TextColumn("[bold]compiling[/] {task.description}"), BarColumn(),
               TextColumn("{task.completed}/{task.total} layers"), TimeElapsedColumn())
    from nnmap.compiler import compile as compile_model
    from nnmap.tuning.database import using_database

    start = time.perf_counter()
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(graph.name, total=len(graph.layers))

        def advance(index: int, count: int, name: str) -> None:
            progress.update(task, completed=index, description=f"{graph.name}: {name}")

        with using_database(None if database is None else Path(database)):
            artifact = compile_model(graph, target, out_dir, progress=advance,
                                     numerics=numerics)
        progress.update(task, completed=len(graph.layers))
    return artifact, time.perf_counter() - start


def compile_command(
    model: str = typer.Argument(..., help="a .tflite/.onnx file or zoo:NAME"),
    target: str = typer.Option("host", "--target", help=TARGET_HELP),
    out: str = typer.Option("nnmap_out", "-o", "--out", help="artifact directory"),
    numerics: str = typer.Option("exact", "--numerics", help=NUMERICS_HELP),
    db: str = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Compile MODEL to standalone C (network.h/.c, kernels, weights.c, Makefile, report.json)."""
    check_numerics(numerics)
    graph = load_model(model)
    artifact, seconds = _compile_with_progress(graph, target, Path(out), numerics, db)
    report = artifact.report
    console.print(f"wrote [bold]{artifact.path}[/] in {seconds:.1f} s: arena "
                  f"{report['arena_bytes']:,} B, weights {report['weight_bytes']:,} B, code "
                  f"{report['code_bytes']:,} B", highlight=False)


def _result_table(name: str, reference: str, deviation: Deviation, report: dict[str, Any],
                  tflm_arena: int | None, seconds: float, count: int) -> Table:
    table = Table(title=f"{name} on {report['target']}: {count} random inputs")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row(f"max |difference| vs {reference}", str(deviation.max_abs))
    if report["numerics"] != "exact":
        table.add_row("share of differing values", f"{deviation.share_differing:.2%}")
        table.add_row("top-1 agreement", f"{deviation.top1_agreement:.0%}")
    table.add_row("arena bytes (nnmap)", f"{report['arena_bytes']:,}")
    table.add_row("arena bytes (TFLite Micro head)",
                  "-" if tflm_arena is None else f"{tflm_arena:,}")
    table.add_row("weight bytes", f"{report['weight_bytes']:,}")
    table.add_row("code bytes", f"{report['code_bytes']:,}")
    table.add_row("compile time", f"{seconds:.2f} s")
    return table


def _count(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _cycle_table(report: dict[str, Any]) -> Table:
    """Per layer: module, why it runs there, emulated and modelled accelerator cycles, modelled
    host cycles, utilization; the total latency at the target clock."""
    table = Table(title=f"layers on {report['target']} ({report['numerics']} numerics)")
    columns = ("layer", "module", "emulated cycles", "modelled cycles", "host cycles (modelled)",
               "utilization", "placement")
    for column in columns:
        table.add_column(column, justify="right" if "cycles" in column or column == "utilization"
                         else "left", overflow="fold")
    for layer in report["layers"]:
        utilization = layer["utilization"]
        table.add_row(layer["name"], layer["module"], _count(layer["emulated_cycles"]),
                      _count(layer["modelled_cycles"]), _count(layer["host_cycles"]),
                      "-" if utilization is None else f"{utilization:.1%}", layer["placement"])
    latency = report["latency"]
    table.caption = (
        f"total {latency['total_cycles']:,.0f} cycles = {latency['microseconds']:,.1f} us at "
        f"{latency['clock_hz'] / 1e6:g} MHz: accelerator {latency['accelerator_cycles']:,.0f} "
        f"({latency['accelerator_source']}) + host {latency['host_cycles']:,.0f} "
        f"({latency['host_source']})"
    )
    return table


def run_command(
    model: str = typer.Argument(..., help="a .tflite/.onnx file or zoo:NAME"),
    target: str = typer.Option("host", "--target", help=TARGET_HELP),
    inputs: int = typer.Option(10, "--inputs", min=1, help="how many random inputs"),
    seed: int = typer.Option(0, "--seed", help="seed of the random inputs"),
    numerics: str = typer.Option("exact", "--numerics", help=NUMERICS_HELP),
    report: str = typer.Option(None, "--report", help="also write the HTML report there"),
    baseline: str = typer.Option(None, "--baseline", help="host-only: compare with every layer "
                                 "on the target's host core"),
    host: str = typer.Option("measured", "--host", help="host cycles: measured (the host core "
                             "emulated, when the target declares one) or modelled"),
    db: str = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Compile MODEL, build it, run random inputs and compare with TFLite Micro or the reference
    (with ``--numerics hardware``: how far the accelerator's own scaling takes the outputs)."""
    from nnmap.codegen.compare import reference_outputs_for, tflite_micro_arena_head
    from nnmap.codegen.deviation import Deviation
    check_numerics(numerics)
    if baseline not in (None, "host-only") or host not in ("measured", "modelled"):
        raise NnmapError("--baseline takes host-only; --host takes measured or modelled")
    graph = load_model(model)
    chosen = resolve_target(target)
    core = chosen.host_core if host == "measured" else None
    with tempfile.TemporaryDirectory(prefix="nnmap-run-") as work:
        artifact, seconds = _compile_with_progress(graph, target, Path(work) / graph.name,
                                                   numerics, db)
        samples = random_inputs(graph, inputs, seed)
        actual = artifact.run_batch(samples)
        path = resolve_model_path(model)
        reference, expected = reference_outputs_for(path, graph, samples)
        deviation = Deviation.between(expected, actual)
        tflm = tflite_micro_arena_head(path) if path.suffix.lower() == ".tflite" else None
        first = [x[:1] for x in samples]
        if artifact.report["emulators"]:
            artifact.measure_cycles(first)
        if core is not None:
            artifact.measure_host_cycles(core, first)
        if artifact.report["emulators"] or core is not None:
            console.print(_cycle_table(artifact.report))
        if baseline is not None:
            alone, _ = _compile_with_progress(graph, chosen.host_only(), Path(work) / "host",
                                              numerics, db)
            if core is not None:
                alone.measure_host_cycles(core, first)
            console.print(baseline_table(artifact.report, alone.report))
        console.print(_result_table(graph.name, reference, deviation, artifact.report, tflm,
                                    seconds, inputs))
        if report is not None:
            outputs = [tensor["name"] for tensor in artifact.report["outputs"]]
            written = write_report(artifact.report, Path(report), graph, resolve_target(target),
                                   deviation_entries(outputs, expected, actual))
            console.print(f"wrote [bold]{written}[/]", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``compile`` and ``run`` to ``app``."""
    app.command("compile")(compile_command)
    app.command("run")(run_command)
