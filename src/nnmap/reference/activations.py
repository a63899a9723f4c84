"""TFLite Micro's int8 activation functions, integer step for integer step (numpy, vectorised).

Each takes raw int8 values and the tensors' (scale, zero point) and returns int8. Since the
input is int8, a layer stores the function as a 256-entry table (``Lookup``) made by running
these on every int8 value; ``lookup_table`` does that.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from nnmap.ir.quant import (
    INT32_MAX,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    rounding_divide_by_pot,
)
from nnmap.reference.softmax import (
    exp_on_negative_values,
    mul,
    one_over_one_plus_x,
    saturating_shift_left,
)

SIGMOID_INPUT_INTEGER_BITS = 4
INT16_MIN, INT16_MAX = -(2**15), 2**15 - 1
Quant = tuple[float, int]


def all_int8() -> np.ndarray:
    return np.arange(-128, 128, dtype=np.int64)


def lookup_table(function: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """The int8 outputs of ``function`` for inputs -128 .. 127, in that order."""
    return np.clip(function(all_int8()), -128, 127).astype(np.int8)


def _input_rescale(scale: float, integer_bits: int) -> tuple[int, int, int]:
    """Multiplier, left shift and input radius of TFLite's LOGISTIC / TANH Prepare."""
    real = float(scale) * float(1 << (31 - integer_bits))
    fraction, left_shift = math.frexp(real)
    multiplier = int(math.copysign(math.floor(abs(fraction) * (1 << 31) + 0.5), fraction))
    radius = math.floor(((1 << integer_bits) - 1) * (1 << (31 - integer_bits))
                        / (1 << left_shift))
    return multiplier, left_shift, radius


def _one_minus_x_over_one_plus_x(a: np.ndarray) -> np.ndarray:
    """(1 - a) / (1 + a) for a in [0, 1) in Q0.31 (Newton-Raphson in Q2.29)."""
    total = a + INT32_MAX
    half_denominator = np.where(total >= 0, (total + 1) // 2, -((-(total - 1)) // 2))
    x = 1515870810 + mul(half_denominator, -1010580540)
    one_q2 = 1 << 29
    for _ in range(3):
        one_minus_dx = one_q2 - mul(half_denominator, x)
        x = x + saturating_shift_left(mul(x, one_minus_dx), 2)
    return saturating_shift_left(x - one_q2, 2)


def logistic(x: np.ndarray, inp: Quant) -> np.ndarray:
    """LOGISTIC (output scale 1/256, zero point -128) in gemmlowp fixed point."""
    multiplier, shift, radius = _input_rescale(inp[0], SIGMOID_INPUT_INTEGER_BITS)
    value = x.astype(np.int64) - inp[1]
    a = multiply_by_quantized_multiplier(np.clip(value, -radius, radius), multiplier, shift)
    positive = one_over_one_plus_x(exp_on_negative_values(-np.abs(a), SIGMOID_INPUT_INTEGER_BITS))
    result = np.where(a > 0, positive, INT32_MAX - positive)
    result = np.where(a == 0, 1 << 30, result)
    scaled = np.clip(rounding_divide_by_pot(result, 23) - 128, -128, 127)
    return np.where(value <= -radius, -128, np.where(value >= radius, 127, scaled))


def tanh(x: np.ndarray, inp: Quant) -> np.ndarray:
    """TANH (output scale 1/128, zero point 0) in gemmlowp fixed point."""
    multiplier, shift, radius = _input_rescale(inp[0], SIGMOID_INPUT_INTEGER_BITS)
    value = x.astype(np.int64) - inp[1]
    a = multiply_by_quantized_multiplier(np.clip(value, -radius, radius), multiplier, shift)
    magnitude = _one_minus_x_over_one_plus_x(
        exp_on_negative_values(-np.abs(a), SIGMOID_INPUT_INTEGER_BITS + 1))
    result = np.where(a == 0, 0, np.where(a < 0, -magnitude, magnitude))
    scaled = np.clip(rounding_divide_by_pot(result, 24), -128, 127)
    return np.where(value <= -radius, -128, np.where(value >= radius, 127, scaled))


def _int16_doubling_high_mul(a: np.ndarray, b: int) -> np.ndarray:
    """gemmlowp's ``SaturatingRoundingDoublingHighMul`` on int16 values."""
    product = a.astype(np.int64) * b
    product = product + np.where(product >= 0, 1 << 14, 1 - (1 << 14))
    quotient = np.where(product >= 0, product >> 15, -((-product) >> 15))
    return np.where((a == INT16_MIN) & (b == INT16_MIN), INT16_MAX, quotient)


def _saturating_left_shift16(x: np.ndarray, amount: int) -> np.ndarray:
    return np.clip(x * (1 << amount), INT16_MIN, INT16_MAX)


def _int16_multiplier(real: float) -> tuple[int, int]:
    fixed = quantize_multiplier(real)
    if fixed.multiplier >= INT32_MAX - (1 << 15):
        return INT16_MAX, fixed.shift
    return (fixed.multiplier + (1 << 15)) >> 16, fixed.shift


def hard_swish(x: np.ndarray, inp: Quant, out: Quant) -> np.ndarray:
    """HARD_SWISH: TFLite's int16 fixed-point evaluation of x * relu6(x + 3) / 6."""
    hires_scale = np.float32(1.0 / 128.0) * np.float32(inp[0])
    output_multiplier, output_exponent = _int16_multiplier(float(hires_scale / np.float32(out[0])))
    reluish_multiplier, reluish_exponent = _int16_multiplier(
        float(hires_scale / np.float32(3.0 / 32768.0)))
    hires = (x.astype(np.int64) - inp[1]) * (1 << 7)
    preshift_output = _int16_doubling_high_mul(hires, output_multiplier)
    reluish = hires
    if reluish_exponent > 0:
        reluish = _saturating_left_shift16(reluish, reluish_exponent - 1)
    reluish = _int16_doubling_high_mul(reluish, reluish_multiplier)
    if reluish_exponent > 0:
        reluish = _saturating_left_shift16(reluish, 1)
    if reluish_exponent < 0:
        reluish = rounding_divide_by_pot(reluish, -reluish_exponent)
    reluish = (reluish + (1 << 15)) >> 1
    preshift = _int16_product_high(reluish, preshift_output)
    result = rounding_divide_by_pot(preshift, -output_exponent) + out[1]
    return np.clip(result, -128, 127)


def _int16_product_high(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """TFLite's non-rounding ``SaturatingDoublingHighMul`` of two int16 arrays."""
    product = a.astype(np.int64) * b.astype(np.int64)
    quotient = np.where(product >= 0, product >> 15, -((-product) >> 15))
    return np.where((a == INT16_MIN) & (b == INT16_MIN), INT16_MAX, quotient)


def leaky_relu(x: np.ndarray, alpha: float, inp: Quant, out: Quant) -> np.ndarray:
    """LEAKY_RELU: identity and alpha rescales (their factors computed in float32)."""
    alpha_real = float(np.float32(inp[0]) * np.float32(alpha) / np.float32(out[0]))
    identity_real = float(np.float32(inp[0]) / np.float32(out[0]))
    alpha_fixed = quantize_multiplier(alpha_real)
    identity_fixed = quantize_multiplier(identity_real)
    value = x.astype(np.int64) - inp[1]
    positive = multiply_by_quantized_multiplier(value, identity_fixed.multiplier,
                                                identity_fixed.shift)
    negative = multiply_by_quantized_multiplier(value, alpha_fixed.multiplier, alpha_fixed.shift)
    return np.clip(np.where(value >= 0, positive, negative) + out[1], -128, 127)


def requantize(x: np.ndarray, inp: Quant, out: Quant) -> np.ndarray:
    """QUANTIZE int8 -> int8: one fixed-point rescale of ``in / out`` (computed in double)."""
    fixed = quantize_multiplier(float(inp[0]) / float(out[0]))
    value = x.astype(np.int64) - inp[1]
    return np.clip(multiply_by_quantized_multiplier(value, fixed.multiplier, fixed.shift)
                   + out[1], -128, 127)


def relu(x: np.ndarray, inp: Quant, out: Quant, low: int, high: int) -> np.ndarray:
    """RELU and RELU_N1_TO_1: rescale by ``in / out`` (divided in float32), then the
    activation's range ``[low, high]`` in the output's integers."""
    fixed = quantize_multiplier(float(np.float32(inp[0]) / np.float32(out[0])))
    value = x.astype(np.int64) - inp[1]
    scaled = multiply_by_quantized_multiplier(value, fixed.multiplier, fixed.shift) + out[1]
    return np.clip(scaled, low, high)


def relu6(x: np.ndarray, inp: Quant) -> np.ndarray:
    """TFLite Micro's RELU6: no rescale, the raw input clamped to [zero point, quantized 6]."""
    ratio = float(np.float32(6.0) / np.float32(inp[0]))
    six = min(127, int(math.copysign(math.floor(abs(ratio) + 0.5), ratio)) + inp[1])
    return np.clip(x.astype(np.int64), inp[1], six)
