"""Read a ``.tflite`` flatbuffer (with the pinned ``tflite`` package) into plain Python values.

Only the first subgraph is read: its tensors (shape, type, per-tensor or per-axis quantization,
constant data) and its operators (builtin name, inputs, outputs, options table). Nothing here
imports TVM, so ``nnmap inspect`` stays fast.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from nnmap.errors import ModelFormatError

NUMPY_TYPES = {
    "FLOAT32": np.float32,
    "FLOAT16": np.float16,
    "INT32": np.int32,
    "UINT8": np.uint8,
    "INT64": np.int64,
    "BOOL": np.bool_,
    "INT16": np.int16,
    "INT8": np.int8,
    "FLOAT64": np.float64,
    "UINT32": np.uint32,
    "UINT16": np.uint16,
}


MAX_ELEMENTS = 2**28  # per tensor: larger shapes come from corrupt files, not from MCU models


@dataclass(frozen=True, eq=False)
class TfliteTensor:
    """One tensor of the subgraph. ``scales``/``zero_points`` have one entry per tensor or one
    per index of ``quantized_axis``; ``data`` is set for constants."""

    index: int
    name: str
    shape: tuple[int, ...]
    type_name: str  # "INT8", "FLOAT32", ...
    scales: np.ndarray | None
    zero_points: np.ndarray | None
    quantized_axis: int
    data: np.ndarray | None

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def scale(self) -> float:
        if self.scales is None or self.scales.size == 0:
            return 0.0
        return float(self.scales[0])

    @property
    def zero_point(self) -> int:
        if self.zero_points is None or self.zero_points.size == 0:
            return 0
        return int(self.zero_points[0])


@dataclass(frozen=True, eq=False)
class TfliteOperator:
    """One operator: its builtin name (``CONV_2D``), tensor indices (-1: optional input absent)
    and its options table (None when the operator has none)."""

    index: int
    name: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: Any


@dataclass(frozen=True, eq=False)
class TfliteModel:
    path: Path
    tensors: tuple[TfliteTensor, ...]
    operators: tuple[TfliteOperator, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


def without_eager_schema_import() -> None:
    """Let this process import the ``tflite`` schema modules one by one, as the reader needs them.

    The package's ``__init__`` imports all of its 180 generated modules (a seventh of ``nnmap
    inspect``'s time); the reader names each module it uses, so a bare package is enough for it.
    Only for a process that uses the package through this reader alone (the CLI's ``inspect``):
    others may expect every class as an attribute of the package.
    """
    if "tflite" in sys.modules:
        return
    spec = importlib.util.find_spec("tflite")
    if spec is None or spec.submodule_search_locations is None:
        return
    package = types.ModuleType("tflite")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["tflite"] = package


def _schema(name: str) -> Any:
    """The class ``name`` of the ``tflite`` schema, imported from its own module."""
    return getattr(importlib.import_module(f"tflite.{name}"), name)


@cache
def _names_of(enum_name: str) -> dict[int, str]:
    """Value -> name of the schema's enumeration ``enum_name``."""
    enum_class = _schema(enum_name)
    return {value: name for name, value in vars(enum_class).items() if not name.startswith("_")}


def _operator_names(model: Any) -> list[str]:
    names = _names_of("BuiltinOperator")
    custom_code = _schema("BuiltinOperator").CUSTOM
    result = []
    for index in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(index)
        builtin = max(int(code.BuiltinCode()), int(code.DeprecatedBuiltinCode()))
        if builtin == custom_code:
            custom = code.CustomCode()
            result.append(f"CUSTOM {custom.decode(errors='replace') if custom else '?'}")
        else:
            result.append(names.get(builtin, f"BUILTIN_{builtin}"))
    return result


def _options(operator: Any) -> Any:
    """The operator's options as its typed table (e.g. ``tflite.Conv2DOptions``), or None."""
    kind = operator.BuiltinOptionsType()
    table = operator.BuiltinOptions()
    if kind == 0 or table is None:
        return None
    class_name = _names_of("BuiltinOptions").get(kind)
    if class_name is None or not class_name.isidentifier():
        return None
    try:
        options_class = _schema(class_name)
    except (ImportError, AttributeError):
        return None
    options = options_class()
    options.Init(table.Bytes, table.Pos)
    return options


def _constant_data(model: Any, tensor: Any, name: str, dtype: Any, shape: tuple[int, ...],
                   data: bytes) -> np.ndarray | None:
    """A constant's values in its shape; a ModelFormatError when its buffer is out of range,
    lies past the end of the file or does not hold exactly the bytes its shape needs."""
    index = tensor.Buffer()
    if index >= model.BuffersLength():
        raise ModelFormatError(f"tensor {name}: buffer {index} is out of range (the file has "
                               f"{model.BuffersLength()} buffers)")
    buffer = model.Buffers(index)
    if buffer is None:
        return None
    if buffer.DataLength() > 0:
        raw = buffer.DataAsNumpy().tobytes()
    elif buffer.Offset() > 1:
        if buffer.Offset() + buffer.Size() > len(data):
            raise ModelFormatError(
                f"tensor {name}: buffer {index} claims {buffer.Size()} bytes at offset "
                f"{buffer.Offset()}, past the end of the file ({len(data)} bytes)")
        raw = data[buffer.Offset(): buffer.Offset() + buffer.Size()]
    else:
        return None
    needed = int(np.prod(shape)) * np.dtype(dtype).itemsize
    if len(raw) != needed:
        raise ModelFormatError(f"constant tensor {name} holds {len(raw)} bytes; its shape "
                               f"{shape} of {np.dtype(dtype).name} needs {needed}")
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def _quantization(tensor: Any) -> tuple[np.ndarray | None, np.ndarray | None, int]:
    quant = tensor.Quantization()
    if quant is None or quant.ScaleLength() == 0:
        return None, None, 0
    scales = quant.ScaleAsNumpy().astype(np.float32)
    zeros = (quant.ZeroPointAsNumpy().astype(np.int64) if quant.ZeroPointLength()
             else np.zeros(scales.size, dtype=np.int64))
    return scales, zeros, int(quant.QuantizedDimension())


def _tensor(model: Any, subgraph: Any, index: int, data: bytes,
            used_names: set[str]) -> TfliteTensor:
    tensor = subgraph.Tensors(index)
    type_name = _names_of("TensorType").get(tensor.Type(), f"TYPE_{tensor.Type()}")
    shape = tuple(int(d) for d in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
    if any(d < 0 for d in shape) or int(np.prod(shape, dtype=np.float64)) > MAX_ELEMENTS:
        raise ModelFormatError(f"tensor {index} has the implausible shape {shape}")
    raw_name = tensor.Name()
    name = raw_name.decode(errors="replace") if raw_name else ""
    if not name or name in used_names:
        name = f"{name or 'tensor'}_{index}"
    used_names.add(name)
    dtype = NUMPY_TYPES.get(type_name)
    constant = (_constant_data(model, tensor, name, dtype, shape, data)
                if dtype is not None else None)
    scales, zeros, axis = _quantization(tensor)
    return TfliteTensor(index, name, shape, type_name, scales, zeros, axis, constant)


def read_tflite(path: Path) -> TfliteModel:
    """Parse ``path``; a ModelFormatError when it is not a readable TFLite flatbuffer."""
    data = path.read_bytes()
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelFormatError(
            f"{path}: not a TFLite flatbuffer (missing the TFL3 identifier); "
            "is the file truncated or of another format?"
        )
    try:
        model = _schema("Model").GetRootAsModel(data, 0)
        if model.SubgraphsLength() < 1:
            raise ModelFormatError(f"{path}: the TFLite model has no subgraph")
        subgraph = model.Subgraphs(0)
        opcode_names = _operator_names(model)
        used: set[str] = set()
        tensors = tuple(_tensor(model, subgraph, i, data, used)
                        for i in range(subgraph.TensorsLength()))
        operators = []
        for index in range(subgraph.OperatorsLength()):
            operator = subgraph.Operators(index)
            operators.append(TfliteOperator(
                index,
                opcode_names[operator.OpcodeIndex()],
                tuple(int(i) for i in operator.InputsAsNumpy()) if operator.InputsLength()
                else (),
                tuple(int(i) for i in operator.OutputsAsNumpy()),
                _options(operator),
            ))
        inputs = tuple(int(i) for i in subgraph.InputsAsNumpy())
        outputs = tuple(int(i) for i in subgraph.OutputsAsNumpy())
    except ModelFormatError as error:
        if str(error).startswith(str(path)):
            raise
        raise ModelFormatError(f"{path}: corrupt TFLite file ({error})") from None
    except Exception as error:  # flatbuffers raises IndexError, struct.error, ...
        raise ModelFormatError(
            f"{path}: truncated or corrupt TFLite file ({type(error).__name__}: {error})"
        ) from None
    _check_indices(path, len(tensors), operators, inputs + outputs)
    return TfliteModel(path, tensors, tuple(operators), inputs, outputs)


def _check_indices(path: Path, count: int, operators: list[TfliteOperator],
                   graph_tensors: tuple[int, ...]) -> None:
    """Every tensor index in range (a corrupt file is refused here, not in a converter)."""
    used = [*graph_tensors, *(i for op in operators for i in (*op.inputs, *op.outputs))]
    if any(index >= count or index < -1 for index in used) or any(i < 0 for i in graph_tensors):
        raise ModelFormatError(f"{path}: corrupt TFLite file (a tensor index out of range)")
    if any(not op.outputs for op in operators):
        raise ModelFormatError(f"{path}: corrupt TFLite file (an operator without outputs)")
