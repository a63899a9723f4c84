"""Converters of TFLite's arithmetic operators (convolutions, dense, pooling, softmax, binary
elementwise, reductions) to nnmap layers, with TFLite Micro's integer parameters as they are."""

from __future__ import annotations

import numpy as np

from nnmap.errors import ModelFormatError, QuantizationError
from nnmap.frontend.tflite_context import TfliteImport
from nnmap.frontend.tflite_reader import TfliteOperator
from nnmap.ir import (
    Add,
    AddRescale,
    AveragePool,
    Conv2D,
    Elementwise,
    FullyConnected,
    MaxPool,
    Reduce,
    Requant,
    Softmax,
    Tensor,
    quantize_multiplier,
)
from nnmap.ir.quant import mean_multiplier
from nnmap.reference.softmax import softmax_scaling

SAME, VALID = 0, 1
ADD_LEFT_SHIFT = 20


def same_padding(size: int, stride: int, dilation: int, kernel: int,
                 padding: int) -> tuple[int, int, int]:
    """Output size and (before, after) padding of one spatial axis, as TFLite computes them."""
    effective = (kernel - 1) * dilation + 1
    if padding == VALID:
        return (size - effective + stride) // stride, 0, 0
    out = (size + stride - 1) // stride
    total = max((out - 1) * stride + effective - size, 0)
    return out, total // 2, total - total // 2


def _check_output(ctx: TfliteImport, op: TfliteOperator, out: Tensor,
                  computed: tuple[int, ...]) -> None:
    """The file's output shape must be the one the layer computes (elements, when ``computed``
    is a 1-tuple: a fully connected layer's rows may be shaped freely)."""
    matches = out.size == computed[0] if len(computed) == 1 else out.shape == computed
    if not matches:
        raise ModelFormatError(f"{ctx.where(op)}: output tensor {out.name} has shape {out.shape}, "
                               f"the layer computes {computed}: the file is inconsistent")


def _spatial_output(op: TfliteOperator, inp: Tensor, kernel: tuple[int, int],
                    stride: tuple[int, int], dilation: tuple[int, int]) -> tuple[int, int]:
    mode = op.options.Padding()
    height = same_padding(inp.shape[1], stride[0], dilation[0], kernel[0], mode)[0]
    return height, same_padding(inp.shape[2], stride[1], dilation[1], kernel[1], mode)[0]


def _padding(op: TfliteOperator, inp: Tensor, kernel: tuple[int, int],
             stride: tuple[int, int], dilation: tuple[int, int]) -> tuple[int, int, int, int]:
    mode = op.options.Padding()
    _, top, bottom = same_padding(inp.shape[1], stride[0], dilation[0], kernel[0], mode)
    _, left, right = same_padding(inp.shape[2], stride[1], dilation[1], kernel[1], mode)
    return top, left, bottom, right


def _weight_scales(ctx: TfliteImport, op: TfliteOperator) -> np.ndarray:
    weight = ctx.source(op, 1)
    assert weight is not None
    if weight.type_name != "INT8" or weight.scales is None:
        raise ctx.unsupported(op, f"weights {weight.name} are {weight.type_name.lower()}, "
                                  "nnmap needs int8 weights")
    if weight.zero_points is not None and np.any(weight.zero_points != 0):
        raise ctx.unsupported(op, f"weights {weight.name} have a nonzero zero point")
    axis = 3 if op.name == "DEPTHWISE_CONV_2D" else 0  # the output channels
    channels = weight.shape[axis] if len(weight.shape) > axis else 1
    if weight.scales.size not in (1, channels):
        raise QuantizationError(f"{ctx.where(op)}: weights {weight.name} have "
                                f"{weight.scales.size} scales for {channels} output channels")
    if weight.scales.size > 1 and weight.quantized_axis != axis:
        raise QuantizationError(
            f"{ctx.where(op)}: weights {weight.name} are quantized per axis "
            f"{weight.quantized_axis}; {op.name} needs per-channel scales on axis {axis} "
            "(its output channels): re-quantize the model")
    return weight.scales


def _bias(ctx: TfliteImport, op: TfliteOperator, channels: int) -> np.ndarray:
    if ctx.source(op, 2) is None:
        return np.zeros(channels, dtype=np.int32)
    bias = ctx.constant(op, 2)
    if bias.dtype != np.int32:
        raise ctx.unsupported(op, f"bias of type {bias.dtype} (nnmap needs int32)")
    return bias.reshape(-1).astype(np.int32)


def convert_conv(ctx: TfliteImport, op: TfliteOperator) -> None:
    """CONV_2D and DEPTHWISE_CONV_2D (weights OHWI, per-channel requantization)."""
    x = ctx.int8(op, ctx.activation(op, 0))
    options = op.options
    weight = ctx.constant(op, 1).astype(np.int8)
    scales = _weight_scales(ctx, op)
    out = ctx.output(op)
    if op.name == "DEPTHWISE_CONV_2D":
        weight = np.ascontiguousarray(weight.transpose(3, 1, 2, 0))  # [1,H,W,C*M] -> [C*M,H,W,1]
        groups = x.shape[3] if x.shape[3] > 1 else 1
    else:
        groups = x.shape[3] // weight.shape[3]
    stride = (int(options.StrideH()), int(options.StrideW()))
    dilation = (int(options.DilationHFactor()), int(options.DilationWFactor()))
    _check_output(ctx, op, out, (x.shape[0], *_spatial_output(op, x, weight.shape[1:3], stride,
                                                                dilation), weight.shape[0]))
    ctx.add(Conv2D(
        name=ctx.fresh("conv2d"), inputs=(x.name,), output=out.name, weight=weight,
        bias=_bias(ctx, op, weight.shape[0]), stride=stride, dilation=dilation,
        padding=_padding(op, x, weight.shape[1:3], stride, dilation), groups=groups,
        requant=Requant.from_scales(x.quant[0], scales, out.quant[0]),
        clamp=ctx.fused_clamp(op, options.FusedActivationFunction(), out),
    ))


def convert_fully_connected(ctx: TfliteImport, op: TfliteOperator) -> None:
    """FULLY_CONNECTED on any input rank (rows of the last ``in_features`` elements)."""
    x = ctx.int8(op, ctx.activation(op, 0))
    weight = ctx.constant(op, 1).astype(np.int8)
    scales = _weight_scales(ctx, op)
    if weight.ndim != 2 or x.size % weight.shape[1]:
        raise ctx.unsupported(op, f"weights of shape {weight.shape} for an input {x.shape}")
    out = ctx.output(op)
    _check_output(ctx, op, out, (x.size // weight.shape[1] * weight.shape[0],))
    ctx.add(FullyConnected(
        name=ctx.fresh("dense"), inputs=(x.name,), output=out.name, weight=weight,
        bias=_bias(ctx, op, weight.shape[0]),
        requant=Requant.from_scales(x.quant[0], scales, out.quant[0]),
        clamp=ctx.fused_clamp(op, op.options.FusedActivationFunction(), out),
    ))


def convert_pool(ctx: TfliteImport, op: TfliteOperator) -> None:
    x = ctx.int8(op, ctx.activation(op, 0))
    out = ctx.output(op)
    if x.quant != out.quant:
        raise ctx.unsupported(op, "pooling that changes the quantization")
    options = op.options
    kernel = (int(options.FilterHeight()), int(options.FilterWidth()))
    stride = (int(options.StrideH()), int(options.StrideW()))
    _check_output(ctx, op, out, (x.shape[0], *_spatial_output(op, x, kernel, stride, (1, 1)),
                                 x.shape[3]))
    kind = AveragePool if op.name == "AVERAGE_POOL_2D" else MaxPool
    ctx.add(kind(
        name=ctx.fresh(kind.__name__.lower()), inputs=(x.name,), output=out.name,
        kernel=kernel, stride=stride, padding=_padding(op, x, kernel, stride, (1, 1)),
        clamp=ctx.fused_clamp(op, options.FusedActivationFunction(), out),
    ))


def convert_softmax(ctx: TfliteImport, op: TfliteOperator) -> None:
    x = ctx.int8(op, ctx.activation(op, 0))
    out = ctx.output(op)
    if out.quant != (1 / 256, -128):
        raise ctx.unsupported(op, "an int8 softmax whose output is not scale 1/256, zp -128")
    beta = float(op.options.Beta()) if op.options is not None else 1.0
    ctx.add(Softmax(name=ctx.fresh("softmax"), inputs=(x.name,), output=out.name, beta=beta,
                    scaling=softmax_scaling(beta, x.quant[0])))


def add_rescale(first: float, second: float, output: float, double: bool) -> AddRescale:
    """TFLite's int8 ADD (``double``) and SUB (float32 arithmetic) input and output scaling."""
    if double:
        twice_max = 2 * max(first, second)
        ratios = (first / twice_max, second / twice_max,
                  twice_max / ((1 << ADD_LEFT_SHIFT) * output))
    else:
        twice = np.float32(2) * max(np.float32(first), np.float32(second))
        ratios = (float(np.float32(first) / twice), float(np.float32(second) / twice),
                  float(twice / (np.float32(1 << ADD_LEFT_SHIFT) * np.float32(output))))
    fixed = [quantize_multiplier(ratio) for ratio in ratios]
    return AddRescale(ADD_LEFT_SHIFT, *fixed)


def _scale(tensor: Tensor) -> float:
    return tensor.quant[0]


def _binary_layer(ctx: TfliteImport, op: TfliteOperator, a: Tensor, b: Tensor,
                  out: Tensor) -> Add | Elementwise:
    code = op.options.FusedActivationFunction() if op.options is not None else 0
    clamp = ctx.fused_clamp(op, code, out)
    name, inputs = ctx.fresh(op.name.lower()), (a.name, b.name)
    if op.name == "ADD" and a.shape == b.shape == out.shape:
        rescale = add_rescale(_scale(a), _scale(b), _scale(out), double=True)
        return Add(name=name, inputs=inputs, output=out.name, rescale=rescale, clamp=clamp)
    if op.name in ("ADD", "SUB"):
        rescale = add_rescale(_scale(a), _scale(b), _scale(out), double=op.name == "ADD")
        return Elementwise(name=name, inputs=inputs, output=out.name, operator=op.name,
                           rescale=rescale, clamp=clamp)
    if op.name == "MUL":
        real = float(_scale(a)) * float(_scale(b)) / float(_scale(out))
        return Elementwise(name=name, inputs=inputs, output=out.name, operator="MUL",
                           multipliers=(quantize_multiplier(real),), clamp=clamp)
    if a.quant != out.quant or b.quant != out.quant:
        raise ctx.unsupported(op, "MAXIMUM/MINIMUM whose inputs and output differ in "
                                  "quantization")
    return Elementwise(name=name, inputs=inputs, output=out.name, operator=op.name)


def convert_binary(ctx: TfliteImport, op: TfliteOperator) -> None:
    """ADD, SUB, MUL, MAXIMUM, MINIMUM (broadcasting; a constant operand becomes a Constant)."""
    a = ctx.int8(op, ctx.activation(op, 0))
    b = ctx.int8(op, ctx.activation(op, 1))
    out = ctx.int8(op, ctx.output(op))
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ctx.unsupported(op, f"shapes {a.shape} and {b.shape} do not broadcast") from None
    ctx.add(_binary_layer(ctx, op, a, b, out))


def convert_prelu(ctx: TfliteImport, op: TfliteOperator) -> None:
    x = ctx.int8(op, ctx.activation(op, 0))
    alpha = ctx.int8(op, ctx.activation(op, 1))
    out = ctx.output(op)
    positive = float(_scale(x)) / float(_scale(out))
    negative = float(_scale(x)) * float(_scale(alpha)) / float(_scale(out))
    ctx.add(Elementwise(
        name=ctx.fresh("prelu"), inputs=(x.name, alpha.name), output=out.name, operator="PRELU",
        multipliers=(quantize_multiplier(positive), quantize_multiplier(negative)),
    ))


def convert_reduce(ctx: TfliteImport, op: TfliteOperator) -> None:
    """MEAN and SUM over constant axes (keep_dims or not: the output tensor's shape)."""
    x = ctx.int8(op, ctx.activation(op, 0))
    axes = tuple(sorted({int(a) % len(x.shape) for a in ctx.constant(op, 1).reshape(-1)}))
    out = ctx.output(op)
    base = quantize_multiplier(float(_scale(x)) / float(_scale(out)))
    count = int(np.prod([x.shape[a] for a in axes]))
    multiplier = mean_multiplier(base, count) if op.name == "MEAN" else base
    ctx.add(Reduce(name=ctx.fresh(op.name.lower()), inputs=(x.name,), output=out.name,
                   operator=op.name, axes=axes, multiplier=multiplier))


ARITHMETIC_CONVERTERS = {
    "CONV_2D": convert_conv,
    "DEPTHWISE_CONV_2D": convert_conv,
    "FULLY_CONNECTED": convert_fully_connected,
    "AVERAGE_POOL_2D": convert_pool,
    "MAX_POOL_2D": convert_pool,
    "SOFTMAX": convert_softmax,
    "ADD": convert_binary,
    "SUB": convert_binary,
    "MUL": convert_binary,
    "MAXIMUM": convert_binary,
    "MINIMUM": convert_binary,
    "PRELU": convert_prelu,
    "MEAN": convert_reduce,
    "SUM": convert_reduce,
}
