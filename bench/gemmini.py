"""Gemmini end to end on the emulator: nnmap's mapping vs Gemmini's default tiling heuristic.

Both mappings go through the same code generator and run on nnmap's Gemmini emulator; every
cycle count in the tables is emulated (measured), except the "modelled" column, which is the
cost model's prediction of the same layer. Problems: a DeepBench subset (15 inference GEMMs and
15 convolutions with at most ``--max-macs`` MACs each, evenly spread over that range in MACs, so
that emulating each of them takes well under a second on one core), a few big DeepBench GEMMs
(``BIG_GEMMS``, up to 7.3e9 MACs, a few seconds each) and the four MLPerf Tiny models. The
utilization figure is over the "large" GEMMs, those whose smallest dimension (M, N, K) is at least
128; matrix-vector products (a dimension of 1) are bandwidth-bound by nature and listed apart.
Writes bench/results/gemmini.json. ``--quick`` runs 4 + 4 DeepBench problems, one big GEMM and
the models. Every layer Gemmini's backend can lower is placed on Gemmini (``place="gemmini"``),
so the bench measures the accelerator whatever the whole-cost placement would choose.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import tempfile
import time
from math import exp, log
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

import nnmap
from nnmap.codegen.artifact import Artifact
from nnmap.errors import MappingError
from nnmap.ir import Clamp, Conv2D, FullyConnected, Graph, Requant, Tensor
from nnmap.mapping.graph import LayerMapping, map_graph, with_baseline
from nnmap.targets import get_target
from nnmap.targets.gemmini.baseline import gemmini_default

ROOT = Path(__file__).resolve().parent.parent
DEEPBENCH = ROOT.parent / "shared" / "data" / "deepbench"
MLPERF = ROOT.parent / "shared" / "models" / "mlperf_tiny"
RESULTS = ROOT / "bench" / "results" / "gemmini.json"
LARGE_GEMM_DIM = 128  # "large GEMMs": smallest of M, N, K at least this
BIG_GEMMS = ("device5", "server20", "device4", "server0")  # DeepBench (set, idx), beyond --max-macs
console = Console(width=132)
RNG = np.random.default_rng(5)


def _tensor(name: str, shape: tuple[int, ...], scale: float, zero_point: int) -> Tensor:
    return Tensor(name, shape, "int8", scale, zero_point)


def _requant(channels: int) -> Requant:
    return Requant.from_scales(0.05, RNG.uniform(0.002, 0.01, channels), 0.3)


def gemm_graph(name: str, m: int, n: int, k: int) -> Graph:
    """DeepBench's ``C[m, n] = A[m, k] B[k, n]`` as one int8 fully connected layer."""
    tensors = {"x": _tensor("x", (1, m, k), 0.05, 3), "y": _tensor("y", (1, m, n), 0.3, 1)}
    layer = FullyConnected(
        name=name,
        inputs=("x",),
        output="y",
        weight=RNG.integers(-127, 128, (n, k)).astype(np.int8),
        bias=RNG.integers(-3000, 3000, n).astype(np.int32),
        requant=_requant(n),
        clamp=Clamp.int8(),
    )
    return Graph(name, tensors, (layer,), ("x",), ("y",))


def conv_graph(name: str, row: dict[str, str]) -> Graph:
    """One DeepBench inference convolution as an int8 Conv2D layer (NHWC)."""
    size = {key: int(value) for key, value in row.items() if key not in ("set",)}
    shape_in = (size["N"], size["H"], size["W"], size["C"])
    shape_out = (size["N"], size["P_out_h"], size["Q_out_w"], size["K"])
    tensors = {"x": _tensor("x", shape_in, 0.05, 3), "y": _tensor("y", shape_out, 0.3, 1)}
    layer = Conv2D(
        name=name,
        inputs=("x",),
        output="y",
        weight=RNG.integers(
            -127, 128, (size["K"], size["R_filter_h"], size["S_filter_w"], size["C"])
        ).astype(np.int8),
        bias=RNG.integers(-3000, 3000, size["K"]).astype(np.int32),
        stride=(size["stride_h"], size["stride_w"]),
        dilation=(1, 1),
        padding=(size["pad_h"], size["pad_w"], size["pad_h"], size["pad_w"]),
        groups=1,
        requant=_requant(size["K"]),
        clamp=Clamp.int8(),
    )
    return Graph(name, tensors, (layer,), ("x",), ("y",))


def _spread(rows: list[dict[str, str]], count: int, max_macs: float) -> list[dict[str, str]]:
    """``count`` rows evenly spaced (by rank of MACs) among those with at most ``max_macs``."""
    fitting = sorted((r for r in rows if int(r["macs"]) <= max_macs), key=lambda r: int(r["macs"]))
    if len(fitting) <= count:
        return fitting
    step = (len(fitting) - 1) / (count - 1)
    return [fitting[round(i * step)] for i in range(count)]


def deepbench_graphs(count: int, max_macs: float, big: int) -> list[tuple[str, Graph]]:
    with (DEEPBENCH / "deepbench_gemm_inference.csv").open() as rows:
        table = list(csv.DictReader(rows))
    gemms = _spread(table, count, max_macs)
    gemms += [r for name in BIG_GEMMS[:big] for r in table if r["set"] + r["idx"] == name]
    with (DEEPBENCH / "deepbench_conv_inference.csv").open() as rows:
        convs = _spread(list(csv.DictReader(rows)), count, max_macs)
    graphs = [
        ("gemm", gemm_graph(f"gemm_{r['set']}{r['idx']}", int(r["M"]), int(r["N"]), int(r["K"])))
        for r in gemms
    ]
    graphs += [("conv", conv_graph(f"conv_{r['set']}{r['idx']}", r)) for r in convs]
    return graphs


def baseline_mappings(graph: Graph) -> list[LayerMapping]:
    """nnmap's placement, with Gemmini's default tiling on every dense/conv Gemmini layer."""
    target = get_target("gemmini")
    mapped = map_graph(graph, target, place="gemmini")
    return with_baseline(mapped, target, "gemmini", gemmini_default)


def emulate(graph: Graph, out_dir: Path, mappings: list[LayerMapping] | None) -> dict:
    """Compile (timed), run one random input on the emulator; per Gemmini layer: cycles."""
    start = time.perf_counter()
    artifact = nnmap.compile(
        graph, target="gemmini", out_dir=out_dir, layer_mappings=mappings, place="gemmini"
    )
    seconds = time.perf_counter() - start
    inputs = [
        RNG.integers(-128, 128, graph.tensor(name).shape).astype(np.int8) for name in graph.inputs
    ]
    artifact.measure_cycles(inputs)
    layers = accelerator_layers(artifact, "gemmini")
    return {"compile_s": seconds, "layers": layers, "cycles": sum(e["emulated"] for e in layers)}


def accelerator_layers(artifact: Artifact, module: str) -> list[dict]:
    """Per layer on ``module`` (after ``measure_cycles``): emulated and modelled cycles, MACs."""
    return [
        {
            "layer": entry["name"],
            "emulated": entry["emulated_cycles"],
            "modelled": entry["modelled_cycles"],
            "macs": entry["macs"],
        }
        for entry in artifact.report["layers"]
        if entry["module"] == module
    ]


def gemm_dims(graph: Graph) -> tuple[int, int, int]:
    """(M, N, K) of a DeepBench GEMM graph."""
    _, m, k = graph.tensor(graph.inputs[0]).shape
    return m, int(graph.layers[0].weight.shape[0]), k


def run_graph(kind: str, graph: Graph, work: Path) -> dict:
    macs = sum(graph.macs(layer) for layer in graph.layers)
    ours = emulate(graph, work / "nnmap", None)
    base = emulate(graph, work / "baseline", baseline_mappings(graph))
    return {
        "kind": kind,
        "name": graph.name,
        "dims": gemm_dims(graph) if kind == "gemm" else None,
        "macs": macs,
        "gemmini_macs": sum(layer["macs"] for layer in ours["layers"]),
        "nnmap": ours,
        "baseline": base,
        "speedup": base["cycles"] / ours["cycles"] if ours["cycles"] else float("nan"),
    }


def geomean(values: list[float]) -> float:
    return exp(sum(log(v) for v in values) / len(values)) if values else float("nan")


def agreement(rows: list[dict]) -> dict:
    """|modelled - emulated| / emulated over every emulated layer (both mappings)."""
    runs = [run for row in rows for run in (row["nnmap"], row["baseline"])]
    return deviation_summary([layer for run in runs for layer in run["layers"]])


def deviation_summary(layers: list[dict]) -> dict:
    """The distribution of |modelled - emulated| / emulated over ``layers`` (as
    ``accelerator_layers`` gives them)."""
    errors = sorted(abs(e["modelled"] - e["emulated"]) / e["emulated"] for e in layers)
    return {
        "layers": len(errors),
        "min": errors[0],
        "median": statistics.median(errors),
        "p90": errors[min(len(errors) - 1, int(0.9 * len(errors)))],
        "max": errors[-1],
        "within_10pct": sum(e <= 0.10 for e in errors) / len(errors),
    }


def utilization(row: dict) -> float:
    peak = get_target("gemmini").module("gemmini").peak_macs_per_cycle
    return float(row["gemmini_macs"] / (peak * row["nnmap"]["cycles"]))


def _utilization_of(rows: list[dict]) -> dict:
    values = {r["name"]: utilization(r) for r in rows}
    return {
        "problems": len(values),
        "median": statistics.median(values.values()) if values else None,
        "min": min(values.values()) if values else None,
        "max": max(values.values()) if values else None,
        "each": values,
    }


def summarize(rows: list[dict]) -> dict:
    gemms = [r for r in rows if r["kind"] == "gemm"]
    groups = {kind: [r for r in rows if r["kind"] == kind] for kind in ("gemm", "conv", "model")}
    return {
        "speedup_geomean": {k: geomean([r["speedup"] for r in g]) for k, g in groups.items()},
        "speedup_geomean_all": geomean([r["speedup"] for r in rows]),
        "large_gemm_utilization": _utilization_of(
            [r for r in gemms if min(r["dims"]) >= LARGE_GEMM_DIM]
        ),
        "matrix_vector_utilization": _utilization_of([r for r in gemms if min(r["dims"]) == 1]),
        "compile_s": {r["name"]: r["nnmap"]["compile_s"] for r in groups["model"]},
        "model_vs_emulator": agreement(rows),
    }


def print_tables(rows: list[dict], summary: dict) -> None:
    table = Table(title="Gemmini, emulated cycles: nnmap mapping vs default tiling heuristic")
    columns = ("problem", "MACs", "nnmap", "default", "speedup", "util", "modelled", "compile s")
    for column in columns:
        table.add_column(column, justify="right")
    for r in rows:
        ours = r["nnmap"]
        modelled = sum(layer["modelled"] for layer in ours["layers"])
        table.add_row(
            r["name"],
            f"{r['macs']:.3g}",
            f"{ours['cycles']:,}",
            f"{r['baseline']['cycles']:,}",
            f"{r['speedup']:.2f}x",
            f"{utilization(r):.1%}",
            f"{modelled:,.0f}",
            f"{ours['compile_s']:.1f}",
        )
    console.print(table)
    speed = summary["speedup_geomean"]
    util = summary["large_gemm_utilization"]
    agree = summary["model_vs_emulator"]
    console.print(
        f"geomean speedup over the default heuristic: all {summary['speedup_geomean_all']:.2f}x, "
        f"GEMMs {speed['gemm']:.2f}x, convs {speed['conv']:.2f}x, models {speed['model']:.2f}x"
    )
    if util["problems"]:
        console.print(
            f"utilization of peak on {util['problems']} large GEMMs (min(M, N, K) >= "
            f"{LARGE_GEMM_DIM}): median {util['median']:.1%}, min {util['min']:.1%}, "
            f"max {util['max']:.1%}"
        )
    vector = summary["matrix_vector_utilization"]
    for name, value in vector["each"].items():
        console.print(f"matrix-vector {name} (bandwidth-bound, not in the figure): {value:.1%}")
    console.print(deviation_line(agree))


def deviation_line(agree: dict) -> str:
    """One line of ``deviation_summary``'s figures."""
    return (
        f"|modelled - emulated| / emulated over {agree['layers']} layers: min {agree['min']:.1%}"
        f" median {agree['median']:.1%} p90 {agree['p90']:.1%} max {agree['max']:.1%}; "
        f"within 10%: {agree['within_10pct']:.0%}"
    )


def run_all(problems: list[tuple[str, Graph]]) -> tuple[list[dict], dict[str, str]]:
    """Every problem's row, and why nnmap refused to compile the problems it skipped (a
    tensor over the host's memory, say)."""
    rows, skipped = [], {}
    with tempfile.TemporaryDirectory() as scratch:
        for index, (kind, graph) in enumerate(problems):
            with console.status(f"[{index + 1}/{len(problems)}] {graph.name}"):
                try:
                    rows.append(run_graph(kind, graph, Path(scratch) / str(index)))
                except MappingError as error:
                    skipped[graph.name] = str(error)
    return rows, skipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="4 GEMMs and 4 convs")
    parser.add_argument("--max-macs", type=float, default=6e8, help="largest spread problem")
    args = parser.parse_args()
    if not DEEPBENCH.exists() or not MLPERF.exists():
        console.print("skipped: ../shared (DeepBench, MLPerf Tiny) not found")
        return
    problems = deepbench_graphs(
        4 if args.quick else 15, args.max_macs, 1 if args.quick else len(BIG_GEMMS)
    )
    problems += [("model", nnmap.load_model(path)) for path in sorted(MLPERF.glob("*.tflite"))]
    rows, skipped = run_all(problems)
    summary = summarize(rows)
    print_tables(rows, summary)
    for name, reason in skipped.items():
        console.print(f"skipped {name}: {reason}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    report = {"summary": summary, "problems": rows, "skipped": skipped}
    RESULTS.write_text(json.dumps(report, indent=1))
    console.print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
