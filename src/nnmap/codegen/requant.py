"""TFLite's ``MultiplyByQuantizedMultiplier`` as a TIR expression, bit-exact with ``ir/quant.py``.

``tirx.q_multiply_shift`` rounds once (``(x * m + 2**(30 + r)) >> (31 + r)``), while TFLite rounds
twice: the saturating rounding doubling high multiply, then a rounding divide by a power of two
(half away from zero). The two differ on about a quarter of the values when the right shift is 1,
so the kernels build TFLite's double rounding from plain integer TIR operations instead.
"""

from __future__ import annotations

from collections.abc import Callable

from tvm import tirx

from nnmap.ir import IntegerRequant

_I32 = "int32"
_I64 = "int64"
_U32 = "uint32"


def _i64(value: int) -> tirx.PrimExpr:
    return tirx.const(value, _I64)


def _i32(value: int) -> tirx.PrimExpr:
    return tirx.const(value, _I32)


def let(name: str, dtype: str, value: tirx.PrimExpr,
           body: Callable[[tirx.PrimExpr], tirx.PrimExpr], bind: bool) -> tirx.PrimExpr:
    """``body(value)``, with ``value`` bound once by a Let when ``bind`` (keeps the TIR small)."""
    if not bind:
        return body(value)
    var = tirx.Var(name, dtype)
    return tirx.Let(var, value, body(var))


def doubling_high_mul(x: tirx.PrimExpr, multiplier: tirx.PrimExpr, bind: bool = True
                      ) -> tirx.PrimExpr:
    """gemmlowp's saturating rounding doubling high multiply (``multiplier`` is never INT32_MIN)."""

    def high(product: tirx.PrimExpr) -> tirx.PrimExpr:
        nudge = tirx.Select(product >= _i64(0), _i64(1 << 30), _i64(1 - (1 << 30)))
        return tirx.truncdiv(product + nudge, _i64(1 << 31)).astype(_I32)

    return let("product", _I64, x.astype(_I64) * multiplier.astype(_I64), high, bind)


def rounding_divide_by_pot(x: tirx.PrimExpr, exponent: tirx.PrimExpr, bind: bool = True
                           ) -> tirx.PrimExpr:
    """gemmlowp's ``RoundingDivideByPOT``: ``x / 2**exponent`` rounded half away from zero."""

    def rounded(value: tirx.PrimExpr) -> tirx.PrimExpr:
        # In uint32: an exponent of 31 (the largest a shift takes) would overflow int32's 1 << 31.
        one = tirx.const(1, _U32)
        mask = ((one << exponent.astype(_U32)) - one).astype(_I32)
        remainder = tirx.bitwise_and(value, mask)
        threshold = (mask >> _i32(1)) + tirx.Select(value < _i32(0), _i32(1), _i32(0))
        return (value >> exponent) + tirx.Select(remainder > threshold, _i32(1), _i32(0))

    return let("value", _I32, x, rounded, bind)


def multiply_by_quantized_multiplier(
    x: tirx.PrimExpr, multiplier: tirx.PrimExpr, shift: tirx.PrimExpr, *, may_shift_left: bool,
    bind: bool = True) -> tirx.PrimExpr:
    """``x * multiplier * 2**(shift - 31)`` with TFLite's rounding; int32 in, int32 out.

    With ``may_shift_left`` false the caller guarantees ``shift <= 0`` for every channel, which
    drops the left-shift stage from the generated code. ``bind`` names the intermediates with Let
    bindings, which keeps TVM's simplifier fast (it duplicates unnamed subexpressions).
    """
    if may_shift_left:
        left = tirx.max(shift, _i32(0))
        # Times 2**left (C leaves a left shift of a negative value undefined).
        x = (x.astype(_I64) * (_i64(1) << left.astype(_I64))).astype(_I32)
    right = tirx.max(_i32(0) - shift, _i32(0))
    return rounding_divide_by_pot(doubling_high_mul(x, multiplier, bind), right, bind)


def saturate(x: tirx.PrimExpr, low: int, high: int, dtype: str, bind: bool = True
             ) -> tirx.PrimExpr:
    """Clamp an int32 expression to ``[low, high]`` and narrow it to ``dtype``."""

    def clamped(value: tirx.PrimExpr) -> tirx.PrimExpr:
        return tirx.max(tirx.min(value, _i32(high)), _i32(low)).astype(dtype)

    return let("unclamped", _I32, x, clamped, bind)


def integer_requantized(total: tirx.PrimExpr, requant: IntegerRequant, multiplier: tirx.PrimExpr,
                        addend: tirx.PrimExpr, zero_point: int, low: int, high: int
                        ) -> tirx.PrimExpr:
    """An integer-only ONNX layer's own requantization, bit-exact with ``IntegerRequant.apply``:
    ``(total * multiplier + addend) / 2**shift`` in 64 bits (an arithmetic shift rounds toward
    minus infinity, ``truncdiv`` toward zero), plus the output zero point, clamped to int8."""
    value = total.astype(_I64) * multiplier.astype(_I64) + addend.astype(_I64)
    if requant.toward_zero:
        quotient = tirx.truncdiv(value, _i64(1 << requant.shift))
    else:
        quotient = value >> _i64(requant.shift)
    shifted = quotient + _i64(zero_point)
    return tirx.max(tirx.min(shifted, _i64(high)), _i64(low)).astype("int8")
