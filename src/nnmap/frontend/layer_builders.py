"""Builders of integer layers from matched Relax expressions (used by the pattern table)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tvm import relax

from nnmap.frontend.builder import GraphBuilder
from nnmap.frontend.relax_values import (
    NotConstant,
    dequantized_constant,
    int_list,
    op_name,
    pair,
    quad,
    scalar,
    shape_of,
)
from nnmap.ir import (
    Add,
    AddRescale,
    AveragePool,
    Clamp,
    Concat,
    Conv2D,
    FullyConnected,
    MaxPool,
    Pad,
    Pool2D,
    Reduce,
    Requant,
    Reshape,
    Softmax,
    Tensor,
    quantize_multiplier,
)
from nnmap.ir.quant import mean_multiplier
from nnmap.reference.softmax import softmax_scaling


@dataclass
class Match:
    """One successful match: the matched expressions by part name, and where it happened."""

    exprs: dict[str, relax.Expr]
    var: relax.Var
    builder: GraphBuilder
    var2val: dict

    @property
    def where(self) -> str:
        return f"binding {self.var.name}"

    def call(self, part: str) -> relax.Call:
        return self.exprs[part]  # type: ignore[return-value]

    def input(self, part: str, nhwc: bool) -> Tensor:
        """The graph tensor behind a dequantized activation, checked against its quantization."""
        var = self.exprs[part]
        stored = (
            self.builder.nhwc(var, self.where) if nhwc else self.builder.native(var, self.where)
        )
        return self.builder.tensors[stored]

    def output_quant(self) -> tuple[float, int]:
        quantize = self.call("quantize")
        return (
            float(scalar(quantize.args[1], self.var2val)),
            int(scalar(quantize.args[2], self.var2val)),
        )

    def clamp(self) -> Clamp:
        """The output range after a fused ReLU / clip, quantized as TFLite does it."""
        scale, zero_point = self.output_quant()

        def quantize(value: float) -> int:
            return zero_point + int(np.round(np.float32(value) / np.float32(scale)))

        low, high = -128, 127
        if "relu" in self.exprs:
            low = max(low, zero_point)
        if "clip" in self.exprs:
            clip = self.call("clip")
            low = max(low, quantize(float(clip.args[1].value.value)))
            high = min(high, quantize(float(clip.args[2].value.value)))
        return Clamp(low, high)

    def output(self, kind: str, shape: tuple[int, ...], image: bool) -> Tensor:
        scale, zero_point = self.output_quant()
        template = Tensor(kind, shape, "int8", scale, zero_point)
        if image:
            return self.builder.image_output(self.var, template, shape)
        tensor = self.builder.new_tensor(
            Tensor(self.builder.fresh(f"{kind}_out"), shape, "int8", scale, zero_point)
        )
        self.builder.bind(self.var, tensor.name)
        return tensor


def _to_ohwi(weight: np.ndarray, layout: str) -> np.ndarray:
    return np.transpose(weight, [layout.index(axis) for axis in "OHWI"])


def _bias(match: Match, channels: int) -> np.ndarray:
    if "bias" not in match.exprs:
        return np.zeros(channels, dtype=np.int32)
    bias = dequantized_constant(match.exprs["bias"], match.var2val)
    values = bias.values.reshape(-1).astype(np.int32)
    if values.size != channels:
        raise NotConstant("bias length differs from the output channels")
    return values


def build_conv2d(match: Match) -> None:
    conv = match.call("core")
    attrs = conv.attrs
    if str(attrs.data_layout) not in ("NHWC", "NCHW"):
        raise match.builder.unsupported(f"conv2d with layout {attrs.data_layout}", match.where)
    x = match.input("x", nhwc=True)
    weight = dequantized_constant(match.exprs["weight"], match.var2val)
    ohwi = _to_ohwi(weight.values, str(attrs.kernel_layout)).astype(np.int8)
    out = match.output("conv", shape_of(conv), image=True)
    requant = Requant.from_scales(x.quant[0], weight.scales, out.quant[0])
    layer = Conv2D(
        name=match.builder.fresh("conv2d"),
        inputs=(x.name,),
        output=out.name,
        weight=ohwi,
        bias=_bias(match, ohwi.shape[0]),
        stride=pair(attrs.strides),
        dilation=pair(attrs.dilation),
        padding=quad(attrs.padding),
        groups=int(attrs.groups),
        requant=requant,
        clamp=match.clamp(),
    )
    match.builder.add_layer(layer)


def build_dense(match: Match) -> None:
    x = match.input("x", nhwc=False)
    weight = dequantized_constant(match.exprs["weight"], match.var2val)
    if weight.values.ndim != 2:
        raise match.builder.unsupported("a matmul with a non-2-D weight", match.where)
    out = match.output("dense", shape_of(match.call("core")), image=False)
    matrix = weight.values.T.astype(np.int8)
    layer = FullyConnected(
        name=match.builder.fresh("dense"),
        inputs=(x.name,),
        output=out.name,
        weight=matrix,
        bias=_bias(match, matrix.shape[0]),
        requant=Requant.from_scales(x.quant[0], weight.scales, out.quant[0]),
        clamp=match.clamp(),
    )
    match.builder.add_layer(layer)


def build_add(match: Match) -> None:
    image = len(shape_of(match.call("core"))) == 4
    a = match.input("x", nhwc=image)
    b = match.input("y", nhwc=image)
    out = match.output("add", shape_of(match.call("core")), image=image)
    left_shift = 20
    twice_max = 2 * max(a.quant[0], b.quant[0])
    rescale = AddRescale(
        left_shift,
        quantize_multiplier(a.quant[0] / twice_max),
        quantize_multiplier(b.quant[0] / twice_max),
        quantize_multiplier(twice_max / ((1 << left_shift) * out.quant[0])),
    )
    match.builder.add_layer(
        Add(
            name=match.builder.fresh("add"),
            inputs=(a.name, b.name),
            output=out.name,
            rescale=rescale,
            clamp=match.clamp(),
        )
    )


def _check_same_quant(match: Match, x: Tensor, out: Tensor, what: str) -> None:
    if x.quant != out.quant:
        raise match.builder.unsupported(f"{what} that changes the quantization", match.where)


def pool_layer(
    builder: GraphBuilder, kind: type[Pool2D], attrs: object, x: str, out: str, clamp: Clamp
) -> Pool2D:
    """A pooling layer from Relax ``avg_pool2d`` / ``max_pool2d`` attributes."""
    return kind(
        name=builder.fresh(kind.__name__.lower()),
        inputs=(x,),
        output=out,
        kernel=pair(attrs.pool_size),  # type: ignore[attr-defined]
        stride=pair(attrs.strides),  # type: ignore[attr-defined]
        padding=quad(attrs.padding),  # type: ignore[attr-defined]
        clamp=clamp,
    )


def build_pool(match: Match) -> None:
    pool = match.call("core")
    x = match.input("x", nhwc=True)
    out = match.output("pool", shape_of(pool), image=True)
    _check_same_quant(match, x, out, pool.op.name)
    kind = AveragePool if pool.op.name == "relax.nn.avg_pool2d" else MaxPool
    if (
        kind is AveragePool
        and bool(pool.attrs.count_include_pad)
        and any(int_list(pool.attrs.padding))
    ):
        raise match.builder.unsupported("average pooling that counts padding", match.where)
    match.builder.add_layer(
        pool_layer(match.builder, kind, pool.attrs, x.name, out.name, match.clamp())
    )


def build_global_average(match: Match) -> None:
    mean = match.call("core")
    axes = sorted(int(a) % 4 for a in mean.attrs.axis)
    spatial = [1, 2] if match.builder.model_layout == "NHWC" else [2, 3]
    if axes != spatial:
        raise match.builder.unsupported(f"mean over axes {axes}", match.where)
    x = match.input("x", nhwc=True)
    shape = shape_of(mean)
    if len(shape) != 4:
        raise match.builder.unsupported("mean without keepdims", match.where)
    out = match.output("pool", shape, image=True)
    if x.quant != out.quant:  # a rescaling mean, as TFLite's MEAN
        base = quantize_multiplier(float(x.quant[0]) / float(out.quant[0]))
        match.builder.add_layer(Reduce(
            name=match.builder.fresh("mean"), inputs=(x.name,), output=out.name,
            operator="MEAN", axes=(1, 2),
            multiplier=mean_multiplier(base, x.shape[1] * x.shape[2])))
        return
    match.builder.add_layer(
        AveragePool(
            name=match.builder.fresh("averagepool"),
            inputs=(x.name,),
            output=out.name,
            kernel=(x.shape[1], x.shape[2]),
            stride=(1, 1),
            padding=(0, 0, 0, 0),
            clamp=match.clamp(),
        )
    )


def build_softmax(match: Match) -> None:
    x = match.input("x", nhwc=False)
    out = match.output("softmax", shape_of(match.call("core")), image=False)
    # TFLite's fixed-point softmax needs its output at 1/256, -128; any other output
    # quantization (onnxruntime's quantize_static) runs the softmax on dequantized values.
    fixed_point = out.quant == (1 / 256, -128)
    match.builder.add_layer(
        Softmax(
            name=match.builder.fresh("softmax"),
            inputs=(x.name,),
            output=out.name,
            beta=1.0,
            scaling=softmax_scaling(1.0, x.quant[0]) if fixed_point else None,
        )
    )


def build_reshape(match: Match) -> None:
    x = match.input("x", nhwc=False)
    out = match.output("reshape", shape_of(match.call("core")), image=False)
    _check_same_quant(match, x, out, "reshape")
    match.builder.add_layer(
        Reshape(name=match.builder.fresh("reshape"), inputs=(x.name,), output=out.name)
    )


def pad_widths(attrs: object) -> tuple[tuple[int, int], ...]:
    widths = int_list(attrs.pad_width)  # type: ignore[attr-defined]
    return tuple((widths[i], widths[i + 1]) for i in range(0, len(widths), 2))


def build_pad(match: Match) -> None:
    pad = match.call("core")
    x = match.input("x", nhwc=False)
    out = match.output("pad", shape_of(pad), image=False)
    _check_same_quant(match, x, out, "pad")
    if str(pad.attrs.pad_mode) != "constant" or float(pad.attrs.pad_value) != 0.0:
        raise match.builder.unsupported(
            "a pad with a mode or value other than constant 0", match.where
        )
    match.builder.add_layer(
        Pad(
            name=match.builder.fresh("pad"),
            inputs=(x.name,),
            output=out.name,
            pads=pad_widths(pad.attrs),
        )
    )


def build_concat(builder: GraphBuilder, binding: relax.Binding, var2val: dict) -> bool:
    """``quantize(concat(dequantize(a), dequantize(b), ...))``; False when it is not one."""
    concat = var2val.get(binding.value.args[0])
    if concat is None or op_name(concat) != "relax.concat":
        return False
    where = f"binding {binding.var.name}"
    dequantized = [var2val.get(field, field) for field in concat.args[0].fields]
    if any(op_name(expr) != "relax.dequantize" for expr in dequantized):
        raise builder.unsupported("a concat of values that are not dequantized int8", where)
    shape = shape_of(binding.var)
    axis = int(concat.attrs.axis) % len(shape)
    stored_nhwc = [builder.stored(expr.args[0], where).as_nhwc for expr in dequantized]
    image = len(shape) == 4 and builder.model_layout == "NCHW" and any(stored_nhwc)
    pick = builder.nhwc if image else builder.native
    inputs = tuple(pick(expr.args[0], where) for expr in dequantized)
    match = Match({"quantize": binding.value}, binding.var, builder, var2val)
    out = match.output("concat", shape, image=image)
    if image:
        axis = (0, 3, 1, 2)[axis]  # the NCHW axis in NHWC storage
    builder.add_layer(
        Concat(name=builder.fresh("concat"), inputs=inputs, output=out.name, axis=axis)
    )
    return True
