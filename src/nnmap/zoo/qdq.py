"""Builder of int8 QDQ ONNX graphs whose activation scales are calibrated while they are built.

Every layer method emits the ONNX nodes of one quantized layer (DequantizeLinear inputs, the
float op, an optional Relu, a QuantizeLinear) and, in numpy, runs the same layer on a small batch of
random calibration inputs; the observed range of its float output sets the output scale and zero
point. Weights are random normal, He-scaled, quantized symmetrically per output channel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from nnmap.zoo import numeric

OPSET = 13
IR_VERSION = 8
CALIBRATION_SAMPLES = 8
INPUT_NAME = "input"


@dataclass(frozen=True)
class Act:
    """An int8 activation: the QuantizeLinear output tensor `name` and its quantization.

    `value` holds its dequantized values over the calibration batch, shape [N, ...].
    """

    name: str
    scale: float
    zero_point: int
    value: np.ndarray


def make_node(op: str, inputs: list[str], output: str, **attrs: Any) -> onnx.NodeProto:
    """A single-output node named after its output tensor."""
    return helper.make_node(op, inputs, [output], name=output, **attrs)


def nice_scale(x: float) -> float:
    """Round a scale up to 5 significant bits, so tiny float differences do not change bytes."""
    mantissa, exponent = math.frexp(max(x, 1e-8))
    return float(np.float32(math.ldexp(math.ceil(mantissa * 32) / 32, exponent)))


def fake_quant(value: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """QuantizeLinear then DequantizeLinear, in float32."""
    q = np.clip(np.round(value / np.float32(scale)) + zero_point, -128, 127)
    return ((q - zero_point) * np.float32(scale)).astype(np.float32)


def calibrate(value: np.ndarray, relu: bool) -> tuple[float, int]:
    """Scale and zero point for an activation: [0, max] after ReLU, symmetric otherwise."""
    if relu:
        return nice_scale(float(value.max()) / 255), -128
    return nice_scale(float(np.abs(value).max()) / 127), 0


def quantize_weight(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-output-channel (axis 0) int8 weights and their float32 scales."""
    maxabs = np.abs(w.reshape(w.shape[0], -1)).max(axis=1)
    scale = (maxabs / 127).astype(np.float32)
    shape = (-1,) + (1,) * (w.ndim - 1)
    q = np.clip(np.round(w / scale.reshape(shape)), -127, 127).astype(np.int8)
    return q, scale


class QdqGraph:
    """Accumulates the nodes and initializers of one QDQ model; layer methods return `Act`s."""

    def __init__(self, name: str, seed: int) -> None:
        self.name = name
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[TensorProto] = []
        self._dequantized: dict[str, str] = {}
        self._counts: dict[str, int] = {}
        self._input_shape: list[int] = []

    # -- plumbing -------------------------------------------------------------------------------

    def _fresh(self, kind: str) -> str:
        index = self._counts.get(kind, 0)
        self._counts[kind] = index + 1
        return f"{kind}{index}"

    def _const(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def _node(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        self.nodes.append(make_node(op, inputs, output, **attrs))
        return output

    def _quantize(
        self, prefix: str, x: str, value: np.ndarray, scale: float, zero_point: int
    ) -> Act:
        """QuantizeLinear of float tensor `x` into the int8 tensor `prefix`."""
        s = self._const(f"{prefix}_scale", np.array(scale, dtype=np.float32))
        zp = self._const(f"{prefix}_zp", np.array(zero_point, dtype=np.int8))
        self.nodes.append(
            helper.make_node("QuantizeLinear", [x, s, zp], [prefix], name=f"{prefix}_quantize")
        )
        return Act(prefix, scale, zero_point, fake_quant(value, scale, zero_point))

    def _output(self, prefix: str, x: str, value: np.ndarray, relu: bool) -> Act:
        """Optional Relu, then a QuantizeLinear calibrated on `value`."""
        if relu:
            x = self._node("Relu", [x], f"{prefix}_relu")
            value = np.maximum(value, 0)
        scale, zero_point = calibrate(value, relu)
        return self._quantize(prefix, x, value, scale, zero_point)

    def dequantize(self, act: Act) -> str:
        """The float tensor DequantizeLinear(act), emitted once per activation."""
        if act.name not in self._dequantized:
            inputs = [act.name, f"{act.name}_scale", f"{act.name}_zp"]
            self._dequantized[act.name] = self._node("DequantizeLinear", inputs, f"{act.name}_dq")
        return self._dequantized[act.name]

    def _weight(self, prefix: str, w: np.ndarray) -> tuple[str, np.ndarray, np.ndarray]:
        """Int8 per-channel weight -> DequantizeLinear(axis=0); name, float value, scales."""
        q, scale = quantize_weight(w)
        inputs = [
            self._const(f"{prefix}_w", q),
            self._const(f"{prefix}_w_scale", scale),
            self._const(f"{prefix}_w_zp", np.zeros(len(scale), dtype=np.int8)),
        ]
        name = self._node("DequantizeLinear", inputs, f"{prefix}_w_dq", axis=0)
        value = q.astype(np.float32) * scale.reshape((-1,) + (1,) * (w.ndim - 1))
        return name, value, scale

    def _bias(self, prefix: str, s_in: float, s_w: np.ndarray) -> tuple[str, np.ndarray]:
        """Int32 bias with scale float32(s_in) * s_w -> DequantizeLinear(axis=0)."""
        scale = (np.float32(s_in) * s_w).astype(np.float32)
        b = self.rng.normal(0.0, 0.1, len(s_w))
        q = np.round(b / scale).astype(np.int32)
        inputs = [
            self._const(f"{prefix}_b", q),
            self._const(f"{prefix}_b_scale", scale),
            self._const(f"{prefix}_b_zp", np.zeros(len(scale), dtype=np.int32)),
        ]
        name = self._node("DequantizeLinear", inputs, f"{prefix}_b_dq", axis=0)
        return name, (q * scale).astype(np.float32)

    def _he_weight(self, shape: tuple[int, ...]) -> np.ndarray:
        fan_in = int(np.prod(shape[1:]))
        return self.rng.normal(0.0, math.sqrt(2.0 / fan_in), shape).astype(np.float32)

    # -- layers ---------------------------------------------------------------------------------

    def input(self, shape: tuple[int, ...], scale: float = 1 / 128, zero_point: int = 0) -> Act:
        """The int8 graph input `input` (batch 1), calibrated on uniform random int8 data."""
        self._input_shape = [1, *shape]
        q = self.rng.integers(-128, 128, (CALIBRATION_SAMPLES, *shape))
        value = ((q - zero_point) * np.float32(scale)).astype(np.float32)
        self._const(f"{INPUT_NAME}_scale", np.array(scale, dtype=np.float32))
        self._const(f"{INPUT_NAME}_zp", np.array(zero_point, dtype=np.int8))
        return Act(INPUT_NAME, scale, zero_point, value)

    def conv(
        self,
        x: Act,
        out_ch: int,
        kernel: tuple[int, int],
        stride: int = 1,
        relu: bool = True,
        depthwise: bool = False,
    ) -> Act:
        """Conv (TF SAME padding); depthwise has group = channels and weight [C,1,KH,KW]."""
        prefix = self._fresh("dwconv" if depthwise else "conv")
        in_ch, height, width = x.value.shape[1:]
        group = in_ch if depthwise else 1
        w_name, w, s_w = self._weight(prefix, self._he_weight((out_ch, in_ch // group, *kernel)))
        b_name, b = self._bias(prefix, x.scale, s_w)
        pads = numeric.same_pads((height, width), kernel, stride)
        y = self._node(
            "Conv",
            [self.dequantize(x), w_name, b_name],
            f"{prefix}_out",
            kernel_shape=list(kernel),
            strides=[stride, stride],
            pads=list(pads),
            group=group,
        )
        value = numeric.conv2d(x.value, w, b, stride, pads, group)
        return self._output(prefix, y, value, relu)

    def dense(self, x: Act, out_features: int, relu: bool = True) -> Act:
        """Gemm with transB=1: weight [out, in]."""
        prefix = self._fresh("fc")
        w_name, w, s_w = self._weight(prefix, self._he_weight((out_features, x.value.shape[1])))
        b_name, b = self._bias(prefix, x.scale, s_w)
        y = self._node("Gemm", [self.dequantize(x), w_name, b_name], f"{prefix}_out", transB=1)
        return self._output(prefix, y, x.value @ w.T + b, relu)

    def add(self, a: Act, b: Act, relu: bool = True) -> Act:
        """Residual Add of two dequantized activations."""
        prefix = self._fresh("add")
        y = self._node("Add", [self.dequantize(a), self.dequantize(b)], f"{prefix}_out")
        return self._output(prefix, y, a.value + b.value, relu)

    def _same_quant(self, prefix: str, y: str, x: Act, value: np.ndarray) -> Act:
        """QuantizeLinear with the input's scale and zero point (pooling, reshaping)."""
        return self._quantize(prefix, y, value, x.scale, x.zero_point)

    def avgpool(self, x: Act, kernel: tuple[int, int]) -> Act:
        """AveragePool, VALID, strides = kernel; output quantized like the input."""
        prefix = self._fresh("avgpool")
        y = self._node(
            "AveragePool",
            [self.dequantize(x)],
            f"{prefix}_out",
            kernel_shape=list(kernel),
            strides=list(kernel),
        )
        return self._same_quant(prefix, y, x, numeric.avgpool(x.value, kernel))

    def flatten(self, x: Act) -> Act:
        """Flatten to [N, features]; output quantized like the input."""
        prefix = self._fresh("flatten")
        y = self._node("Flatten", [self.dequantize(x)], f"{prefix}_out", axis=1)
        return self._same_quant(prefix, y, x, x.value.reshape(len(x.value), -1))

    def softmax(self, x: Act) -> Act:
        """Softmax(axis=-1) quantized with scale 1/256 and zero point -128."""
        prefix = self._fresh("softmax")
        y = self._node("Softmax", [self.dequantize(x)], f"{prefix}_out", axis=-1)
        return self._quantize(prefix, y, numeric.softmax(x.value), 1 / 256, -128)

    # -- result ---------------------------------------------------------------------------------

    def model(self, output: Act, doc: str) -> onnx.ModelProto:
        """The finished model; `output` (the last QuantizeLinear's result) is renamed `output`."""
        if list(self.nodes[-1].output) != [output.name]:
            raise ValueError(f"{output.name} is not the last tensor built in {self.name}")
        self.nodes[-1].output[0] = "output"
        inputs = [helper.make_tensor_value_info(INPUT_NAME, TensorProto.INT8, self._input_shape)]
        out_shape = [1, *output.value.shape[1:]]
        outputs = [helper.make_tensor_value_info("output", TensorProto.INT8, out_shape)]
        graph = helper.make_graph(self.nodes, self.name, inputs, outputs, self.initializers)
        return finish_model(graph, doc)


def finish_model(graph: onnx.GraphProto, doc: str) -> onnx.ModelProto:
    """Wrap a graph as an opset-13, IR-version-8 model (onnxruntime accepts IR <= 10)."""
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        producer_name="nnmap.zoo",
        doc_string=doc,
    )
    onnx.checker.check_model(model)
    return model
