"""One-layer graphs with random int8 weights, for the cost-model-vs-emulator tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nnmap.ir import Clamp, Conv2D, FullyConnected, Graph, Requant, Tensor


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


def fc_graph(
    rng: np.random.Generator,
    requant: Callable[[int], Requant],
    shape: tuple[int, int, int],
    weight: int = 127,
    bias: int = 3000,
    input_zero_point: int = 0,
) -> Graph:
    """One fully connected layer over ``shape`` = (rows, output channels, depth); weights in
    [-weight, weight] and biases in [-bias, bias] (they bound the results' magnitudes)."""
    rows, out, depth = shape
    tensors = {
        "x": Tensor("x", (1, rows, depth), "int8", 0.05, input_zero_point),
        "y": Tensor("y", (1, rows, out), "int8", 0.3, -2),
    }
    layer = FullyConnected(
        name="fc",
        inputs=("x",),
        output="y",
        weight=rng.integers(-weight, weight + 1, (out, depth)).astype(np.int8),
        bias=rng.integers(-bias, bias + 1, out).astype(np.int32),
        requant=requant(out),
        clamp=Clamp.int8(),
    )
    return Graph("fc", tensors, (layer,), ("x",), ("y",))


def depthwise_graph(
    rng: np.random.Generator,
    requant: Callable[[int], Requant],
    shape: tuple[int, int, int, int, int],
    input_zero_point: int = -3,
) -> Graph:
    """A depthwise convolution (one output channel per input channel) over an input of
    ``shape`` = (height, width, channels, kernel, stride), padded "same" (with its stride,
    TFLite's ``ceil(size / stride)`` outputs); ReLU6-like clamped outputs."""
    height, width, channels, kernel, stride = shape
    pad = kernel // 2
    out_h, out_w = -(-height // stride), -(-width // stride)
    tensors = {
        "x": Tensor("x", (1, height, width, channels), "int8", 0.05, input_zero_point),
        "y": Tensor("y", (1, out_h, out_w, channels), "int8", 0.2, -5),
    }
    bottom = max(0, (out_h - 1) * stride + kernel - height - pad)
    right = max(0, (out_w - 1) * stride + kernel - width - pad)
    layer = Conv2D(
        name="depthwise",
        inputs=("x",),
        output="y",
        weight=rng.integers(-127, 128, (channels, kernel, kernel, 1)).astype(np.int8),
        bias=rng.integers(-4000, 4000, channels).astype(np.int32),
        stride=(stride, stride),
        dilation=(1, 1),
        padding=(pad, pad, bottom, right),
        groups=channels,
        requant=requant(channels),
        clamp=Clamp(-5, 100),
    )
    return Graph("depthwise", tensors, (layer,), ("x",), ("y",))
