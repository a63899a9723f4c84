"""GAP9 at 370 MHz: nnmap's heterogeneous mapping (fabric controller, cluster, NE16) against the
DORY-style mapping (every layer the cluster takes on the cluster, the tile that uses the most
L1) and against everything on the fabric controller (plain TVM C), the four MLPerf Tiny models,
exact numerics; and nnmap in hardware numerics (NE16's normquant, its deviation reported).
Accelerator cycles are emulated (nnmap's GAP9 emulator); host cycles measured on the fabric
controller's instruction-set emulation (``--host measured``, the default) or
modelled. Every output is checked bit-exact against TFLite Micro. Also the cost model against
the emulator: |modelled - emulated| / emulated per accelerator layer.

Usage: ``python bench/gap9.py [--models kws_ref_model,...] [--host measured|modelled]``;
writes bench/results/gap9.json and prints a table. Needs ../shared (the models).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

import nnmap
from nnmap.codegen.artifact import Artifact
from nnmap.hw import Target
from nnmap.targets import get_target
from nnmap.targets.gap9.baseline import dory_cluster_only
from nnmap.verify import random_inputs, tflite_micro_outputs

ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = ROOT.parent / "shared" / "models" / "mlperf_tiny"
RESULTS = ROOT / "bench" / "results" / "gap9.json"
MODELS = ("kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8")
GOAL = 2.15  # MATCH's speed-up over DORY on GAP9 (issue 16)


def measured(artifact: Artifact, target: Target, sample: list[np.ndarray], host: str
             ) -> dict[str, float]:
    """Emulate the accelerator layers and (if asked) measure the host's; the latency split."""
    if artifact.report["emulators"]:
        artifact.measure_cycles(sample)
    if host == "measured":
        assert target.host_core is not None
        artifact.measure_host_cycles(target.host_core, sample)
    latency = artifact.report["latency"]
    return {key: float(latency[key]) for key in ("total_cycles", "accelerator_cycles",
                                                 "host_cycles")}


def model_errors(artifact: Artifact) -> list[dict[str, object]]:
    """Per accelerator layer: its module, modelled and emulated cycles, relative error."""
    rows = []
    for layer in artifact.report["layers"]:
        if layer["module"] == "host" or "emulated_cycles" not in layer:
            continue
        modelled, emulated = float(layer["modelled_cycles"]), float(layer["emulated_cycles"])
        rows.append({"layer": layer["name"], "module": layer["module"], "modelled": modelled,
                     "emulated": emulated, "error": abs(modelled - emulated) / emulated})
    return rows


def run_model(name: str, target: Target, host: str, work: Path) -> dict[str, object]:
    path = MODELS_DIR / f"{name}.tflite"
    graph = nnmap.load_model(path)
    inputs = random_inputs(graph, 3, seed=0)
    expected = tflite_micro_outputs(path, inputs, len(graph.outputs))
    sample = [x[:1] for x in inputs]
    plans = {
        "nnmap": nnmap.plan(graph, target),
        "dory": nnmap.plan(graph, target, layer_mappings=dory_cluster_only(graph, target)),
        "fc": nnmap.plan(graph, target.host_only()),
        "hardware": nnmap.plan(graph, target, "hardware"),
    }
    row: dict[str, object] = {"model": name}
    errors: list[dict[str, object]] = []
    for kind, plan in plans.items():
        artifact = nnmap.compile(plan, out_dir=work / kind)
        for actual, wanted in zip(artifact.run_batch(inputs), expected, strict=True):
            if kind == "hardware":  # NE16's normquant: the deviation, not bit-exactness
                row["hardware_max_difference"] = int(np.abs(actual.astype(int) - wanted).max())
            else:
                np.testing.assert_array_equal(actual, wanted, err_msg=f"{name} {kind}")
        row[kind] = measured(artifact, plan.target, sample, host)
        modules = sorted({layer["module"] for layer in artifact.report["layers"]})
        row[f"{kind}_modules"] = modules
        if kind in ("nnmap", "dory"):
            errors += [{**entry, "mapping": kind} for entry in model_errors(artifact)]
    row["errors"] = errors
    return row


def print_table(rows: list[dict], host: str) -> None:
    table = Table(title=f"GAP9 at 370 MHz, exact numerics (accelerators emulated, host {host})")
    for column in ("model", "nnmap", "modules", "DORY-style", "FC only", "vs DORY",
                   "vs FC", "goal", "nnmap hardware", "vs DORY (hw)"):
        table.add_column(column, justify="left" if column in ("model", "modules") else "right")
    for row in rows:
        ours, dory, fc, hardware = (row[kind]["total_cycles"]
                                    for kind in ("nnmap", "dory", "fc", "hardware"))
        table.add_row(row["model"], f"{ours:,.0f}", "+".join(row["nnmap_modules"]),
                      f"{dory:,.0f}", f"{fc:,.0f}", f"{dory / ours:.2f}x", f"{fc / ours:.2f}x",
                      "met" if dory / ours >= GOAL else f"< {GOAL}x", f"{hardware:,.0f}",
                      f"{dory / hardware:.2f}x")
    Console(width=150).print(table)
    errors = [float(e["error"]) for row in rows for e in row["errors"]]
    within = sum(error <= 0.10 for error in errors)
    Console().print(f"cost model vs emulator: {within} of {len(errors)} accelerator layers "
                    f"within 10% (max {max(errors, default=0):.1%})", highlight=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--host", default="measured", choices=("measured", "modelled"))
    args = parser.parse_args()
    target = get_target("gap9")
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for name in args.models.split(","):
            rows.append(run_model(name, target, args.host, Path(work) / name))
    print_table(rows, args.host)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"host": args.host, "goal": GOAL, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
