"""TE computes with TFLite's int8 integer semantics, one per layer kind.

Each lowering returns a ``KernelDef``: the TE tensors in C-parameter order, which of them are
activations and which constant arrays (weights, bias, requantization), and the schedule to apply.
Weights are re-laid out at compile time so that the innermost loop runs over output channels,
contiguous in both the weights and the output (a loop gcc vectorizes). The input zero point is
folded into the bias: ``sum((x - zp) * w) = sum(x * w) - zp * sum(w)``, with padding read as ``zp``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from tvm import te, tirx

from nnmap.codegen import requant
from nnmap.errors import QuantizationError, UnsupportedOperatorError
from nnmap.ir import (
    Add,
    AddRescale,
    AveragePool,
    Clamp,
    Concat,
    Conv2D,
    FullyConnected,
    Graph,
    IntegerAddRescale,
    IntegerRequant,
    Layer,
    MaxPool,
    Pad,
    Pool2D,
    Requant,
    Tensor,
    Transpose,
)

ACTIVATION, CONSTANT, OUTPUT = "activation", "constant", "output"


@dataclass(frozen=True)
class KernelParam:
    """One C parameter of a kernel: a pointer to ``dtype`` named ``name``."""

    name: str
    dtype: str
    role: str  # ACTIVATION (read), OUTPUT (written) or CONSTANT (a weights.c array)


@dataclass(frozen=True, eq=False)
class KernelDef:
    """A layer's TE compute, ready to be turned into a PrimFunc and scheduled."""

    params: tuple[KernelParam, ...]
    tensors: tuple[te.Tensor, ...]
    # "mac_rows", "reduce_inner", "dot_inner", "fused_stages", "elementwise" or "stages"
    schedule: str
    constants: dict[str, np.ndarray] = field(default_factory=dict)


def clamp_range(clamp: Clamp) -> tuple[int, int]:
    """The integer output range of a fused activation, inside int8."""
    low = -128 if math.isinf(clamp.low) else max(-128, math.ceil(clamp.low))
    high = 127 if math.isinf(clamp.high) else min(127, math.floor(clamp.high))
    return low, high


def _zero_point(tensor: Tensor) -> int:
    if tensor.zero_point is None:
        raise QuantizationError(f"tensor {tensor.name}: int8 without a zero point")
    return int(tensor.zero_point)


def _requant_arrays(rq: Requant | IntegerRequant, channels: int) -> dict[str, np.ndarray]:
    """The two per-channel int32 arrays of a requantization: multipliers and shifts (TFLite),
    or multipliers and addends (integer-only ONNX)."""
    second = ("addend", rq.addend) if isinstance(rq, IntegerRequant) else ("shift", rq.shift)
    arrays = {"mult": rq.multiplier, second[0]: second[1]}
    return {name: np.ascontiguousarray(np.broadcast_to(values.astype(np.int32), (channels,)))
            for name, values in arrays.items()}


def _requant_placeholders(arrays: dict[str, np.ndarray]) -> list[te.Tensor]:
    return [te.placeholder(values.shape, "int32", name=name) for name, values in arrays.items()]


def _requantized_output(
    acc: te.Tensor,
    rq: Requant | IntegerRequant,
    out: Tensor,
    clamp: Clamp,
    mult: te.Tensor,
    shift: te.Tensor,
    bias: te.Tensor,
    bind: bool,
) -> te.Tensor:
    """``acc`` plus ``bias`` requantized per channel (``shift`` holds the addends of an
    ``IntegerRequant``)."""
    low, high = clamp_range(clamp)
    if isinstance(rq, IntegerRequant):
        return te.compute(out.shape, lambda *i: requant.integer_requantized(
            acc(*i) + bias[i[-1]], rq, mult[i[-1]], shift[i[-1]], _zero_point(out), low, high),
            name="out")
    may_shift_left = bool((rq.shift > 0).any())
    zp_out = tirx.const(_zero_point(out), "int32")

    def value(*index: tirx.Var) -> tirx.PrimExpr:
        k = index[-1]
        scaled = requant.multiply_by_quantized_multiplier(
            acc(*index) + bias[k], mult[k], shift[k], may_shift_left=may_shift_left, bind=bind
        )
        return requant.saturate(scaled + zp_out, low, high, "int8", bind)

    return te.compute(out.shape, value, name="out")


def _params(tensors: list[te.Tensor], roles: list[str]) -> tuple[KernelParam, ...]:
    return tuple(
        KernelParam(t.op.name, str(t.dtype), role) for t, role in zip(tensors, roles, strict=True)
    )


def _conv_weights(layer: Conv2D) -> tuple[np.ndarray, np.ndarray]:
    """Weights as [FY, FX, C/groups, K] (depthwise: [FY, FX, K]) and the per-channel sum."""
    weight = layer.weight.astype(np.int8)
    sums = weight.astype(np.int64).sum(axis=(1, 2, 3))
    if layer.is_depthwise:
        return np.ascontiguousarray(weight[..., 0].transpose(1, 2, 0)), sums
    return np.ascontiguousarray(weight.transpose(1, 2, 3, 0)), sums


def _folded_bias(bias: np.ndarray, weight_sums: np.ndarray, zp_in: int) -> np.ndarray:
    folded = bias.astype(np.int64) - zp_in * weight_sums
    return folded.astype(np.int32)


def _padded_input(layer: Conv2D, data: te.Tensor, out: Tensor, zp_in: int) -> te.Tensor:
    """The input as the window reads it: ``data`` with the zero point around it (``data``
    itself when the layer has no padding)."""
    if not any(layer.padding):
        return data
    batch, height, width, channels = (int(d) for d in data.shape)
    _, fy_n, fx_n, _ = layer.weight.shape
    (sy, sx), (dy, dx), (top, left) = layer.stride, layer.dilation, layer.padding[:2]
    rows = (out.shape[1] - 1) * sy + (fy_n - 1) * dy + 1
    cols = (out.shape[2] - 1) * sx + (fx_n - 1) * dx + 1

    def value(n: tirx.Var, y: tirx.Var, x: tirx.Var, c: tirx.Var) -> tirx.PrimExpr:
        iy, ix = y - top, x - left
        inside = tirx.all(iy >= 0, iy < height, ix >= 0, ix < width)
        return te.if_then_else(inside, data[n, iy, ix, c], tirx.const(zp_in, "int8"))

    return te.compute((batch, rows, cols, channels), value, name="padded")


def conv2d(layer: Conv2D, inp: Tensor, out: Tensor, bind: bool = True) -> KernelDef:
    """Grouped/depthwise NHWC convolution with per-channel requantization."""
    assert layer.requant is not None
    batch, height, width, _ = inp.shape
    k_total, fy_n, fx_n, c_group = layer.weight.shape
    k_group = k_total // layer.groups
    weight, sums = _conv_weights(layer)
    zp_in = _zero_point(inp)
    data = te.placeholder(inp.shape, "int8", name="data")
    w = te.placeholder(weight.shape, "int8", name="weight")
    bias = te.placeholder((k_total,), "int32", name="bias")
    requant_arrays = _requant_arrays(layer.requant, k_total)
    mult, shift = _requant_placeholders(requant_arrays)
    fy = te.reduce_axis((0, fy_n), "fy")
    fx = te.reduce_axis((0, fx_n), "fx")
    c = te.reduce_axis((0, c_group), "c")
    (sy, sx), (dy, dx), (top, left) = layer.stride, layer.dilation, layer.padding[:2]

    rows_of_channels = (not layer.is_depthwise and layer.groups == 1 and c_group > 1
                        and k_total > 1)
    source = _padded_input(layer, data, out, zp_in) if rows_of_channels else data

    def pixel(n: tirx.Var, y: tirx.Var, x: tirx.Var, channel: tirx.PrimExpr) -> tirx.PrimExpr:
        if rows_of_channels:  # read from the padded stage: no bounds tests in the loop
            return source[n, y * sy + fy * dy, x * sx + fx * dx, channel].astype("int32")
        iy, ix = y * sy + fy * dy - top, x * sx + fx * dx - left
        value = data[n, iy, ix, channel]
        if not any(layer.padding):
            return value.astype("int32")
        inside = tirx.all(iy >= 0, iy < height, ix >= 0, ix < width)
        return te.if_then_else(inside, value, tirx.const(zp_in, "int8")).astype("int32")

    def accumulate(n: tirx.Var, y: tirx.Var, x: tirx.Var, k: tirx.Var) -> tirx.PrimExpr:
        if layer.is_depthwise:
            product = pixel(n, y, x, k // k_group) * w[fy, fx, k].astype("int32")
            return te.sum(product, axis=[fy, fx])
        channel = c if layer.groups == 1 else (k // k_group) * c_group + c
        product = pixel(n, y, x, channel) * w[fy, fx, c, k].astype("int32")
        return te.sum(product, axis=[fy, fx, c])

    acc = te.compute((batch, *out.shape[1:]), accumulate, name="acc")
    result = _requantized_output(acc, layer.requant, out, layer.clamp, mult, shift, bias, bind)
    tensors = [data, w, bias, mult, shift, result]
    constants = {
        "weight": weight,
        "bias": _folded_bias(layer.bias, sums, zp_in),
        **requant_arrays,
    }
    roles = [ACTIVATION, CONSTANT, CONSTANT, CONSTANT, CONSTANT, OUTPUT]
    schedule = "mac_rows" if rows_of_channels else "reduce_inner"
    return KernelDef(_params(tensors, roles), tuple(tensors), schedule, constants)


def fully_connected(layer: FullyConnected, inp: Tensor, out: Tensor, bind: bool = True
                    ) -> KernelDef:
    """``out[b, n] = requant(sum_c x[b, c] * w[n, c] + bias[n])``. With more than one input
    channel and output the weights are transposed at compile time to [C, N] (output channels
    innermost, the host micro-kernel's layout, schedule "mac_rows"); else one dot product per
    output."""
    assert layer.requant is not None
    n_out, n_in = layer.weight.shape
    rows = inp.size // n_in
    channels_last = n_in > 1 and n_out > 1
    source = layer.weight.T if channels_last else layer.weight
    weight = np.ascontiguousarray(source.astype(np.int8))
    sums = layer.weight.astype(np.int64).sum(axis=1)
    zp_in = _zero_point(inp)
    data = te.placeholder((rows, n_in), "int8", name="data")
    w = te.placeholder(weight.shape, "int8", name="weight")
    bias = te.placeholder((n_out,), "int32", name="bias")
    requant_arrays = _requant_arrays(layer.requant, n_out)
    mult, shift = _requant_placeholders(requant_arrays)
    c = te.reduce_axis((0, n_in), "c")

    def dot(b: tirx.Var, n: tirx.Var) -> tirx.PrimExpr:
        weight_value = w[c, n] if channels_last else w[n, c]
        return te.sum(data[b, c].astype("int32") * weight_value.astype("int32"), axis=c)

    acc = te.compute((rows, n_out), dot, name="acc")
    flat_out = Tensor(out.name, (rows, n_out), out.dtype, out.scale, out.zero_point)
    result = _requantized_output(
        acc, layer.requant, flat_out, layer.clamp, mult, shift, bias, bind)
    tensors = [data, w, bias, mult, shift, result]
    constants = {
        "weight": weight,
        "bias": _folded_bias(layer.bias, sums, zp_in),
        **requant_arrays,
    }
    roles = [ACTIVATION, CONSTANT, CONSTANT, CONSTANT, CONSTANT, OUTPUT]
    schedule = "mac_rows" if channels_last else "dot_inner"
    return KernelDef(_params(tensors, roles), tuple(tensors), schedule, constants)


def add(layer: Add, first: Tensor, second: Tensor, out: Tensor) -> KernelDef:
    """TFLite's int8 Add: both sides to a common Q(31 - left_shift) grid, summed, requantized."""
    rescale = layer.rescale
    assert isinstance(rescale, AddRescale)
    if first.shape != second.shape:
        raise UnsupportedOperatorError(
            f"layer {layer.name}: Add of shapes {first.shape} and {second.shape} (broadcasting) "
            "is not supported on the host target"
        )
    low, high = clamp_range(layer.clamp)
    a = te.placeholder((out.size,), "int8", name="data")
    b = te.placeholder((out.size,), "int8", name="data_b")
    # Multipliers and shifts travel as a constant array, and every requantization reads its
    # input from a stage of its own: TVM's bound analysis rejects Let-bound requantizations of
    # narrow (int8-derived) values, and without Let bindings one nested expression blows up.
    fixed = (rescale.input1, rescale.input2, rescale.output)
    table = np.array([*(v for f in fixed for v in (f.multiplier, f.shift)), rescale.left_shift],
                     dtype=np.int32)
    params = te.placeholder((table.size,), "int32", name="rescale")

    def requantize(x: tirx.PrimExpr, which: int) -> tirx.PrimExpr:
        return requant.multiply_by_quantized_multiplier(
            x, params[2 * which], params[2 * which + 1], may_shift_left=fixed[which].shift > 0,
            bind=False)

    def scaled(x: te.Tensor, zero_point: int, which: int) -> te.Tensor:
        # Times 2**left_shift: C leaves a left shift of a negative value undefined.
        shifted = te.compute((out.size,), lambda i: (x[i].astype("int32") - zero_point)
                             * (tirx.const(1, "int32") << params[6]), name=f"shifted{which}")
        return te.compute((out.size,), lambda i: requantize(shifted[i], which),
                          name=f"scaled{which}")

    lhs, rhs = scaled(a, _zero_point(first), 0), scaled(b, _zero_point(second), 1)
    total = te.compute((out.size,), lambda i: lhs[i] + rhs[i], name="total")
    result = te.compute((out.size,), lambda i: requant.saturate(
        requantize(total[i], 2) + _zero_point(out), low, high, "int8"), name="out")
    tensors = [a, b, params, result]
    return KernelDef(_params(tensors, [ACTIVATION, ACTIVATION, CONSTANT, OUTPUT]),
                     tuple(tensors), "fused_stages", {"rescale": table})


def _window_bounds(
    layer: Pool2D, inp: Tensor, y: tirx.PrimExpr, x: tirx.PrimExpr
) -> tuple[tirx.PrimExpr, tirx.PrimExpr]:
    """The in-bounds element count of the window at output (y, x)."""
    _, height, width, _ = inp.shape
    top, left = layer.padding[:2]
    y0, x0 = y * layer.stride[0] - top, x * layer.stride[1] - left
    rows = tirx.min(y0 + layer.kernel[0], height) - tirx.max(y0, 0)
    cols = tirx.min(x0 + layer.kernel[1], width) - tirx.max(x0, 0)
    return rows, cols


def pool2d(layer: Pool2D, inp: Tensor, out: Tensor) -> KernelDef:
    """Average pooling (count of in-bounds elements, rounded half away) or max pooling."""
    _, height, width, _ = inp.shape
    low, high = clamp_range(layer.clamp)
    data = te.placeholder(inp.shape, "int8", name="data")
    ky = te.reduce_axis((0, layer.kernel[0]), "ky")
    kx = te.reduce_axis((0, layer.kernel[1]), "kx")
    is_average = isinstance(layer, AveragePool)
    fill = 0 if is_average else -128

    def element(n: tirx.Var, y: tirx.Var, x: tirx.Var, ch: tirx.Var) -> tirx.PrimExpr:
        iy = y * layer.stride[0] + ky - layer.padding[0]
        ix = x * layer.stride[1] + kx - layer.padding[1]
        value = data[n, iy, ix, ch].astype("int32")
        if not any(layer.padding):
            return value
        inside = tirx.all(iy >= 0, iy < height, ix >= 0, ix < width)
        return te.if_then_else(inside, value, tirx.const(fill, "int32"))

    reducer = te.sum if is_average else te.max
    acc = te.compute(out.shape, lambda *i: reducer(element(*i), axis=[ky, kx]), name="acc")

    def value(n: tirx.Var, y: tirx.Var, x: tirx.Var, ch: tirx.Var) -> tirx.PrimExpr:
        total = acc[n, y, x, ch]
        if not is_average:
            return requant.saturate(total, low, high, "int8")
        rows, cols = _window_bounds(layer, inp, y, x)
        count = rows * cols
        half = tirx.truncdiv(count, 2)
        mean = tirx.Select(
            total > 0, tirx.truncdiv(total + half, count), tirx.truncdiv(total - half, count)
        )
        return requant.saturate(mean, low, high, "int8")

    result = te.compute(out.shape, value, name="out")
    return KernelDef(_params([data, result], [ACTIVATION, OUTPUT]), (data, result), "reduce_inner")


def pad(layer: Pad, inp: Tensor, out: Tensor) -> KernelDef:
    """Constant padding with the layer's value (the input's zero point when it has none)."""
    data = te.placeholder(inp.shape, "int8", name="data")
    fill = tirx.const(_zero_point(inp) if layer.value is None else layer.value, "int8")

    def value(*index: tirx.Var) -> tirx.PrimExpr:
        source = [i - before for i, (before, _) in zip(index, layer.pads, strict=True)]
        inside = tirx.all(
            *[s >= 0 for s in source], *[s < dim for s, dim in zip(source, inp.shape, strict=True)]
        )
        return te.if_then_else(inside, data[tuple(source)], fill)

    result = te.compute(out.shape, value, name="out")
    return KernelDef(_params([data, result], [ACTIVATION, OUTPUT]), (data, result), "elementwise")


def _concat_source(
    tensor: Tensor, out: Tensor, data: te.Tensor, index: list[tirx.PrimExpr]
) -> tirx.PrimExpr:
    value = data[tuple(index)]
    if tensor.scale == out.scale and tensor.zero_point == out.zero_point:
        return value
    ratio = float(np.float32(tensor.scale) / np.float32(out.scale))
    offset = float(-np.float32(tensor.zero_point) * np.float32(ratio) + np.float32(out.zero_point))
    scaled = value.astype("float32") * tirx.const(ratio, "float32") + tirx.const(offset, "float32")
    rounded = tirx.nearbyint(scaled)
    return tirx.max(
        tirx.min(rounded, tirx.const(127.0, "float32")), tirx.const(-128.0, "float32")
    ).astype("int8")


def concat(layer: Concat, ins: list[Tensor], out: Tensor) -> KernelDef:
    """Concatenation along ``axis``; differently quantized inputs are rescaled as TFLite does."""
    axis = layer.axis % len(out.shape)
    datas = [te.placeholder(t.shape, "int8", name=f"data_{i}") for i, t in enumerate(ins)]

    def value(*index: tirx.Var) -> tirx.PrimExpr:
        starts = np.cumsum([0] + [t.shape[axis] for t in ins])
        result = None
        for i in reversed(range(len(ins))):
            shifted = list(index)
            shifted[axis] = index[axis] - int(starts[i])
            source = _concat_source(ins[i], out, datas[i], shifted)
            result = (
                source
                if result is None
                else tirx.Select(index[axis] < int(starts[i + 1]), source, result)
            )
        return result

    result = te.compute(out.shape, value, name="out")
    tensors = [*datas, result]
    return KernelDef(
        _params(tensors, [ACTIVATION] * len(datas) + [OUTPUT]), tuple(tensors), "elementwise"
    )


def transpose(layer: Transpose, inp: Tensor, out: Tensor) -> KernelDef:
    """``out[i] = in[j]`` with ``j[perm[a]] = i[a]`` (any element type)."""
    data = te.placeholder(inp.shape, inp.dtype, name="data")

    def value(*index: tirx.Var) -> tirx.PrimExpr:
        source: list[tirx.PrimExpr] = [tirx.const(0, "int32")] * len(index)
        for axis, position in enumerate(layer.perm):
            source[position] = index[axis]
        return data[tuple(source)]

    result = te.compute(out.shape, value, name="out")
    return KernelDef(_params([data, result], [ACTIVATION, OUTPUT]), (data, result), "elementwise")


def lower_layer(layer: Layer, graph: Graph, bind: bool = True) -> KernelDef:
    """The KernelDef of one int8 layer (Reshape and Softmax are handled by the driver)."""
    ins = [graph.tensor(name) for name in layer.inputs]
    out = graph.tensor(layer.output)
    if isinstance(layer, Conv2D):
        return conv2d(layer, ins[0], out, bind)
    if isinstance(layer, FullyConnected):
        return fully_connected(layer, ins[0], out, bind)
    if isinstance(layer, Add) and not isinstance(layer.rescale, IntegerAddRescale):
        return add(layer, ins[0], ins[1], out)
    if isinstance(layer, AveragePool | MaxPool):
        return pool2d(layer, ins[0], out)
    if isinstance(layer, Pad):
        return pad(layer, ins[0], out)
    if isinstance(layer, Concat):
        return concat(layer, ins, out)
    if isinstance(layer, Transpose):
        return transpose(layer, ins[0], out)
    from nnmap.codegen.host_ops import lower_host_layer  # host_ops builds on this module

    return lower_host_layer(layer, graph)
