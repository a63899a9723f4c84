"""The host's requantization C of DIANA layers (``targets/diana/requant_c.py``), compiled and run
on accumulators at the edges of its roundings and of int32, against TFLite's
MultiplyByQuantizedMultiplier as nnmap's reference computes it."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from nnmap.ir.quant import multiply_by_quantized_multiplier
from nnmap.targets.diana.requant_c import (
    array_names,
    channel_arrays,
    channel_constants,
    fits_int32,
    requantize_expression,
)

MULTIPLIERS = (1 << 30, (1 << 30) + 1, 1518500250, 2147483647, 1073741825, 1342177280)
SHIFTS = (-31, -20, -9, -8, -1, 0, 1, 3)
ZERO_POINT = -7


def _function(name: str, left_shifts: bool, bounded: bool) -> list[str]:
    body = [*channel_constants(left_shifts, bounded),
            *requantize_expression(left_shifts, bounded, ZERO_POINT)]
    arrays = ", ".join(f"const int32_t *{array}" for array in array_names(left_shifts))
    return [
        f"void {name}(const int32_t *accumulators, int32_t count, {arrays}, int32_t *out) {{",
        "  for (int32_t index = 0; index < count; ++index) {",
        "    int32_t channel = 0;",
        "    int32_t acc = accumulators[index];",
        *body,
        "    out[index] = value;",
        "  }",
        "}",
    ]


def _source() -> str:
    return "\n".join(["#include <stdint.h>", *_function("requantize", True, False),
                      *_function("requantize_bounded", False, True), ""])


@pytest.fixture(scope="module")
def requantize(tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    compiler = shutil.which("cc") or shutil.which("gcc")
    assert compiler is not None, "a C compiler builds every artifact"
    folder: Path = tmp_path_factory.mktemp("requant_c")
    (folder / "requant.c").write_text(_source())
    library = folder / "librequant.so"
    subprocess.run([compiler, "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-shared",
                    "-fPIC", str(folder / "requant.c"), "-o", str(library)], check=True)
    return ctypes.CDLL(str(library))


def _accumulators(shift: int) -> np.ndarray:
    """Values around every rounding step of the shifts tried, the int32 ends, random ones."""
    steps = np.array([0, 1 << 14, 1 << 20, 3 << 25, 1 << 30], dtype=np.int64)
    edges = (steps[:, None] + np.arange(-3, 4)[None, :]).reshape(-1)
    random = np.random.default_rng(shift + 40).integers(-(1 << 31), 1 << 31, 20000)
    values = np.concatenate([edges, -edges, random, [-(1 << 31), (1 << 31) - 1]])
    return np.clip(values, -(1 << 31), (1 << 31) - 1).astype(np.int32)


def _run(function: ctypes._CFuncPtr, accumulators: np.ndarray, multiplier: int,
         shift: int, short: bool) -> np.ndarray:
    out = np.zeros_like(accumulators)
    pointer = ctypes.POINTER(ctypes.c_int32)
    arrays = channel_arrays(np.array([multiplier]), np.array([shift]), ZERO_POINT, short)
    if not short:  # the general function takes the left shifts too
        arrays.setdefault("left_shift", np.zeros(1, dtype=np.int32))
    function(accumulators.ctypes.data_as(pointer), ctypes.c_int32(accumulators.size),
             *(array.ctypes.data_as(pointer) for array in arrays.values()),
             out.ctypes.data_as(pointer))
    return out


@pytest.mark.parametrize("shift", SHIFTS)
def test_requantization_c_is_tflites_multiply_by_quantized_multiplier(
        requantize: ctypes.CDLL, shift: int) -> None:
    accumulators = _accumulators(shift)
    for multiplier in MULTIPLIERS:
        expected = multiply_by_quantized_multiplier(accumulators, multiplier, shift) + ZERO_POINT
        out = _run(requantize.requantize, accumulators, multiplier, shift, False)
        np.testing.assert_array_equal(out, expected.astype(np.int32))


@pytest.mark.parametrize("shift", [shift for shift in SHIFTS if -20 <= shift <= 0])
def test_shorter_form_is_exact_where_its_bound_holds(requantize: ctypes.CDLL, shift: int) -> None:
    accumulators = _accumulators(shift)
    for multiplier in MULTIPLIERS:
        bound = np.abs(accumulators.astype(np.int64)).max()
        fits = fits_int32(np.array([bound]), np.array([multiplier]), np.array([shift]),
                          ZERO_POINT)
        if not fits:  # only the accumulators of a smaller range are proven
            bound = (1 << 29) + 5
            assert fits_int32(np.array([bound]), np.array([multiplier]), np.array([shift]),
                              ZERO_POINT)
        inside = accumulators[np.abs(accumulators.astype(np.int64)) <= bound]
        expected = multiply_by_quantized_multiplier(inside, multiplier, shift) + ZERO_POINT
        out = _run(requantize.requantize_bounded, inside, multiplier, shift, True)
        np.testing.assert_array_equal(out, expected.astype(np.int32))


def test_bound_refuses_the_sums_that_overflow() -> None:
    multiplier = np.array([2147483647])
    assert not fits_int32(np.array([(1 << 31) - 1]), multiplier, np.array([-8]), 0)
    assert fits_int32(np.array([1 << 24]), multiplier, np.array([-8]), -128)
    assert not fits_int32(np.array([1 << 10]), multiplier, np.array([2]), 0)  # left shifts wrap
    assert not fits_int32(np.array([1 << 10]), multiplier, np.array([-26]), -128)  # 128 << 26
    assert not fits_int32(np.array([1]), multiplier, np.array([-31]), ZERO_POINT)
