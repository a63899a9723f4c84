"""The FPGA flow on an Intel Stratix 10 SX 2800: TVM's base OpenCL kernels against nnmap's
optimized design, by the HLS model (``nnmap.targets.stratix10.network``), per model.

Per model: the modelled latency of one inference with the base kernels (every switch off) and
with every optimization on (the mapper's unroll factors and weight tiles), the resources the
optimized design uses against the device, an ablation (each optimization off in turn, the mapper
choosing again), nnmap's host C of the same model measured on this CPU (wall time, for scale),
and a functional check: the base design on PoCL and the optimized one on Intel's FPGA emulator
against the reference (TFLite Micro for .tflite files) on a few random inputs (LeNet-5 and the
MLPerf Tiny models; the emulator is too slow for the ImageNet networks, ``--check-all`` runs
them too). Models: LeNet-5, MobileNetV1, ResNet-34 (``bench/fpga_models.py``) and the four MLPerf
Tiny models from ../shared.

Usage: ``python bench/fpga.py [--models lenet5,...] [--inputs 2] [--check-all]``; prints the
tables and writes bench/results/fpga.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from fpga_models import PAPER_MODELS
from rich.console import Console
from rich.table import Table

import nnmap
from nnmap.codegen.compare import reference_outputs_for
from nnmap.errors import MappingError
from nnmap.frontend import load_model
from nnmap.ir import Graph
from nnmap.targets.stratix10.design import build_design, channel_tensors
from nnmap.targets.stratix10.device import STRATIX10_SX2800
from nnmap.targets.stratix10.flow import plan_design
from nnmap.targets.stratix10.network import DesignEstimate, choose, estimate
from nnmap.targets.stratix10.options import ALL, BASE, SWITCHES, Optimizations
from nnmap.targets.stratix10.platforms import INTEL_EMULATOR, POCL
from nnmap.targets.stratix10.runner import run_design
from nnmap.verify import random_inputs

MLPERF = Path(__file__).resolve().parents[1] / ".." / "shared" / "models" / "mlperf_tiny"
MLPERF_MODELS = ("kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8")
RESULTS = Path(__file__).resolve().parent / "results" / "fpga.json"
DEVICE = STRATIX10_SX2800


def model_paths(folder: Path, names: list[str]) -> dict[str, Path]:
    paths = {}
    for name in names:
        if name in PAPER_MODELS:
            paths[name] = folder / f"{name}.onnx"
            onnx.save(PAPER_MODELS[name](), paths[name])
        elif (MLPERF / f"{name}.tflite").is_file():
            paths[name] = MLPERF / f"{name}.tflite"
    return paths


def modelled(graph: Graph, options: Optimizations) -> DesignEstimate:
    channels = channel_tensors(graph) if options.channels else frozenset()
    return estimate(graph, options, choose(graph, options, DEVICE, channels), DEVICE, channels)


def host_milliseconds(graph: Graph, folder: Path) -> float:
    """nnmap's host C of the model, built and run on this CPU: wall time of one inference."""
    artifact = nnmap.compile(graph, "host", folder / f"{graph.name}-host")
    samples = random_inputs(graph, 3, 0)
    artifact.run_batch([x[:1] for x in samples])
    start = time.perf_counter()
    artifact.run_batch(samples)
    return (time.perf_counter() - start) / 3 * 1e3


def exactness(path: Path, graph: Graph, count: int) -> dict[str, int]:
    """Max |difference| against the reference: base kernels on PoCL, optimized on the emulator."""
    samples = random_inputs(graph, count, 0)
    per_sample = [[x[i:i + 1] for x in samples] for i in range(count)]
    _, expected = reference_outputs_for(path, graph, samples)
    found = {}
    for label, design, platform in (("base_pocl", build_design(graph, BASE), POCL),
                                    ("optimized_emulator", plan_design(graph).design,
                                     INTEL_EMULATOR)):
        outputs = run_design(design, per_sample, platform)
        got = np.concatenate([sample[0] for sample in outputs])
        found[label] = int(np.abs(got.astype(int) - expected[0].astype(int)).max())
    return found


def measure(name: str, path: Path, folder: Path, inputs: int, check: bool) -> dict[str, Any]:
    graph = load_model(path)
    base, optimized = modelled(graph, BASE), modelled(graph, ALL)
    ablation = {switch: modelled(graph, ALL.without(switch)).latency_seconds
                for switch in SWITCHES}
    macs = sum(int(np.prod(layer.weight.shape)) * int(np.prod(
        graph.tensor(layer.output).shape[1:-1] or (1,)))
        for layer in graph.layers if hasattr(layer, "weight"))
    return {
        "model": name, "macs": macs,
        "base_ms": base.latency_seconds * 1e3,
        "optimized_ms": optimized.latency_seconds * 1e3,
        "speedup": base.latency_seconds / optimized.latency_seconds,
        "interval_ms": optimized.interval_seconds * 1e3,
        "resources": {"dsp": optimized.resources.dsps, "m20k": optimized.resources.m20ks,
                      "alm": optimized.resources.alms},
        "utilization": optimized.utilization(),
        "ablation_ms": {switch: seconds * 1e3 for switch, seconds in ablation.items()},
        "host_c_ms": host_milliseconds(graph, folder),
        "max_difference": exactness(path, graph, inputs) if check else None,
    }


def tables(rows: list[dict[str, Any]]) -> list[Table]:
    main = Table(title=f"{DEVICE.name} at {DEVICE.kernel_clock_hz / 1e6:g} MHz (modelled) vs "
                 "nnmap's host C on this CPU (measured)")
    for column in ("model", "MACs", "base ms", "optimized ms", "speed-up", "DSP", "M20K", "ALM",
                   "host C ms", "max |diff| base PoCL / opt. emulator"):
        main.add_column(column, justify="left" if column == "model" else "right")
    for row in rows:
        share = row["utilization"]
        diff = row["max_difference"]
        main.add_row(row["model"], f"{row['macs']:,}", f"{row['base_ms']:,.2f}",
                     f"{row['optimized_ms']:,.3f}", f"{row['speedup']:,.0f}x",
                     f"{share['dsp']:.1%}", f"{share['m20k']:.1%}", f"{share['alm']:.1%}",
                     f"{row['host_c_ms']:,.2f}",
                     "-" if diff is None else f"{diff['base_pocl']} / {diff['optimized_emulator']}")
    ablation = Table(title="ablation: latency (ms) with one optimization off, all others on")
    ablation.add_column("model")
    for switch in SWITCHES:
        ablation.add_column(f"no {switch}", justify="right")
    for row in rows:
        ablation.add_row(row["model"], *(f"{row['ablation_ms'][s]:,.3f} "
                                         f"({row['ablation_ms'][s] / row['optimized_ms']:.2f}x)"
                                         for s in SWITCHES))
    return [main, ablation]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join([*PAPER_MODELS, *MLPERF_MODELS]))
    parser.add_argument("--inputs", type=int, default=2)
    parser.add_argument("--check-all", action="store_true")
    args = parser.parse_args()
    console = Console(width=220)
    rows: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="nnmap-fpga-") as work:
        for name, path in model_paths(Path(work), args.models.split(",")).items():
            check = args.check_all or name not in ("mobilenet_v1", "resnet34")
            console.print(f"[bold]{name}[/]", highlight=False)
            try:
                rows.append(measure(name, path, Path(work), args.inputs, check))
            except MappingError as error:
                console.print(f"{name}: {error}", highlight=False)
                refused.append({"model": name, "refused": str(error)})
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            RESULTS.write_text(json.dumps(rows + refused, indent=1))
    for table in tables(rows):
        console.print(table)


if __name__ == "__main__":
    main()
