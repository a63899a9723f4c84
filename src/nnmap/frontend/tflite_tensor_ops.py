"""Converters of TFLite's data-movement operators (reshape, pad, concatenation, transpose,
slices, splits, resize) and of its int8 elementwise functions (as lookup tables)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nnmap.frontend.tflite_context import TfliteImport, quantized_clamp
from nnmap.frontend.tflite_reader import TfliteOperator
from nnmap.ir import (
    Concat,
    Dequantize,
    Lookup,
    Pad,
    Quantize,
    Reshape,
    Resize,
    Slice,
    Tensor,
    Transpose,
)
from nnmap.reference import activations


def convert_reshape(ctx: TfliteImport, op: TfliteOperator) -> None:
    """RESHAPE, SQUEEZE, EXPAND_DIMS: the output tensor's shape over the same bytes."""
    x = ctx.activation(op, 0)
    out = ctx.output(op)
    ctx.add(Reshape(name=ctx.fresh("reshape"), inputs=(x.name,), output=out.name))


def convert_pad(ctx: TfliteImport, op: TfliteOperator) -> None:
    x = ctx.int8(op, ctx.activation(op, 0))
    widths = ctx.constant(op, 1).reshape(-1, 2)
    out = ctx.output(op)
    value = out.quant[1]
    if op.name == "PADV2" and ctx.source(op, 2) is not None:
        value = int(ctx.constant(op, 2).reshape(-1)[0])
    ctx.add(Pad(name=ctx.fresh("pad"), inputs=(x.name,), output=out.name,
                pads=tuple((int(before), int(after)) for before, after in widths), value=value))


def convert_concatenation(ctx: TfliteImport, op: TfliteOperator) -> None:
    inputs = [ctx.int8(op, ctx.activation(op, i)) for i in range(len(op.inputs))]
    out = ctx.output(op)
    if op.options.FusedActivationFunction() != 0:
        raise ctx.unsupported(op, "a concatenation with a fused activation")
    axis = int(op.options.Axis()) % len(out.shape)
    ctx.add(Concat(name=ctx.fresh("concat"), inputs=tuple(t.name for t in inputs),
                   output=out.name, axis=axis))


def convert_transpose(ctx: TfliteImport, op: TfliteOperator) -> None:
    x = ctx.activation(op, 0)
    perm = tuple(int(p) for p in ctx.constant(op, 1).reshape(-1))
    out = ctx.output(op)
    ctx.add(Transpose(name=ctx.fresh("transpose"), inputs=(x.name,), output=out.name,
                      perm=perm))


def _add_slice(ctx: TfliteImport, x: Tensor, out: Tensor, begin: list[int],
               stride: list[int], sizes: list[int]) -> None:
    ctx.add(Slice(name=ctx.fresh("slice"), inputs=(x.name,), output=out.name,
                  begin=tuple(begin), stride=tuple(stride), sliced_shape=tuple(sizes)))


def _strided_axis(dim: int, begin: int, end: int, stride: int, masks: tuple[bool, bool, bool]
                  ) -> tuple[int, int]:
    """Start and element count of one axis of STRIDED_SLICE (masks: begin, end, shrink)."""
    begin_masked, end_masked, shrink = masks
    if shrink:
        start = begin + dim if begin < 0 else begin
        return start, 1
    start, stop, step = slice(None if begin_masked else begin, None if end_masked else end,
                              stride).indices(dim)
    return start, len(range(start, stop, step))


def convert_strided_slice(ctx: TfliteImport, op: TfliteOperator) -> None:
    x = ctx.activation(op, 0)
    begins, ends, strides = (ctx.constant(op, i).reshape(-1).tolist() for i in (1, 2, 3))
    options = op.options
    if options.EllipsisMask() or options.NewAxisMask():
        raise ctx.unsupported(op, "a strided slice with ellipsis or new-axis masks")
    out = ctx.output(op)
    if options.Offset():
        ends = [b + e for b, e in zip(begins, ends, strict=True)]
    starts, sizes = [], []
    for axis, dim in enumerate(x.shape):
        masks = tuple(bool(mask >> axis & 1) for mask in
                      (options.BeginMask(), options.EndMask(), options.ShrinkAxisMask()))
        start, size = _strided_axis(dim, begins[axis], ends[axis], strides[axis], masks)  # type: ignore[arg-type]
        starts.append(start)
        sizes.append(size)
    _add_slice(ctx, x, out, starts, [int(s) for s in strides], sizes)


def convert_slice(ctx: TfliteImport, op: TfliteOperator) -> None:
    x = ctx.activation(op, 0)
    begins = [int(b) for b in ctx.constant(op, 1).reshape(-1)]
    sizes = [int(s) for s in ctx.constant(op, 2).reshape(-1)]
    sizes = [dim - b if s < 0 else s for dim, b, s in zip(x.shape, begins, sizes, strict=True)]
    _add_slice(ctx, x, ctx.output(op), begins, [1] * len(begins), sizes)


def convert_split(ctx: TfliteImport, op: TfliteOperator) -> None:
    """SPLIT (axis, input) and SPLIT_V (input, sizes, axis): one Slice per output."""
    data_position, axis_position = (1, 0) if op.name == "SPLIT" else (0, 2)
    x = ctx.activation(op, data_position)
    axis = int(ctx.constant(op, axis_position).reshape(-1)[0]) % len(x.shape)
    start = 0
    for position in range(len(op.outputs)):
        out = ctx.output(op, position)
        size = out.shape[axis]
        begin = [0] * len(x.shape)
        begin[axis] = start
        sizes = list(x.shape)
        sizes[axis] = size
        _add_slice(ctx, x, out, begin, [1] * len(x.shape), sizes)
        start += size


def convert_resize(ctx: TfliteImport, op: TfliteOperator) -> None:
    x = ctx.int8(op, ctx.activation(op, 0))
    out = ctx.output(op)
    if x.quant != out.quant:
        raise ctx.unsupported(op, "a resize that changes the quantization")
    method = "nearest" if op.name == "RESIZE_NEAREST_NEIGHBOR" else "bilinear"
    ctx.add(Resize(name=ctx.fresh(f"resize_{method}"), inputs=(x.name,), output=out.name,
                   method=method, align_corners=bool(op.options.AlignCorners()),
                   half_pixel_centers=bool(op.options.HalfPixelCenters())))


def _table_function(ctx: TfliteImport, op: TfliteOperator, x: Tensor, out: Tensor
                    ) -> Callable[[np.ndarray], np.ndarray]:
    inp, outq = x.quant, out.quant
    if op.name == "LOGISTIC":
        if outq != (1 / 256, -128):
            raise ctx.unsupported(op, "an int8 LOGISTIC whose output is not 1/256, zp -128")
        return lambda v: activations.logistic(v, inp)
    if op.name == "TANH":
        if outq != (1 / 128, 0):
            raise ctx.unsupported(op, "an int8 TANH whose output is not 1/128, zp 0")
        return lambda v: activations.tanh(v, inp)
    if op.name == "HARD_SWISH":
        return lambda v: activations.hard_swish(v, inp, outq)
    if op.name == "LEAKY_RELU":
        alpha = float(op.options.Alpha())
        return lambda v: activations.leaky_relu(v, alpha, inp, outq)
    if op.name == "QUANTIZE":
        return lambda v: activations.requantize(v, inp, outq)
    if op.name == "RELU6":
        return lambda v: activations.relu6(v, inp)
    clamp = quantized_clamp(op.name, *outq)
    return lambda v: activations.relu(v, inp, outq, int(clamp.low), int(clamp.high))


def convert_lookup(ctx: TfliteImport, op: TfliteOperator) -> None:
    """LOGISTIC, TANH, HARD_SWISH, LEAKY_RELU, RELU, RELU6, RELU_N1_TO_1 and int8 QUANTIZE."""
    x = ctx.activation(op, 0)
    out = ctx.output(op)
    if op.name == "QUANTIZE" and x.dtype == "float32":
        ctx.int8(op, out)
        ctx.add(Quantize(name=ctx.fresh("quantize"), inputs=(x.name,), output=out.name))
        return
    ctx.int8(op, x)
    ctx.int8(op, out)
    table = activations.lookup_table(_table_function(ctx, op, x, out))
    ctx.add(Lookup(name=ctx.fresh(op.name.lower()), inputs=(x.name,), output=out.name,
                   operator=op.name, table=table))


def convert_dequantize(ctx: TfliteImport, op: TfliteOperator) -> None:
    x = ctx.int8(op, ctx.activation(op, 0))
    out = ctx.output(op)
    ctx.add(Dequantize(name=ctx.fresh("dequantize"), inputs=(x.name,), output=out.name))


TENSOR_CONVERTERS = {
    "RESHAPE": convert_reshape,
    "SQUEEZE": convert_reshape,
    "EXPAND_DIMS": convert_reshape,
    "PAD": convert_pad,
    "PADV2": convert_pad,
    "CONCATENATION": convert_concatenation,
    "TRANSPOSE": convert_transpose,
    "STRIDED_SLICE": convert_strided_slice,
    "SLICE": convert_slice,
    "SPLIT": convert_split,
    "SPLIT_V": convert_split,
    "RESIZE_NEAREST_NEIGHBOR": convert_resize,
    "RESIZE_BILINEAR": convert_resize,
    "LOGISTIC": convert_lookup,
    "TANH": convert_lookup,
    "HARD_SWISH": convert_lookup,
    "LEAKY_RELU": convert_lookup,
    "RELU": convert_lookup,
    "RELU6": convert_lookup,
    "RELU_N1_TO_1": convert_lookup,
    "QUANTIZE": convert_lookup,
    "DEQUANTIZE": convert_dequantize,
}
