"""The weight stream of a layer in L2 as the digital array's weight memory takes it: per group
of 16 output channels, their 16 int32 biases (little endian), then their int8 weights, each
channel's C x FY x FX (channels first, as the array reads NCHW/OIHW); the last group padded with
zero channels."""

from __future__ import annotations

import numpy as np

from nnmap.ir import Conv2D, FullyConnected
from nnmap.targets.diana.timing import GROUP, DianaShape


def channel_weights(layer: Conv2D | FullyConnected) -> np.ndarray:
    """The int8 weights as [K, taps], taps in the array's order (C, FY, FX)."""
    weight = layer.weight
    if isinstance(layer, Conv2D):
        weight = weight.transpose(0, 3, 1, 2)  # OHWI -> OIHW
    return np.ascontiguousarray(weight.reshape(weight.shape[0], -1).astype(np.int8))


def weight_stream(layer: Conv2D | FullyConnected, shape: DianaShape,
                  bias: np.ndarray) -> np.ndarray:
    """The layer's bytes for the weight memory, with ``bias`` (int32 per output channel)."""
    weights = channel_weights(layer)
    groups = -(-shape.outputs // GROUP)
    padded = groups * GROUP
    taps = np.zeros((padded, shape.taps_per_output), dtype=np.int8)
    taps[: shape.outputs] = weights
    biases = np.zeros(padded, dtype="<i4")
    biases[: shape.outputs] = bias.astype(np.int64)
    parts = []
    for group in range(groups):
        rows = slice(group * GROUP, (group + 1) * GROUP)
        parts += [biases[rows].view(np.uint8), taps[rows].reshape(-1).view(np.uint8)]
    return np.concatenate(parts)
