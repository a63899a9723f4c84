"""The SoC against its host core alone: the four MLPerf Tiny models on every accelerator target,
exact and hardware numerics, with the accelerator emulated and the host measured.

For each model and target: the heterogeneous artifact (nnmap's Plan) runs one random input on
x86 (outputs) and its accelerator emulator (accelerator cycles), then the same C cross-compiled
for the target's host core runs on the instruction-set emulator (host cycles, measured, at the
target's clock; its outputs must equal the x86 run's). The host-only baseline is the same model
with every layer on that host core, measured the same way. Also the analytical host model
against the measurement, per layer with host work: |modelled - measured| / measured, before
calibration (the assumed operation rates, the same placements) and after (the host core's
calibration from bench/calibrate_host.py, which the mapper used).

Usage: ``python bench/heterogeneous.py [--models kws_ref_model,...] [--targets gemmini,vta]
[--numerics exact,hardware]``; writes bench/results/heterogeneous.json and prints a table.
Needs ../shared (the models).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

import nnmap
from nnmap.codegen.artifact import Artifact
from nnmap.errors import NnmapError
from nnmap.hostsim.calibrate import error_summary
from nnmap.hw import Target
from nnmap.plan.plan import Plan
from nnmap.targets import resolve_target
from nnmap.verify import random_inputs

ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = ROOT.parent / "shared" / "models" / "mlperf_tiny"
RESULTS = ROOT / "bench" / "results" / "heterogeneous.json"
MODELS = ("kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8")
NUMERICS = ("exact", "hardware")


def uncalibrated(target: Target) -> Target:
    """``target`` with its host core's calibration removed (the assumed host model)."""
    assert target.host_core is not None
    return replace(target, host_core=replace(target.host_core, calibration=None))


def measured(graph: nnmap.Graph, target: Target, numerics: str, out: Path,
             sample: list[np.ndarray]) -> tuple[Artifact, np.ndarray, Plan]:
    """Compile, run on x86, emulate the accelerator and the host core; the x86 outputs and the
    plan."""
    plan = nnmap.plan(graph, target, numerics)
    artifact = nnmap.compile(plan, out_dir=out)
    outputs = artifact.run(sample)[0]
    if artifact.report["emulators"]:
        artifact.measure_cycles(sample)
    assert target.host_core is not None
    artifact.measure_host_cycles(target.host_core, sample)
    return artifact, outputs, plan


def layer_errors(report: dict, plan: Plan, where: dict[str, str]) -> list[dict]:
    """Every layer with host work: its modelled and measured host cycles, |modelled - measured| /
    measured by the plan's model (``error``) and by the uncalibrated model on the same placements
    (``assumed_error``), with ``where`` it ran."""
    mappings = [layer.mapped for layer in plan.layers if layer.mapped is not None]
    assumed = nnmap.plan(plan.graph, uncalibrated(plan.target), plan.numerics, mappings)
    before = {layer.layer.name: layer.host_cycles for layer in assumed.layers}
    entries = []
    for layer in report["layers"]:
        measured_cycles = layer["host_cycles"]
        if measured_cycles > 0:
            entries.append({
                **where, "layer": layer["name"], "kind": layer["kind"],
                "module": layer["module"], "stages": sorted(layer["host_stages"]),
                "modelled": layer["host_modelled_cycles"], "measured": measured_cycles,
                "error": abs(layer["host_modelled_cycles"] - measured_cycles) / measured_cycles,
                "assumed_error": abs(before[layer["name"]] - measured_cycles) / measured_cycles,
            })
    return entries


def requantized_on_accelerator(report: dict) -> tuple[int, int]:
    """Of the convolution and fully connected layers on an accelerator, how many leave no
    requantization to the host, and how many there are."""
    gemms = [layer for layer in report["layers"] if layer["module"] != "host"
             and layer["kind"] in ("Conv2D", "FullyConnected")]
    return sum(not any("requantization" in stage for stage in layer["host_stages"])
               for layer in gemms), len(gemms)


def host_breakdown(report: dict) -> dict[str, float]:
    """The measured host cycles by what they do: each host layer by its kind, each accelerator
    layer's split over its host stages in proportion to their modelled cycles."""
    totals: dict[str, float] = {}
    for layer in report["layers"]:
        cycles = layer["host_cycles"]
        if layer["module"] == "host":
            parts = {f"{layer['kind']} on the host": 1.0}
        else:
            stages = {stage: modelled for stage, modelled in layer["host_stages"].items()
                      if stage != "call overhead"}
            whole = sum(stages.values()) or 1.0
            parts = {stage: modelled / whole for stage, modelled in stages.items()}
        for part, share in parts.items():
            totals[part] = totals.get(part, 0.0) + cycles * share
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


def error_lists(layers: list[dict]) -> dict[str, list[float]]:
    """The host model's errors over ``layers``: assumed rates ("before"), calibrated ("after")."""
    return {"before": [entry["assumed_error"] for entry in layers],
            "after": [entry["error"] for entry in layers]}


def run(models: list[str], targets: list[str], numerics: list[str]
        ) -> tuple[list[dict], list[dict]]:
    """The table's rows, and every layer with host work (``layer_errors``)."""
    rows: list[dict] = []
    layers: list[dict] = []
    for spec in targets:
        target = resolve_target(spec)
        for name in models:
            path = MODELS_DIR / f"{name}.tflite"
            graph = nnmap.load_model(path)
            sample = [x[:1] for x in random_inputs(graph, 1, seed=0)]
            with tempfile.TemporaryDirectory() as work:
                start = time.perf_counter()
                alone, baseline_out, plan = measured(graph, target.host_only(), "exact",
                                                     Path(work) / "alone", sample)
                host_only = alone.report["latency"]["total_cycles"]
                where = {"model": name, "target": spec, "numerics": "host only"}
                layers += layer_errors(alone.report, plan, where)
                for kind in numerics:
                    try:
                        artifact, out, plan = measured(graph, target, kind, Path(work) / kind,
                                                       sample)
                    except NnmapError as error:
                        rows.append({"model": name, "target": spec, "numerics": kind,
                                     "error": str(error)})
                        continue
                    latency = artifact.report["latency"]
                    requantized, gemms = requantized_on_accelerator(artifact.report)
                    where = {"model": name, "target": spec, "numerics": kind}
                    layers += layer_errors(artifact.report, plan, where)
                    rows.append({
                        "model": name, "target": spec, "numerics": kind,
                        "accelerator_cycles": latency["accelerator_cycles"],
                        "host_cycles": latency["host_cycles"],
                        "total_cycles": latency["total_cycles"],
                        "host_only_cycles": host_only,
                        "speedup": host_only / latency["total_cycles"],
                        "host_share": latency["host_cycles"] / latency["total_cycles"],
                        "accelerated_layers": sum(layer["module"] != "host"
                                                  for layer in artifact.report["layers"]),
                        "requantized_on_accelerator": requantized,
                        "gemm_layers_on_accelerator": gemms,
                        "host_breakdown": host_breakdown(artifact.report),
                        "outputs_match_host_only": bool(
                            kind == "hardware" or np.array_equal(out, baseline_out)
                        ),
                        "seconds": time.perf_counter() - start,
                    })
    return rows, layers


def print_worst(layers: list[dict], count: int = 8) -> None:
    """The layers the calibrated host model misses most, with what they are."""
    table = Table(title="calibrated host model: the largest errors")
    for column in ("model", "target", "numerics", "layer", "kind", "module", "host stages",
                   "modelled", "measured", "error"):
        table.add_column(column)
    for entry in sorted(layers, key=lambda e: -e["error"])[:count]:
        table.add_row(entry["model"], entry["target"], entry["numerics"], entry["layer"],
                      entry["kind"], entry["module"], ", ".join(entry["stages"]),
                      f"{entry['modelled']:,.0f}", f"{entry['measured']:,.0f}",
                      f"{entry['error']:.0%}")
    Console(width=200).print(table)


def print_table(rows: list[dict], errors: dict[str, list[float]]) -> None:
    table = Table(title="SoC vs host core alone (accelerator emulated, host measured)")
    for column in ("model", "target", "numerics", "accelerated layers",
                   "requantized on the accelerator", "accelerator", "host", "total", "host only",
                   "speed-up", "host share", "largest host stage"):
        table.add_column(column, justify="left" if column in ("model", "target", "numerics")
                         else "right")
    for r in rows:
        if "error" in r:
            table.add_row(r["model"], r["target"], r["numerics"], f"fails: {r['error']}")
            continue
        stage, stage_cycles = next(iter(r["host_breakdown"].items()), ("-", 0.0))
        table.add_row(r["model"], r["target"], r["numerics"], str(r["accelerated_layers"]),
                      f"{r['requantized_on_accelerator']} of {r['gemm_layers_on_accelerator']}",
                      f"{r['accelerator_cycles']:,.0f}", f"{r['host_cycles']:,.0f}",
                      f"{r['total_cycles']:,.0f}", f"{r['host_only_cycles']:,.0f}",
                      f"{r['speedup']:.2f}x", f"{r['host_share']:.0%}",
                      f"{stage} ({stage_cycles / max(r['host_cycles'], 1):.0%} of host)")
    Console(width=200).print(table)
    for key, label in (("before", "assumed rates"), ("after", "calibrated")):
        summary = error_summary(errors[key])
        Console(width=200).print(
            f"analytical host model ({label}) vs measured, {len(errors[key])} layers: median "
            f"{summary['median']:.0%}, p90 {summary['p90']:.0%}, max {summary['max']:.0%}",
            highlight=False,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--targets", default="gemmini,vta")
    parser.add_argument("--numerics", default=",".join(NUMERICS))
    args = parser.parse_args()
    rows, layers = run(args.models.split(","), args.targets.split(","),
                       args.numerics.split(","))
    assert all(r.get("outputs_match_host_only", True) for r in rows), "exact outputs differ"
    errors = error_lists(layers)
    print_table(rows, errors)
    print_worst(layers)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    summary = {key: error_summary(values) for key, values in errors.items()}
    RESULTS.write_text(json.dumps({"rows": rows, "host_model_error": summary,
                                   "host_model_errors": errors,
                                   "host_model_layers": layers}, indent=1))


if __name__ == "__main__":
    main()
