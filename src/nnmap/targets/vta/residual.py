"""TFLite's int8 Add (residual connections) on VTA's GEMM core and ALU, bit-exact or not at all.

VTA has no rescaling unit, and its ALU multiplies by 8-bit arguments only (``hw_spec_const.h``:
``VTA_MUL_ARG_BIT_WIDTH 8``). What it can do exactly in int32 is build ``Q_a * a + Q_b * b + D``
for int8 inputs ``a``, ``b`` and multipliers ``Q`` of up to 24 bits, digit by digit: the GEMM
adds ``c_a * a + c_b * b`` (the inputs times scaled identity weights ``c * I``, balanced base-256
digits ``c`` of the ``Q``, int8 weights) to the accumulator, an ALU SHR by -8 (a left shift)
makes room for the next digit, three times; the accumulator starts as the high part of ``D``
(a LOAD ACC) and an ALU ADD immediate adds its low 16 bits. Then SHR ``s``, ADD the output zero
point, MIN and MAX to the activation range; STORE keeps the low 8 bits, the int8 result:

    y = clip(((Q_a a + Q_b b + D) >> s) + zp_out, low, high)

TFLite rescales each input to a common fixed-point grid (a 20-bit left shift, a 31-bit
multiplier and a rounding shift each), adds, and rescales the sum with two more roundings: not
one linear formula, so ``y`` reproduces it only where some (Q_a, Q_b, D, s) happen to. The
candidates follow the real scales (``Q / 2^s ~ s_in / s_out`` for each shift ``s``); for each,
the biases ``D`` that give TFLite's output on every pair form an interval (computed over all
65,536 pairs at once), and a candidate is accepted only when it equals
TFLite's Add on every one of the 65,536 int8 input pairs (an element's result depends on its
two inputs alone, so this is a proof for every tensor) with every intermediate inside int32
(VTA's accumulator wraps). Where none does, ``alu_add`` says so and the layer stays on the host.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnmap.ir import Graph
from nnmap.ir.layers import Add
from nnmap.reference.kernels import add as tflite_add

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
DIGITS = 3  # balanced base-256 digits of a multiplier: |Q| < 2^23
DIGIT_SHIFT = 8
MIN_SHIFT, MAX_SHIFT = 8, 31
NUDGES = 2  # multipliers tried either side of the rounded real slopes


def digits(value: int) -> tuple[int, ...]:
    """Balanced base-256 digits (each in -128..127) of ``value``, most significant first."""
    found = []
    for _ in range(DIGITS):
        low = (value + 128) % 256 - 128
        found.append(low)
        value = (value - low) >> DIGIT_SHIFT
    if value:
        raise ValueError("multiplier does not fit three digits")
    return tuple(reversed(found))


@dataclass(frozen=True)
class AluAdd:
    """VTA's parameters of one Add: the inputs' multipliers and the bias (built from digits), the
    final shift, output zero point and clip range."""

    multiplier_a: int
    multiplier_b: int
    bias: int
    shift: int
    zero_point: int
    low: int
    high: int

    @property
    def weights(self) -> tuple[tuple[int, int], ...]:
        """Per digit, most significant first, the (a, b) identity-weight scales."""
        return tuple(zip(digits(self.multiplier_a), digits(self.multiplier_b), strict=True))

    @property
    def bias_parts(self) -> tuple[int, int]:
        """The bias the accumulator is loaded with (shifted left twice after) and the 16-bit
        immediate added after the last digit."""
        high = (self.bias + (1 << 15)) >> (DIGIT_SHIFT * (DIGITS - 1))
        return high, self.bias - (high << (DIGIT_SHIFT * (DIGITS - 1)))

    def steps(self, a: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
        """Every accumulator value VTA's program goes through, as int64 (the last: the result
        before the output zero point and the clip)."""
        a, b = a.astype(np.int64), b.astype(np.int64)
        acc = np.full(a.shape, self.bias_parts[0], np.int64)
        values = [acc]
        for index, (weight_a, weight_b) in enumerate(self.weights):
            if index:
                acc = acc << DIGIT_SHIFT
                values.append(acc)
            acc = acc + weight_a * a + weight_b * b
            values.append(acc)
        acc = acc + self.bias_parts[1]
        values.append(acc)
        values.append(acc >> self.shift)
        return values

    def apply(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """What VTA computes for int8 inputs ``a`` and ``b``."""
        scaled = self.steps(a, b)[-1]
        return np.clip(scaled + self.zero_point, self.low, self.high).astype(np.int8)

    def fits(self, a: np.ndarray, b: np.ndarray) -> bool:
        """Whether every intermediate stays in int32 for the inputs ``a``, ``b``."""
        return all(INT32_MIN <= v.min() and v.max() <= INT32_MAX for v in self.steps(a, b))


def _all_pairs() -> tuple[np.ndarray, np.ndarray]:
    values = np.arange(-128, 128, dtype=np.int64)
    a, b = np.meshgrid(values, values, indexing="ij")
    return a.ravel(), b.ravel()


def _bias_range(linear: np.ndarray, expected: np.ndarray, shift: int, zero_point: int,
                low: int, high: int) -> tuple[int, int]:
    """The biases ``D`` (inclusive range, maybe empty) with which ``linear + D`` shifted right by
    ``shift`` and clipped gives ``expected`` on every pair: outputs inside the clip range pin the
    shifted value, clipped ones bound it on one side."""
    step = 1 << shift
    target = expected - zero_point
    lower = np.where(expected > low, target * step - linear, np.iinfo(np.int64).min)
    upper = np.where(expected < high, (target + 1) * step - 1 - linear, np.iinfo(np.int64).max)
    return int(lower.max()), int(upper.min())


def _multipliers(real_a: float, real_b: float) -> list[tuple[int, int, int]]:
    """(shift, Q_a, Q_b) to try, coarsest shift first (smaller intermediates): the rounded real
    slopes, then, for every shift, slopes up to ``NUDGES`` steps off them (a slightly steeper
    slope breaks ties away from zero as TFLite's rounding does)."""
    limit = 1 << (DIGIT_SHIFT * DIGITS - 1)
    shifts = []
    for shift in range(MIN_SHIFT, MAX_SHIFT + 1):
        rounded = (round(real_a * 2.0**shift), round(real_b * 2.0**shift))
        if max(abs(rounded[0]), abs(rounded[1])) + NUDGES >= limit:
            break
        shifts.append((shift, *rounded))
    nudged = [
        (shift, q_a + da, q_b + db)
        for shift, q_a, q_b in shifts
        for da in range(-NUDGES, NUDGES + 1)
        for db in range(-NUDGES, NUDGES + 1)
        if da or db
    ]
    return shifts + nudged


def alu_add(layer: Add, graph: Graph) -> AluAdd | str:
    """Parameters with which VTA computes ``layer`` bit-exactly on every int8 input pair, or why
    there are none."""
    if layer.rescale is None:
        return "float Add: VTA computes int8 layers only"
    ta, tb = (graph.tensor(name) for name in layer.inputs)
    out = graph.tensor(layer.output)
    if ta.shape != tb.shape or ta.shape != out.shape:
        return "Add with broadcasting: VTA adds tensors of the same shape only"
    a, b = _all_pairs()
    expected = tflite_add(layer, a[None], b[None], ta, tb, out)[0].astype(np.int64)
    real_a, real_b = (float(t.scale or 0.0) / float(out.scale or 1.0) for t in (ta, tb))
    offset = 0.5 - (ta.zero_point or 0) * real_a - (tb.zero_point or 0) * real_b
    zero_point = int(out.zero_point or 0)
    low, high = int(layer.clamp.low), int(layer.clamp.high)
    for shift, multiplier_a, multiplier_b in _multipliers(real_a, real_b):
        linear = multiplier_a * a + multiplier_b * b
        least, most = _bias_range(linear, expected, shift, zero_point, low, high)
        if least > most:
            continue
        bias = min(max(round(offset * 2.0**shift), least), most)
        candidate = AluAdd(multiplier_a, multiplier_b, bias, shift, zero_point, low, high)
        if candidate.fits(a, b) and np.array_equal(candidate.apply(a, b), expected):
            return candidate
    return (
        "no VTA multiply/shift program reproduces TFLite's Add on every int8 input pair "
        "(exhaustive check)"
    )
