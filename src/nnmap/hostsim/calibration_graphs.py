"""Small int8 graphs whose host kernels calibrate the analytical host model: every kernel kind
nnmap's host C has (full, pointwise and depthwise convolutions, fully connected, max and
average pooling, add, pad, concat, softmax), at several widths so that multiply-accumulates,
outputs and calls vary independently across the measured kernels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnmap.ir import (
    Add,
    AddRescale,
    AveragePool,
    Clamp,
    Concat,
    Conv2D,
    FullyConnected,
    Graph,
    Layer,
    MaxPool,
    Pad,
    Requant,
    Reshape,
    Softmax,
    Tensor,
    quantize_multiplier,
)
from nnmap.reference.softmax import softmax_scaling

SCALE = 0.05  # one activation scale and zero point throughout: the kernels' cost ignores them
ZERO_POINT = -1


@dataclass(frozen=True)
class GraphShape:
    """One calibration graph: input ``side`` x ``side`` x ``depth``, ``width`` channels after the
    first convolution, ``classes`` outputs of the softmax."""

    side: int
    depth: int
    width: int
    classes: int


SHAPES = (GraphShape(16, 3, 8, 10), GraphShape(8, 8, 16, 24), GraphShape(8, 16, 32, 48),
          GraphShape(8, 32, 64, 12))


class GraphBuilder:
    """Appends layers to a graph under construction, with random int8 weights."""

    def __init__(self, rng: np.random.Generator, name: str, shape: tuple[int, ...]) -> None:
        self.rng = rng
        self.tensors = {"x": Tensor("x", shape, "int8", SCALE, ZERO_POINT)}
        self.layers: list[Layer] = []
        self.name = name

    def tensor(self, name: str, shape: tuple[int, ...], scale: float = SCALE,
               zero_point: int = ZERO_POINT) -> str:
        self.tensors[name] = Tensor(name, shape, "int8", scale, zero_point)
        return name

    def conv(self, name: str, source: str, channels: int, kernel: int, stride: int = 1,
             depthwise: bool = False) -> str:
        _, height, width, depth = self.tensors[source].shape
        pad = kernel // 2
        side = ((height + 2 * pad - kernel) // stride + 1, (width + 2 * pad - kernel) // stride + 1)
        per_group = 1 if depthwise else depth
        self.layers.append(Conv2D(
            name=name, inputs=(source,), output=self.tensor(name, (1, *side, channels)),
            weight=self.rng.integers(-127, 128, (channels, kernel, kernel, per_group),
                                     dtype=np.int8),
            bias=self.rng.integers(-2000, 2000, channels, dtype=np.int32),
            stride=(stride, stride), dilation=(1, 1), padding=(pad, pad, pad, pad),
            groups=depth if depthwise else 1,
            requant=Requant.from_scales(SCALE, np.full(channels, 0.004), SCALE),
            clamp=Clamp(-128, 127)))
        return name

    def pool(self, name: str, source: str, kind: type[MaxPool | AveragePool]) -> str:
        _, height, width, depth = self.tensors[source].shape
        output = self.tensor(name, (1, height // 2, width // 2, depth))
        self.layers.append(kind(name=name, inputs=(source,), output=output, kernel=(2, 2),
                                stride=(2, 2), padding=(0, 0, 0, 0), clamp=Clamp.int8()))
        return name

    def add(self, name: str, left: str, right: str) -> str:
        half = quantize_multiplier(0.5)
        rescale = AddRescale(20, half, half, quantize_multiplier(2.0 / (1 << 20)))
        output = self.tensor(name, self.tensors[left].shape)
        self.layers.append(Add(name=name, inputs=(left, right), output=output, rescale=rescale,
                               clamp=Clamp.int8()))
        return name

    def pad(self, name: str, source: str) -> str:
        batch, height, width, depth = self.tensors[source].shape
        output = self.tensor(name, (batch, height + 2, width + 2, depth))
        self.layers.append(Pad(name=name, inputs=(source,), output=output,
                               pads=((0, 0), (1, 1), (1, 1), (0, 0))))
        return name

    def concat(self, name: str, left: str, right: str) -> str:
        batch, height, width, depth = self.tensors[left].shape
        output = self.tensor(name, (batch, height, width, 2 * depth))
        self.layers.append(Concat(name=name, inputs=(left, right), output=output, axis=3))
        return name

    def dense(self, name: str, source: str, outputs: int) -> str:
        if len(self.tensors[source].shape) != 2:
            flat = self.tensor(f"{source}_flat", (1, self.tensors[source].size))
            self.layers.append(Reshape(name=f"{source}_flatten", inputs=(source,), output=flat))
            source = flat
        depth = self.tensors[source].shape[1]
        self.layers.append(FullyConnected(
            name=name, inputs=(source,), output=self.tensor(name, (1, outputs), 0.2, 7),
            weight=self.rng.integers(-127, 128, (outputs, depth), dtype=np.int8),
            bias=self.rng.integers(-500, 500, outputs, dtype=np.int32),
            requant=Requant.from_scales(SCALE, np.full(outputs, 0.004), 0.2),
            clamp=Clamp.int8()))
        return name

    def softmax(self, name: str, source: str) -> str:
        output = self.tensor(name, self.tensors[source].shape, 1 / 256, -128)
        self.layers.append(Softmax(name=name, inputs=(source,), output=output, beta=1.0,
                                   scaling=softmax_scaling(1.0, 0.2)))
        return name

    def graph(self, output: str) -> Graph:
        return Graph(self.name, dict(self.tensors), tuple(self.layers), ("x",), (output,))


def calibration_graph(shape: GraphShape, seed: int = 0) -> Graph:
    """One calibration graph: every host kernel kind once or twice, at ``shape``'s sizes."""
    build = GraphBuilder(np.random.default_rng(seed), f"calibration_{shape.width}",
                     (1, shape.side, shape.side, shape.depth))
    width = shape.width
    full = build.conv("conv_3x3", "x", width, 3)
    pointwise = build.conv("conv_1x1", full, width, 1)
    depthwise = build.conv("depthwise", pointwise, width, 3, depthwise=True)
    strided = build.conv("depthwise_strided", depthwise, width, 3, stride=2, depthwise=True)
    wide = build.conv("conv_wide", strided, 2 * width, 3)
    summed = build.add("add", wide, build.conv("conv_1x1_wide", wide, 2 * width, 1))
    maximum = build.pool("max_pool", summed, MaxPool)
    average = build.pool("average_pool", wide, AveragePool)
    padded = build.pad("pad", build.concat("concat", maximum, average))
    hidden = build.dense("dense_hidden", padded, 2 * width)
    return build.graph(build.softmax("softmax", build.dense("dense", hidden, shape.classes)))


def calibration_graphs() -> tuple[Graph, ...]:
    """The calibration graphs at every shape of ``SHAPES``."""
    return tuple(calibration_graph(shape, seed) for seed, shape in enumerate(SHAPES))
