"""Hand-made TFLite flatbuffers for the malformed-model tests: a chain of int8 FULLY_CONNECTED
layers written with the pinned ``tflite`` package's builder functions, every field open to being
set wrong (shapes, buffer indices, quantization axes, graph wiring)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import flatbuffers
import numpy as np
import tflite

INT8 = 9  # tflite.TensorType
INT32 = 2
FULLY_CONNECTED = 9  # tflite.BuiltinOperator
FULLY_CONNECTED_OPTIONS = 8  # tflite.BuiltinOptions


@dataclass
class TensorSpec:
    name: str
    shape: tuple[int, ...]
    type: int = INT8
    buffer: int = 0
    scales: tuple[float, ...] = (0.05,)
    zero_points: tuple[int, ...] = (0,)
    axis: int = 0


@dataclass
class BufferSpec:
    data: bytes = b""
    offset: int = 0  # a buffer stored after the flatbuffer: offset and size in the file
    size: int = 0


@dataclass
class ModelSpec:
    tensors: list[TensorSpec]
    buffers: list[BufferSpec]
    operators: list[tuple[tuple[int, ...], tuple[int, ...]]]  # (inputs, outputs) per layer
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    tail: bytes = field(default=b"")  # bytes appended after the flatbuffer


def fully_connected_chain(layers: int = 2, width: int = 4) -> ModelSpec:
    """x -> FC -> t1 -> FC -> ... -> t<layers>: each FC with [width, width] int8 weights
    (per-channel scales on axis 0) and int32 biases."""
    rng = np.random.default_rng(3)
    tensors = [TensorSpec("x", (1, width))]
    buffers = [BufferSpec()]
    operators = []
    for index in range(1, layers + 1):
        weight = rng.integers(-100, 100, (width, width)).astype(np.int8)
        buffers.append(BufferSpec(weight.tobytes()))
        tensors.append(TensorSpec(f"w{index}", (width, width), buffer=len(buffers) - 1,
                                  scales=(0.01,) * width, zero_points=(0,) * width))
        buffers.append(BufferSpec(np.arange(width, dtype=np.int32).tobytes()))
        tensors.append(TensorSpec(f"b{index}", (width,), INT32, len(buffers) - 1,
                                  (0.0005,) * width, (0,) * width))
        tensors.append(TensorSpec(f"t{index}", (1, width), scales=(0.1,)))
        activation = 0 if index == 1 else len(tensors) - 4
        operators.append(((activation, len(tensors) - 3, len(tensors) - 2), (len(tensors) - 1,)))
    return ModelSpec(tensors, buffers, operators, (0,), (len(tensors) - 1,))


def _vector(builder: flatbuffers.Builder, start: object, values: list, kind: str) -> int:
    start(builder, len(values))  # type: ignore[operator]
    prepend = getattr(builder, f"Prepend{kind}")
    for value in reversed(values):
        prepend(value)
    return int(builder.EndVector())


def _tensor(builder: flatbuffers.Builder, spec: TensorSpec) -> int:
    name = builder.CreateString(spec.name)
    shape = _vector(builder, tflite.TensorStartShapeVector, list(spec.shape), "Int32")
    scales = _vector(builder, tflite.QuantizationParametersStartScaleVector,
                     list(spec.scales), "Float32")
    zeros = _vector(builder, tflite.QuantizationParametersStartZeroPointVector,
                    list(spec.zero_points), "Int64")
    tflite.QuantizationParametersStart(builder)
    tflite.QuantizationParametersAddScale(builder, scales)
    tflite.QuantizationParametersAddZeroPoint(builder, zeros)
    tflite.QuantizationParametersAddQuantizedDimension(builder, spec.axis)
    quantization = tflite.QuantizationParametersEnd(builder)
    tflite.TensorStart(builder)
    tflite.TensorAddShape(builder, shape)
    tflite.TensorAddType(builder, spec.type)
    tflite.TensorAddBuffer(builder, spec.buffer)
    tflite.TensorAddName(builder, name)
    tflite.TensorAddQuantization(builder, quantization)
    return int(tflite.TensorEnd(builder))


def _operator(builder: flatbuffers.Builder, inputs: tuple[int, ...],
              outputs: tuple[int, ...]) -> int:
    input_vector = _vector(builder, tflite.OperatorStartInputsVector, list(inputs), "Int32")
    output_vector = _vector(builder, tflite.OperatorStartOutputsVector, list(outputs), "Int32")
    tflite.FullyConnectedOptionsStart(builder)
    options = tflite.FullyConnectedOptionsEnd(builder)
    tflite.OperatorStart(builder)
    tflite.OperatorAddOpcodeIndex(builder, 0)
    tflite.OperatorAddInputs(builder, input_vector)
    tflite.OperatorAddOutputs(builder, output_vector)
    tflite.OperatorAddBuiltinOptionsType(builder, FULLY_CONNECTED_OPTIONS)
    tflite.OperatorAddBuiltinOptions(builder, options)
    return int(tflite.OperatorEnd(builder))


def _buffer(builder: flatbuffers.Builder, spec: BufferSpec) -> int:
    data = builder.CreateByteVector(spec.data) if spec.data else None
    tflite.BufferStart(builder)
    if data is not None:
        tflite.BufferAddData(builder, data)
    if spec.offset:
        tflite.BufferAddOffset(builder, spec.offset)
        tflite.BufferAddSize(builder, spec.size)
    return int(tflite.BufferEnd(builder))


def write_model(spec: ModelSpec, path: Path) -> Path:
    builder = flatbuffers.Builder(1024)
    tensors = [_tensor(builder, tensor) for tensor in spec.tensors]
    operators = [_operator(builder, inputs, outputs) for inputs, outputs in spec.operators]
    buffers = [_buffer(builder, buffer) for buffer in spec.buffers]
    tensor_vector = _vector(builder, tflite.SubGraphStartTensorsVector, tensors, "UOffsetTRelative")
    operator_vector = _vector(builder, tflite.SubGraphStartOperatorsVector, operators,
                              "UOffsetTRelative")
    inputs = _vector(builder, tflite.SubGraphStartInputsVector, list(spec.inputs), "Int32")
    outputs = _vector(builder, tflite.SubGraphStartOutputsVector, list(spec.outputs), "Int32")
    tflite.SubGraphStart(builder)
    tflite.SubGraphAddTensors(builder, tensor_vector)
    tflite.SubGraphAddOperators(builder, operator_vector)
    tflite.SubGraphAddInputs(builder, inputs)
    tflite.SubGraphAddOutputs(builder, outputs)
    subgraph = tflite.SubGraphEnd(builder)
    tflite.OperatorCodeStart(builder)
    tflite.OperatorCodeAddDeprecatedBuiltinCode(builder, FULLY_CONNECTED)
    tflite.OperatorCodeAddBuiltinCode(builder, FULLY_CONNECTED)
    tflite.OperatorCodeAddVersion(builder, 1)
    code = tflite.OperatorCodeEnd(builder)
    codes = _vector(builder, tflite.ModelStartOperatorCodesVector, [code], "UOffsetTRelative")
    subgraphs = _vector(builder, tflite.ModelStartSubgraphsVector, [subgraph], "UOffsetTRelative")
    buffer_vector = _vector(builder, tflite.ModelStartBuffersVector, buffers, "UOffsetTRelative")
    tflite.ModelStart(builder)
    tflite.ModelAddVersion(builder, 3)
    tflite.ModelAddOperatorCodes(builder, codes)
    tflite.ModelAddSubgraphs(builder, subgraphs)
    tflite.ModelAddBuffers(builder, buffer_vector)
    builder.Finish(tflite.ModelEnd(builder), file_identifier=b"TFL3")
    path.write_bytes(bytes(builder.Output()) + spec.tail)
    return path
