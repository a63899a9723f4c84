"""The tensors and layers of an integer-only ONNX model as the importer builds them.

Images are NCHW in the model and NHWC in the Graph; a Transpose sits at each 4-D model input and
output and before the flattening of an image with more than one pixel (the model flattens in
NCHW order). Conv and dense layers are made as templates (no requantization, no output yet) that
``onnx_integer_chain.finish`` completes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import onnx

from nnmap.errors import QuantizationError, UnsupportedOperatorError
from nnmap.ir import (
    Add,
    Clamp,
    Conv2D,
    FullyConnected,
    Graph,
    Layer,
    MaxPool,
    Recast,
    Reshape,
    Tensor,
    Transpose,
)

TO_NHWC = (0, 2, 3, 1)
TO_NCHW = (0, 3, 1, 2)
UINT8_ZERO_POINT = -128  # a uint8 activation's integers u are held as int8 u - 128


def _attributes(node: onnx.NodeProto) -> dict[str, Any]:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


class IntegerLayers:
    def __init__(self, name: str, source: str, constants: dict[str, np.ndarray],
                 reserved: Iterable[str]) -> None:
        self.name = name
        self.source = source
        self.constants = constants
        self.tensors: dict[str, Tensor] = {}
        self.layers: list[Layer] = []
        self.reserved = set(reserved)

    def fresh(self, base: str) -> str:
        name, index = base, 0
        while name in self.tensors or name in self.reserved:
            index += 1
            name = f"{base}_{index}"
        return name

    def new(self, base: str, shape: tuple[int, ...], dtype: str = "int8",
            zero_point: int = 0) -> str:
        tensor = Tensor(self.fresh(base), shape, dtype, 1.0, zero_point)
        self.tensors[tensor.name] = tensor
        return tensor.name

    def add(self, layer: Layer) -> None:
        self.layers.append(layer)

    def model_shape(self, tensor: str, image: bool) -> tuple[int, ...]:
        shape = self.tensors[tensor].shape
        return tuple(shape[axis] for axis in TO_NCHW) if image else shape

    def activation(self, onnx_name: str, model_shape: tuple[int, ...], zero_point: int) -> str:
        """A new int8 tensor for the model's activation ``onnx_name`` (NHWC when 4-D)."""
        shape = tuple(model_shape[a] for a in TO_NHWC) if len(model_shape) == 4 else model_shape
        return self.new(onnx_name, shape, zero_point=zero_point)

    def _transposed(self, tensor: str, perm: tuple[int, ...], output: str) -> str:
        source = self.tensors[tensor]
        shape = tuple(source.shape[axis] for axis in perm)
        self.tensors[output] = Tensor(output, shape, source.dtype, 1.0, source.quant[1])
        self.add(Transpose(name=f"transpose_{output}", inputs=(tensor,), output=output,
                           perm=perm))
        return output

    def _recast(self, tensor: str, output: str, dtype: str, zero_point: int) -> str:
        shape = self.tensors[tensor].shape
        self.tensors[output] = Tensor(output, shape, dtype, 1.0, zero_point)
        self.add(Recast(name=f"recast_{output}", inputs=(tensor,), output=output))
        return output

    def model_input(self, name: str, shape: tuple[int, ...], dtype: str) -> str:
        """The model's input ``name`` (uint8 or int8, its own shape): its int8 NHWC tensor."""
        self.tensors[name] = Tensor(name, shape, dtype, 1.0, 0)
        current = name
        if dtype == "uint8":
            current = self._recast(name, self.fresh(f"{name}_int8"), "int8", UINT8_ZERO_POINT)
        if len(shape) == 4:
            current = self._transposed(current, TO_NHWC, self.fresh(f"{name}_nhwc"))
        return current

    def model_output(self, name: str, tensor: str, image: bool, dtype: str) -> str:
        """The model's output ``name`` of ``dtype`` (its own shape), from the int8 ``tensor``."""
        expected = UINT8_ZERO_POINT if dtype == "uint8" else 0
        if self.tensors[tensor].quant[1] != expected:
            other = "int8" if dtype == "uint8" else "uint8"
            raise QuantizationError(f"{self.source}: output {name} is {dtype} but its last Cast "
                                    f"is to {other}")
        self.reserved.discard(name)
        final = name if dtype == "int8" else self.fresh(f"{name}_int8")
        if image:
            tensor = self._transposed(tensor, TO_NCHW, final)
        elif dtype == "int8":
            self.tensors[name] = Tensor(name, self.tensors[tensor].shape, "int8", 1.0, 0)
            self.add(Reshape(name=f"output_{name}", inputs=(tensor,), output=name))
            tensor = name
        return self._recast(tensor, name, "uint8", 0) if dtype == "uint8" else tensor

    def weights(self, node: onnx.NodeProto, index: int) -> np.ndarray:
        name = node.input[index] if len(node.input) > index else ""
        values = self.constants.get(name)
        where = f"{node.op_type} node {node.name or node.output[0]}"
        if values is None:
            raise UnsupportedOperatorError(f"{self.source}: {where} takes computed weights "
                                           f"{name}; integer-only layers need constant weights")
        as_float = values.astype(np.float64)
        if not np.array_equal(as_float, np.round(as_float)) or as_float.min() < -128 \
                or as_float.max() > 127:
            raise QuantizationError(f"{self.source}: {where} has weights {name} outside the "
                                    "int8 integers; nnmap compiles int8 weights")
        return values.astype(np.int8)

    def _check_zero_points(self, node: onnx.NodeProto, first: int) -> None:
        for name in node.input[first:]:
            if name and np.any(self.constants.get(name, np.ones(1)) != 0):
                raise QuantizationError(
                    f"{self.source}: {node.op_type} node {node.name or node.output[0]} has the "
                    f"zero point {name} other than 0; integer-only activations have none")

    def bias(self, node: onnx.NodeProto, index: int, channels: int) -> np.ndarray:
        """The int32 bias of a Conv or Gemm (input ``index``), zeros when it has none."""
        name = node.input[index] if len(node.input) > index else ""
        if node.op_type not in ("Conv", "Gemm") or not name:
            return np.zeros(channels, np.int32)
        values = self.constants.get(name)
        if values is None or not np.array_equal(values, np.round(values)):
            raise QuantizationError(f"{self.source}: {node.op_type} node {node.name or name} "
                                    f"has a bias {name} that is not a constant of integers")
        return np.broadcast_to(values.reshape(-1), (channels,)).astype(np.int32)

    def conv(self, node: onnx.NodeProto, tensor: str) -> tuple[Conv2D, tuple[int, ...]]:
        attributes = _attributes(node)
        if attributes.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID"):
            raise UnsupportedOperatorError(f"{self.source}: Conv node {node.name} uses auto_pad "
                                           "SAME; give explicit pads")
        weight = self.weights(node, 1)
        if node.op_type == "ConvInteger":
            self._check_zero_points(node, 2)
        if weight.ndim != 4 or len(self.tensors[tensor].shape) != 4:
            raise UnsupportedOperatorError(f"{self.source}: {node.op_type} node {node.name} is "
                                           "not a 2-D convolution of an NCHW image")
        channels, _, fy, fx = weight.shape
        stride = tuple(attributes.get("strides", (1, 1)))
        dilation = tuple(attributes.get("dilations", (1, 1)))
        top, left, bottom, right = tuple(attributes.get("pads", (0, 0, 0, 0)))
        n, height, width, _ = self.tensors[tensor].shape
        out_h = (height + top + bottom - dilation[0] * (fy - 1) - 1) // stride[0] + 1
        out_w = (width + left + right - dilation[1] * (fx - 1) - 1) // stride[1] + 1
        bias = self.bias(node, 2, channels)
        conv = Conv2D(name=node.name or node.output[0], inputs=(tensor,), output="",
                      weight=np.ascontiguousarray(weight.transpose(0, 2, 3, 1)), bias=bias,
                      stride=(int(stride[0]), int(stride[1])),
                      dilation=(int(dilation[0]), int(dilation[1])),
                      padding=(int(top), int(left), int(bottom), int(right)),
                      groups=int(attributes.get("group", 1)), requant=None, clamp=Clamp.none())
        return conv, (n, channels, out_h, out_w)

    def dense(self, node: onnx.NodeProto, tensor: str) -> tuple[FullyConnected, tuple[int, ...]]:
        attributes = _attributes(node)
        weight = self.weights(node, 1)
        if node.op_type == "MatMulInteger":
            self._check_zero_points(node, 2)
        if attributes.get("transA", 0):
            raise UnsupportedOperatorError(f"{self.source}: Gemm node {node.name} transposes "
                                           "its input (transA)")
        matrix = weight if attributes.get("transB", 0) else weight.T
        source = self.tensors[tensor]
        if matrix.ndim != 2 or len(source.shape) != 2 or source.shape[1] != matrix.shape[1]:
            raise UnsupportedOperatorError(
                f"{self.source}: {node.op_type} node {node.name} multiplies {source.shape} by "
                f"weights {weight.shape}; integer-only dense layers take [rows, features] "
                "(Flatten an image first)")
        rows = source.shape[0]
        bias = self.bias(node, 2, matrix.shape[0])
        dense = FullyConnected(name=node.name or node.output[0], inputs=(tensor,), output="",
                               weight=np.ascontiguousarray(matrix), bias=bias, requant=None,
                               clamp=Clamp.none())
        return dense, (rows, matrix.shape[0])

    def residual_add(self, node: onnx.NodeProto, first: str, second: str) -> Add:
        if self.tensors[first].shape != self.tensors[second].shape:
            raise UnsupportedOperatorError(f"{self.source}: Add node {node.name} adds shapes "
                                           "that differ; residual Adds take equal shapes")
        return Add(name=node.name or node.output[0], inputs=(first, second), output="",
                   rescale=None, clamp=Clamp.none())

    def max_pool(self, node: onnx.NodeProto, tensor: str) -> str:
        attributes = _attributes(node)
        kernel = tuple(int(k) for k in attributes["kernel_shape"])
        stride = tuple(int(s) for s in attributes.get("strides", kernel))
        top, left, bottom, right = (int(p) for p in attributes.get("pads", (0, 0, 0, 0)))
        source = self.tensors[tensor]
        n, height, width, channels = source.shape
        out_h = (height + top + bottom - kernel[0]) // stride[0] + 1
        out_w = (width + left + right - kernel[1]) // stride[1] + 1
        output = self.new(node.output[0], (n, out_h, out_w, channels), zero_point=source.quant[1])
        self.add(MaxPool(name=node.name or node.output[0], inputs=(tensor,), output=output,
                         kernel=(kernel[0], kernel[1]), stride=(stride[0], stride[1]),
                         padding=(top, left, bottom, right), clamp=Clamp.int8()))
        return output

    def flatten(self, node: onnx.NodeProto, tensor: str, image: bool) -> str:
        source = self.tensors[tensor]
        if image and source.shape[1] * source.shape[2] > 1:
            tensor = self._transposed(tensor, TO_NCHW, self.fresh(f"{tensor}_nchw"))
        output = self.new(node.output[0], (source.shape[0], source.size // source.shape[0]),
                          zero_point=source.quant[1])
        self.add(Reshape(name=node.name or node.output[0], inputs=(tensor,), output=output))
        return output

    def graph(self, inputs: list[str], outputs: list[str]) -> Graph:
        return Graph(self.name, self.tensors, tuple(self.layers), tuple(inputs), tuple(outputs))
