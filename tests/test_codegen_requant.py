"""The TIR requantization against TFLite's (ir/quant.py) on edge cases, and why it is not
``tirx.q_multiply_shift``: that intrinsic rounds once where TFLite rounds twice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tvm
from tvm import te, tirx

from nnmap.codegen import requant
from nnmap.ir.quant import INT32_MAX, INT32_MIN, multiply_by_quantized_multiplier

EDGES = [0, 1, -1, 2, -2, 3, -3, 5, -5, 7, -7, 1 << 20, -(1 << 20), (1 << 24) + 1,
         -(1 << 24) - 1, 123456789, -123456789, INT32_MAX, INT32_MIN, INT32_MIN + 1]
MULTIPLIERS = [0, 1 << 30, (1 << 30) + 1, 1518500250, INT32_MAX]


def _values() -> np.ndarray:
    rng = np.random.default_rng(3)
    return np.concatenate([np.array(EDGES, dtype=np.int32),
                           rng.integers(-(1 << 22), 1 << 22, 4000).astype(np.int32)])


Requantize = Callable[..., Any]  # (x, multiplier, shift) -> PrimExpr


def _compiled(make: Requantize, size: int) -> Callable[[np.ndarray, int, int], np.ndarray]:
    """Build ``out[i] = make(x[i], multiplier, shift)`` once; call it with any parameters."""
    x = te.placeholder((size,), "int32", name="x")
    params = te.placeholder((2,), "int32", name="params")
    out = te.compute((size,), lambda i: make(x[i], params[0], params[1]), name="out")
    executable = tvm.compile(tvm.IRModule({"main": te.create_prim_func([x, params, out])}),
                             target="llvm")

    def run(xs: np.ndarray, multiplier: int, shift: int) -> np.ndarray:
        result = tvm.runtime.tensor(np.zeros(size, np.int32))
        executable["main"](tvm.runtime.tensor(xs),
                           tvm.runtime.tensor(np.array([multiplier, shift], np.int32)), result)
        return result.numpy()

    return run


def test_tir_requantization_is_bit_exact_with_tflite() -> None:
    xs = _values()
    for may_shift_left, shifts in ((True, (-31, -9, -1, 0, 1, 2, 7)), (False, (-31, -9, -1, 0))):
        def tflite(x: tirx.PrimExpr, m: tirx.PrimExpr, s: tirx.PrimExpr,
                   left: bool = may_shift_left) -> tirx.PrimExpr:
            return requant.multiply_by_quantized_multiplier(x, m, s, may_shift_left=left,
                                                            bind=False)

        run = _compiled(tflite, xs.size)
        for multiplier in MULTIPLIERS:
            for shift in shifts:
                np.testing.assert_array_equal(
                    run(xs, multiplier, shift), multiply_by_quantized_multiplier(
                        xs, multiplier, shift), err_msg=f"m={multiplier} shift={shift}")


def test_q_multiply_shift_rounds_differently() -> None:
    xs = _values()

    def single_rounding(x: tirx.PrimExpr, m: tirx.PrimExpr, s: tirx.PrimExpr) -> tirx.PrimExpr:
        del m, s  # the intrinsic only lowers literal multipliers and shifts
        return tirx.q_multiply_shift(x, tirx.const(1518500250, "int32"),
                                     tirx.const(31, "int32"), tirx.const(-1, "int32"))

    actual = _compiled(single_rounding, xs.size)(xs, 0, 0)
    expected = multiply_by_quantized_multiplier(xs, 1518500250, -1)
    assert (actual != expected).sum() > 100
