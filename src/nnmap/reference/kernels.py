"""Numpy kernels with TFLite's integer semantics (float32 layers run in plain float).

Every kernel takes activations with a leading batch axis of any size, so a whole set of test
inputs runs in one call.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from nnmap.ir.layers import Add, Clamp, Conv2D, FullyConnected, IntegerAddRescale, Pool2D
from nnmap.ir.quant import (
    FixedPointMultiplier,
    IntegerRequant,
    Requant,
    multiply_by_quantized_multiplier,
)
from nnmap.ir.tensor import Tensor


def _clamp(values: np.ndarray, clamp: Clamp, dtype: str) -> np.ndarray:
    return np.clip(values, clamp.low, clamp.high).astype(dtype)


def requantize(acc: np.ndarray, requant: Requant | IntegerRequant, out: Tensor, clamp: Clamp
               ) -> np.ndarray:
    """int32 accumulators (channel last) to int8 with per-channel fixed-point multipliers (or
    the integer multiply, add and shift of an integer-only ONNX graph)."""
    if isinstance(requant, IntegerRequant):
        scaled = requant.apply(acc)
    else:
        scaled = multiply_by_quantized_multiplier(acc, requant.multiplier, requant.shift)
    return _clamp(scaled + out.quant[1], clamp, "int8")


def _padded_windows(
    x: np.ndarray,
    padding: tuple[int, int, int, int],
    fill: float,
    window: tuple[int, int],
    dilation: tuple[int, int],
) -> np.ndarray:
    """[N, Y, X, C, FY, FX] windows of the padded input (stride applied by the caller)."""
    top, left, bottom, right = padding
    padded = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=fill)
    span = ((window[0] - 1) * dilation[0] + 1, (window[1] - 1) * dilation[1] + 1)
    views = sliding_window_view(padded, span, axis=(1, 2))
    return views[..., :: dilation[0], :: dilation[1]]


def _tap_products(layer: Conv2D, tap: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """One kernel tap: [N, OY, OX, C] inputs times its [K, C/groups] weights -> [N, OY, OX, K]."""
    n, oy, ox, channels = tap.shape
    if layer.groups == 1:
        rows = np.ascontiguousarray(tap).reshape(-1, channels)
        return (rows @ weight.T).reshape(n, oy, ox, -1)
    if layer.is_depthwise:
        per_group = weight.shape[0] // layer.groups
        spread = tap if per_group == 1 else np.repeat(tap, per_group, axis=-1)
        return spread * weight[:, 0]
    grouped = tap.reshape(n, oy, ox, layer.groups, -1)
    weights = weight.reshape(layer.groups, -1, weight.shape[1])
    return np.einsum("nyxgc,gkc->nyxgk", grouped, weights).reshape(n, oy, ox, -1)


def conv2d(layer: Conv2D, x: np.ndarray, inp: Tensor, out: Tensor) -> np.ndarray:
    """Accumulated tap by tap in float64 (int8 products summed far below 2**53: exact), which
    runs on BLAS."""
    _, fy, fx, _ = layer.weight.shape
    quantized = layer.requant is not None
    data = (x.astype(np.int64) - inp.quant[1]) if quantized else x
    top, left, bottom, right = layer.padding
    padded = np.pad(data.astype(np.float64), ((0, 0), (top, bottom), (left, right), (0, 0)))
    (sy, sx), (dy, dx), (oy, ox) = layer.stride, layer.dilation, out.shape[1:3]
    weight = layer.weight.astype(np.float64)
    acc = np.zeros((x.shape[0], oy, ox, weight.shape[0]))
    for i in range(fy):
        for j in range(fx):
            tap = padded[:, i * dy: i * dy + (oy - 1) * sy + 1: sy,
                         j * dx: j * dx + (ox - 1) * sx + 1: sx]
            acc += _tap_products(layer, tap, weight[:, i, j, :])
    if layer.requant is None:
        return _clamp(acc + layer.bias, layer.clamp, "float32")
    return requantize(acc.astype(np.int64) + layer.bias, layer.requant, out, layer.clamp)


def fully_connected(layer: FullyConnected, x: np.ndarray, inp: Tensor, out: Tensor) -> np.ndarray:
    n_in = layer.weight.shape[1]
    rows = x.reshape(-1, n_in)
    if layer.requant is None:
        acc = rows.astype(np.float64) @ layer.weight.astype(np.float64).T + layer.bias
        result = _clamp(acc, layer.clamp, "float32")
    else:
        acc = (rows.astype(np.int64) - inp.quant[1]) @ layer.weight.astype(np.int64).T
        result = requantize(acc + layer.bias, layer.requant, out, layer.clamp)
    return result.reshape((x.shape[0], *out.shape[1:]))


def add(
    layer: Add, a: np.ndarray, b: np.ndarray, ta: Tensor, tb: Tensor, out: Tensor
) -> np.ndarray:
    rescale = layer.rescale
    if rescale is None:
        return _clamp(a.astype(np.float64) + b, layer.clamp, "float32")
    if isinstance(rescale, IntegerAddRescale):
        total = ((a.astype(np.int64) - ta.quant[1]) * rescale.input1
                 + (b.astype(np.int64) - tb.quant[1]) * rescale.input2)
        return _clamp(rescale.requant.apply(total) + out.quant[1], layer.clamp, "int8")

    def scaled(x: np.ndarray, zero_point: int | None, fixed: FixedPointMultiplier) -> np.ndarray:
        shifted = (x.astype(np.int64) - (zero_point or 0)) << rescale.left_shift
        return multiply_by_quantized_multiplier(shifted, fixed.multiplier, fixed.shift)

    total = scaled(a, ta.zero_point, rescale.input1) + scaled(b, tb.zero_point, rescale.input2)
    result = multiply_by_quantized_multiplier(
        total, rescale.output.multiplier, rescale.output.shift
    )
    return _clamp(result + out.quant[1], layer.clamp, "int8")


def _pool_windows(layer: Pool2D, x: np.ndarray, out: Tensor, fill: float) -> np.ndarray:
    windows = _padded_windows(x, layer.padding, fill, layer.kernel, (1, 1))
    return windows[:, :: layer.stride[0], :: layer.stride[1]][:, : out.shape[1], : out.shape[2]]


def average_pool(layer: Pool2D, x: np.ndarray, out: Tensor) -> np.ndarray:
    valid = _pool_windows(layer, np.ones_like(x[:1, ..., :1], dtype=np.int64), out, 0)
    count = valid.sum(axis=(-2, -1))
    if out.dtype == "float32":
        total = _pool_windows(layer, x.astype(np.float64), out, 0).sum(axis=(-2, -1))
        return _clamp(total / count, layer.clamp, "float32")
    total = _pool_windows(layer, x.astype(np.int64), out, 0).sum(axis=(-2, -1))
    # Integer mean rounded half away from zero (C division truncates toward zero).
    magnitude = (np.abs(total) + count // 2) // count
    return _clamp(np.sign(total) * magnitude, layer.clamp, "int8")


def max_pool(layer: Pool2D, x: np.ndarray, out: Tensor) -> np.ndarray:
    lowest = -np.inf if out.dtype == "float32" else np.iinfo(np.int8).min
    windows = _pool_windows(layer, x.astype(np.float64), out, lowest)
    return _clamp(windows.max(axis=(-2, -1)), layer.clamp, out.dtype)


def softmax_float(x: np.ndarray, beta: float) -> np.ndarray:
    shifted = (x.astype(np.float64) - x.max(axis=-1, keepdims=True)) * beta
    exps = np.exp(shifted)
    return (exps / exps.sum(axis=-1, keepdims=True)).astype(np.float32)


def concat(arrays: list[np.ndarray], inputs: list[Tensor], out: Tensor, axis: int) -> np.ndarray:
    """TFLite's concatenation: inputs with other quantization are rescaled with float rounding."""
    parts = []
    for array, tensor in zip(arrays, inputs, strict=True):
        same = tensor.scale == out.scale and tensor.zero_point == out.zero_point
        if out.dtype == "int8" and not same:
            ratio = np.float32(tensor.scale) / np.float32(out.scale)
            bias = -np.float32(tensor.zero_point) * ratio + np.float32(out.zero_point)
            values = np.round(array.astype(np.float32) * ratio + bias)
            array = np.clip(values, -128, 127).astype(np.int8)
        parts.append(array)
    return np.concatenate(parts, axis=axis)
