"""Layer kinds of a Graph. Each is a frozen value over named tensors; weights are numpy arrays.

Int8 layers carry TFLite's integer parameters (int32 bias, fixed-point requantization, the
clamp that folds ReLU/ReLU6/clip into the output range). The same kinds describe float32 layers,
with ``requant`` left as None and a float clamp.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnmap.ir.quant import FixedPointMultiplier, Requant


@dataclass(frozen=True)
class Clamp:
    """The output range after the fused activation (in the output's integer or float domain)."""

    low: float
    high: float

    @staticmethod
    def int8() -> Clamp:
        return Clamp(-128, 127)

    @staticmethod
    def none() -> Clamp:
        return Clamp(float("-inf"), float("inf"))


@dataclass(frozen=True, eq=False, kw_only=True)
class Layer:
    """A node of the graph: reads ``inputs`` and writes ``output`` (tensor names)."""

    name: str
    inputs: tuple[str, ...]
    output: str

    @property
    def kind(self) -> str:
        return type(self).__name__

    def parameter_count(self) -> int:
        return 0


@dataclass(frozen=True, eq=False, kw_only=True)
class Conv2D(Layer):
    """Grouped 2-D convolution, NHWC. ``weight`` is OHWI with I = in_channels / groups."""

    weight: np.ndarray
    bias: np.ndarray  # int32 (int8 layers) or float32, one per output channel
    stride: tuple[int, int]
    dilation: tuple[int, int]
    padding: tuple[int, int, int, int]  # top, left, bottom, right
    groups: int
    requant: Requant | None
    clamp: Clamp

    @property
    def is_depthwise(self) -> bool:
        return self.groups > 1 and self.weight.shape[3] == 1

    def parameter_count(self) -> int:
        return int(self.weight.size + self.bias.size)


@dataclass(frozen=True, eq=False, kw_only=True)
class FullyConnected(Layer):
    """``out[b, n] = sum_c in[b, c] * weight[n, c] + bias[n]``; input rows are flattened to C."""

    weight: np.ndarray  # [out_features, in_features]
    bias: np.ndarray
    requant: Requant | None
    clamp: Clamp

    def parameter_count(self) -> int:
        return int(self.weight.size + self.bias.size)


@dataclass(frozen=True)
class AddRescale:
    """TFLite's int8 Add: inputs scaled to a common Q(31-left_shift) grid, then to the output."""

    left_shift: int
    input1: FixedPointMultiplier
    input2: FixedPointMultiplier
    output: FixedPointMultiplier


@dataclass(frozen=True, eq=False, kw_only=True)
class Add(Layer):
    """Elementwise addition of two tensors of the same shape (residual connections)."""

    rescale: AddRescale | None
    clamp: Clamp


@dataclass(frozen=True, eq=False, kw_only=True)
class Pool2D(Layer):
    """Window pooling, NHWC. Average pooling divides by the count of in-bounds elements."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int, int, int]
    clamp: Clamp


class AveragePool(Pool2D):
    """Average over each window (TFLite rounds the integer mean half away from zero)."""


class MaxPool(Pool2D):
    """Maximum over each window."""


@dataclass(frozen=True)
class SoftmaxScaling:
    """TFLite's int8 softmax parameters (``PreprocessSoftmaxScaling`` with 5 integer bits)."""

    input_multiplier: int
    input_left_shift: int
    diff_min: int


@dataclass(frozen=True, eq=False, kw_only=True)
class Softmax(Layer):
    """Softmax over the last axis; int8 output has scale 1/256 and zero point -128."""

    beta: float
    scaling: SoftmaxScaling | None


@dataclass(frozen=True, eq=False, kw_only=True)
class Reshape(Layer):
    """Reinterprets the input with the output tensor's shape (no data movement)."""


@dataclass(frozen=True, eq=False, kw_only=True)
class Pad(Layer):
    """Constant padding; int8 tensors are padded with ``value`` (their zero point if None)."""

    pads: tuple[tuple[int, int], ...]  # (before, after) per axis
    value: int | None = None


@dataclass(frozen=True, eq=False, kw_only=True)
class Concat(Layer):
    """Concatenation along ``axis``; inputs whose quantization differs are rescaled as TFLite."""

    axis: int


@dataclass(frozen=True, eq=False, kw_only=True)
class Transpose(Layer):
    """Permutes the axes (layout changes at the boundary of NCHW models; batch axis stays first)."""

    perm: tuple[int, ...]


COMPUTE_KINDS = (Conv2D, FullyConnected)
# Layers without a loop nest to search that an accelerator's backend may still lower (the mapper
# weighs them against the host's loop).
OFFLOADABLE = (Add, MaxPool)
