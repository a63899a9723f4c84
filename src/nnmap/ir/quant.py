"""Quantization parameters and TFLite's fixed-point requantization, computed exactly as TFLite does.

TFLite turns every real rescale factor into a Q31 multiplier and a power-of-two shift from the
double-precision product of the (float32) tensor scales; the kernels then apply it with a
saturating rounding doubling high multiply and a rounding right shift. Both halves live here so
the reference, the code generators and the tests share one definition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nnmap.errors import QuantizationError

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class FixedPointMultiplier:
    """A real factor as TFLite stores it: ``real ~= multiplier * 2**(shift - 31)``."""

    multiplier: int
    shift: int


def _round_half_away(x: float) -> int:
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def quantize_multiplier(real: float) -> FixedPointMultiplier:
    """TFLite's ``QuantizeMultiplier``: frexp, Q31 rounding, and the same clamps at the ends."""
    if not math.isfinite(real):
        raise QuantizationError(
            f"a rescale factor of the model is {real}: one of its quantization scales is 0, NaN "
            "or infinite; re-quantize the model"
        )
    if real == 0.0:
        return FixedPointMultiplier(0, 0)
    fraction, shift = math.frexp(real)
    q_fixed = _round_half_away(fraction * (1 << 31))
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return FixedPointMultiplier(0, 0)
    if shift > 30:
        return FixedPointMultiplier(INT32_MAX, 30)
    return FixedPointMultiplier(int(q_fixed), shift)


@dataclass(frozen=True, eq=False)
class Requant:
    """Per-output-channel requantization of int32 accumulators (length 1 when per tensor)."""

    multiplier: np.ndarray  # int32
    shift: np.ndarray  # int32, positive = left shift

    @staticmethod
    def from_scales(input_scale: float, weight_scales: np.ndarray, output_scale: float) -> Requant:
        """Multipliers of a conv / fully-connected layer: ``s_in * s_w[k] / s_out`` in double."""
        fixed = [
            quantize_multiplier(float(input_scale) * float(s) / float(output_scale))
            for s in np.asarray(weight_scales, dtype=np.float32).reshape(-1)
        ]
        return Requant(
            multiplier=np.array([f.multiplier for f in fixed], dtype=np.int32),
            shift=np.array([f.shift for f in fixed], dtype=np.int32),
        )

    def channel(self, k: int) -> FixedPointMultiplier:
        index = k if self.multiplier.size > 1 else 0
        return FixedPointMultiplier(int(self.multiplier[index]), int(self.shift[index]))


def saturating_rounding_doubling_high_mul(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
    """gemmlowp's ``SaturatingRoundingDoublingHighMul`` on int32 values (vectorised, in int64)."""
    a64 = np.asarray(a, dtype=np.int64)
    b64 = np.asarray(b, dtype=np.int64)
    total = a64 * b64
    # nudge: +2**30 for products >= 0, 1 - 2**30 below
    total += np.where(total >= 0, 1 << 30, 1 - (1 << 30))
    # C integer division truncates toward zero: add 2**31 - 1 to negatives before shifting.
    total += (total >> 63) & ((1 << 31) - 1)
    total >>= 31
    overflow = (a64 == INT32_MIN) & (b64 == INT32_MIN)
    if np.any(overflow):
        total = np.where(overflow, INT32_MAX, total)
    return total


def rounding_divide_by_pot(x: np.ndarray, exponent: np.ndarray | int) -> np.ndarray:
    """gemmlowp's ``RoundingDivideByPOT``: divide by 2**exponent, rounding half away from zero."""
    x64 = np.asarray(x, dtype=np.int64)
    e = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << e) - 1
    remainder = x64 & mask
    threshold = (mask >> 1) + (x64 < 0)
    return (x64 >> e) + (remainder > threshold)


def multiply_by_quantized_multiplier(
    x: np.ndarray, multiplier: np.ndarray | int, shift: np.ndarray | int
) -> np.ndarray:
    """TFLite's ``MultiplyByQuantizedMultiplier`` (double rounding), broadcast over arrays."""
    shift64 = np.asarray(shift, dtype=np.int64)
    left = np.maximum(shift64, 0)
    right = np.maximum(-shift64, 0)
    shifted = (np.asarray(x, dtype=np.int64) << left).astype(np.int32).astype(np.int64)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, multiplier), right)


def mean_multiplier(base: FixedPointMultiplier, count: int) -> FixedPointMultiplier:
    """TFLite's ``QuantizedMeanOrSum``: fold 1/count into the multiplier and shift."""
    shift = min(count.bit_length() - 1, 32, 31 + base.shift)
    multiplier = (base.multiplier << shift) // count
    return FixedPointMultiplier(int(multiplier), base.shift - shift)


@dataclass(frozen=True, eq=False)
class IntegerRequant:
    """The integer-only requantization of DORY / HTVM / MATCH ONNX graphs, per output channel:
    ``(acc * multiplier[k] + addend[k]) / 2**shift`` rounded toward minus infinity (an ONNX
    Floor, or an arithmetic right shift) or toward zero (an integer Div), in 64-bit integers."""

    multiplier: np.ndarray  # int32, length 1 when per tensor
    addend: np.ndarray  # int32, length 1 when per tensor
    shift: int
    toward_zero: bool = False

    def apply(self, acc: np.ndarray) -> np.ndarray:
        """Integer values (channel last) after the multiply, add and power-of-two division."""
        total = np.asarray(acc, dtype=np.int64) * self.multiplier.astype(np.int64)
        total = total + self.addend.astype(np.int64)
        if not self.toward_zero:
            return total >> self.shift
        magnitude = np.abs(total) >> self.shift
        return np.where(total < 0, -magnitude, magnitude)
