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
  e = 0 (``half`` and ``negative`` per channel); the output zero point, shifted left, joins
  half a step (a multiple of 2^e passes the shift unchanged). Where x + 2^(e-1) could overflow
  int32, the dropped bits are rounded apart, unsigned:
  (x >> e) + (((x & (2^e - 1)) + 2^(e-1) - [x < 0]) >> e), and the zero point added after.
  ``fits_int32`` says whether that can happen for a layer's accumulators; the per-channel
  constants are worked out at compile time (``channel_arrays``).
"""

from __future__ import annotations

import numpy as np


def short_form(left_shifts: bool, bounded: bool) -> bool:
    """Whether the shorter form applies (``bounded``: proven by ``fits_int32``)."""
    return bounded and not left_shifts


def array_names(left_shifts: bool) -> tuple[str, ...]:
    """The per-channel constant arrays the C takes, in its parameters' order."""
    return ("multiplier", "right_shift", "rounding", *(("left_shift",) if left_shifts else ()))


def channel_arrays(multiplier: np.ndarray, shift: np.ndarray, zero_point: int,
                   short: bool) -> dict[str, np.ndarray]:
    """The int32 arrays of ``array_names``, worked out once at compile time: TFLite's
    multiplier, its right and left shifts, and the rounding constant (half a step, plus the
    output ``zero_point`` shifted left in the short form)."""
    shift = shift.astype(np.int64)
    right, left = np.maximum(-shift, 0), np.maximum(shift, 0)
    half = np.where(right > 0, np.left_shift(1, np.maximum(right - 1, 0)), 0)
    rounding = half + (np.left_shift(zero_point, right) if short else 0)
    arrays = {"multiplier": multiplier, "right_shift": right, "rounding": rounding,
              "left_shift": left}
    names = array_names(bool(np.any(left > 0)))
    return {name: np.ascontiguousarray(arrays[name].astype(np.int32)) for name in names}


def channel_constants(left_shifts: bool, bounded: bool) -> list[str]:
    """One output channel's requantization constants (``channel`` set)."""
    lines = [
        "    int32_t factor = multiplier[channel];",
        "    int32_t right = right_shift[channel];",
        "    int32_t half = rounding[channel];",
        "    int32_t negative = right > 0;",
    ]
    if not short_form(left_shifts, bounded):
        lines.append("    int32_t mask = (int32_t)((1LL << right) - 1);")
    if left_shifts:
        lines.append("    int32_t left = left_shift[channel];")
    return lines


def requantize_expression(left_shifts: bool, bounded: bool, zero_point: int) -> list[str]:
    """TFLite's MultiplyByQuantizedMultiplier of ``acc`` plus the output ``zero_point`` into
    ``value`` (``bounded``: the shorter form is proven to stay in int32, ``fits_int32``)."""
    shifted = "(int32_t)((uint32_t)acc << left)" if left_shifts else "acc"
    high = f"    int32_t high = (int32_t)(((int64_t){shifted} * factor + (1LL << 30)) >> 31);"
    if short_form(left_shifts, bounded):
        return [high, "    int32_t value = (high + half - ((high < 0) & negative)) >> right;"]
    return [high, "    int32_t value = (high >> right) + (int32_t)(((uint32_t)(high & mask) + "
                  "(uint32_t)half - (uint32_t)((high < 0) & negative)) >> right);",
            f"    value += {zero_point};"]


def fits_int32(bounds: np.ndarray, multipliers: np.ndarray, shifts: np.ndarray,
               zero_point: int) -> bool:
    """Whether, for accumulators within ``bounds`` (per output channel, in absolute value) and
    right shifts only, the doubling high product plus half a rounding step and the shifted
    ``zero_point`` stays in int32."""
    if np.any(shifts > 0):
        return False
    high = (bounds.astype(object) * multipliers.astype(object) + (1 << 30)) // (1 << 31) + 1
    added = [(1 << (-int(shift) - 1) if shift < 0 else 0) + (abs(zero_point) << -int(shift))
             for shift in shifts]
    return all(int(value) + extra < (1 << 31) - 1
               for value, extra in zip(high, added, strict=True))
