"""Integer-only ONNX (the form DORY, HTVM and MATCH consume) -> Graph, read node by node.

Activations are uint8 or int8 integers, no QuantizeLinear / DequantizeLinear anywhere: a Conv,
ConvInteger, MatMul, MatMulInteger or Gemm on them gives int32 accumulators that the graph
requantizes itself (``onnx_integer_chain``), and a residual Add sums two activations cast to a
wider type. The Graph holds the model's own integers: every activation is an int8 tensor of scale
1 (zero point -128 for a uint8 activation, which holds the same integers moved into int8), every
layer carries an ``IntegerRequant``, images are NHWC inside (Transposes at the model's NCHW
boundary) and a uint8 model input or output is converted there by a Recast layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from nnmap.errors import NnmapError, QuantizationError, UnsupportedOperatorError
from nnmap.frontend.onnx_integer_chain import ACTIVATION_TYPES, Pending, finish, step
from nnmap.frontend.onnx_integer_layers import IntegerLayers
from nnmap.ir import Graph

CHAIN_OPS = ("Cast", "Mul", "Add", "Div", "Floor", "Clip", "Max", "Min", "Relu")


@dataclass(frozen=True)
class Activation:
    """An integer activation of the model: its graph tensor (NHWC when the model's is NCHW)."""

    tensor: str
    image: bool  # a 4-D value the model holds as NCHW


@dataclass(frozen=True)
class Widened:
    """An activation cast to a wider type, maybe times an integer: one side of a residual Add."""

    tensor: str
    shape: tuple[int, ...]
    multiplier: int


Value = Activation | Widened | Pending


def is_integer_only(model: onnx.ModelProto) -> bool:
    """No Quantize/DequantizeLinear, and a model input of an integer type."""
    ops = {node.op_type for node in model.graph.node}
    if ops & {"QuantizeLinear", "DequantizeLinear"}:
        return False
    initializers = {init.name for init in model.graph.initializer}
    return any(info.type.tensor_type.elem_type in (*ACTIVATION_TYPES, TensorProto.INT16,
                                                   TensorProto.INT32)
               for info in model.graph.input if info.name not in initializers)


class _Importer:
    def __init__(self, path: Path, model: onnx.ModelProto) -> None:
        self.source = str(path)
        self.model = model
        self.constants = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        for node in model.graph.node:
            if node.op_type == "Constant":
                self.constants[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
        self.layers = IntegerLayers(path.stem, self.source, self.constants,
                                    {info.name for info in (*model.graph.input,
                                                            *model.graph.output)})
        self.values: dict[str, Value] = {}

    def where(self, node: onnx.NodeProto) -> str:
        return node.name or node.output[0]

    def unsupported(self, node: onnx.NodeProto, why: str) -> UnsupportedOperatorError:
        return UnsupportedOperatorError(
            f"{self.source}: {node.op_type} node {self.where(node)} {why} (integer-only ONNX: "
            "Conv/ConvInteger, MatMul/MatMulInteger, Gemm, MaxPool, Flatten/Reshape and the "
            "Cast/Mul/Add/Div/Floor/Clip requantization)")

    def read_inputs(self) -> list[str]:
        names = []
        for info in self.model.graph.input:
            if info.name in self.constants:
                continue
            tensor_type = info.type.tensor_type
            dtype = ACTIVATION_TYPES.get(tensor_type.elem_type)
            if dtype is None:
                type_name = TensorProto.DataType.Name(tensor_type.elem_type).lower()
                raise QuantizationError(
                    f"{self.source}: input {info.name} is {type_name}; integer-only models "
                    "take uint8 or int8 activations")
            shape = tuple(d.dim_value if d.dim_value > 0 else 1 for d in tensor_type.shape.dim)
            tensor = self.layers.model_input(info.name, shape, dtype)
            self.values[info.name] = Activation(tensor, len(shape) == 4)
            names.append(info.name)
        return names

    def node(self, node: onnx.NodeProto) -> None:
        first = self.values.get(node.input[0]) if node.input else None
        if node.op_type in ("Constant", "Identity") and first is None:
            return
        if node.op_type == "Identity" and first is not None:
            self.values[node.output[0]] = first
        elif isinstance(first, Pending):
            self.values[node.output[0]] = self.chain(node, first)
        elif isinstance(first, Widened):
            self.values[node.output[0]] = self.widened(node, first)
        elif isinstance(first, Activation):
            self.values[node.output[0]] = self.on_activation(node, first)
        else:
            raise self.unsupported(node, "reads no integer activation of the model")

    def constant_inputs(self, node: onnx.NodeProto) -> list[np.ndarray | None]:
        arrays: list[np.ndarray | None] = []
        for name in node.input[1:]:
            if name and name not in self.constants:
                raise self.unsupported(node, f"takes the computed value {name} as a constant")
            arrays.append(self.constants.get(name) if name else None)
        if node.op_type == "Clip" and not arrays:
            attributes = {a.name: a.f for a in node.attribute}
            arrays = [np.array(attributes.get("min", -math.inf)),
                      np.array(attributes.get("max", math.inf))]
        return arrays

    def chain(self, node: onnx.NodeProto, pending: Pending) -> Value:
        if node.op_type not in CHAIN_OPS:
            raise self.unsupported(node, "follows integer accumulators before they are "
                                         "requantized")
        cast_to = next((a.i for a in node.attribute if a.name == "to"), 0)
        if node.op_type == "Cast" and cast_to in ACTIVATION_TYPES:
            dtype = ACTIVATION_TYPES[cast_to]
            info = np.iinfo(dtype)
            if pending.low < info.min or pending.high > info.max:
                raise self.unsupported(node, f"casts to {dtype} without a Clip into "
                                             f"[{info.min}, {info.max}] before it")
            zero_point = -128 if dtype == "uint8" else 0
            tensor = self.layers.activation(node.output[0], pending.shape, zero_point)
            low, high = int(pending.low) + zero_point, int(pending.high) + zero_point
            self.layers.add(finish(pending, tensor, low, high, self.where(node), self.source))
            return Activation(tensor, len(pending.shape) == 4)
        return step(pending, node.op_type, self.constant_inputs(node), cast_to,
                    self.where(node), self.source)

    def widened(self, node: onnx.NodeProto, value: Widened) -> Value:
        if node.op_type == "Mul":
            factor = self.constant_inputs(node)[0]
            if factor is None or factor.size != 1 or float(factor.reshape(-1)[0]) % 1:
                raise self.unsupported(node, "scales a residual input by other than an integer")
            return Widened(value.tensor, value.shape,
                           value.multiplier * int(factor.reshape(-1)[0]))
        if node.op_type == "Cast":
            return value
        if node.op_type == "Add" and isinstance(other := self.values.get(node.input[1]), Widened):
            add = self.layers.residual_add(node, value.tensor, other.tensor)
            return Pending.start(add, value.shape, (value.multiplier, other.multiplier))
        raise self.unsupported(node, "is not the Add of two widened activations")

    def on_activation(self, node: onnx.NodeProto, value: Activation) -> Value:
        op = node.op_type
        if op == "Cast":
            return Widened(value.tensor, self.layers.model_shape(value.tensor, value.image), 1)
        if op in ("Conv", "ConvInteger"):
            conv, shape = self.layers.conv(node, value.tensor)
            return Pending.start(conv, shape)
        if op in ("MatMul", "MatMulInteger", "Gemm"):
            dense, shape = self.layers.dense(node, value.tensor)
            return Pending.start(dense, shape)
        if op == "MaxPool":
            return Activation(self.layers.max_pool(node, value.tensor), True)
        if op in ("Flatten", "Reshape"):
            return Activation(self.layers.flatten(node, value.tensor, value.image), False)
        raise self.unsupported(node, "is not supported on integer activations")

    def graph(self, inputs: list[str]) -> Graph:
        outputs = []
        for info in self.model.graph.output:
            value = self.values.get(info.name)
            if not isinstance(value, Activation):
                raise UnsupportedOperatorError(
                    f"{self.source}: output {info.name} is not a uint8 or int8 activation "
                    "(end the model with the Cast of a requantization)")
            dtype = ACTIVATION_TYPES.get(info.type.tensor_type.elem_type, "int8")
            outputs.append(self.layers.model_output(info.name, value.tensor, value.image, dtype))
        return self.layers.graph(inputs, outputs)


def import_integer_onnx(path: Path, model: onnx.ModelProto) -> Graph:
    """The Graph of an integer-only ONNX model, with the model's inputs and outputs."""
    importer = _Importer(path, model)
    inputs = importer.read_inputs()
    for node in model.graph.node:
        try:
            importer.node(node)
        except NnmapError:
            raise
        except (KeyError, ValueError, IndexError, TypeError) as error:  # malformed attributes
            raise UnsupportedOperatorError(
                f"{path}: {node.op_type} node {importer.where(node)} cannot be read as "
                f"integer-only ONNX ({type(error).__name__}: {str(error)[:100]})") from None
    return importer.graph(inputs)
