"""Depthwise convolutions on the accelerators: KWS and VWW on Gemmini and VTA, exact numerics,
before (every depthwise layer on the host core, as main planned them until now) and after (the
mapper's choice, the depthwise layers lowered from the embedding solver's block-diagonal
layout where that is cheaper in all).

For each model and target, both plans are compiled; the after build runs ``--inputs`` random
inputs (seed 0) against TFLite Micro (bit for bit) and both builds one input through the
accelerator emulator: the latency is the emulated accelerator cycles plus the host's modelled
cycles (the calibrated host model) at the target's clock. Per model also every depthwise
layer on the accelerator (placed there whatever the cost: ``place``) against TFLite Micro, to
check all 17 layers, not only those the mapper offloads. Writes bench/results/depthwise.json.

Usage: ``python bench/depthwise.py [--inputs 20] [--models kws_ref_model,vww_96_int8]
[--targets gemmini,vta]``. Needs ../shared (the models).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

import nnmap
from nnmap.codegen.artifact import Artifact
from nnmap.ir import Conv2D, Graph
from nnmap.mapping.graph import LayerMapping, map_graph, map_layer
from nnmap.targets import resolve_target
from nnmap.verify import random_inputs, tflite_micro_outputs

ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = ROOT.parent / "shared" / "models" / "mlperf_tiny"
RESULTS = ROOT / "bench" / "results" / "depthwise.json"
MODELS = ("kws_ref_model", "vww_96_int8")
TARGETS = ("gemmini", "vta")


def _depthwise(graph: Graph) -> set[str]:
    return {layer.name for layer in graph.layers if isinstance(layer, Conv2D) and layer.groups > 1}


def host_kept(graph: Graph, spec: str) -> list[LayerMapping]:
    """The mapper's plan with every depthwise layer on the host core (the before plan)."""
    target = resolve_target(spec)
    names = _depthwise(graph)
    host = target.host.name
    result = []
    for mapped in map_graph(graph, target, numerics="exact"):
        if mapped.layer in names:
            layer = next(layer for layer in graph.layers if layer.name == mapped.layer)
            forced = map_layer(mapped.workload, target, layer=layer, graph=graph, place=host)
            mapped = replace(forced, reason="before: depthwise kept on the host")
        result.append(mapped)
    return result


def _latency(graph: Graph, spec: str, out: Path, mappings: list[LayerMapping] | None,
             sample: list[np.ndarray], place: str | None = None) -> dict:
    artifact = nnmap.compile(graph, target=spec, out_dir=out, layer_mappings=mappings,
                             place=place)
    artifact.measure_cycles(sample)
    latency = artifact.report["latency"]
    names = _depthwise(graph)
    return {
        "artifact": artifact,
        "total": latency["total_cycles"],
        "accelerator": latency["accelerator_cycles"],
        "host": latency["host_cycles"],
        "depthwise_on_accelerator": sum(
            entry["module"] == spec for entry in artifact.report["layers"]
            if entry["name"] in names
        ),
        "modelled_equals_emulated": all(
            entry["modelled_cycles"] == entry["emulated_cycles"]
            for entry in artifact.report["layers"] if entry["module"] == spec
        ),
    }


def _bit_exact(artifact: Artifact, path: Path, graph: Graph,
               inputs: list[np.ndarray]) -> bool:
    expected = tflite_micro_outputs(path, inputs, len(graph.outputs))
    return all(np.array_equal(actual, wanted)
               for actual, wanted in zip(artifact.run_batch(inputs), expected, strict=True))


def run(models: list[str], targets: list[str], count: int) -> list[dict]:
    rows = []
    for spec in targets:
        for name in models:
            path = MODELS_DIR / f"{name}.tflite"
            graph = nnmap.load_model(path)
            inputs = random_inputs(graph, count, seed=0)
            sample = [x[:1] for x in inputs]
            with tempfile.TemporaryDirectory() as work:
                before = _latency(graph, spec, Path(work) / "before", host_kept(graph, spec),
                                  sample)
                after = _latency(graph, spec, Path(work) / "after", None, sample)
                forced = _latency(graph, spec, Path(work) / "forced", None, sample, place=spec)
                rows.append({
                    "model": name, "target": spec, "inputs": count,
                    "depthwise_layers": len(_depthwise(graph)),
                    "depthwise_on_accelerator": after["depthwise_on_accelerator"],
                    "before_cycles": before["total"], "after_cycles": after["total"],
                    "before_host": before["host"], "after_host": after["host"],
                    "before_accelerator": before["accelerator"],
                    "after_accelerator": after["accelerator"],
                    "speedup": before["total"] / after["total"],
                    "after_bit_exact": _bit_exact(after["artifact"], path, graph, inputs),
                    "forced_depthwise_on_accelerator": forced["depthwise_on_accelerator"],
                    "forced_bit_exact": _bit_exact(forced["artifact"], path, graph, inputs),
                    "forced_cycles": forced["total"],
                    "modelled_equals_emulated": all(
                        run["modelled_equals_emulated"] for run in (before, after, forced)
                    ),
                })
    return rows


def print_table(rows: list[dict]) -> None:
    table = Table(title="Depthwise on the accelerator: whole model, exact numerics (cycles)")
    for column in ("model", "target", "depthwise on acc.", "before", "after", "speed-up",
                   "all depthwise on acc.", "bit-exact (after, all)", "modelled = emulated"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["model"], row["target"],
            f"{row['depthwise_on_accelerator']}/{row['depthwise_layers']}",
            f"{row['before_cycles']:,.0f}", f"{row['after_cycles']:,.0f}",
            f"{row['speedup']:.2f}x", f"{row['forced_cycles']:,.0f}",
            f"{row['after_bit_exact']}, {row['forced_bit_exact']} ({row['inputs']} inputs)",
            str(row["modelled_equals_emulated"]),
        )
    Console(width=200).print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--inputs", type=int, default=20, help="random inputs against TFLM")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--targets", default=",".join(TARGETS))
    args = parser.parse_args()
    rows = run(args.models.split(","), args.targets.split(","), args.inputs)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(rows, indent=2) + "\n")
    print_table(rows)


if __name__ == "__main__":
    main()
