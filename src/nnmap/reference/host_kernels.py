"""Numpy kernels of the host-only layer kinds (``nnmap.ir.host_layers``), TFLite Micro's integer
algorithms. Activations carry a leading batch axis of any size; a Constant has none, and numpy's
right-aligned broadcasting lines it up with the batched operand."""

from __future__ import annotations

import math

import numpy as np

from nnmap.ir.host_layers import Elementwise, Reduce, Resize, Slice
from nnmap.ir.quant import multiply_by_quantized_multiplier
from nnmap.ir.tensor import Tensor

RESIZE_FRACTION_BITS = 10


def _saturate(values: np.ndarray, low: float = -128, high: float = 127) -> np.ndarray:
    return np.clip(values, low, high).astype(np.int8)


def reduce(layer: Reduce, x: np.ndarray, inp: Tensor, out: Tensor) -> np.ndarray:
    """MEAN/SUM: int32 sum over the axes minus count * zero point, one rescale, saturate."""
    axes = tuple(a for a in layer.axes)
    batch = (x.shape[0], *out.shape[1:])
    if layer.multiplier is None:
        reducer = np.mean if layer.operator == "MEAN" else np.sum
        return reducer(x.astype(np.float64), axis=axes).astype(np.float32).reshape(batch)
    count = int(np.prod([inp.shape[a] for a in axes]))
    total = x.astype(np.int64).sum(axis=axes) - int(inp.quant[1]) * count
    scaled = multiply_by_quantized_multiplier(
        total, layer.multiplier.multiplier, layer.multiplier.shift)
    return _saturate(scaled + out.quant[1]).reshape(batch)


def _add_or_sub(layer: Elementwise, a: np.ndarray, b: np.ndarray, ta: Tensor, tb: Tensor
                ) -> np.ndarray:
    rescale = layer.rescale
    assert rescale is not None

    def scaled(x: np.ndarray, zero_point: int, multiplier: int, shift: int) -> np.ndarray:
        shifted = (x.astype(np.int64) - zero_point) << rescale.left_shift
        return multiply_by_quantized_multiplier(shifted, multiplier, shift)

    first = scaled(a, ta.quant[1], rescale.input1.multiplier, rescale.input1.shift)
    second = scaled(b, tb.quant[1], rescale.input2.multiplier, rescale.input2.shift)
    total = first + second if layer.operator == "ADD" else first - second
    return multiply_by_quantized_multiplier(total, rescale.output.multiplier,
                                            rescale.output.shift)


def elementwise(layer: Elementwise, a: np.ndarray, b: np.ndarray, ta: Tensor, tb: Tensor,
                out: Tensor) -> np.ndarray:
    """ADD, SUB, MUL, PRELU, MAXIMUM, MINIMUM with broadcasting and the fused clamp."""
    if layer.operator in ("MAXIMUM", "MINIMUM"):
        pick = np.maximum if layer.operator == "MAXIMUM" else np.minimum
        return pick(a, b).astype(np.int8)
    if layer.operator in ("ADD", "SUB"):
        result = _add_or_sub(layer, a, b, ta, tb)
    elif layer.operator == "MUL":
        product = (a.astype(np.int64) - ta.quant[1]) * (b.astype(np.int64) - tb.quant[1])
        fixed = layer.multipliers[0]
        result = multiply_by_quantized_multiplier(product, fixed.multiplier, fixed.shift)
    else:  # PRELU
        value = a.astype(np.int64) - ta.quant[1]
        alpha = b.astype(np.int64) - tb.quant[1]
        positive, negative = layer.multipliers
        result = np.where(
            value >= 0,
            multiply_by_quantized_multiplier(value, positive.multiplier, positive.shift),
            multiply_by_quantized_multiplier(value * alpha, negative.multiplier, negative.shift),
        )
    return _saturate(result + out.quant[1], layer.clamp.low, layer.clamp.high)


def slice_values(layer: Slice, x: np.ndarray, out: Tensor) -> np.ndarray:
    """Elements ``begin + stride * i`` on every axis but the batch axis."""
    indices = [np.arange(x.shape[0])] + [
        begin + stride * np.arange(size)
        for begin, stride, size in zip(layer.begin[1:], layer.stride[1:],
                                       layer.sliced_shape[1:], strict=True)
    ]
    return x[np.ix_(*indices)].reshape((x.shape[0], *out.shape[1:]))


def nearest_indices(in_size: int, out_size: int, align_corners: bool,
                    half_pixel_centers: bool) -> np.ndarray:
    """TFLite's nearest-neighbour source index of every output position (float32 math)."""
    if align_corners and out_size > 1:
        scale = np.float32(in_size - 1) / np.float32(out_size - 1)
    else:
        scale = np.float32(in_size) / np.float32(out_size)
    offset = np.float32(0.5 if half_pixel_centers else 0.0)
    indices = []
    for position in range(out_size):
        value = (np.float32(position) + offset) * scale
        source = (int(math.copysign(math.floor(abs(value) + 0.5), value)) if align_corners
                  else math.floor(value))
        source = min(source, in_size - 1)
        indices.append(max(0, source) if half_pixel_centers else source)
    return np.array(indices, dtype=np.int64)


def bilinear_terms(in_size: int, out_size: int, align_corners: bool,
                   half_pixel_centers: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TFLite's integer bilinear source positions: lower and upper index and the Q10 position
    of every output position along one axis."""
    one = 1 << RESIZE_FRACTION_BITS
    if align_corners and out_size > 1:
        scale = (one * (in_size - 1) + (out_size - 1) // 2) // (out_size - 1)
    else:
        scale = (one * in_size + out_size // 2) // out_size
    lowers, uppers, positions = [], [], []
    for position in range(out_size):
        scaled = (position * scale + scale // 2 - (1 << 9) if half_pixel_centers
                  else position * scale)
        lowers.append(max(int(scaled / one), 0))
        uppers.append(min(int((scaled + one - 1) / one), in_size - 1))
        positions.append(scaled)
    return (np.array(lowers, dtype=np.int64), np.array(uppers, dtype=np.int64),
            np.array(positions, dtype=np.int64))


def resize(layer: Resize, x: np.ndarray, out: Tensor) -> np.ndarray:
    _, in_height, in_width, _ = x.shape
    _, out_height, out_width, _ = out.shape
    flags = (layer.align_corners, layer.half_pixel_centers)
    if layer.method == "nearest":
        rows = nearest_indices(in_height, out_height, *flags)
        cols = nearest_indices(in_width, out_width, *flags)
        return x[:, rows][:, :, cols]
    y0, y1, ys = bilinear_terms(in_height, out_height, *flags)
    x0, x1, xs = bilinear_terms(in_width, out_width, *flags)
    one = 1 << RESIZE_FRACTION_BITS
    dy = (ys - one * y0)[None, :, None, None]
    dx = (xs - one * x0)[None, None, :, None]
    data = x.astype(np.int64)
    total = (data[:, y0][:, :, x0] * (one - dy) * (one - dx)
             + data[:, y1][:, :, x0] * dy * (one - dx)
             + data[:, y0][:, :, x1] * (one - dy) * dx
             + data[:, y1][:, :, x1] * dy * dx)
    rounded = total + np.where(total > 0, 1 << 19, -(1 << 19))
    quotient = np.where(rounded >= 0, rounded >> 20, -((-rounded) >> 20))
    return quotient.astype(np.int8)


def softmax_table(beta: float, input_scale: float) -> np.ndarray:
    """``exp(-d * scale * beta)`` in float64 for the 256 distances d below a row's maximum."""
    return np.exp(-np.arange(256, dtype=np.float64) * float(input_scale) * float(beta))


def softmax_dequantized(x: np.ndarray, beta: float, inp: Tensor, out: Tensor) -> np.ndarray:
    """onnxruntime's softmax of int8 values at any output quantization: exponentials of the
    dequantized distances to the row maximum (a table), their sum in order along the row, each
    share divided by it and quantized (ties to even). Every step is float64 in a fixed order,
    so the host C computes the same bits."""
    table = softmax_table(beta, inp.quant[0])
    data = x.astype(np.int64)
    exps = table[data.max(axis=-1, keepdims=True) - data]
    total = np.cumsum(exps, axis=-1)[..., -1:]
    shares = exps / total
    quantized = np.rint(shares / float(out.quant[0])) + out.quant[1]
    return _saturate(quantized)


def dequantize(x: np.ndarray, inp: Tensor) -> np.ndarray:
    scale, zero_point = inp.quant
    # float32 product (as onnxruntime and the host C compute it), not numpy's float64 of int32
    return (x.astype(np.int32) - zero_point).astype(np.float32) * np.float32(scale)


def quantize(x: np.ndarray, out: Tensor, half_to_even: bool) -> np.ndarray:
    scale, zero_point = out.quant
    scaled = x.astype(np.float32) / np.float32(scale)
    if half_to_even:
        rounded = np.rint(scaled)
    else:
        rounded = np.sign(scaled) * np.floor(np.abs(scaled) + np.float32(0.5))
    return _saturate(rounded + zero_point)


def recast(x: np.ndarray, inp: Tensor, out: Tensor) -> np.ndarray:
    """uint8 <-> int8 of the same integers (the zero points differ by 128)."""
    moved = x.astype(np.int32) - inp.quant[1] + out.quant[1]
    return moved.astype(out.dtype)
