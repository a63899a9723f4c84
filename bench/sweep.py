"""Design-space sweep: a Gemmini grid (mesh dim x scratchpad x accumulator, 3 x 3 x 2 = 18
configurations) over the four MLPerf Tiny models, cost model only, on a Dask LocalCluster of 1 and
of 2 worker processes. Reports the wall time of each and the speed-up, checks both runs agree,
prints the Pareto set per model and over the summed cycles, writes bench/results/sweep.json and
the Pareto plot docs/sweep_pareto.png. ``--quick``: a 2 x 2 x 1 grid.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from importlib import import_module
from pathlib import Path

import pandas as pd
from distributed import Client, LocalCluster
from rich.console import Console
from rich.table import Table

from nnmap.sweep import AREA_PROXY, Point, expand_grid, grid_points, overall, sweep, with_pareto
from nnmap.sweep.plot import write_png
from nnmap.sweep.table import read_table

ROOT = Path(__file__).resolve().parent.parent
MLPERF = ROOT.parent / "shared" / "models" / "mlperf_tiny"
MODELS = ["kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8"]
GRID = ["dim=8,16,32", "scratchpad_kib=64,256,512", "accumulator_kib=16,64"]
QUICK_GRID = ["dim=8,16", "scratchpad_kib=64,256"]
RESULTS = ROOT / "bench" / "results" / "sweep.json"
PLOTS = {"total_cycles": ROOT / "docs" / "sweep_pareto.png",
         "accelerator_cycles": ROOT / "docs" / "sweep_pareto_accelerator.png"}
console = Console()


def models() -> list[str]:
    """The MLPerf Tiny files in ../shared, else the zoo's versions of the same networks."""
    paths = [MLPERF / f"{name}.tflite" for name in MODELS]
    if all(path.exists() for path in paths):
        return [str(path) for path in paths]
    console.print("[yellow]../shared is absent: sweeping the zoo's models instead[/]")
    return ["zoo:kws", "zoo:vww", "zoo:resnet8", "zoo:autoencoder"]


def timed_sweep(workers: int, points: list[Point], output: Path) -> tuple[float, float]:
    """(cluster start-up seconds, sweep seconds) on a new local cluster of ``workers``; the
    start-up includes importing nnmap on every worker, so the sweep time is evaluation only."""
    start = time.perf_counter()
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.run(import_module, "nnmap.sweep.evaluate")
        started = time.perf_counter()
        sweep(client, points, output)
        return started - start, time.perf_counter() - started


def short(model: str) -> str:
    return Path(model).stem.removeprefix("zoo:")


def pareto_table(front: pd.DataFrame, title: str, latency: str) -> Table:
    table = Table(title=title)
    for column in ("model", "target", latency.replace("_", " "), "PEs", "SRAM KiB"):
        table.add_column(column, justify="left" if column in ("model", "target") else "right")
    for row in front.sort_values(["model", latency]).itertuples():
        table.add_row(short(str(row.model)), str(row.target), f"{getattr(row, latency):,.0f}",
                      f"{row.processing_elements:,.0f}", f"{row.sram_bytes / 1024:,.0f}")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a 2 x 2 grid")
    arguments = parser.parse_args()
    grid = QUICK_GRID if arguments.quick else GRID
    points = grid_points(models(), expand_grid("gemmini", grid))
    timings = {}
    tables = {}
    with tempfile.TemporaryDirectory(prefix="nnmap-bench-sweep-") as work:
        for workers in (1, 2):
            output = Path(work) / f"sweep_{workers}.parquet"
            load = os.getloadavg()[0]  # the machine is shared: the load says how noisy this is
            startup, seconds = timed_sweep(workers, points, output)
            timings[workers] = {"startup_s": round(startup, 2), "sweep_s": round(seconds, 2),
                                "load_average_before": round(load, 2)}
            tables[workers] = read_table(output).sort_values(["model", "target"])
            console.print(f"{workers} worker(s): {len(points)} points in {seconds:.1f} s "
                          f"(cluster start {startup:.1f} s, load average before {load:.1f})")
    compared = ["model", "target", "status", "total_cycles", "processing_elements", "sram_bytes"]
    agree = tables[1][compared].reset_index(drop=True).equals(
        tables[2][compared].reset_index(drop=True))
    table = tables[2]
    failed = table[table["status"] != "ok"]
    speedup = timings[1]["sweep_s"] / timings[2]["sweep_s"]
    fronts = {latency: report_fronts(table, latency) for latency in PLOTS}
    console.print(f"{AREA_PROXY}.\nspeed-up with 2 workers: {speedup:.2f}x; runs agree: {agree}; "
                  f"failed points: {len(failed)}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "grid": grid, "models": [short(m) for m in models()], "points": len(points),
        "timings": timings, "speedup_2_workers": round(speedup, 2), "runs_agree": agree,
        "area_proxy": AREA_PROXY,
        "failed": failed[["model", "target", "reason"]].to_dict("records"),
        "pareto": fronts,
        "rows": table.to_dict("records"),
    }, indent=1, default=str))
    console.print(f"wrote {RESULTS} and {', '.join(str(p) for p in PLOTS.values())}")


def report_fronts(table: pd.DataFrame, latency: str) -> dict[str, object]:
    """Print the Pareto sets for ``latency`` (per model and summed), plot them, return them."""
    marked = with_pareto(table, latency)
    combined = overall(marked, latency)
    console.print(pareto_table(marked[marked["pareto"]], "Pareto set per model", latency))
    console.print(pareto_table(combined[combined["pareto"]],
                               "Pareto set over the summed cycles of the four models", latency))
    PLOTS[latency].parent.mkdir(parents=True, exist_ok=True)
    write_png(marked.assign(model=marked["model"].map(short)), PLOTS[latency], latency)
    columns = ["model", "target", latency, "processing_elements", "sram_bytes"]
    return {"per_model": marked[marked["pareto"]][columns].to_dict("records"),
            "overall": combined[combined["pareto"]][columns].to_dict("records")}


if __name__ == "__main__":
    main()
