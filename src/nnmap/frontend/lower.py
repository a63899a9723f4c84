"""Lower a Relax function from a TVM frontend into a Graph of integer (or float) layers."""

from __future__ import annotations

import dataclasses

from tvm import relax

from nnmap.errors import QuantizationError
from nnmap.frontend.builder import GraphBuilder
from nnmap.frontend.float_lower import lower_float
from nnmap.frontend.layer_builders import Match, build_concat, pad_widths, pool_layer
from nnmap.frontend.quantized_patterns import PATTERNS
from nnmap.frontend.relax_values import (
    NotConstant,
    dtype_of,
    int_list,
    is_constant,
    op_name,
    scalar,
    shape_of,
)
from nnmap.ir import (
    AveragePool,
    Clamp,
    Graph,
    Layer,
    MaxPool,
    Pad,
    Pool2D,
    Reshape,
    Tensor,
    Transpose,
)

# Ops that only shape constants (weights) or are absorbed into a matched pattern.
_ABSORBED = {
    "relax.dequantize",
    "relax.nn.relu",
    "relax.clip",
    "relax.add",
    "relax.astype",
    "relax.concat",
}


def _bindings(func: relax.Function) -> list[relax.Binding]:
    return [binding for block in func.body.blocks for binding in block.bindings]


def _input_quant(
    param: relax.Var, bindings: list[relax.Binding], var2val: dict
) -> tuple[float, int]:
    for binding in bindings:
        value = binding.value
        if op_name(value) == "relax.dequantize" and value.args[0].same_as(param):
            return float(scalar(value.args[1], var2val)), int(scalar(value.args[2], var2val))
    raise QuantizationError(
        f"input {param.name}: int8 input without a dequantize; nnmap needs a quantized model"
    )


def _lower_quantize(builder: GraphBuilder, binding: relax.Binding, var2val: dict) -> None:
    where = f"binding {binding.var.name}"
    if build_concat(builder, binding, var2val):
        return
    for pattern in PATTERNS:
        found = pattern.root.extract_matched_expr(binding.value, var2val)
        if found is None:
            continue
        exprs = {name: found[part] for name, part in pattern.parts.items() if part in found}
        try:
            pattern.build(Match(exprs, binding.var, builder, var2val))
        except NotConstant:
            continue
        return
    body = binding.value.args[0]
    inner = var2val.get(body, body)
    raise builder.unsupported(f"operator {op_name(inner) or type(inner).__name__}", where)


def _tighten_clamp(builder: GraphBuilder, binding: relax.Binding) -> None:
    """An int8 clip after a quantize narrows the producing layer's output range."""
    value = binding.value
    stored = builder.stored(value.args[0], f"binding {binding.var.name}")
    index = next(i for i, layer in enumerate(builder.layers) if layer.output == stored.tensor)
    layer = builder.layers[index]
    old: Clamp = layer.clamp  # type: ignore[attr-defined]
    clamp = Clamp(
        max(old.low, float(value.args[1].value)), min(old.high, float(value.args[2].value))
    )
    builder.layers[index] = dataclasses.replace(layer, clamp=clamp)  # type: ignore[call-arg]
    builder.values[binding.var] = stored


def _same_quant_output(
    builder: GraphBuilder, binding: relax.Binding, x: Tensor, kind: str, image: bool
) -> Tensor:
    """The output of an int8 op that keeps its input's quantization (pool, reshape, pad...)."""
    template = Tensor(kind, (), "int8", *x.quant)
    if image:
        return builder.image_output(binding.var, template, shape_of(binding.var))
    out = builder.new_tensor(
        Tensor(builder.fresh(f"{kind}_out"), shape_of(binding.var), "int8", *x.quant)
    )
    builder.bind(binding.var, out.name)
    return out


def _int8_pool(
    builder: GraphBuilder,
    binding: relax.Binding,
    pool: relax.Call,
    data: relax.Expr,
    kind: type[Pool2D],
) -> None:
    x = builder.tensors[builder.nhwc(data, f"binding {binding.var.name}")]
    out = _same_quant_output(builder, binding, x, "pool", image=True)
    builder.add_layer(pool_layer(builder, kind, pool.attrs, x.name, out.name, Clamp.int8()))


def _int8_average_pool(builder: GraphBuilder, binding: relax.Binding, var2val: dict) -> bool:
    """``astype(avg_pool2d(astype(x, int32)), int8)``: TFLite's integer average pooling."""
    pool = var2val.get(binding.value.args[0])
    if pool is None or op_name(pool) != "relax.nn.avg_pool2d":
        return False
    widened = var2val.get(pool.args[0])
    if widened is None or op_name(widened) != "relax.astype":
        return False
    _int8_pool(builder, binding, pool, widened.args[0], AveragePool)
    return True


def _int8_data_movement(builder: GraphBuilder, binding: relax.Binding, op: str) -> None:
    """Reshape, transpose and zero-point pad of an int8 value."""
    value, where = binding.value, f"binding {binding.var.name}"
    x = builder.tensors[builder.native(value.args[0], where)]
    kind = op.split(".")[-1]
    if kind == "pad" and (
        str(value.attrs.pad_mode) != "constant" or int(float(value.attrs.pad_value)) != x.quant[1]
    ):
        raise builder.unsupported("an int8 pad whose value is not the zero point", where)
    out = _same_quant_output(builder, binding, x, kind, image=False)
    name, inputs = builder.fresh(kind), (x.name,)
    layer: Layer
    if kind == "reshape":
        layer = Reshape(name=name, inputs=inputs, output=out.name)
    elif kind == "permute_dims":
        perm = tuple(int_list(value.attrs.axes))
        layer = Transpose(name=name, inputs=inputs, output=out.name, perm=perm)
    else:
        layer = Pad(name=name, inputs=inputs, output=out.name, pads=pad_widths(value.attrs))
    builder.add_layer(layer)


def _lower_int8_op(builder: GraphBuilder, binding: relax.Binding, var2val: dict) -> None:
    """Int8 values computed without a dequantize: clips, casts, reshapes, pads, pools."""
    name = op_name(binding.value)
    if name == "relax.quantize":
        _lower_quantize(builder, binding, var2val)
    elif name == "relax.clip":
        _tighten_clamp(builder, binding)
    elif name == "relax.astype" and _int8_average_pool(builder, binding, var2val):
        pass
    elif name in ("relax.reshape", "relax.permute_dims", "relax.nn.pad"):
        _int8_data_movement(builder, binding, name)
    elif name == "relax.nn.max_pool2d":
        _int8_pool(builder, binding, binding.value, binding.value.args[0], MaxPool)
    else:
        raise builder.unsupported(f"int8 operator {name}", f"binding {binding.var.name}")


def _outputs(func: relax.Function) -> list[relax.Expr]:
    body = func.body.body
    return list(body.fields) if isinstance(body, relax.Tuple) else [body]


def lower_function(func: relax.Function, name: str, source: str, model_layout: str) -> Graph:
    """Lower a frontend's Relax function: int8 (QDQ) models to integer layers, fp32 to float."""
    bindings = _bindings(func)
    if all(dtype_of(param) == "float32" for param in func.params):
        return lower_float(func, name, source, model_layout, bindings, _outputs(func))
    return _lower_quantized(func, name, source, model_layout, bindings)


def _lower_quantized(
    func: relax.Function, name: str, source: str, model_layout: str, bindings: list[relax.Binding]
) -> Graph:
    """Every quantize / int8 op becomes one integer layer."""
    builder = GraphBuilder(name, source, model_layout, bindings)
    var2val = relax.analysis.get_var2val(func)

    def input_tensor(param: relax.Var) -> Tensor:
        scale, zero_point = _input_quant(param, bindings, var2val)
        return Tensor(param.name, shape_of(param), "int8", scale, zero_point)

    inputs = builder.bind_inputs(func.params, input_tensor)
    for binding in bindings:
        if dtype_of(binding.var) != "int8" or is_constant(binding.value, var2val):
            continue
        _lower_int8_op(builder, binding, var2val)
    outputs = []
    for expr in _outputs(func):
        if dtype_of(expr) != "int8":
            raise QuantizationError(
                f"{source}: output {expr} is {dtype_of(expr)}, not int8; "
                "nnmap compiles fully quantized int8 models"
            )
        outputs.append(builder.native(expr, "the model output"))
    _check_lowered(builder, bindings, var2val)
    return builder.graph(inputs, outputs)


def _check_lowered(builder: GraphBuilder, bindings: list[relax.Binding], var2val: dict) -> None:
    """Every float computation must have been folded into some integer layer."""
    used = {
        arg for b in bindings for arg in getattr(b.value, "args", []) if isinstance(arg, relax.Var)
    }
    for binding in bindings:
        name = op_name(binding.value)
        if name is None or name in _ABSORBED or dtype_of(binding.var) == "int8":
            continue
        if is_constant(binding.value, var2val):
            continue
        if binding.var not in used:
            raise builder.unsupported(
                f"operator {name} whose result is never quantized", f"binding {binding.var.name}"
            )
