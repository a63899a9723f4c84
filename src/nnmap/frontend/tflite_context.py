"""The state of one TFLite import: graph tensors and layers made so far, and how the model's
tensors map to them. Operator converters (``tflite_ops``, ``tflite_tensor_ops``) use it."""

from __future__ import annotations

from collections import Counter

import numpy as np

from nnmap.errors import ModelFormatError, QuantizationError, UnsupportedOperatorError
from nnmap.frontend.tflite_reader import TfliteModel, TfliteOperator, TfliteTensor
from nnmap.ir import Clamp, Constant, Graph, Layer, Tensor

GRAPH_TYPES = {"INT8": "int8", "FLOAT32": "float32"}
FUSED_ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH",
                     5: "SIGN_BIT"}
ACTIVATION_RANGES = {"RELU": (0.0, None), "RELU_N1_TO_1": (-1.0, 1.0), "RELU6": (0.0, 6.0)}


def quantized_clamp(activation: str, scale: float, zero_point: int) -> Clamp:
    """TFLite's ``CalculateActivationRangeQuantized``: the fused activation's range in int8,
    its bounds quantized with float division and rounding half away from zero."""
    if activation == "NONE":
        return Clamp(-128, 127)
    low, high = ACTIVATION_RANGES[activation]

    def quantize(value: float) -> int:
        ratio = float(np.float32(value) / np.float32(scale))
        return zero_point + int(np.sign(ratio) * np.floor(abs(ratio) + 0.5))

    return Clamp(max(-128, quantize(low)), 127 if high is None else min(127, quantize(high)))


class TfliteImport:
    """Collects the Graph of one model while its operators are converted in order."""

    def __init__(self, model: TfliteModel) -> None:
        self.model = model
        self.tensors: dict[str, Tensor] = {}
        self.layers: list[Layer] = []
        self.produced: dict[int, str] = {}
        self._counts: Counter[str] = Counter()
        for index in model.inputs:
            self.produced[index] = self._declare(self.model.tensors[index]).name

    # --- naming and errors -------------------------------------------------------------------

    def fresh(self, kind: str) -> str:
        index = self._counts[kind]
        self._counts[kind] += 1
        return f"{kind}_{index}"

    def where(self, op: TfliteOperator) -> str:
        output = self.model.tensors[op.outputs[0]].name if op.outputs else "?"
        return f"{self.model.path}: {op.name} (operator {op.index}, output tensor {output})"

    def unsupported(self, op: TfliteOperator, why: str) -> UnsupportedOperatorError:
        return UnsupportedOperatorError(f"{self.where(op)}: {why}")

    # --- tensors -----------------------------------------------------------------------------

    def _declare(self, source: TfliteTensor) -> Tensor:
        dtype = GRAPH_TYPES.get(source.type_name)
        if dtype is None:
            raise QuantizationError(
                f"{self.model.path}: tensor {source.name} is {source.type_name.lower()}; nnmap "
                "needs int8 activations (convert with full-integer int8 quantization)"
            )
        if dtype == "int8" and source.scales is None:
            raise QuantizationError(
                f"{self.model.path}: int8 tensor {source.name} has no quantization parameters"
            )
        if int(np.prod(source.shape)) == 0:
            raise ModelFormatError(f"{self.model.path}: tensor {source.name} has no elements "
                                   f"(shape {source.shape}): the file is damaged")
        scale = source.scale if dtype == "int8" else None
        zero_point = source.zero_point if dtype == "int8" else None
        tensor = Tensor(source.name, source.shape, dtype, scale, zero_point)
        self.tensors[tensor.name] = tensor
        return tensor

    def source(self, op: TfliteOperator, position: int) -> TfliteTensor | None:
        """The model tensor at input ``position`` of ``op`` (None: optional and absent)."""
        if position >= len(op.inputs) or op.inputs[position] < 0:
            return None
        return self.model.tensors[op.inputs[position]]

    def constant(self, op: TfliteOperator, position: int) -> np.ndarray:
        tensor = self.source(op, position)
        if tensor is None or tensor.data is None:
            raise self.unsupported(op, f"input {position} must be a constant tensor")
        return tensor.data

    def activation(self, op: TfliteOperator, position: int) -> Tensor:
        """The graph tensor of input ``position``; a constant becomes a Constant layer."""
        index = op.inputs[position] if position < len(op.inputs) else -1
        if index < 0:
            raise self.unsupported(op, f"input {position} is missing")
        if index not in self.produced:
            source = self.model.tensors[index]
            if source.data is None:
                raise self.unsupported(op, f"input {source.name} is never produced")
            tensor = self._declare(source)
            self.add(Constant(name=self.fresh("constant"), inputs=(), output=tensor.name,
                              value=source.data.copy()))
            self.produced[index] = tensor.name
        return self.tensors[self.produced[index]]

    def int8(self, op: TfliteOperator, tensor: Tensor) -> Tensor:
        if not tensor.is_quantized:
            raise QuantizationError(
                f"{self.where(op)}: tensor {tensor.name} is {tensor.dtype}, not int8; nnmap "
                "needs a full-integer int8 model (convert with full-integer quantization)"
            )
        return tensor

    def output(self, op: TfliteOperator, position: int = 0) -> Tensor:
        index = op.outputs[position]
        tensor = self._declare(self.model.tensors[index])
        self.produced[index] = tensor.name
        return tensor

    def fused_clamp(self, op: TfliteOperator, code: int, out: Tensor) -> Clamp:
        activation = FUSED_ACTIVATIONS.get(code, f"activation {code}")
        if activation not in ("NONE", *ACTIVATION_RANGES):
            raise self.unsupported(op, f"fused activation {activation} is not supported")
        if not out.is_quantized:
            low, high = ACTIVATION_RANGES.get(activation, (None, None))
            return Clamp(-np.inf if low is None else low, np.inf if high is None else high)
        scale, zero_point = out.quant
        return quantized_clamp(activation, scale, zero_point)

    def add(self, layer: Layer) -> None:
        self.layers.append(layer)

    def graph(self, name: str) -> Graph:
        inputs = tuple(self.produced[index] for index in self.model.inputs)
        missing = [self.model.tensors[i].name for i in self.model.outputs
                   if i not in self.produced]
        if missing:
            raise UnsupportedOperatorError(
                f"{self.model.path}: model output {missing[0]} is not computed by any operator"
            )
        outputs = tuple(self.produced[index] for index in self.model.outputs)
        return Graph(name, dict(self.tensors), tuple(self.layers), inputs, outputs)
