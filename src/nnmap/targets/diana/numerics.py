"""DIANA's requantization against TFLite's, per layer.

The digital array requantizes with a power-of-two scale (diana.md: HTVM's pattern is right shift
-> clip -> cast, shift 0..31, int32 bias): ``clip((sum x*w + bias) >> shift)`` to int8, or to
[0, 127] with its ReLU. nnmap stores the layer's bias with the input zero point folded in, the
output zero point moved in front of the shift (``zp << shift``) and half a step for rounding
(``1 << (shift - 1)``, or one more where that is what proves TFLite's double rounding).

- ``exact``: the array's own requantization is used only where it is proven to give TFLite's
  result for every accumulator the layer can produce (``exact_shift``: every channel, its whole
  accumulator range, checked value by value); elsewhere the array writes its int32 accumulators
  and the RI5CY host requantizes with TFLite's arithmetic.
- ``hardware``: the array always requantizes, with one shift per layer nearest to the layer's
  scales (their geometric mean); the deviation from TFLite is measured, not hidden.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import log2

import numpy as np

from nnmap.ir import Conv2D, FullyConnected, Graph
from nnmap.ir.quant import Requant, multiply_by_quantized_multiplier

CHUNK = 1 << 18  # accumulators checked per step
INT32_LIMIT = 2**31


@dataclass(frozen=True, eq=False)
class ShiftRequant:
    """The array's requantization of one layer: the right shift, the stored int32 bias per
    output channel and whether its ReLU clips at 0."""

    shift: int
    bias: np.ndarray
    relu: bool


def folded_bias(layer: Conv2D | FullyConnected, graph: Graph) -> np.ndarray:
    """The int64 bias with the input zero point's share folded in (one per output channel)."""
    zero_point = int(graph.tensor(layer.inputs[0]).zero_point or 0)
    weights = layer.weight.astype(np.int64).reshape(layer.weight.shape[0], -1)
    return layer.bias.astype(np.int64) - zero_point * weights.sum(axis=1)


def channel_bounds(layer: Conv2D | FullyConnected, graph: Graph) -> np.ndarray:
    """The largest |accumulator| of each output channel (folded bias plus 128 x sum |w|)."""
    weights = layer.weight.astype(np.int64).reshape(layer.weight.shape[0], -1)
    return np.abs(folded_bias(layer, graph)) + 128 * np.abs(weights).sum(axis=1)


def _array_clip(layer: Conv2D | FullyConnected) -> bool | None:
    """Whether the layer's clamp is the array's ReLU clip (True), its plain int8 clip (False),
    or neither (None)."""
    low, high = layer.clamp.low, layer.clamp.high
    if high < 127:
        return None
    if low <= -128:
        return False
    return True if low == 0 else None


def _stored(layer: Conv2D | FullyConnected, graph: Graph, shift: int,
            rounding: int) -> np.ndarray | None:
    zero_point = int(graph.tensor(layer.output).zero_point or 0)
    bias = folded_bias(layer, graph) + (zero_point << shift) + rounding
    if np.any(bias >= INT32_LIMIT) or np.any(bias < -INT32_LIMIT):
        return None
    return bias.astype(np.int32)


def _tflite(layer: Conv2D | FullyConnected, graph: Graph, acc: np.ndarray, k: int) -> np.ndarray:
    assert isinstance(layer.requant, Requant)
    fixed = layer.requant.channel(k)
    scaled = multiply_by_quantized_multiplier(acc, fixed.multiplier, fixed.shift)
    zero_point = int(graph.tensor(layer.output).zero_point or 0)
    return np.clip(scaled + zero_point, layer.clamp.low, layer.clamp.high)


def _array(acc: np.ndarray, stored_bias: int, folded: int, shift: int, relu: bool) -> np.ndarray:
    values = (acc - folded + stored_bias) >> shift
    return np.clip(values, 0 if relu else -128, 127)


def _nearest_shift(layer: Conv2D | FullyConnected) -> int:
    assert isinstance(layer.requant, Requant)
    reals = layer.requant.multiplier.astype(np.float64) * 2.0 ** (
        layer.requant.shift.astype(np.float64) - 31)
    positive = reals[reals > 0]
    mean = float(np.exp(np.log(positive).mean())) if positive.size else 1.0
    return int(min(31, max(0, round(-log2(mean)))))


def _counterexample(layer: Conv2D | FullyConnected, graph: Graph, requant: ShiftRequant,
                    k: int, bound: int) -> int | None:
    """The first accumulator of channel ``k`` (outward from 0) where the array and TFLite
    differ, or None when they agree on all of [-bound, bound]."""
    folded = int(folded_bias(layer, graph)[k])
    stored = int(requant.bias[k])
    for start in range(0, bound + 1, CHUNK):
        positive = np.arange(start, min(start + CHUNK, bound + 1), dtype=np.int64)
        for acc in (positive, -positive):
            wrong = _tflite(layer, graph, acc, k) != _array(acc, stored, folded, requant.shift,
                                                            requant.relu)
            if np.any(wrong):
                return int(acc[np.argmax(wrong)])
    return None


def exact_shift(layer: Conv2D | FullyConnected, graph: Graph) -> ShiftRequant | str:
    """The array's requantization of ``layer`` if it is TFLite's on every accumulator the layer
    can produce (proven channel by channel over its whole range), else why not."""
    if not isinstance(layer.requant, Requant):
        return "its requantization is not TFLite's fixed-point one"
    relu = _array_clip(layer)
    if relu is None:
        return f"its clamp [{layer.clamp.low:g}, {layer.clamp.high:g}] is not the array's clip"
    shift = _nearest_shift(layer)
    reason = ""
    for rounding in _roundings(shift):
        found = _proven(layer, graph, shift, rounding, relu)
        if isinstance(found, ShiftRequant):
            return found
        reason = found
    return reason


def _roundings(shift: int) -> tuple[int, ...]:
    """The rounding addends tried: half a step (round half up), and one more (TFLite rounds
    twice when its multiplier is 2**30: first the doubling high multiply, then the shift)."""
    half = (1 << (shift - 1)) if shift else 0
    return (half, half + 1) if shift else (0,)


def _proven(layer: Conv2D | FullyConnected, graph: Graph, shift: int, rounding: int,
            relu: bool) -> ShiftRequant | str:
    bias = _stored(layer, graph, shift, rounding)
    if bias is None:
        return f"its bias does not fit int32 with a shift of {shift}"
    requant = ShiftRequant(shift, bias, relu)
    bounds = channel_bounds(layer, graph)
    for k in range(len(bias)):
        found = _counterexample(layer, graph, requant, k, int(bounds[k]))
        if found is not None:
            return (f"the array's shift by {shift} differs from TFLite's scale at channel {k}, "
                    f"accumulator {found}")
    return requant


def hardware_shift(layer: Conv2D | FullyConnected, graph: Graph) -> ShiftRequant:
    """The array's requantization in hardware numerics: one shift for the layer (the nearest
    power of two to the geometric mean of its scales), the int8 clip or ReLU."""
    relu = layer.clamp.low >= 0
    shift = _nearest_shift(layer)
    while True:
        bias = _stored(layer, graph, shift, (1 << (shift - 1)) if shift else 0)
        if bias is not None or shift == 0:
            break
        shift -= 1
    if bias is None:
        bias = np.clip(folded_bias(layer, graph), -INT32_LIMIT, INT32_LIMIT - 1).astype(np.int32)
    return ShiftRequant(shift, bias, relu)
