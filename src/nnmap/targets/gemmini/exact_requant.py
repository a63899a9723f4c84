"""Requantization on Gemmini's mvout in exact numerics, where it is proven to be TFLite's.

Gemmini scales on the way out of the accumulator (public ``gemmini.h``: ``ACC_SCALE`` then the
activation, then saturation to ``elem_t``; the hardware's accumulator scale unit converts the
int32 to float32, multiplies by the float32 scale and converts back, each rounding to nearest
even): ``sat8(relu(rne(f32(f32(v) * s))))``. TFLite requantizes ``acc`` with
``MultiplyByQuantizedMultiplier`` (fixed point, rounding half away from zero twice), adds the
output zero point and clamps. Gemmini has no output offset, so the zero point enters the
accumulator as an integer ``offset`` (``v = acc + offset``, folded into the bias); the host's
copy of the int8 tile clamps to the fused activation's range as in hardware numerics.

Both sides are non-decreasing functions of the accumulator (a non-negative scale; the left shift
of TFLite's multiplier does not overflow on the range), with values in ``[low, high]``. Two
such functions are equal on an integer interval exactly when, for every level ``q`` in
``(low, high]``, the first accumulator at which each reaches ``q`` is the same; a vectorized
binary search finds those thresholds, so the check covers the layer's whole accumulator range
(per channel, from its weights and bias) in about 30 evaluations per level instead of one per
value. ``exact_scaling`` searches float32 scales near the real multipliers and offsets near
``zero_point / scale`` for one that passes, per mvout block.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from nnmap.ir import Clamp, Conv2D, FullyConnected, Graph
from nnmap.ir.quant import Requant, multiply_by_quantized_multiplier

INT32_LIMIT = 1 << 31
SCALE_STEPS = 4  # float32 neighbours searched on each side of a channel's real multiplier
OFFSET_STEPS = 1  # integers searched on each side of round(zero_point / scale)

Quantizer = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True, eq=False)
class ExactScaling:
    """Per output channel: the float32 mvout scale (one per mvout block) and the integer the
    accumulator starts higher by (the output zero point's share of the bias)."""

    scales: np.ndarray  # float32
    offsets: np.ndarray  # int64


def accumulator_ranges(weights: np.ndarray, folded_bias: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Per output channel (a row of ``weights``), the least and greatest TFLite accumulator
    ``folded_bias + sum x * w`` over int8 inputs ``x``."""
    wide = weights.astype(np.int64)
    positive = np.where(wide > 0, wide, 0).sum(axis=1)
    negative = np.where(wide < 0, wide, 0).sum(axis=1)
    bias = folded_bias.astype(np.int64)
    return bias - 128 * positive + 127 * negative, bias + 127 * positive - 128 * negative


def tflite_requantized(acc: np.ndarray, multiplier: np.ndarray | int, shift: np.ndarray | int,
                       zero_point: int, low: int, high: int) -> np.ndarray:
    """TFLite's requantization of int32 accumulators: fixed-point multiply, zero point, clamp."""
    scaled = multiply_by_quantized_multiplier(acc, multiplier, shift)
    return np.clip(scaled + zero_point, low, high)


def gemmini_requantized(value: np.ndarray, scale: np.ndarray | np.float32, relu: bool,
                        low: int, high: int) -> np.ndarray:
    """Gemmini's mvout of int32 accumulator values (float32 scale, round half to even, ReLU,
    saturation to int8), then the host copy's clamp to ``[low, high]``."""
    product = value.astype(np.float32) * np.asarray(scale, dtype=np.float32)
    rounded = np.rint(product.astype(np.float32)).astype(np.float64)
    if relu:
        rounded = np.maximum(rounded, 0.0)
    saturated = np.clip(rounded, -128.0, 127.0).astype(np.int64)
    return np.clip(saturated, low, high)


def first_reaching(function: Quantizer, start: np.ndarray, stop: np.ndarray,
                   levels: np.ndarray) -> np.ndarray:
    """For a non-decreasing ``function`` of integers, per row of ``start``/``stop`` (inclusive
    ranges, shape (n, 1)) and per level (shape (1, l)): the least x in the range with
    ``function(x) >= level``, or ``stop + 1`` where none does. ``function`` gets (n, l) arrays."""
    shape = np.broadcast_shapes(start.shape, levels.shape)
    low = np.broadcast_to(start, shape).astype(np.int64).copy()
    high = np.broadcast_to(stop + 1, shape).astype(np.int64).copy()
    while np.any(low < high):
        middle = (low + high) // 2
        reached = function(np.minimum(middle, np.broadcast_to(stop, shape))) >= levels
        reached &= low < high
        high = np.where(reached, middle, high)
        low = np.where(~reached & (low < high), middle + 1, low)
    return high


def identical_on_ranges(first: Quantizer, second: Quantizer, start: np.ndarray,
                        stop: np.ndarray, low: int, high: int) -> np.ndarray:
    """Per row, whether two non-decreasing functions with values in ``[low, high]`` are equal at
    every integer of ``[start, stop]`` (shape (n, 1) each): equal thresholds of every level."""
    levels = np.arange(low + 1, high + 1, dtype=np.int64)[None, :]
    if levels.size == 0:
        return np.ones(start.shape[0], dtype=bool)
    same = first_reaching(first, start, stop, levels) == first_reaching(second, start, stop,
                                                                          levels)
    return np.asarray(same.all(axis=1))


def _float32_neighbours(value: float, steps: int) -> list[np.float32]:
    """``value`` as float32 and its ``steps`` float32 neighbours on each side."""
    centre = np.float32(value)
    found = [centre]
    below = above = centre
    for _ in range(steps):
        below = np.nextafter(below, np.float32(-np.inf))
        above = np.nextafter(above, np.float32(np.inf))
        found += [below, above]
    return [scale for scale in found if scale >= 0]


def _left_shift_overflows(shift: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    largest = np.maximum(np.abs(start), np.abs(stop))
    return (largest << np.maximum(shift, 0)) >= INT32_LIMIT


@dataclass(frozen=True, eq=False)
class _Channels:
    """The channels of one mvout block: TFLite's parameters and accumulator ranges, (n, 1)."""

    multiplier: np.ndarray
    shift: np.ndarray
    start: np.ndarray
    stop: np.ndarray

    @property
    def reals(self) -> np.ndarray:
        return self.multiplier[:, 0] * np.exp2(self.shift[:, 0].astype(np.float64) - 31)


def _offsets_for(scale: np.float32, zero_point: int, count: int) -> list[np.ndarray]:
    """Offsets near ``zero_point / scale`` (none where that is beyond int32)."""
    centre = zero_point / float(scale) if scale > 0 else 0.0
    if abs(centre) >= INT32_LIMIT:
        return []
    return [np.full((count, 1), int(np.rint(centre)) + step, dtype=np.int64)
            for step in range(-OFFSET_STEPS, OFFSET_STEPS + 1)]


def _block_offsets(channels: _Channels, scale: np.float32, zero_point: int, relu: bool,
                   low: int, high: int) -> np.ndarray | None:
    """Per channel of the block, an offset that makes mvout with ``scale`` TFLite's on its
    whole range, or None when some channel has none."""
    count = channels.start.shape[0]
    chosen = np.zeros(count, dtype=np.int64)
    open_channels = np.ones(count, dtype=bool)

    def expected(acc: np.ndarray) -> np.ndarray:
        return tflite_requantized(acc, channels.multiplier, channels.shift, zero_point, low, high)

    for offset in _offsets_for(scale, zero_point, count):
        fits = (np.abs(channels.start + offset) < INT32_LIMIT) & (
            np.abs(channels.stop + offset) < INT32_LIMIT)

        def hardware(acc: np.ndarray, offset: np.ndarray = offset) -> np.ndarray:
            return gemmini_requantized(acc + offset, scale, relu, low, high)

        same = identical_on_ranges(hardware, expected, channels.start, channels.stop, low, high)
        newly = same & fits[:, 0] & open_channels
        chosen[newly] = offset[newly, 0]
        open_channels &= ~newly
        if not open_channels.any():
            return chosen
    return None


def _block_scaling(channels: _Channels, zero_point: int, relu: bool, low: int, high: int
                   ) -> tuple[np.float32, np.ndarray] | None:
    reals = channels.reals
    largest = np.maximum(np.abs(channels.start[:, 0]), np.abs(channels.stop[:, 0]))
    candidates = sorted({scale for real in np.unique(reals)
                         for scale in _float32_neighbours(float(real), SCALE_STEPS)},
                        key=lambda scale: float(np.abs(float(scale) - reals).max()))
    for scale in candidates:
        # a shared scale this far from a channel's multiplier moves some output by a whole step
        if (np.abs(float(scale) - reals) * largest > 1.0).any():
            continue
        offsets = _block_offsets(channels, scale, zero_point, relu, low, high)
        if offsets is not None:
            return scale, offsets
    return None


def _distinct(block: _Channels) -> tuple[_Channels, np.ndarray]:
    """The block's distinct (multiplier, shift) pairs, each over the union of its channels'
    ranges (equal functions: one check covers them all), and each channel's pair."""
    pairs = np.concatenate([block.multiplier, block.shift], axis=1)
    unique, inverse = np.unique(pairs, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    start = np.array([[block.start[inverse == i].min()] for i in range(len(unique))])
    stop = np.array([[block.stop[inverse == i].max()] for i in range(len(unique))])
    return _Channels(unique[:, :1], unique[:, 1:], start, stop), inverse


def first_difference(first: Quantizer, second: Quantizer, start: int, stop: int, low: int,
                     high: int) -> int | None:
    """The least integer of ``[start, stop]`` where two non-decreasing functions with values in
    ``[low, high]`` differ (None: they are equal on it)."""
    levels = np.arange(low + 1, high + 1, dtype=np.int64)[None, :]
    bounds = np.array([[start]]), np.array([[stop]])
    thresholds = [first_reaching(f, *bounds, levels)[0] for f in (first, second)]
    differing = np.minimum(*thresholds)[thresholds[0] != thresholds[1]]
    if np.asarray(first(np.array([start]))[0] != second(np.array([start]))[0]):
        return start
    return int(differing.min()) if differing.size else None


def _counterexample(block: _Channels, zero_point: int, relu: bool, low: int, high: int) -> str:
    """Where the nearest choice (the first channel's multiplier as float32, the zero point over
    it rounded) differs from TFLite's, as a reason."""
    multiplier, shift = int(block.multiplier[0, 0]), int(block.shift[0, 0])
    scale = np.float32(block.reals[0])
    offsets = _offsets_for(scale, zero_point, 1)
    offset = int(offsets[OFFSET_STEPS][0, 0]) if offsets else 0

    def expected(acc: np.ndarray) -> np.ndarray:
        return tflite_requantized(acc, multiplier, shift, zero_point, low, high)

    def hardware(acc: np.ndarray) -> np.ndarray:
        return gemmini_requantized(acc + offset, scale, relu, low, high)

    where = first_difference(hardware, expected, int(block.start[0, 0]), int(block.stop[0, 0]),
                             low, high)
    if where is None:
        return "the channels need different scales"
    at = np.array([where])
    return (f"e.g. accumulator {where}: TFLite {int(expected(at)[0])}, mvout "
            f"{int(hardware(at)[0])} with scale {float(scale):.9g} and offset {offset}")


def exact_scaling(requant: Requant, weights: np.ndarray, folded_bias: np.ndarray,
                  zero_point: int, low: int, high: int, dim: int) -> ExactScaling | str:
    """Gemmini's mvout parameters that give TFLite's requantization of every output channel on
    its whole accumulator range (``weights``: a row per channel; one scale per block of ``dim``
    channels), or why there are none."""
    channels = weights.shape[0]
    multiplier = np.broadcast_to(requant.multiplier, (channels,)).astype(np.int64)[:, None]
    shift = np.broadcast_to(requant.shift, (channels,)).astype(np.int64)[:, None]
    start, stop = accumulator_ranges(weights, folded_bias)
    start, stop = start[:, None], stop[:, None]
    if (multiplier < 0).any():
        return "a negative requantization multiplier"
    overflow = _left_shift_overflows(shift[:, 0], start[:, 0], stop[:, 0])
    if overflow.any():
        return (f"channel {int(np.argmax(overflow))}: TFLite's left shift overflows int32 on "
                "the accumulator range")
    relu = low >= 0
    scales = np.empty(channels, dtype=np.float32)
    offsets = np.empty(channels, dtype=np.int64)
    for first in range(0, channels, dim):
        part = slice(first, min(first + dim, channels))
        block, members = _distinct(
            _Channels(multiplier[part], shift[part], start[part], stop[part]))
        found = _block_scaling(block, zero_point, relu, low, high)
        if found is None:
            return (f"channels {first}-{part.stop - 1} (one mvout scale per {dim} channels): "
                    f"no float32 scale and zero-point offset give TFLite's requantization on "
                    f"the whole accumulator range, "
                    f"{_counterexample(block, zero_point, relu, low, high)}")
        scales[part], offsets[part] = found[0], found[1][members]
    return ExactScaling(scales, offsets)


def output_range(clamp: Clamp) -> tuple[int, int]:
    """The int8 range of a fused activation (``codegen.kernels.clamp_range``, which loads TVM;
    the mapper asks this while planning)."""
    low = -128 if math.isinf(clamp.low) else max(-128, math.ceil(clamp.low))
    high = 127 if math.isinf(clamp.high) else min(127, math.floor(clamp.high))
    return low, high


def layer_scaling(layer: Conv2D | FullyConnected, graph: Graph, dim: int) -> ExactScaling | str:
    """``exact_scaling`` of a dense convolution or fully connected layer: its weights, its bias
    with the input zero point folded in, its output zero point and activation."""
    if not isinstance(layer.requant, Requant):
        return "not TFLite's fixed-point requantization"
    zp_in = int(graph.tensor(layer.inputs[0]).zero_point or 0)
    zp_out = int(graph.tensor(layer.output).zero_point or 0)
    rows = layer.weight.astype(np.int64).reshape(layer.weight.shape[0], -1)
    folded = layer.bias.astype(np.int64) - zp_in * rows.sum(axis=1)
    low, high = output_range(layer.clamp)
    return exact_scaling(layer.requant, rows, folded, zp_out, low, high, dim)
