"""TE computes of the host-only layer kinds (``nnmap.ir.host_layers``), bit-exact with
``nnmap.reference.host_kernels``: TFLite Micro's integer algorithms, generated as C by TVM.

Fixed-point multipliers travel in a small constant int32 array and every requantization reads
its input from a stage of its own (as ``kernels.add`` does): TVM's bound analysis rejects
Let-bound requantizations of narrow values, and the stages are fused into one loop anyway.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from tvm import te, tirx

from nnmap.codegen import requant
from nnmap.codegen.integer_ops import integer_add, recast
from nnmap.codegen.kernels import (
    ACTIVATION,
    CONSTANT,
    OUTPUT,
    KernelDef,
    KernelParam,
    clamp_range,
)
from nnmap.errors import UnsupportedOperatorError
from nnmap.ir import (
    Add,
    Constant,
    Dequantize,
    Elementwise,
    Graph,
    Layer,
    Lookup,
    Quantize,
    Recast,
    Reduce,
    Resize,
    Slice,
    Softmax,
    Tensor,
)
from nnmap.ir.quant import FixedPointMultiplier
from nnmap.reference.host_kernels import bilinear_terms, nearest_indices, softmax_table


def _kernel(tensors: list[te.Tensor], roles: list[str], schedule: str,
            constants: dict[str, np.ndarray] | None = None) -> KernelDef:
    params = tuple(KernelParam(t.op.name, str(t.dtype), role)
                   for t, role in zip(tensors, roles, strict=True))
    return KernelDef(params, tuple(tensors), schedule, constants or {})


def _i32(value: int) -> tirx.PrimExpr:
    return tirx.const(int(value), "int32")


def _multiplier_table(fixed: tuple[FixedPointMultiplier, ...]) -> np.ndarray:
    return np.array([v for f in fixed for v in (f.multiplier, f.shift)], dtype=np.int32)


def _rescaled(values: te.Tensor, table: te.Tensor, which: int, fixed: FixedPointMultiplier,
              name: str) -> te.Tensor:
    """A stage applying multiplier ``which`` of ``table`` to every element of ``values``."""
    return te.compute(values.shape, lambda *i: requant.multiply_by_quantized_multiplier(
        values(*i), table[2 * which], table[2 * which + 1], may_shift_left=fixed.shift > 0,
        bind=False), name=name)


def constant(layer: Constant, out: Tensor) -> KernelDef:
    """Copy a constant of the model into its activation buffer."""
    value = te.placeholder(out.shape, "int8", name="value")
    result = te.compute(out.shape, lambda *i: value(*i), name="out")
    return _kernel([value, result], [CONSTANT, OUTPUT], "elementwise",
                   {"value": np.ascontiguousarray(layer.value.astype(np.int8))})


def lookup(layer: Lookup, inp: Tensor, out: Tensor) -> KernelDef:
    """``out = table[in + 128]``."""
    data = te.placeholder((inp.size,), "int8", name="data")
    table = te.placeholder((256,), "int8", name="table")
    result = te.compute((out.size,), lambda i: table[data[i].astype("int32") + 128], name="out")
    return _kernel([data, table, result], [ACTIVATION, CONSTANT, OUTPUT], "elementwise",
                   {"table": layer.table})


def reduce(layer: Reduce, inp: Tensor, out: Tensor) -> KernelDef:
    """MEAN/SUM: the int32 sum over the axes, minus count * zero point, one rescale."""
    assert layer.multiplier is not None
    data = te.placeholder(inp.shape, "int8", name="data")
    table = te.placeholder((2,), "int32", name="rescale")
    axes = {axis: te.reduce_axis((0, inp.shape[axis]), f"r{axis}") for axis in layer.axes}
    kept = [axis for axis in range(len(inp.shape)) if axis not in axes]
    count = int(np.prod([inp.shape[a] for a in layer.axes]))

    def total(*index: tirx.Var) -> tirx.PrimExpr:
        positions = dict(zip(kept, index, strict=True))
        source = [axes[a] if a in axes else positions[a] for a in range(len(inp.shape))]
        return te.sum(data[tuple(source)].astype("int32"), axis=list(axes.values()))

    shape = tuple(inp.shape[a] for a in kept) or (1,)
    sums = te.compute(shape, total if kept else lambda _: total(), name="acc")
    offset = te.compute(shape, lambda *i: sums(*i) - _i32(inp.quant[1] * count), name="offset")
    scaled = _rescaled(offset, table, 0, layer.multiplier, "scaled")
    result = te.compute(shape, lambda *i: requant.saturate(
        scaled(*i) + _i32(out.quant[1]), -128, 127, "int8", bind=False), name="out")
    # Unscheduled: each stage is one loop nest over a small (reduced) workspace buffer.
    return _kernel([data, table, result], [ACTIVATION, CONSTANT, OUTPUT], "stages",
                   {"rescale": _multiplier_table((layer.multiplier,))})


Reader = Callable[..., "tirx.PrimExpr"]


def _broadcast(tensor: te.Tensor, shape: tuple[int, ...], out_rank: int) -> Reader:
    """Read ``tensor`` at an output index, numpy's broadcasting (shapes aligned right)."""
    offset = out_rank - len(shape)

    def read(*index: tirx.Var) -> tirx.PrimExpr:
        source = [_i32(0) if dim == 1 else index[axis + offset] for axis, dim in enumerate(shape)]
        return tensor[tuple(source)] if source else tensor[()]
    return read


def _difference(read: Reader, zero_point: int, shape: tuple[int, ...], name: str
                ) -> te.Tensor:
    return te.compute(shape, lambda *i: read(*i).astype("int32") - _i32(zero_point), name=name)


def _shifted_left(values: te.Tensor, amount: int, name: str) -> te.Tensor:
    """``values * 2**amount`` (a multiplication: C leaves a left shift of a negative undefined)."""
    return te.compute(values.shape, lambda *i: values(*i) * _i32(1 << amount), name=name)


def _elementwise_value(layer: Elementwise, a: Reader, b: Reader, ins: list[Tensor], out: Tensor,
                       table: te.Tensor) -> te.Tensor:
    shape = out.shape
    first = _difference(a, ins[0].quant[1], shape, "first")
    second = _difference(b, ins[1].quant[1], shape, "second")
    if layer.operator in ("ADD", "SUB"):
        rescale = layer.rescale
        assert rescale is not None
        fixed = (rescale.input1, rescale.input2, rescale.output)
        shifted = [_shifted_left(stage, rescale.left_shift, f"shifted{n}")
                   for n, stage in enumerate((first, second))]
        lhs = _rescaled(shifted[0], table, 0, fixed[0], "scaled0")
        rhs = _rescaled(shifted[1], table, 1, fixed[1], "scaled1")
        combined = te.compute(shape, lambda *i: lhs(*i) + rhs(*i) if layer.operator == "ADD"
                              else lhs(*i) - rhs(*i), name="total")
        return _rescaled(combined, table, 2, fixed[2], "result")
    if layer.operator == "MUL":
        product = te.compute(shape, lambda *i: first(*i) * second(*i), name="product")
        return _rescaled(product, table, 0, layer.multipliers[0], "result")
    positive = _rescaled(first, table, 0, layer.multipliers[0], "positive")
    product = te.compute(shape, lambda *i: first(*i) * second(*i), name="product")
    negative = _rescaled(product, table, 1, layer.multipliers[1], "negative")
    return te.compute(shape, lambda *i: tirx.Select(first(*i) >= 0, positive(*i), negative(*i)),
                      name="result")


def elementwise(layer: Elementwise, ins: list[Tensor], out: Tensor) -> KernelDef:
    """ADD, SUB, MUL, PRELU, MAXIMUM, MINIMUM with broadcasting."""
    a = te.placeholder(ins[0].shape, "int8", name="data")
    b = te.placeholder(ins[1].shape, "int8", name="data_b")
    read_a = _broadcast(a, ins[0].shape, len(out.shape))
    read_b = _broadcast(b, ins[1].shape, len(out.shape))
    if layer.operator in ("MAXIMUM", "MINIMUM"):
        pick = tirx.max if layer.operator == "MAXIMUM" else tirx.min
        result = te.compute(out.shape, lambda *i: pick(read_a(*i), read_b(*i)), name="out")
        return _kernel([a, b, result], [ACTIVATION, ACTIVATION, OUTPUT], "elementwise")
    fixed = (layer.rescale.input1, layer.rescale.input2, layer.rescale.output) \
        if layer.rescale is not None else layer.multipliers
    table = te.placeholder((2 * len(fixed),), "int32", name="rescale")
    value = _elementwise_value(layer, read_a, read_b, ins, out, table)
    low, high = clamp_range(layer.clamp)
    result = te.compute(out.shape, lambda *i: requant.saturate(
        value(*i) + _i32(out.quant[1]), low, high, "int8", bind=False), name="out")
    # PRELU reads its input difference in three stages, which cannot all be fused.
    schedule = "stages" if layer.operator == "PRELU" else "fused_stages"
    return _kernel([a, b, table, result], [ACTIVATION, ACTIVATION, CONSTANT, OUTPUT],
                   schedule, {"rescale": _multiplier_table(fixed)})


def slice_kernel(layer: Slice, inp: Tensor, out: Tensor) -> KernelDef:
    """``out[i] = in[begin + stride * i]`` per axis (the output may drop size-1 axes)."""
    data = te.placeholder(inp.shape, "int8", name="data")

    def value(*index: tirx.Var) -> tirx.PrimExpr:
        source = [_i32(begin) + _i32(stride) * position for begin, stride, position
                  in zip(layer.begin, layer.stride, index, strict=True)]
        return data[tuple(source)]

    sliced = te.compute(layer.sliced_shape, value, name="out")
    return _kernel([data, sliced], [ACTIVATION, OUTPUT], "elementwise")


def resize(layer: Resize, inp: Tensor, out: Tensor) -> KernelDef:
    """Nearest neighbour (source indices as tables) or TFLite's integer bilinear."""
    data = te.placeholder(inp.shape, "int8", name="data")
    flags = (layer.align_corners, layer.half_pixel_centers)
    (_, in_h, in_w, _), (_, out_h, out_w, _) = inp.shape, out.shape
    if layer.method == "nearest":
        rows = nearest_indices(in_h, out_h, *flags).astype(np.int32)
        cols = nearest_indices(in_w, out_w, *flags).astype(np.int32)
        row_table = te.placeholder((out_h,), "int32", name="rows")
        col_table = te.placeholder((out_w,), "int32", name="cols")
        result = te.compute(out.shape, lambda n, y, x, c: data[n, row_table[y], col_table[x], c],
                            name="out")
        return _kernel([data, row_table, col_table, result],
                       [ACTIVATION, CONSTANT, CONSTANT, OUTPUT], "elementwise",
                       {"rows": rows, "cols": cols})
    names = ("y0", "y1", "ys", "x0", "x1", "xs")
    arrays = [*bilinear_terms(in_h, out_h, *flags), *bilinear_terms(in_w, out_w, *flags)]
    tables = [te.placeholder((array.size,), "int32", name=name)
              for name, array in zip(names, arrays, strict=True)]
    y0, y1, ys, x0, x1, xs = tables
    one = tirx.const(1024, "int64")

    def value(n: tirx.Var, y: tirx.Var, x: tirx.Var, c: tirx.Var) -> tirx.PrimExpr:
        dy = ys[y].astype("int64") - one * y0[y].astype("int64")
        dx = xs[x].astype("int64") - one * x0[x].astype("int64")

        def pixel(row: tirx.PrimExpr, col: tirx.PrimExpr) -> tirx.PrimExpr:
            return data[n, row, col, c].astype("int64")

        total = (pixel(y0[y], x0[x]) * (one - dy) * (one - dx) + pixel(y1[y], x0[x]) * dy
                 * (one - dx) + pixel(y0[y], x1[x]) * (one - dy) * dx
                 + pixel(y1[y], x1[x]) * dy * dx)
        rounded = total + tirx.Select(total > tirx.const(0, "int64"),
                                      tirx.const(1 << 19, "int64"), tirx.const(-(1 << 19), "int64"))
        return tirx.truncdiv(rounded, tirx.const(1 << 20, "int64")).astype("int8")

    result = te.compute(out.shape, value, name="out")
    constants = {name: array.astype(np.int32) for name, array in zip(names, arrays, strict=True)}
    return _kernel([data, *tables, result], [ACTIVATION] + [CONSTANT] * 6 + [OUTPUT],
                   "elementwise", constants)


def dequantize(inp: Tensor, out: Tensor) -> KernelDef:
    """int8 -> float32: ``(x - zero_point) * scale`` in float32 (a float model output). The
    scale travels in a constant array: TVM prints float immediates with 7 digits, too few to
    give back every float32."""
    scale, zero_point = inp.quant
    data = te.placeholder((inp.size,), "int8", name="data")
    factor = te.placeholder((1,), "float32", name="scale")
    result = te.compute((out.size,), lambda i: (data[i].astype("int32") - _i32(zero_point))
                        .astype("float32") * factor[0], name="out")
    return _kernel([data, factor, result], [ACTIVATION, CONSTANT, OUTPUT], "elementwise",
                   {"scale": np.array([scale], np.float32)})


def quantize(layer: Quantize, inp: Tensor, out: Tensor) -> KernelDef:
    """float32 -> int8: ``x / scale`` rounded (ties to even for ONNX, away from zero for
    TFLite), plus the zero point, saturated (a float model input)."""
    scale, zero_point = out.quant
    data = te.placeholder((inp.size,), "float32", name="data")
    divisor = te.placeholder((1,), "float32", name="scale")

    def value(i: tirx.Var) -> tirx.PrimExpr:
        scaled = data[i] / divisor[0]
        if layer.half_to_even:
            rounded = tirx.nearbyint(scaled)
        else:
            negative = scaled < tirx.const(0.0, "float32")
            absolute = tirx.Select(negative, -scaled, scaled)
            magnitude = tirx.floor(absolute + tirx.const(0.5, "float32"))
            rounded = tirx.Select(negative, -magnitude, magnitude)
        shifted = rounded + tirx.const(float(zero_point), "float32")
        low, high = tirx.const(-128.0, "float32"), tirx.const(127.0, "float32")
        return tirx.max(tirx.min(shifted, high), low).astype("int8")

    result = te.compute((out.size,), value, name="out")
    return _kernel([data, divisor, result], [ACTIVATION, CONSTANT, OUTPUT], "elementwise",
                   {"scale": np.array([scale], np.float32)})


def softmax_dequantized(layer: Softmax, inp: Tensor, out: Tensor) -> KernelDef:
    """onnxruntime's softmax at any output quantization, as ``host_kernels``: a float64 table
    of exponentials, the row sum in order, each share divided and quantized (ties to even)."""
    depth = inp.shape[-1]
    rows = inp.size // depth
    data = te.placeholder((rows, depth), "int8", name="data")
    table = te.placeholder((256,), "float64", name="exps")
    k = te.reduce_axis((0, depth), "k")
    row_max = te.compute((rows,), lambda r: te.max(data[r, k].astype("int32"), axis=k),
                         name="row_max")
    exps = te.compute((rows, depth), lambda r, c: table[row_max[r] - data[r, c]
                                                        .astype("int32")], name="row_exps")
    j = te.reduce_axis((0, depth), "j")
    total = te.compute((rows,), lambda r: te.sum(exps[r, j], axis=j), name="row_total")
    scale = tirx.const(float(out.quant[0]), "float64")

    def value(r: tirx.Var, c: tirx.Var) -> tirx.PrimExpr:
        quantized = tirx.nearbyint(exps[r, c] / total[r] / scale) + tirx.const(
            float(out.quant[1]), "float64")
        low, high = tirx.const(-128.0, "float64"), tirx.const(127.0, "float64")
        return tirx.max(tirx.min(quantized, high), low).astype("int8")

    result = te.compute((rows, depth), value, name="out")
    return _kernel([data, table, result], [ACTIVATION, CONSTANT, OUTPUT], "stages",
                   {"exps": softmax_table(layer.beta, inp.quant[0])})


def lower_host_layer(layer: Layer, graph: Graph) -> KernelDef:
    """The KernelDef of a host-only layer kind."""
    ins = [graph.tensor(name) for name in layer.inputs]
    out = graph.tensor(layer.output)
    if isinstance(layer, Constant):
        return constant(layer, out)
    if isinstance(layer, Lookup):
        return lookup(layer, ins[0], out)
    if isinstance(layer, Reduce):
        return reduce(layer, ins[0], out)
    if isinstance(layer, Elementwise):
        return elementwise(layer, ins, out)
    if isinstance(layer, Slice):
        return slice_kernel(layer, ins[0], out)
    if isinstance(layer, Resize):
        return resize(layer, ins[0], out)
    if isinstance(layer, Dequantize):
        return dequantize(ins[0], out)
    if isinstance(layer, Quantize):
        return quantize(layer, ins[0], out)
    if isinstance(layer, Softmax) and out.is_quantized:
        return softmax_dequantized(layer, ins[0], out)
    if isinstance(layer, Add):
        return integer_add(layer, ins[0], ins[1], out)
    if isinstance(layer, Recast):
        return recast(ins[0], out)
    raise UnsupportedOperatorError(
        f"layer {layer.name}: {layer.kind} has no host kernel (supported: Conv2D, "
        "FullyConnected, Add, AveragePool, MaxPool, Softmax, Reshape, Pad, Concat, Transpose, "
        "Constant, Lookup, Reduce, Elementwise, Slice, Resize, Quantize, Dequantize, Recast)"
    )
