"""The loop-nest view of a layer: the seven loops B, K, C, OY, OX, FY, FX (per group) plus groups.

``O[b, g*K + k, oy, ox] += I[b, g*C + c, oy*sy + fy*dy - pad_top, ox*sx + fx*dx - pad_left]
                          * W[g*K + k, c, fy, fx]``

Dense layers are ``OY = OX = FY = FX = 1``; depthwise convolutions are ``groups = channels`` with
``K = C = 1``; pooling and elementwise add are degenerate nests without weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnmap.ir.graph import Graph
from nnmap.ir.layers import Add, Conv2D, FullyConnected, Layer, Pool2D

LOOPS = ("B", "K", "C", "OY", "OX", "FY", "FX")
INT8_MAGNITUDE = 128  # the largest |int8|

# Which loops index each operand (the access functions in loop-relevance form). The input is also
# indexed by OY/OX through the sliding window: its extent along Y is (OY-1)*sy + (FY-1)*dy + 1.
RELEVANT = {
    "I": ("B", "C", "OY", "OX", "FY", "FX"),
    "W": ("K", "C", "FY", "FX"),
    "O": ("B", "K", "OY", "OX"),
}


@dataclass(frozen=True)
class Workload:
    name: str
    kind: str  # "conv", "depthwise", "dense", "pool", "add"
    loops: dict[str, int]
    groups: int = 1
    stride: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)
    has_weights: bool = True
    # Largest |int32 result| of the layer's integer GEMM over its output channels, from its
    # weights: |bias - zp_in * sum w| + 128 * sum |w| (int8 inputs); None where the weights are
    # not known (a workload built from sizes alone) or not int8.
    result_bound: int | None = None

    def __post_init__(self) -> None:
        if set(self.loops) != set(LOOPS):
            raise ValueError(f"workload {self.name}: loops must be exactly {LOOPS}")
        bad = [dim for dim, size in self.loops.items() if size < 1]
        if bad:
            raise ValueError(f"workload {self.name}: loop {bad[0]} has size < 1")

    def __getitem__(self, dim: str) -> int:
        return self.loops[dim]

    @property
    def macs(self) -> int:
        total = self.groups
        for dim in LOOPS:
            total *= self.loops[dim]
        return total

    def input_extent(self, axis: str, outputs: int, taps: int) -> int:
        """Input rows (axis "Y") or columns ("X") read by ``outputs`` outputs of ``taps`` taps."""
        index = 0 if axis == "Y" else 1
        return (outputs - 1) * self.stride[index] + (taps - 1) * self.dilation[index] + 1

    def operand_elements(self, operand: str, tile: dict[str, int] | None = None) -> int:
        """Elements of one operand touched by a tile (the whole layer when ``tile`` is None)."""
        t = tile or self.loops
        if operand == "W":
            return t["K"] * t["C"] * t["FY"] * t["FX"] if self.has_weights else 0
        if operand == "O":
            return t["B"] * t["K"] * t["OY"] * t["OX"]
        rows = self.input_extent("Y", t["OY"], t["FY"])
        cols = self.input_extent("X", t["OX"], t["FX"])
        return t["B"] * t["C"] * rows * cols


def workload_of(graph: Graph, layer: Layer) -> Workload | None:
    """The loop nest of a layer, or None for layers that only move data (reshape, pad, ...)."""
    out = graph.tensor(layer.output).shape
    if isinstance(layer, Conv2D):
        k_total, fy, fx, c_per_group = layer.weight.shape
        k = k_total // layer.groups
        kind = "depthwise" if layer.is_depthwise else "conv"
        loops = {"B": out[0], "K": k, "C": c_per_group, "OY": out[1], "OX": out[2],
                 "FY": fy, "FX": fx}
        return Workload(layer.name, kind, loops, layer.groups, layer.stride, layer.dilation,
                        layer.padding, result_bound=result_bound(graph, layer))
    if isinstance(layer, FullyConnected):
        n_out, n_in = layer.weight.shape
        rows = graph.tensor(layer.output).size // n_out
        loops = {"B": rows, "K": n_out, "C": n_in, "OY": 1, "OX": 1, "FY": 1, "FX": 1}
        return Workload(layer.name, "dense", loops, result_bound=result_bound(graph, layer))
    if isinstance(layer, Pool2D):
        loops = {"B": out[0], "K": 1, "C": 1, "OY": out[1], "OX": out[2],
                 "FY": layer.kernel[0], "FX": layer.kernel[1]}
        return Workload(layer.name, "pool", loops, out[3], layer.stride, (1, 1), layer.padding,
                        has_weights=False)
    if isinstance(layer, Add):
        size = graph.tensor(layer.output).size
        loops = {"B": 1, "K": 1, "C": 1, "OY": 1, "OX": size, "FY": 1, "FX": 1}
        return Workload(layer.name, "add", loops, has_weights=False)
    return None


def result_bound(graph: Graph, layer: Conv2D | FullyConnected) -> int | None:
    """The static bound on |accumulator| of an int8 layer (``Workload.result_bound``): per output
    channel, the bias with the input zero point folded in plus 128 * sum |w|, largest channel."""
    if layer.weight.dtype != np.int8:
        return None
    zero_point = int(graph.tensor(layer.inputs[0]).zero_point or 0)
    weights = layer.weight.astype(np.int64).reshape(layer.weight.shape[0], -1)
    folded = layer.bias.astype(np.int64) - zero_point * weights.sum(axis=1)
    return accumulator_bound(weights, folded)


def accumulator_bound(weights: np.ndarray, folded_bias: np.ndarray) -> int:
    """The largest |int32 result| of int8 inputs times ``weights`` (a row per output channel)
    plus ``folded_bias``: per channel |bias| + 128 * sum |w|, the largest channel."""
    magnitude = np.abs(weights.astype(np.int64)).sum(axis=1)
    bound = np.abs(folded_bias.astype(np.int64)) + INT8_MAGNITUDE * magnitude
    return int(bound.max(initial=0))


def gemm_workload(name: str, m: int, n: int, k: int) -> Workload:
    """``C[m, n] = A[m, k] @ B[k, n]`` as a nest: rows are B, output features K, reduction C."""
    loops = {"B": m, "K": n, "C": k, "OY": 1, "OX": 1, "FY": 1, "FX": 1}
    return Workload(name, "dense", loops)


def conv_workload(name: str, *, batch: int, in_channels: int, out_channels: int,
                  out_height: int, out_width: int, kernel: tuple[int, int],
                  stride: tuple[int, int] = (1, 1),
                  padding: tuple[int, int, int, int] = (0, 0, 0, 0)) -> Workload:
    """A dense (groups = 1) convolution from its problem sizes, e.g. a DeepBench row."""
    loops = {"B": batch, "K": out_channels, "C": in_channels, "OY": out_height, "OX": out_width,
             "FY": kernel[0], "FX": kernel[1]}
    return Workload(name, "conv", loops, 1, stride, (1, 1), padding)
