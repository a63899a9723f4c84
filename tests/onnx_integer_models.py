"""Integer-only ONNX models (the form DORY / HTVM / MATCH consume), built with onnx.helper.

Each layer is a ConvInteger or MatMulInteger on uint8 or int8 activations, then the graph's own
requantization: Cast to int32, Mul by an integer per-channel scale, Add an integer bias, and
either Cast to double, Div by a power of two, Floor, Clip (floor division) or an int32 Div and
Clip (division toward zero), Cast back to the activation type. onnxruntime runs all of them.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

RANGES = {TensorProto.UINT8: (0, 255), TensorProto.INT8: (-128, 127)}


class IntegerModel:
    """Nodes and constants of one model, added layer by layer."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.constants: list[onnx.TensorProto] = []
        self.count = 0

    def constant(self, base: str, values: np.ndarray) -> str:
        name = f"{base}_{len(self.constants)}"
        self.constants.append(numpy_helper.from_array(values, name))
        return name

    def requantize(self, acc: str, output: str, channels: int, fan_in: int, out_type: int,
                   image: bool, floor: bool = True) -> None:
        """acc (int32) -> out_type, with per-channel integer scale and bias."""
        index = self.count = self.count + 1
        shape = (1, channels, 1, 1) if image else (1, channels)
        scale = self.rng.integers(1, 48, size=shape).astype(np.int32)
        bias = self.rng.integers(-3000, 3000, size=shape).astype(np.int32)
        shift = max(1, round(math.log2(math.sqrt(fan_in) * 16 * 80 * 24 / 48)))
        low, high = RANGES[out_type]
        names = [f"r{index}_{step}" for step in ("acc32", "scaled", "biased", "wide", "quotient",
                                                    "floored", "clipped")]
        self.nodes += [
            helper.make_node("Cast", [acc], [names[0]], to=TensorProto.INT32),
            helper.make_node("Mul", [names[0], self.constant("scale", scale)], [names[1]]),
            helper.make_node("Add", [names[1], self.constant("bias", bias)], [names[2]]),
        ]
        if floor:
            self.nodes += [
                helper.make_node("Cast", [names[2]], [names[3]], to=TensorProto.DOUBLE),
                helper.make_node("Div", [names[3], self.constant(
                    "divisor", np.array(2.0**shift))], [names[4]]),
                helper.make_node("Floor", [names[4]], [names[5]]),
                helper.make_node("Clip", [names[5], self.constant("low", np.array(float(low))),
                                          self.constant("high", np.array(float(high)))],
                                 [names[6]]),
            ]
        else:
            self.nodes += [
                helper.make_node("Div", [names[2], self.constant(
                    "divisor", np.array(2**shift, np.int32))], [names[4]]),
                helper.make_node("Clip", [names[4], self.constant("low", np.array(low, np.int32)),
                                          self.constant("high", np.array(high, np.int32))],
                                 [names[6]]),
            ]
        self.nodes.append(helper.make_node("Cast", [names[6]], [output], to=out_type))

    def conv(self, x: str, output: str, channels: tuple[int, int], out_type: int,
             group: int = 1, stride: int = 1) -> None:
        in_channels, out_channels = channels
        weight = self.rng.integers(-20, 21, size=(out_channels, in_channels // group, 3, 3))
        acc = f"{output}_acc"
        self.nodes.append(helper.make_node(
            "ConvInteger", [x, self.constant("w", weight.astype(np.int8))], [acc],
            pads=[1, 1, 1, 1], strides=[stride, stride], group=group, name=f"conv_{output}"))
        self.requantize(acc, output, out_channels, 9 * in_channels // group, out_type, True)

    def dense(self, x: str, output: str, features: tuple[int, int], out_type: int,
              floor: bool) -> None:
        weight = self.rng.integers(-20, 21, size=features).astype(np.int8)
        acc = f"{output}_acc"
        self.nodes.append(helper.make_node("MatMulInteger", [x, self.constant("w", weight)],
                                           [acc], name=f"dense_{output}"))
        self.requantize(acc, output, features[1], features[0], out_type, False, floor)

    def residual_add(self, a: str, b: str, output: str, out_type: int) -> None:
        """Add(Cast(a) * 3, Cast(b) * 5), then Div by 8, Floor, Clip, Cast."""
        low, high = RANGES[out_type]
        self.nodes += [
            helper.make_node("Cast", [a], [f"{output}_a"], to=TensorProto.INT32),
            helper.make_node("Mul", [f"{output}_a", self.constant("m", np.array(3, np.int32))],
                             [f"{output}_a3"]),
            helper.make_node("Cast", [b], [f"{output}_b"], to=TensorProto.INT32),
            helper.make_node("Mul", [f"{output}_b", self.constant("m", np.array(5, np.int32))],
                             [f"{output}_b5"]),
            helper.make_node("Add", [f"{output}_a3", f"{output}_b5"], [f"{output}_sum"],
                             name=f"add_{output}"),
            helper.make_node("Cast", [f"{output}_sum"], [f"{output}_wide"],
                             to=TensorProto.FLOAT),
            helper.make_node("Div", [f"{output}_wide", self.constant(
                "divisor", np.array(8.0, np.float32))], [f"{output}_quotient"]),
            helper.make_node("Floor", [f"{output}_quotient"], [f"{output}_floored"]),
            helper.make_node("Clip", [f"{output}_floored",
                                      self.constant("low", np.array(low, np.float32)),
                                      self.constant("high", np.array(high, np.float32))],
                             [f"{output}_clipped"]),
            helper.make_node("Cast", [f"{output}_clipped"], [output], to=out_type),
        ]

    def model(self, name: str, inputs: list[tuple[str, int, list[int]]],
              outputs: list[tuple[str, int, list[int]]]) -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes, name,
            [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
            [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs],
            initializer=self.constants)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                                 ir_version=8)


def conv_model(activation: int) -> onnx.ModelProto:
    model = IntegerModel(1)
    model.conv("x", "y", (3, 8), activation)
    return model.model("conv", [("x", activation, [1, 3, 8, 8])],
                       [("y", activation, [1, 8, 8, 8])])


def depthwise_model(activation: int) -> onnx.ModelProto:
    model = IntegerModel(2)
    model.conv("x", "y", (6, 6), activation, group=6, stride=2)
    return model.model("depthwise", [("x", activation, [1, 6, 9, 9])],
                       [("y", activation, [1, 6, 5, 5])])


def dense_model(activation: int) -> onnx.ModelProto:
    model = IntegerModel(3)
    model.dense("x", "h", (32, 24), activation, floor=True)
    model.dense("h", "y", (24, 10), activation, floor=False)
    return model.model("dense", [("x", activation, [1, 32])], [("y", activation, [1, 10])])


def residual_model(activation: int) -> onnx.ModelProto:
    model = IntegerModel(4)
    model.conv("x", "a", (4, 4), activation)
    model.conv("a", "b", (4, 4), activation)
    model.residual_add("a", "b", "y", activation)
    return model.model("residual", [("x", activation, [1, 4, 6, 6])],
                       [("y", activation, [1, 4, 6, 6])])


def network_model(activation: int) -> onnx.ModelProto:
    """conv -> MaxPool -> conv -> residual Add -> Flatten -> dense: a small DORY-style CNN."""
    model = IntegerModel(5)
    model.conv("x", "c1", (3, 8), activation)
    model.nodes.append(helper.make_node("MaxPool", ["c1"], ["p1"], kernel_shape=[2, 2],
                                        strides=[2, 2], name="pool"))
    model.conv("p1", "c2", (8, 8), activation)
    model.residual_add("p1", "c2", "r", activation)
    model.nodes.append(helper.make_node("Flatten", ["r"], ["flat"], axis=1, name="flatten"))
    model.dense("flat", "y", (8 * 4 * 4, 10), activation, floor=True)
    return model.model("network", [("x", activation, [1, 3, 8, 8])],
                       [("y", activation, [1, 10])])
