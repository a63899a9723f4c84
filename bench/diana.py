"""DIANA at 260 MHz: nnmap against the RI5CY host alone and against the DORY/HTVM way of using
the digital array, on the four MLPerf Tiny models, in exact and hardware numerics.

Per model: the host-only build (plain TVM-generated C, every layer on the RI5CY core), nnmap's
plan (placement by whole cost, tiles searched, activations kept channels first and padded
between array layers) and the DORY/HTVM-style plan (every layer the array accepts offloaded,
DORY's largest tile, DORY's dense channels-first tensors: ``nnmap.targets.diana.baseline``),
each compiled, run on x86 (outputs; exact numerics must equal TFLite Micro's), its accelerator
emulated (the digital array's cycles) and its C cross-compiled for the cv32e40p and run on the
instruction-set emulator (host cycles, measured). Also: the cost model's cycles of every
digital layer against the emulator's, and which layers the array's own shift runs exactly.
MATCH's goals (diana.md): >= 60x over host-only on the best model, below the DORY-style latency
on every model.

Usage: ``python bench/diana.py [--models kws_ref_model,...] [--numerics exact,hardware]
[--samples 50]``; writes bench/results/diana.json and prints the tables. Needs ../shared.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

import nnmap
from nnmap.codegen.deviation import Deviation
from nnmap.hw import Target
from nnmap.plan.plan import Plan
from nnmap.targets import resolve_target
from nnmap.targets.diana.baseline import dory_mappings
from nnmap.targets.diana.exactness import exactness_rows
from nnmap.verify import random_inputs, tflite_micro_outputs

ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = ROOT.parent / "shared" / "models" / "mlperf_tiny"
RESULTS = ROOT / "bench" / "results" / "diana.json"
MODELS = ("kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8")
NUMERICS = ("exact", "hardware")
CONSOLE = Console(width=160)


def measured(plan: Plan, out: Path, sample: list[np.ndarray]) -> dict[str, Any]:
    """Compile ``plan``, emulate its accelerator and its host core on one input: its report."""
    artifact = nnmap.compile(plan, out_dir=out)
    if artifact.report["emulators"]:
        artifact.measure_cycles(sample)
    assert plan.target.host_core is not None
    artifact.measure_host_cycles(plan.target.host_core, sample)
    return artifact.report


def outputs_of(plan: Plan, out: Path, inputs: list[np.ndarray]) -> list[np.ndarray]:
    return nnmap.compile(plan, out_dir=out).run_batch(inputs)


def model_rows(name: str, target: Target, numerics: list[str], samples: int,
               work: Path) -> tuple[list[dict], list[float]]:
    path = MODELS_DIR / f"{name}.tflite"
    graph = nnmap.load_model(path)
    inputs = random_inputs(graph, samples, seed=0)
    sample = [x[:1] for x in inputs]
    expected = tflite_micro_outputs(path, inputs, len(graph.outputs))
    alone = measured(nnmap.plan(graph, target.host_only(), "exact"), work / "alone", sample)
    host_only = alone["latency"]["total_cycles"]
    rows, errors = [], []
    for kind in numerics:
        plans = {"nnmap": nnmap.plan(graph, target, kind),
                 "dory-style": nnmap.plan(graph, target, kind,
                                          dory_mappings(graph, target, kind))}
        latency = {}
        for flow, plan in plans.items():
            report = measured(plan, work / f"{flow}-{kind}", sample)
            latency[flow] = report["latency"]
            for layer in report["layers"]:
                if layer["module"] == "digital" and layer["emulated_cycles"]:
                    errors.append(abs(layer["modelled_cycles"] - layer["emulated_cycles"])
                                  / layer["emulated_cycles"])
            if flow == "nnmap":
                actual = outputs_of(plan, work / f"run-{kind}", inputs)
                deviation = Deviation.between(expected, actual)
                digital = sum(layer["module"] == "digital" for layer in report["layers"])
        nnmap_total = latency["nnmap"]["total_cycles"]
        rows.append({
            "model": name, "numerics": kind, "digital_layers": digital,
            "accelerator_cycles": latency["nnmap"]["accelerator_cycles"],
            "host_cycles": latency["nnmap"]["host_cycles"],
            "total_cycles": nnmap_total,
            "host_only_cycles": host_only,
            "dory_style_cycles": latency["dory-style"]["total_cycles"],
            "speedup_vs_host_only": host_only / nnmap_total,
            "vs_dory_style": nnmap_total / latency["dory-style"]["total_cycles"],
            "max_abs_vs_tflite_micro": deviation.max_abs,
            "share_differing": deviation.share_differing,
            "top1_agreement": deviation.top1_agreement,
            "samples": samples,
        })
    return rows, errors


def print_tables(rows: list[dict], errors: list[float], exact: list[dict]) -> None:
    table = Table(title="DIANA at 260 MHz: cycles (accelerator emulated, host measured on "
                        "cv32e40p)")
    for column in ("model", "numerics", "digital layers", "array", "host", "nnmap", "host only",
                   "DORY-style", "vs host only", "vs DORY-style", "max |diff|", "top-1"):
        table.add_column(column, justify="left" if column in ("model", "numerics") else "right")
    for r in rows:
        table.add_row(r["model"], r["numerics"], str(r["digital_layers"]),
                      f"{r['accelerator_cycles']:,.0f}", f"{r['host_cycles']:,.0f}",
                      f"{r['total_cycles']:,.0f}", f"{r['host_only_cycles']:,.0f}",
                      f"{r['dory_style_cycles']:,.0f}", f"{r['speedup_vs_host_only']:.2f}x",
                      f"{r['vs_dory_style']:.3f}", str(r["max_abs_vs_tflite_micro"]),
                      f"{r['top1_agreement']:.0%}")
    CONSOLE.print(table)
    within = sum(error <= 0.10 for error in errors)
    CONSOLE.print(f"cost model vs emulator, {len(errors)} digital layers: {within} within 10%,"
                    f" max {max(errors, default=0):.1%}", highlight=False)
    proven = [row for row in exact if row["exact_on_array"]]
    CONSOLE.print(f"layers the array's own shift runs exactly: {len(proven)} of {len(exact)}",
                    highlight=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--numerics", default=",".join(NUMERICS))
    parser.add_argument("--samples", type=int, default=50)
    args = parser.parse_args()
    target = resolve_target("diana")
    rows: list[dict] = []
    errors: list[float] = []
    exact: list[dict] = []
    for name in args.models.split(","):
        with tempfile.TemporaryDirectory() as work:
            found, layer_errors = model_rows(name, target, args.numerics.split(","),
                                             args.samples, Path(work))
        rows += found
        errors += layer_errors
        exact += exactness_rows(nnmap.load_model(MODELS_DIR / f"{name}.tflite"), target)
    assert all(r["max_abs_vs_tflite_micro"] == 0 for r in rows if r["numerics"] == "exact")
    print_tables(rows, errors, exact)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"rows": rows, "cost_model_errors": errors,
                                   "exactness": exact}, indent=1))


if __name__ == "__main__":
    main()
