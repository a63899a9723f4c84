"""Which layers Gemmini can requantize in exact numerics: per model, the dense convolutions and
fully connected layers whose mvout scaling is proven TFLite's (one float32 scale per block of
DIM output channels, as nnmap's kernels move them out), and, as an upper bound for any layout
that gave every output channel its own scale (e.g. output channels on the array's rows), the
channels that pass the check alone.

Usage: ``python bench/gemmini_exact_requant.py [--models kws_ref_model,...] [--dim 16]``;
writes bench/results/gemmini_exact_requant.json. Needs ../shared (the models).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

import nnmap
from nnmap.ir import Conv2D, FullyConnected, Graph, Requant
from nnmap.targets.gemmini.exact_requant import exact_scaling, layer_scaling, output_range

ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = ROOT.parent / "shared" / "models" / "mlperf_tiny"
RESULTS = ROOT / "bench" / "results" / "gemmini_exact_requant.json"
MODELS = ("kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8")


def gemm_layers(graph: Graph) -> list[Conv2D | FullyConnected]:
    """The layers nnmap's Gemmini kernels run as a GEMM with TFLite requantization."""
    return [layer for layer in graph.layers
            if isinstance(layer, Conv2D | FullyConnected) and isinstance(layer.requant, Requant)
            and not (isinstance(layer, Conv2D) and layer.groups != 1)]


def channels_exact_alone(layer: Conv2D | FullyConnected, graph: Graph) -> int:
    """How many output channels pass the check with a scale of their own."""
    assert isinstance(layer.requant, Requant)
    zp_in = int(graph.tensor(layer.inputs[0]).zero_point or 0)
    zp_out = int(graph.tensor(layer.output).zero_point or 0)
    rows = layer.weight.astype(np.int64).reshape(layer.weight.shape[0], -1)
    folded = layer.bias.astype(np.int64) - zp_in * rows.sum(axis=1)
    low, high = output_range(layer.clamp)
    count = rows.shape[0]
    multiplier = np.broadcast_to(layer.requant.multiplier, (count,))
    shift = np.broadcast_to(layer.requant.shift, (count,))
    passed = 0
    for k in range(count):
        requant = Requant(multiplier[k : k + 1].copy(), shift[k : k + 1].copy())
        found = exact_scaling(requant, rows[k : k + 1], folded[k : k + 1], zp_out, low, high, 1)
        passed += not isinstance(found, str)
    return passed


def model_row(name: str, dim: int) -> dict:
    graph = nnmap.load_model(MODELS_DIR / f"{name}.tflite")
    layers = gemm_layers(graph)
    proven, reasons, alone, channels = 0, {}, 0, 0
    for layer in layers:
        found = layer_scaling(layer, graph, dim)
        if isinstance(found, str):
            reasons[layer.name] = found
        else:
            proven += 1
        alone += channels_exact_alone(layer, graph)
        channels += int(layer.weight.shape[0])
    return {"model": name, "layers": len(layers), "requantized_on_gemmini": proven,
            "channels": channels, "channels_exact_alone": alone, "reasons": reasons}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--dim", type=int, default=16)
    args = parser.parse_args()
    rows = [model_row(name, args.dim) for name in args.models.split(",")]
    table = Table(title="exact numerics: requantization on Gemmini's mvout, proven")
    for column in ("model", "GEMM layers", "requantized on Gemmini", "channels exact alone"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["model"], str(row["layers"]), str(row["requantized_on_gemmini"]),
                      f"{row['channels_exact_alone']} of {row['channels']}")
    Console(width=160).print(table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
