"""A small float32 CNN (no quantization) for the fp32 flow, checked against onnxruntime."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from nnmap.zoo.qdq import finish_model, make_node

DESCRIPTION = (
    "cnn_fp32: small float32 CNN (conv, maxpool, depthwise, pointwise, global average "
    "pool, Gemm, softmax), input [1,3,32,32] float, 10 classes"
)
SEED = 1005


class _FloatGraph:
    """Nodes and He-initialized float32 initializers of a plain float graph."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[TensorProto] = []

    def node(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        self.nodes.append(make_node(op, inputs, output, **attrs))
        return output

    def params(self, prefix: str, shape: tuple[int, ...]) -> list[str]:
        """He-normal weight `<prefix>_w` of `shape` and a small bias `<prefix>_b`."""
        std = math.sqrt(2.0 / int(np.prod(shape[1:])))
        w = self.rng.normal(0.0, std, shape).astype(np.float32)
        b = self.rng.normal(0.0, 0.1, shape[0]).astype(np.float32)
        self.initializers += [
            numpy_helper.from_array(w, f"{prefix}_w"),
            numpy_helper.from_array(b, f"{prefix}_b"),
        ]
        return [f"{prefix}_w", f"{prefix}_b"]

    def conv_relu(
        self, prefix: str, x: str, shape: tuple[int, int, int, int], group: int = 1
    ) -> str:
        """Conv (stride 1, symmetric pad k//2) followed by Relu; weight `shape` is OIHW."""
        kh, kw = shape[2:]
        y = self.node(
            "Conv",
            [x, *self.params(prefix, shape)],
            prefix,
            kernel_shape=[kh, kw],
            pads=[kh // 2, kw // 2, kh // 2, kw // 2],
            group=group,
        )
        return self.node("Relu", [y], f"{prefix}_relu")

    def maxpool(self, prefix: str, x: str) -> str:
        return self.node("MaxPool", [x], prefix, kernel_shape=[2, 2], strides=[2, 2])


def build() -> onnx.ModelProto:
    g = _FloatGraph(SEED)
    x = g.conv_relu("conv0", "input", (16, 3, 3, 3))  # 32x32x3 -> 32x32x16
    x = g.maxpool("maxpool0", x)  # -> 16x16x16
    x = g.conv_relu("dwconv0", x, (16, 1, 3, 3), group=16)  # depthwise 3x3
    x = g.conv_relu("conv1", x, (32, 16, 1, 1))  # pointwise -> 16x16x32
    x = g.maxpool("maxpool1", x)  # -> 8x8x32
    x = g.conv_relu("conv2", x, (32, 32, 3, 3))  # 8x8x32
    x = g.node("GlobalAveragePool", [x], "gap0")  # -> 1x1x32
    x = g.node("Flatten", [x], "flatten0", axis=1)  # -> 32
    x = g.node("Gemm", [x, *g.params("fc0", (10, 32))], "fc0", transB=1)
    g.node("Softmax", [x], "output", axis=-1)
    inputs = [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 32, 32])]
    outputs = [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 10])]
    graph = helper.make_graph(g.nodes, "cnn_fp32", inputs, outputs, g.initializers)
    return finish_model(graph, DESCRIPTION)
