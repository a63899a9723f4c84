"""Mapping quality and speed: DeepBench inference GEMM and conv problems on gemmini and vta.

Per problem: nnmap's modelled cycles, the roofline bound (max of compute-bound and bandwidth-bound
cycles) and the baseline's modelled cycles (Gemmini's default heuristics / TVM's VTA schedule),
all under the same cost model; then geomeans, search times, and the time to map each MLPerf Tiny
model. Writes bench/results/mapping.json. ``--quick`` runs every 8th problem.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import time
from collections.abc import Callable
from math import exp, log
from pathlib import Path

from rich.console import Console
from rich.table import Table

from nnmap.hw import ExecModule
from nnmap.ir.workload import Workload, conv_workload, gemm_workload
from nnmap.mapping.bounds import roofline_cycles
from nnmap.mapping.cost import cost
from nnmap.mapping.graph import map_graph
from nnmap.mapping.model import Mapping
from nnmap.mapping.problem import problem_of
from nnmap.mapping.search import search_result
from nnmap.targets import get_target
from nnmap.targets.gemmini.baseline import gemmini_default
from nnmap.targets.vta.baseline import vta_reference

ROOT = Path(__file__).resolve().parent.parent
DEEPBENCH = ROOT.parent / "shared" / "data" / "deepbench"
MLPERF = ROOT.parent / "shared" / "models" / "mlperf_tiny"
RESULTS = ROOT / "bench" / "results" / "mapping.json"
BASELINES: dict[str, Callable[[Workload, ExecModule], Mapping]] = {
    "gemmini": gemmini_default,
    "vta": vta_reference,
}
console = Console()


def deepbench_problems(quick: bool) -> list[tuple[str, Workload]]:
    problems = []
    with (DEEPBENCH / "deepbench_gemm_inference.csv").open() as rows:
        for row in csv.DictReader(rows):
            name = f"gemm-{row['set']}{row['idx']}"
            problems.append(
                ("gemm", gemm_workload(name, int(row["M"]), int(row["N"]), int(row["K"])))
            )
    with (DEEPBENCH / "deepbench_conv_inference.csv").open() as rows:
        for row in csv.DictReader(rows):
            name = f"conv-{row['set']}{row['idx']}"
            pad_h, pad_w = int(row["pad_h"]), int(row["pad_w"])
            problems.append(
                (
                    "conv",
                    conv_workload(
                        name,
                        batch=int(row["N"]),
                        in_channels=int(row["C"]),
                        out_channels=int(row["K"]),
                        out_height=int(row["P_out_h"]),
                        out_width=int(row["Q_out_w"]),
                        kernel=(int(row["R_filter_h"]), int(row["S_filter_w"])),
                        stride=(int(row["stride_h"]), int(row["stride_w"])),
                        padding=(pad_h, pad_w, pad_h, pad_w),
                    ),
                )
            )
    return problems[::8] if quick else problems


def geomean(values: list[float]) -> float:
    return exp(sum(log(v) for v in values) / len(values)) if values else float("nan")


def run_problem(kind: str, workload: Workload, target: str, budget: float) -> dict:
    module = get_target(target).accelerators[0]
    found = search_result(workload, module, budget)
    baseline = cost(workload, BASELINES[target](workload, module), module)
    return {
        "target": target,
        "kind": kind,
        "name": workload.name,
        "macs": workload.macs,
        "nnmap_cycles": found.cost.total_cycles,
        "compute_cycles": found.cost.compute_cycles,
        "roofline_cycles": roofline_cycles(problem_of(workload, module)),
        "baseline_cycles": baseline.total_cycles,
        "baseline_fits": baseline.fits,
        "search_s": found.seconds,
        "proven_optimal": found.complete,
        "mapping": found.mapping.describe_level(0),
    }


def summarize(rows: list[dict]) -> dict:
    times = sorted(row["search_s"] for row in rows)
    return {
        "problems": len(rows),
        "roofline_fraction_geomean": geomean(
            [r["roofline_cycles"] / r["nnmap_cycles"] for r in rows]
        ),
        "speedup_over_baseline_geomean": geomean(
            [r["baseline_cycles"] / r["nnmap_cycles"] for r in rows]
        ),
        "search_ms_median": 1000 * statistics.median(times),
        "search_ms_p95": 1000 * times[min(len(times) - 1, int(0.95 * len(times)))],
        "proven_optimal": sum(r["proven_optimal"] for r in rows),
    }


def mlperf_times(budget: float) -> dict[str, dict] | str:
    if not MLPERF.exists():
        return f"skipped: {MLPERF} not found"
    from nnmap import load_model

    result: dict[str, dict] = {}
    for path in sorted(MLPERF.glob("*.tflite")):
        try:
            graph = load_model(str(path))
        except Exception as error:  # the frontend may not handle this model yet
            result[path.stem] = {"error": f"load_model failed: {error}"}
            continue
        for target in ("host", "gemmini", "vta", "diana", "gap9"):
            start = time.perf_counter()
            layers = map_graph(graph, get_target(target), budget)
            result[f"{path.stem}@{target}"] = {
                "layers": len(layers),
                "seconds": time.perf_counter() - start,
                "cycles": sum(layer.cost.total_cycles for layer in layers),
            }
    return result


def print_problems(rows: list[dict]) -> None:
    table = Table(title="per problem (modelled cycles)")
    for column in ("target", "problem", "MACs", "nnmap", "roofline", "baseline", "search ms"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(
            r["target"],
            r["name"],
            f"{r['macs']:.3g}",
            f"{r['nnmap_cycles']:.4g}",
            f"{r['roofline_cycles']:.4g}",
            f"{r['baseline_cycles']:.4g}",
            f"{1000 * r['search_s']:.0f}",
        )
    console.print(table)


def print_tables(summaries: dict[str, dict], models: dict[str, dict] | str) -> None:
    table = Table(title="nnmap mapping on DeepBench inference (modelled cycles)")
    for column in (
        "target / set",
        "problems",
        "roofline / nnmap",
        "speedup vs baseline",
        "search median ms",
        "search p95 ms",
        "proven optimal",
    ):
        table.add_column(column, justify="right")
    for key, s in summaries.items():
        table.add_row(
            key,
            str(s["problems"]),
            f"{s['roofline_fraction_geomean']:.1%}",
            f"{s['speedup_over_baseline_geomean']:.2f}x",
            f"{s['search_ms_median']:.0f}",
            f"{s['search_ms_p95']:.0f}",
            str(s["proven_optimal"]),
        )
    console.print(table)
    if isinstance(models, str):
        console.print(f"MLPerf Tiny: {models}")
        return
    model_table = Table(title="MLPerf Tiny: whole-model mapping time")
    for column in ("model@target", "layers", "mapping s", "modelled cycles"):
        model_table.add_column(column, justify="right")
    for name, row in models.items():
        if "error" in row:
            model_table.add_row(name, "-", "-", row["error"][:60])
        else:
            model_table.add_row(
                name, str(row["layers"]), f"{row['seconds']:.2f}", f"{row['cycles']:.3g}"
            )
    console.print(model_table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="every 8th DeepBench problem")
    parser.add_argument("--problems", action="store_true", help="also print every problem")
    parser.add_argument("--budget", type=float, default=2.0, help="search budget per layer (s)")
    args = parser.parse_args()
    if not DEEPBENCH.exists():
        console.print(f"skipped: {DEEPBENCH} not found (../shared is absent)")
        return
    rows = []
    problems = deepbench_problems(args.quick)
    for target in ("gemmini", "vta"):
        with console.status(f"mapping {len(problems)} problems on {target}"):
            rows += [
                run_problem(kind, workload, target, args.budget) for kind, workload in problems
            ]
    summaries = {
        f"{target} / {kind}": summarize(
            [r for r in rows if r["target"] == target and r["kind"] == kind]
        )
        for target in ("gemmini", "vta")
        for kind in ("gemm", "conv")
    }
    summaries["all"] = summarize(rows)
    if args.problems:
        print_problems(rows)
    models = mlperf_times(args.budget)
    print_tables(summaries, models)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps({"summary": summaries, "mlperf_tiny": models, "problems": rows}, indent=1)
    )
    console.print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
