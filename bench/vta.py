"""VTA end to end on the emulator: nnmap vs TVM's reference VTA schedule, both emulated.

nnmap: the mapper's tiling, and the reduction embedded flexibly (the whole FY*FX*C window packed
into BLOCK_IN-wide input entries, so a 3-channel 3x3 convolution needs 2 blocks, not 9).
Reference: ``nnmap.targets.vta.baseline.vta_reference`` (the tutorial's fixed tile and loop
order) with TVM's fixed embedding, channels packed by BLOCK_IN: for a convolution with C not a
multiple of 16 the reference runs the same convolution with its input channels zero-padded to
the next multiple of 16 (what TVM's layout transform does). GEMMs embed the same way in both.
For the four MLPerf Tiny models the reference uses its tiling with nnmap's embedding (its first
layers are the only ones with C < 16), so their speedups are tiling only.

Problems: a DeepBench subset (GEMMs and convolutions up to ``--max-macs`` MACs, evenly spread,
plus every convolution with C < 16 in that range) and the four models. Cycles are VTA's emulated
cycles (host stages are not counted). Also the cost model against the emulator: per VTA layer
of every problem, both mappings, |modelled - emulated| / emulated (its distribution in the
summary). Writes bench/results/vta.json.
Every layer VTA's backend can lower is placed on VTA (``place="vta"``), so the bench measures the
accelerator whatever the whole-cost placement would choose.
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from dataclasses import replace
from math import exp, log
from pathlib import Path

import numpy as np
from gemmini import (
    DEEPBENCH,
    MLPERF,
    _spread,
    accelerator_layers,
    conv_graph,
    deviation_line,
    deviation_summary,
    gemm_graph,
)
from rich.console import Console
from rich.table import Table

import nnmap
from nnmap.ir import Conv2D, Graph
from nnmap.mapping.graph import LayerMapping, map_graph, with_baseline
from nnmap.targets import get_target
from nnmap.targets.vta.baseline import vta_reference

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "vta.json"
BLOCK_IN = 16
console = Console(width=132)
RNG = np.random.default_rng(9)


def channel_padded(graph: Graph) -> Graph:
    """A one-convolution graph with its input channels zero-padded to a multiple of BLOCK_IN."""
    (layer,) = graph.layers
    assert isinstance(layer, Conv2D)
    k, fy, fx, c = layer.weight.shape
    padded = -(-c // BLOCK_IN) * BLOCK_IN
    if padded == c:
        return graph
    weight = np.zeros((k, fy, fx, padded), np.int8)
    weight[..., :c] = layer.weight
    x = graph.tensor("x")
    tensors = {**graph.tensors, "x": replace(x, shape=(*x.shape[:-1], padded))}
    return replace(graph, tensors=tensors, layers=(replace(layer, weight=weight),))


def reference_mappings(graph: Graph) -> list[LayerMapping]:
    """nnmap's placement with TVM's reference tiling on the VTA layers."""
    target = get_target("vta")
    return with_baseline(map_graph(graph, target, place="vta"), target, "vta", vta_reference)


def emulate(graph: Graph, out_dir: Path, mappings: list[LayerMapping] | None) -> dict:
    """VTA's emulated cycles of one inference on a random input, in all and per VTA layer
    (emulated and modelled)."""
    artifact = nnmap.compile(
        graph, target="vta", out_dir=out_dir, layer_mappings=mappings, place="vta"
    )
    inputs = [
        RNG.integers(-128, 128, graph.tensor(name).shape).astype(np.int8) for name in graph.inputs
    ]
    cycles = sum(artifact.measure_cycles(inputs).values())
    return {"cycles": cycles, "layers": accelerator_layers(artifact, "vta")}


def run_problem(kind: str, graph: Graph, work: Path) -> dict:
    ours = emulate(graph, work / "nnmap", None)
    reference_graph = channel_padded(graph) if kind == "conv" else graph
    base = emulate(reference_graph, work / "reference", reference_mappings(reference_graph))
    first = graph.layers[0]
    channels = int(first.weight.shape[-1]) if isinstance(first, Conv2D) else None
    return {
        "kind": kind,
        "name": graph.name,
        "macs": sum(graph.macs(layer) for layer in graph.layers),
        "input_channels": channels,
        "nnmap_cycles": ours["cycles"],
        "reference_cycles": base["cycles"],
        "speedup": base["cycles"] / ours["cycles"] if ours["cycles"] else float("nan"),
        "nnmap_layers": ours["layers"],
        "reference_layers": base["layers"],
    }


def problems(count: int, max_macs: float) -> list[tuple[str, Graph]]:
    with (DEEPBENCH / "deepbench_gemm_inference.csv").open() as rows:
        gemms = _spread(list(csv.DictReader(rows)), count, max_macs)
    with (DEEPBENCH / "deepbench_conv_inference.csv").open() as rows:
        conv_rows = list(csv.DictReader(rows))
    few = [r for r in conv_rows if int(r["C"]) < BLOCK_IN and int(r["macs"]) <= max_macs]
    convs = _spread(conv_rows, count, max_macs)
    convs += [r for r in few if r not in convs]
    found = [
        ("gemm", gemm_graph(f"gemm_{r['set']}{r['idx']}", int(r["M"]), int(r["N"]), int(r["K"])))
        for r in gemms
    ]
    found += [("conv", conv_graph(f"conv_{r['set']}{r['idx']}", r)) for r in convs]
    found += [("model", nnmap.load_model(path)) for path in sorted(MLPERF.glob("*.tflite"))]
    return found


def geomean(values: list[float]) -> float:
    return exp(sum(log(v) for v in values) / len(values)) if values else float("nan")


def summarize(rows: list[dict]) -> dict:
    few = [r for r in rows if r["input_channels"] is not None and r["input_channels"] < BLOCK_IN]
    rest = [r for r in rows if r not in few]
    by_kind = {k: [r["speedup"] for r in rows if r["kind"] == k] for k in ("gemm", "conv", "model")}
    return {
        "speedup_geomean_all": geomean([r["speedup"] for r in rows]),
        "speedup_geomean": {k: geomean(v) for k, v in by_kind.items()},
        "few_input_channels": {
            "problems": [r["name"] for r in few],
            "speedup_geomean": geomean([r["speedup"] for r in few]),
        },
        "other_problems_speedup_geomean": geomean([r["speedup"] for r in rest]),
        "model_vs_emulator": deviation_summary(
            [layer for r in rows for run in ("nnmap", "reference") for layer in r[f"{run}_layers"]]
        ),
    }


def print_table(rows: list[dict], summary: dict) -> None:
    table = Table(title="VTA, emulated cycles: nnmap vs TVM's reference schedule")
    for column in ("problem", "C", "MACs", "nnmap", "reference", "speedup", "nnmap modelled"):
        table.add_column(column, justify="right")
    for r in sorted(rows, key=lambda r: (r["input_channels"] or BLOCK_IN) >= BLOCK_IN):
        table.add_row(
            r["name"],
            "-" if r["input_channels"] is None else str(r["input_channels"]),
            f"{r['macs']:.3g}",
            f"{r['nnmap_cycles']:,}",
            f"{r['reference_cycles']:,}",
            f"{r['speedup']:.2f}x",
            f"{sum(layer['modelled'] for layer in r['nnmap_layers']):,.0f}",
        )
    console.print(table)
    speed, few = summary["speedup_geomean"], summary["few_input_channels"]
    console.print(
        f"geomean speedup: all {summary['speedup_geomean_all']:.2f}x, GEMMs {speed['gemm']:.2f}x,"
        f" convs {speed['conv']:.2f}x, models {speed['model']:.2f}x; C < 16 "
        f"({len(few['problems'])} problems) {few['speedup_geomean']:.2f}x, the others "
        f"{summary['other_problems_speedup_geomean']:.2f}x"
    )
    console.print(f"VTA layers: {deviation_line(summary['model_vs_emulator'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="4 GEMMs and 4 convs (+ C < 16)")
    parser.add_argument("--max-macs", type=float, default=2e8, help="largest DeepBench problem")
    args = parser.parse_args()
    if not DEEPBENCH.exists() or not MLPERF.exists():
        console.print("skipped: ../shared (DeepBench, MLPerf Tiny) not found")
        return
    todo = problems(4 if args.quick else 12, args.max_macs)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for index, (kind, graph) in enumerate(todo):
            with console.status(f"[{index + 1}/{len(todo)}] {graph.name}"):
                rows.append(run_problem(kind, graph, Path(scratch) / str(index)))
    summary = summarize(rows)
    print_table(rows, summary)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"summary": summary, "problems": rows}, indent=1))
    console.print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
