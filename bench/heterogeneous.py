"""The SoC against its host core alone: the four MLPerf Tiny models on every accelerator target,
exact and hardware numerics, with the accelerator emulated and the host measured.

For each model and target: the heterogeneous artifact (nnmap's Plan) runs one random input on
x86 (outputs) and its accelerator emulator (accelerator cycles), then the same C cross-compiled
for the target's host core runs on the instruction-set emulator (host cycles, measured, at the
target's clock; its outputs must equal the x86 run's). The host-only baseline is the same model
with every layer on that host core, measured the same way. Also the analytical host model
against the measurement, per layer with host work: |modelled - measured| / measured.

Usage: ``python bench/heterogeneous.py [--models kws_ref_model,...] [--targets gemmini,vta]``;
writes bench/results/heterogeneous.json and prints a table. Needs ../shared (the models).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

import nnmap
from nnmap.codegen.artifact import Artifact
from nnmap.hw import Target
from nnmap.targets import resolve_target
from nnmap.verify import random_inputs

ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = ROOT.parent / "shared" / "models" / "mlperf_tiny"
RESULTS = ROOT / "bench" / "results" / "heterogeneous.json"
MODELS = ("kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8")
NUMERICS = ("exact", "hardware")


def measured(graph: nnmap.Graph, target: Target, numerics: str, out: Path,
             sample: list[np.ndarray]) -> tuple[Artifact, np.ndarray]:
    """Compile, run on x86, emulate the accelerator and the host core; the x86 outputs."""
    artifact = nnmap.compile(graph, target, out, numerics=numerics)
    outputs = artifact.run(sample)[0]
    if artifact.report["emulators"]:
        artifact.measure_cycles(sample)
    assert target.host_core is not None
    artifact.measure_host_cycles(target.host_core, sample)
    return artifact, outputs


def model_errors(report: dict) -> list[float]:
    """|modelled - measured| / measured host cycles of every layer with host work."""
    return [
        abs(layer["host_modelled_cycles"] - layer["host_cycles"]) / layer["host_cycles"]
        for layer in report["layers"]
        if layer["host_cycles"] > 0
    ]


def run(models: list[str], targets: list[str]) -> tuple[list[dict], list[float]]:
    rows, errors = [], []
    for spec in targets:
        target = resolve_target(spec)
        for name in models:
            path = MODELS_DIR / f"{name}.tflite"
            graph = nnmap.load_model(path)
            sample = [x[:1] for x in random_inputs(graph, 1, seed=0)]
            with tempfile.TemporaryDirectory() as work:
                start = time.perf_counter()
                alone, baseline_out = measured(graph, target.host_only(), "exact",
                                               Path(work) / "alone", sample)
                host_only = alone.report["latency"]["total_cycles"]
                errors += model_errors(alone.report)
                for numerics in NUMERICS:
                    artifact, out = measured(graph, target, numerics, Path(work) / numerics,
                                             sample)
                    latency = artifact.report["latency"]
                    errors += model_errors(artifact.report)
                    rows.append({
                        "model": name, "target": spec, "numerics": numerics,
                        "accelerator_cycles": latency["accelerator_cycles"],
                        "host_cycles": latency["host_cycles"],
                        "total_cycles": latency["total_cycles"],
                        "host_only_cycles": host_only,
                        "speedup": host_only / latency["total_cycles"],
                        "host_share": latency["host_cycles"] / latency["total_cycles"],
                        "outputs_match_host_only": bool(
                            numerics == "hardware" or np.array_equal(out, baseline_out)
                        ),
                        "seconds": time.perf_counter() - start,
                    })
    return rows, errors


def print_table(rows: list[dict], errors: list[float]) -> None:
    table = Table(title="SoC vs host core alone (accelerator emulated, host measured)")
    for column in ("model", "target", "numerics", "accelerator", "host", "total", "host only",
                   "speed-up", "host share"):
        table.add_column(column, justify="left" if column in ("model", "target", "numerics")
                         else "right")
    for r in rows:
        table.add_row(r["model"], r["target"], r["numerics"], f"{r['accelerator_cycles']:,.0f}",
                      f"{r['host_cycles']:,.0f}", f"{r['total_cycles']:,.0f}",
                      f"{r['host_only_cycles']:,.0f}", f"{r['speedup']:.2f}x",
                      f"{r['host_share']:.0%}")
    Console().print(table)
    quantiles = statistics.quantiles(errors, n=10) if len(errors) > 1 else errors
    Console().print(
        f"analytical host model vs measured, {len(errors)} layers: median "
        f"{statistics.median(errors):.0%}, p90 {quantiles[-1]:.0%}, max {max(errors):.0%}",
        highlight=False,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--targets", default="gemmini,vta")
    args = parser.parse_args()
    rows, errors = run(args.models.split(","), args.targets.split(","))
    assert all(r["outputs_match_host_only"] for r in rows), "exact outputs differ"
    print_table(rows, errors)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"rows": rows, "host_model_errors": errors}, indent=1))


if __name__ == "__main__":
    main()
