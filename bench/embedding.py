"""The embedding solver on every conv/dense layer of the four MLPerf Tiny models, Gemmini and VTA.

For each layer and each accelerator's GEMM instruction (``embedding.dataflow.instruction_of``,
from the target's data): the fixed embedding today's code generator uses (pixels on the rows,
channels and the packed window on the reduction, output channels on the columns; a depthwise
layer has none), the solver's best, both as instruction calls and utilization of the calls, the
legal embeddings counted and the solve time (wall, one CP-SAT thread, ``--runs`` solves, median).
These are the solver's own figures, modelled: the backends lower the solver's embeddings of
depthwise layers only (emulated in ``bench/depthwise.py``), dense layers run the fixed one.
Writes bench/results/embedding.json.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path

from rich.console import Console
from rich.table import Table

import nnmap
from nnmap.embedding import fixed_embedding, search_embeddings
from nnmap.embedding.dataflow import instruction_of
from nnmap.ir.workload import workload_of
from nnmap.targets import resolve_target

ROOT = Path(__file__).resolve().parent.parent
MLPERF_DIR = ROOT.parent / "shared" / "models" / "mlperf_tiny"
MODELS = ("kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8")
# Host cycles per element an im2col gather moves (assumed: a load, a store and index arithmetic).
GATHER_CYCLES = 4.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="solves per layer (median time)")
    args = parser.parse_args()
    rows, times = [], []
    for target in ("gemmini", "vta"):
        instruction = instruction_of(resolve_target(target).accelerators[0].array)
        for model in MODELS:
            graph = nnmap.load_model(MLPERF_DIR / f"{model}.tflite")
            for layer in graph.layers:
                workload = workload_of(graph, layer)
                if workload is None or not workload.has_weights:
                    continue
                searches = [search_embeddings(workload, instruction,
                                              host_cycles_per_element=GATHER_CYCLES)
                            for _ in range(args.runs)]
                seconds = statistics.median(s.solve_seconds for s in searches)
                times.append(seconds)
                best = searches[0].best
                fixed = fixed_embedding(workload, instruction)
                rows.append({
                    "target": target, "model": model, "layer": layer.name,
                    "kind": workload.kind, "fixed_calls": fixed.calls if fixed else None,
                    "best_calls": best.embedding.calls if best else None,
                    "best_utilization": best.embedding.utilization if best else None,
                    "best": best.embedding.describe() if best else searches[0].reason,
                    "gathered": best.moved if best else None,
                    "legal": searches[0].legal, "solve_ms": seconds * 1e3,
                })
    table = Table(title="embedding solver (modelled calls; one CP-SAT thread)")
    for column in ("target", "layer", "kind", "fixed calls", "solver calls", "util", "gathered",
                   "legal", "ms", "solver's embedding"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["target"], f"{row['model'][:5]}/{row['layer']}", row["kind"],
                      str(row["fixed_calls"] or "-"), str(row["best_calls"]),
                      f"{row['best_utilization']:.0%}", str(row["gathered"]), str(row["legal"]),
                      f"{row['solve_ms']:.0f}", row["best"])
    console = Console(width=220)
    console.print(table)
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    summary = {"layers": len(times), "median_ms": statistics.median(times) * 1e3,
               "p95_ms": p95 * 1e3, "max_ms": max(times) * 1e3}
    console.print(f"solve time over {summary['layers']} layer solves: median "
                  f"{summary['median_ms']:.0f} ms, p95 {summary['p95_ms']:.0f} ms, max "
                  f"{summary['max_ms']:.0f} ms")
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "embedding.json").write_text(json.dumps({"rows": rows, "summary": summary},
                                                       indent=2))


if __name__ == "__main__":
    main()
