"""Lower a float32 Relax function (an fp32 ONNX model) into a Graph of float layers.

Each conv / matmul / pool / softmax / reshape / add of activations starts a layer; a following
bias add and ReLU / clip on a single-use result are folded into it.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from tvm import relax

from nnmap.frontend.builder import GraphBuilder
from nnmap.frontend.relax_values import (
    constant,
    is_constant,
    op_name,
    pair,
    quad,
    shape_of,
)
from nnmap.ir import (
    Add,
    AveragePool,
    Clamp,
    Conv2D,
    FullyConnected,
    Graph,
    Layer,
    MaxPool,
    Reshape,
    Softmax,
    Tensor,
)


class _FloatLowering:
    def __init__(self, builder: GraphBuilder, bindings: list[relax.Binding], var2val: dict):
        self.builder = builder
        self.bindings = bindings
        self.var2val = var2val
        self.uses: Counter[relax.Var] = Counter(
            arg
            for b in bindings
            for arg in getattr(b.value, "args", [])
            if isinstance(arg, relax.Var)
        )
        self.absorbed: set[relax.Var] = set()

    def _next_use(self, index: int, var: relax.Var) -> tuple[int, relax.Binding] | None:
        if self.uses[var] != 1:
            return None
        for later in range(index + 1, len(self.bindings)):
            if any(arg.same_as(var) for arg in getattr(self.bindings[later].value, "args", [])):
                return later, self.bindings[later]
        return None

    def _fold(self, index: int, var: relax.Var) -> tuple[relax.Var, np.ndarray | None, Clamp]:
        """Absorb a following bias add and activation; returns the final var, bias and clamp."""
        bias = None
        clamp = Clamp.none()
        found = self._next_use(index, var)
        if found and op_name(found[1].value) == "relax.add":
            other = [a for a in found[1].value.args if not a.same_as(var)]
            if other and is_constant(other[0], self.var2val):
                bias = constant(other[0], self.var2val).astype(np.float32).reshape(-1)
                index, var = found[0], found[1].var
                self.absorbed.add(var)
                found = self._next_use(index, var)
        if found and op_name(found[1].value) in ("relax.nn.relu", "relax.clip"):
            value = found[1].value
            clamp = (
                Clamp(0.0, float("inf"))
                if op_name(value) == "relax.nn.relu"
                else Clamp(float(value.args[1].value), float(value.args[2].value))
            )
            var = found[1].var
            self.absorbed.add(var)
        return var, bias, clamp

    def _output(self, var: relax.Var, kind: str, image: bool) -> Tensor:
        template = Tensor(kind, (), "float32")
        if image:
            return self.builder.image_output(var, template, shape_of(var))
        tensor = self.builder.new_tensor(
            Tensor(self.builder.fresh(f"{kind}_out"), shape_of(var), "float32")
        )
        self.builder.bind(var, tensor.name)
        return tensor

    def lower(self, index: int, binding: relax.Binding) -> None:
        value, name = binding.value, op_name(binding.value)
        where = f"binding {binding.var.name}"
        b = self.builder
        if name == "relax.nn.conv2d":
            attrs = value.attrs
            x = b.nhwc(value.args[0], where)
            weight = constant(value.args[1], self.var2val).astype(np.float32)
            ohwi = np.transpose(weight, [str(attrs.kernel_layout).index(a) for a in "OHWI"])
            var, bias, clamp = self._fold(index, binding.var)
            out = self._output(var, "conv", image=True)
            layer: Layer = Conv2D(
                name=b.fresh("conv2d"),
                inputs=(x,),
                output=out.name,
                weight=ohwi,
                bias=bias if bias is not None else np.zeros(ohwi.shape[0], np.float32),
                stride=pair(attrs.strides),
                dilation=pair(attrs.dilation),
                padding=quad(attrs.padding),
                groups=int(attrs.groups),
                requant=None,
                clamp=clamp,
            )
        elif name == "relax.matmul" and is_constant(value.args[1], self.var2val):
            x = b.native(value.args[0], where)
            matrix = constant(value.args[1], self.var2val).astype(np.float32).T
            var, bias, clamp = self._fold(index, binding.var)
            out = self._output(var, "dense", image=False)
            layer = FullyConnected(
                name=b.fresh("dense"),
                inputs=(x,),
                output=out.name,
                weight=matrix,
                bias=bias if bias is not None else np.zeros(matrix.shape[0], np.float32),
                requant=None,
                clamp=clamp,
            )
        elif name in ("relax.nn.max_pool2d", "relax.nn.avg_pool2d", "relax.mean"):
            layer = self._pool(binding, where)
        elif name == "relax.add":
            image = len(shape_of(binding.var)) == 4
            pick = b.nhwc if image else b.native
            inputs = tuple(pick(arg, where) for arg in value.args)
            var, _, clamp = self._fold_activation_only(index, binding.var)
            out = self._output(var, "add", image=image)
            layer = Add(
                name=b.fresh("add"), inputs=inputs, output=out.name, rescale=None, clamp=clamp
            )
        elif name == "relax.nn.softmax":
            x = b.native(value.args[0], where)
            out = self._output(binding.var, "softmax", image=False)
            layer = Softmax(
                name=b.fresh("softmax"), inputs=(x,), output=out.name, beta=1.0, scaling=None
            )
        elif name == "relax.reshape":
            x = b.native(value.args[0], where)
            out = self._output(binding.var, "reshape", image=False)
            layer = Reshape(name=b.fresh("reshape"), inputs=(x,), output=out.name)
        else:
            raise b.unsupported(f"operator {name}", where)
        b.add_layer(layer)

    def _fold_activation_only(self, index: int, var: relax.Var) -> tuple[relax.Var, None, Clamp]:
        found = self._next_use(index, var)
        if found and op_name(found[1].value) == "relax.nn.relu":
            self.absorbed.add(found[1].var)
            return found[1].var, None, Clamp(0.0, float("inf"))
        return var, None, Clamp.none()

    def _pool(self, binding: relax.Binding, where: str) -> Layer:
        value, name = binding.value, op_name(binding.value)
        x = self.builder.nhwc(value.args[0], where)
        out = self._output(binding.var, "pool", image=True)
        if name == "relax.mean":
            height, width = self.builder.tensors[x].shape[1:3]
            return AveragePool(
                name=self.builder.fresh("averagepool"),
                inputs=(x,),
                output=out.name,
                kernel=(height, width),
                stride=(1, 1),
                padding=(0, 0, 0, 0),
                clamp=Clamp.none(),
            )
        attrs = value.attrs
        kind = MaxPool if name == "relax.nn.max_pool2d" else AveragePool
        return kind(
            name=self.builder.fresh(kind.__name__.lower()),
            inputs=(x,),
            output=out.name,
            kernel=pair(attrs.pool_size),
            stride=pair(attrs.strides),
            padding=quad(attrs.padding),
            clamp=Clamp.none(),
        )


def lower_float(
    func: relax.Function,
    name: str,
    source: str,
    model_layout: str,
    bindings: list[relax.Binding],
    outputs: list[relax.Expr],
) -> Graph:
    builder = GraphBuilder(name, source, model_layout, bindings)
    var2val = relax.analysis.get_var2val(func)
    inputs = builder.bind_inputs(
        func.params, lambda param: Tensor(param.name, shape_of(param), "float32")
    )
    lowering = _FloatLowering(builder, bindings, var2val)
    for index, binding in enumerate(bindings):
        if binding.var in lowering.absorbed or is_constant(binding.value, var2val):
            continue
        lowering.lower(index, binding)
    return builder.graph(inputs, [builder.native(expr, "the model output") for expr in outputs])
