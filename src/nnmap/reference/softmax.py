"""TFLite's int8 softmax in gemmlowp fixed point: exp by barrel shifter, Newton-Raphson reciprocal.

Fixed-point values are int32 raw numbers with a given count of integer bits (value =
raw / 2**(31 - integer_bits)). Products use the saturating rounding doubling high multiply; the
arithmetic is vectorised over numpy int64 arrays that always hold int32-range values.
"""

from __future__ import annotations

import math

import numpy as np

from nnmap.ir.layers import SoftmaxScaling
from nnmap.ir.quant import (
    INT32_MAX,
    INT32_MIN,
    quantize_multiplier,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
)

SCALED_DIFF_INTEGER_BITS = 5
ACCUMULATION_INTEGER_BITS = 12

# exp(-2**k) in Q0.31 for k = -2 .. 4, the barrel shifter of exp_on_negative_values.
_EXP_OF_NEGATIVE_POWERS = (
    (-2, 1672461947),
    (-1, 1302514674),
    (0, 790015084),
    (1, 290630308),
    (2, 39332535),
    (3, 720401),
    (4, 242),
)


def softmax_scaling(beta: float, input_scale: float) -> SoftmaxScaling:
    """TFLite's ``PreprocessSoftmaxScaling`` and ``CalculateInputRadius`` for 5 integer bits."""
    real = min(beta * input_scale * (1 << (31 - SCALED_DIFF_INTEGER_BITS)), (1 << 31) - 1.0)
    fixed = quantize_multiplier(real)
    radius = math.floor(
        ((1 << SCALED_DIFF_INTEGER_BITS) - 1)
        * (1 << (31 - SCALED_DIFF_INTEGER_BITS))
        / (1 << fixed.shift)
    )
    return SoftmaxScaling(fixed.multiplier, fixed.shift, -radius)


def mul(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
    return saturating_rounding_doubling_high_mul(a, b)


def saturating_shift_left(x: np.ndarray, exponent: int) -> np.ndarray:
    threshold = (1 << (31 - exponent)) - 1
    shifted = x << exponent
    return np.where(x > threshold, INT32_MAX, np.where(x < -threshold, INT32_MIN, shifted))


def _exp_on_quarter_interval(a: np.ndarray) -> np.ndarray:
    """exp(a) for a in [-1/4, 0) in Q0.31, a Taylor expansion around -1/8."""
    constant_term = 1895147668  # exp(-1/8)
    one_third = 715827883
    x = a + (1 << 28)
    x2 = mul(x, x)
    x3 = mul(x2, x)
    x4 = mul(x2, x2)
    x4_over_4 = rounding_divide_by_pot(x4, 2)
    poly = rounding_divide_by_pot(mul(x4_over_4 + x3, one_third) + x2, 1)
    return constant_term + mul(constant_term, x + poly)


def exp_on_negative_values(a: np.ndarray, integer_bits: int = SCALED_DIFF_INTEGER_BITS
                           ) -> np.ndarray:
    """gemmlowp's exp for a fixed-point input <= 0 with ``integer_bits``, returning Q0.31."""
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    mask = one_quarter - 1
    a_mod_quarter_minus_quarter = (a & mask) - one_quarter
    result = _exp_on_quarter_interval(
        saturating_shift_left(a_mod_quarter_minus_quarter, integer_bits)
    )
    remainder = a_mod_quarter_minus_quarter - a
    for exponent, multiplier in _EXP_OF_NEGATIVE_POWERS:
        if integer_bits > exponent:
            bit = 1 << (fractional_bits + exponent)
            result = np.where((remainder & bit) != 0, mul(result, multiplier), result)
    if integer_bits > 5:
        result = np.where(a < -(1 << (fractional_bits + 5)), 0, result)
    return np.where(a == 0, INT32_MAX, result)


def one_over_one_plus_x(a: np.ndarray) -> np.ndarray:
    """1 / (1 + a) for a in [0, 1) in Q0.31, by three Newton-Raphson steps in Q2.29."""
    total = a + INT32_MAX
    half_denominator = np.where(total >= 0, (total + 1) // 2, -((-(total - 1)) // 2))
    x = 1515870810 + mul(half_denominator, -1010580540)  # 48/17 - 32/17 * d
    one_q2 = 1 << 29
    for _ in range(3):
        one_minus_dx = one_q2 - mul(half_denominator, x)
        x = x + saturating_shift_left(mul(x, one_minus_dx), 2)
    return saturating_shift_left(x, 1)


def _count_leading_zeros(x: np.ndarray) -> np.ndarray:
    bits = np.zeros_like(x)
    value = x.copy()
    for width in (16, 8, 4, 2, 1):
        small = value < (np.int64(1) << (32 - width))
        bits = np.where(small, bits + width, bits)
        value = np.where(small, value << width, value)
    return np.where(x == 0, 32, bits)


def softmax_int8(x: np.ndarray, scaling: SoftmaxScaling) -> np.ndarray:
    """TFLite's reference int8 softmax over the last axis (output scale 1/256, zero point -128)."""
    data = x.astype(np.int64)
    diff = data - data.max(axis=-1, keepdims=True)
    in_range = diff >= scaling.diff_min
    rescaled = mul(diff << scaling.input_left_shift, scaling.input_multiplier)
    exps = exp_on_negative_values(rescaled)
    accumulated = rounding_divide_by_pot(exps, ACCUMULATION_INTEGER_BITS)
    sum_of_exps = np.where(in_range, accumulated, 0).sum(axis=-1, keepdims=True)
    headroom = _count_leading_zeros(sum_of_exps)
    bits_over_unit = ACCUMULATION_INTEGER_BITS - headroom
    shifted_minus_one = ((sum_of_exps << headroom) & 0xFFFFFFFF) - (1 << 31)
    reciprocal = one_over_one_plus_x(shifted_minus_one)
    unsaturated = rounding_divide_by_pot(mul(reciprocal, exps), bits_over_unit + 31 - 8)
    out = np.clip(unsaturated - 128, -128, 127)
    return np.where(in_range, out, -128).astype(np.int8)
