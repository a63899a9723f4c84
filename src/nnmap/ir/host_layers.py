"""Layer kinds that run on the host only (no accelerator code generator lowers them).

They carry TFLite Micro's integer parameters, computed at import exactly as its kernels' Prepare
functions do, so the reference and the host C only replay the integer arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnmap.ir.layers import AddRescale, Clamp, Layer
from nnmap.ir.quant import FixedPointMultiplier

INT8_VALUES = 256


@dataclass(frozen=True, eq=False, kw_only=True)
class Constant(Layer):
    """A constant tensor of the model used as an activation (an operand of ADD, MUL, ...)."""

    value: np.ndarray

    def parameter_count(self) -> int:
        return int(self.value.size)


@dataclass(frozen=True, eq=False, kw_only=True)
class Reduce(Layer):
    """MEAN or SUM over ``axes``: TFLite's integer sum minus the zero points, then one
    fixed-point rescale (for MEAN it already divides by the reduced element count)."""

    operator: str  # "MEAN" or "SUM"
    axes: tuple[int, ...]
    multiplier: FixedPointMultiplier | None  # None for float32 tensors


@dataclass(frozen=True, eq=False, kw_only=True)
class Elementwise(Layer):
    """A binary operator with numpy broadcasting (shapes aligned on the right).

    ADD and SUB use ``rescale`` (TFLite's common Q(31 - left_shift) grid); MUL uses
    ``multipliers[0]``; PRELU uses ``multipliers`` = (for x >= 0, for x < 0) with the alpha as
    second input; MAXIMUM and MINIMUM compare raw values (same quantization everywhere).
    """

    operator: str
    rescale: AddRescale | None = None
    multipliers: tuple[FixedPointMultiplier, ...] = ()
    clamp: Clamp = Clamp(-128, 127)


@dataclass(frozen=True, eq=False, kw_only=True)
class Lookup(Layer):
    """An int8 -> int8 elementwise function (LOGISTIC, TANH, HARD_SWISH, LEAKY_RELU, RELU*,
    QUANTIZE): ``out = table[in + 128]``, the table made by TFLite's integer algorithm run on
    all 256 inputs at import."""

    operator: str
    table: np.ndarray  # int8, 256 entries

    def __post_init__(self) -> None:
        if self.table.shape != (INT8_VALUES,) or self.table.dtype != np.int8:
            raise ValueError(f"layer {self.name}: a lookup table has 256 int8 entries")


@dataclass(frozen=True, eq=False, kw_only=True)
class Slice(Layer):
    """``out = in[begin : : stride]`` per axis, ``sliced_shape`` elements on each axis (same
    rank as the input); the output tensor may drop axes of size 1 (shrink_axis_mask)."""

    begin: tuple[int, ...]
    stride: tuple[int, ...]
    sliced_shape: tuple[int, ...]


@dataclass(frozen=True, eq=False, kw_only=True)
class Resize(Layer):
    """RESIZE_NEAREST_NEIGHBOR or RESIZE_BILINEAR of an NHWC image to the output's size."""

    method: str  # "nearest" or "bilinear"
    align_corners: bool
    half_pixel_centers: bool


@dataclass(frozen=True, eq=False, kw_only=True)
class Dequantize(Layer):
    """int8 -> float32: ``(x - zero_point) * scale`` (the model's float output)."""


@dataclass(frozen=True, eq=False, kw_only=True)
class Quantize(Layer):
    """float32 -> int8: ``round(x / scale) + zero_point``, saturated (the model's float input).
    Ties round away from zero (TFLite) or to even (ONNX QuantizeLinear)."""

    half_to_even: bool = False


@dataclass(frozen=True, eq=False, kw_only=True)
class Recast(Layer):
    """uint8 <-> int8 holding the same integers: ``out = in - zero_point_in + zero_point_out``
    (the zero points differ by 128), where a model takes or gives uint8 activations."""


HOST_ONLY_KINDS = (Constant, Reduce, Elementwise, Lookup, Slice, Resize, Dequantize, Quantize,
                   Recast)
