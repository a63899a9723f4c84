"""The boundary of a QDQ ONNX model, handled by nnmap rather than by TVM's frontend.

Models from ``onnxruntime.quantization.quantize_static`` take float inputs (QuantizeLinear at
the input) and give float outputs (DequantizeLinear at the output), often with a layout
Transpose or a Reshape between the input and its first DequantizeLinear. ``split_boundary``
cuts those chains off, leaving an int8-in, int8-out model for the Relax lowering, and
``attach_boundary`` puts them back as nnmap layers (Quantize, Dequantize, Transpose, Reshape)
around the lowered Graph, so the Graph takes and returns exactly what the model does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from nnmap.errors import QuantizationError
from nnmap.ir import Dequantize, Graph, Layer, Quantize, Reshape, Tensor, Transpose

LAYOUT_OPS = ("Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze")
INT8 = TensorProto.INT8


@dataclass(frozen=True)
class BoundaryStep:
    """One node of a boundary chain: its op and the ONNX value it produces."""

    op: str  # a LAYOUT_OPS entry, "QuantizeLinear" or "DequantizeLinear"
    output: str
    shape: tuple[int, ...]
    perm: tuple[int, ...] = ()
    scale: float = 0.0
    zero_point: int = 0


@dataclass(frozen=True)
class Chain:
    """The steps between a model input (or output) and the int8 value the inner model uses."""

    name: str  # the model's own input or output name
    shape: tuple[int, ...]
    elem_type: int
    inner: str  # the int8 value at the other end (the inner model's input or output)
    steps: tuple[BoundaryStep, ...] = field(default_factory=tuple)


@dataclass(frozen=True, eq=False)
class Boundary:
    model: onnx.ModelProto
    inputs: tuple[Chain, ...]
    outputs: tuple[Chain, ...]


class _Values:
    """Shapes, element types, producers, consumers and initializers of an ONNX graph."""

    def __init__(self, model: onnx.ModelProto) -> None:
        inferred = onnx.shape_inference.infer_shapes(model)
        graph = inferred.graph
        self.initializers = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        self.types: dict[str, tuple[int, tuple[int, ...]]] = {}
        for info in [*graph.input, *graph.value_info, *graph.output]:
            tensor_type = info.type.tensor_type
            dims = tuple(d.dim_value if d.dim_value > 0 else 1 for d in tensor_type.shape.dim)
            self.types[info.name] = (tensor_type.elem_type, dims)
        self.producer = {out: node for node in model.graph.node for out in node.output}
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        for node in model.graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)

    def constant(self, name: str) -> np.ndarray | None:
        return self.initializers.get(name)

    def per_tensor(self, node: onnx.NodeProto) -> tuple[float, int] | None:
        scale = self.constant(node.input[1])
        zero = self.constant(node.input[2]) if len(node.input) > 2 else np.zeros(1, np.int8)
        if scale is None or zero is None or scale.size != 1 or zero.dtype != np.int8:
            return None
        return float(scale.reshape(-1)[0]), int(zero.reshape(-1)[0])

    def step(self, node: onnx.NodeProto, value: str) -> BoundaryStep | None:
        """The chain step ``node`` makes from ``value``, or None when it is no boundary node."""
        if not node.input or node.input[0] != value or node.output[0] not in self.types:
            return None
        output, shape = node.output[0], self.types[node.output[0]][1]
        if node.op_type in LAYOUT_OPS:
            if any(self.constant(name) is None for name in node.input[1:] if name):
                return None
            perm = tuple(next((list(a.ints) for a in node.attribute if a.name == "perm"), []))
            if node.op_type == "Transpose" and not perm:
                perm = tuple(reversed(range(len(shape))))
            return BoundaryStep(node.op_type, output, shape, perm)
        if node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            quant = self.per_tensor(node)
            if quant is None:
                return None
            return BoundaryStep(node.op_type, output, shape, (), *quant)
        return None


def _input_chain(values: _Values, name: str) -> tuple[Chain, list[onnx.NodeProto]]:
    elem_type, shape = values.types[name]
    steps: list[BoundaryStep] = []
    nodes: list[onnx.NodeProto] = []
    current = name
    while True:
        consumers = values.consumers.get(current, [])
        if len(consumers) != 1:
            break
        node = consumers[0]
        step = values.step(node, current)
        if step is None or step.op == "DequantizeLinear":
            break
        if step.op == "QuantizeLinear" and values.types[current][0] != TensorProto.FLOAT:
            break
        steps.append(step)
        nodes.append(node)
        current = step.output
    ends_in_int8 = values.types.get(current, (0, ()))[0] == INT8
    consumed_by_dequantize = all(n.op_type == "DequantizeLinear"
                                 for n in values.consumers.get(current, []))
    if not steps or not ends_in_int8 or not consumed_by_dequantize:
        return Chain(name, shape, elem_type, name), []
    return Chain(name, shape, elem_type, current, tuple(steps)), nodes


def _output_chain(values: _Values, name: str) -> tuple[Chain, list[onnx.NodeProto]]:
    elem_type, shape = values.types[name]
    steps: list[BoundaryStep] = []
    nodes: list[onnx.NodeProto] = []
    current = name
    while current in values.producer:
        node = values.producer[current]
        source = node.input[0] if node.input else ""
        if len(values.consumers.get(source, [])) != 1:
            break
        step = values.step(node, source)
        if step is None or step.op == "QuantizeLinear":
            break
        steps.insert(0, step)
        nodes.append(node)
        current = source
        if step.op == "DequantizeLinear":
            return Chain(name, shape, elem_type, current, tuple(steps)), nodes
    return Chain(name, shape, elem_type, name), []


def split_boundary(model: onnx.ModelProto) -> Boundary:
    """The inner int8 model and the boundary chains cut off its inputs and outputs."""
    values = _Values(model)
    graph = model.graph
    initializer_names = set(values.initializers)
    inputs, outputs, removed = [], [], []
    for info in graph.input:
        if info.name in initializer_names:
            continue
        chain, nodes = _input_chain(values, info.name)
        inputs.append(chain)
        removed += nodes
    for info in graph.output:
        chain, nodes = _output_chain(values, info.name)
        outputs.append(chain)
        removed += nodes
    if not removed:
        return Boundary(model, tuple(inputs), tuple(outputs))
    gone = {id(node) for node in removed}

    def value_info(chain: Chain) -> onnx.ValueInfoProto:
        elem_type, shape = values.types[chain.inner]
        return helper.make_tensor_value_info(chain.inner, elem_type, list(shape))

    inner_graph = helper.make_graph(
        [node for node in graph.node if id(node) not in gone], graph.name,
        [value_info(chain) for chain in inputs], [value_info(chain) for chain in outputs],
        initializer=list(graph.initializer),
    )
    inner = helper.make_model(inner_graph, opset_imports=list(model.opset_import),
                              ir_version=model.ir_version)
    return Boundary(inner, tuple(inputs), tuple(outputs))


def _step_layer(step: BoundaryStep, source: Tensor, target: Tensor, index: int) -> Layer:
    name = f"boundary_{step.op.lower()}_{index}"
    inputs, output = (source.name,), target.name
    if step.op == "QuantizeLinear":
        return Quantize(name=name, inputs=inputs, output=output, half_to_even=True)
    if step.op == "DequantizeLinear":
        return Dequantize(name=name, inputs=inputs, output=output)
    if step.op == "Transpose":
        return Transpose(name=name, inputs=inputs, output=output, perm=step.perm)
    return Reshape(name=name, inputs=inputs, output=output)


def _step_tensor(step: BoundaryStep, source: Tensor, name: str) -> Tensor:
    if step.op == "QuantizeLinear":
        return Tensor(name, step.shape, "int8", step.scale, step.zero_point)
    if step.op == "DequantizeLinear":
        return Tensor(name, step.shape, "float32")
    return Tensor(name, step.shape, source.dtype, source.scale, source.zero_point)


def _outer_tensor(chain: Chain, inner: Tensor) -> Tensor:
    if chain.elem_type == TensorProto.FLOAT:
        return Tensor(chain.name, chain.shape, "float32")
    if chain.elem_type != INT8:
        raise QuantizationError(f"model input or output {chain.name} is neither float32 nor "
                                "int8; nnmap compiles int8 models (uint8: re-quantize as int8)")
    return Tensor(chain.name, chain.shape, "int8", inner.scale, inner.zero_point)


def attach_boundary(boundary: Boundary, inner: Graph) -> Graph:
    """``inner`` with the boundary chains as layers in front of and behind it."""
    if not any(chain.steps for chain in (*boundary.inputs, *boundary.outputs)):
        return inner
    tensors = dict(inner.tensors)
    front: list[Layer] = []
    back: list[Layer] = []
    for chain, inner_name in zip(boundary.inputs, inner.inputs, strict=True):
        if not chain.steps:
            continue
        current = _outer_tensor(chain, inner.tensor(inner_name))
        tensors[current.name] = current
        for index, step in enumerate(chain.steps):
            last = index == len(chain.steps) - 1
            target = inner.tensor(inner_name) if last else _step_tensor(step, current, step.output)
            tensors[target.name] = target
            front.append(_step_layer(step, current, target, len(front)))
            current = target
    outputs = list(inner.outputs)
    for position, chain in enumerate(boundary.outputs):
        current = inner.tensor(inner.outputs[position])
        for step in chain.steps:
            name = chain.name if step is chain.steps[-1] else step.output
            target = _step_tensor(step, current, name)
            tensors[target.name] = target
            back.append(_step_layer(step, current, target, len(back)))
            current = target
        outputs[position] = current.name
    inputs = tuple(chain.name if chain.steps else name
                   for chain, name in zip(boundary.inputs, inner.inputs, strict=True))
    return Graph(inner.name, tensors, (*front, *inner.layers, *back), inputs, tuple(outputs))
