"""The host's C for TFLite's requantization of the array's int32 accumulators, one output
channel's constants and one accumulator's arithmetic.

TFLite's MultiplyByQuantizedMultiplier, rewritten with fewer RV32 instructions and the same
result for every int32 accumulator (its multipliers are positive, so the saturating case of the
doubling high multiply never arises):

- the doubling high multiply adds 2^30 to a non-negative product and 1 - 2^30 to a negative one,
  then divides by 2^31 rounding towards zero; for a negative numerator n, ceil(n / 2^31) =
  floor((n + 2^31 - 1) / 2^31), so both cases are floor((product + 2^30) / 2^31): one 64-bit
  add and an arithmetic shift (no sign test, no division);
- the rounding right shift by e adds one to ``x >> e`` when the dropped bits exceed half of
  2^e, less one for a negative x: that is (x + 2^(e-1) - [x < 0]) >> e for e > 0, and x for
  e = 0 (``half`` and ``negative`` per channel). Where x + 2^(e-1) could overflow int32, the
  dropped bits are rounded apart, unsigned: (x >> e) + (((x & (2^e - 1)) + 2^(e-1) - [x < 0]) >> e).
  ``fits_int32`` says whether that can happen for a layer's accumulators.
"""

from __future__ import annotations

import numpy as np


def channel_constants(left_shifts: bool, bounded: bool) -> list[str]:
    """One output channel's requantization constants (``channel`` set)."""
    lines = [
        "    int32_t factor = multiplier[channel];",
        "    int32_t right = shift[channel] > 0 ? 0 : -shift[channel];",
        "    int32_t half = right > 0 ? 1 << (right - 1) : 0;",
        "    int32_t negative = right > 0;",
    ]
    if left_shifts or not bounded:
        lines.append("    int32_t mask = (int32_t)((1LL << right) - 1);")
    if left_shifts:
        lines.append("    int32_t left = shift[channel] > 0 ? shift[channel] : 0;")
    return lines


def requantize_expression(left_shifts: bool, bounded: bool) -> list[str]:
    """TFLite's MultiplyByQuantizedMultiplier of ``acc`` into ``value`` (``bounded``: the
    doubling high product plus half a step is proven to fit int32, ``fits_int32``)."""
    shifted = "(int32_t)((uint32_t)acc << left)" if left_shifts else "acc"
    high = f"    int32_t high = (int32_t)(((int64_t){shifted} * factor + (1LL << 30)) >> 31);"
    if bounded and not left_shifts:
        return [high, "    int32_t value = (high + half - ((high < 0) & negative)) >> right;"]
    return [high, "    int32_t value = (high >> right) + (int32_t)(((uint32_t)(high & mask) + "
                  "(uint32_t)half - (uint32_t)((high < 0) & negative)) >> right);"]


def fits_int32(bounds: np.ndarray, multipliers: np.ndarray, shifts: np.ndarray) -> bool:
    """Whether, for accumulators within ``bounds`` (per output channel, in absolute value) and
    right shifts only, the doubling high product plus half a rounding step stays in int32."""
    if np.any(shifts > 0):
        return False
    high = (bounds.astype(object) * multipliers.astype(object) + (1 << 30)) // (1 << 31) + 1
    half = [1 << (-int(shift) - 1) if shift < 0 else 0 for shift in shifts]
    return all(int(value) + step < (1 << 31) - 1 for value, step in zip(high, half, strict=True))
