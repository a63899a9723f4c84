"""One-layer graphs with random int8 weights, for the cost-model-vs-emulator tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nnmap.ir import Clamp, Conv2D, Graph, Requant, Tensor


def conv_graph(
    rng: np.random.Generator,
    requant: Callable[[int], Requant],
    shape: tuple[int, int, int, int, int],
) -> Graph:
    """A padded ("same") convolution over a square input: ``shape`` is (size, input channels,
    output channels, kernel, stride); ReLU-clamped outputs."""
    size, channels, out, kernel, stride = shape
    pad = kernel // 2
    side = (size + 2 * pad - kernel) // stride + 1
    tensors = {
        "x": Tensor("x", (1, size, size, channels), "int8", 0.05, -3),
        "y": Tensor("y", (1, side, side, out), "int8", 0.2, 4),
    }
    layer = Conv2D(
        name="conv",
        inputs=("x",),
        output="y",
        weight=rng.integers(-127, 128, (out, kernel, kernel, channels)).astype(np.int8),
        bias=rng.integers(-4000, 4000, out).astype(np.int32),
        stride=(stride, stride),
        dilation=(1, 1),
        padding=(pad, pad, pad, pad),
        groups=1,
        requant=requant(out),
        clamp=Clamp(0, 127),
    )
    return Graph("conv", tensors, (layer,), ("x",), ("y",))
