"""``.onnx`` -> Graph: int8 QDQ or fp32 models through TVM's Relax ONNX frontend, the
integer-only form of DORY / HTVM / MATCH read directly (``onnx_integer``)."""

from __future__ import annotations

import math
from pathlib import Path

import onnx
from onnx import numpy_helper

from nnmap.errors import ModelFormatError, QuantizationError, UnsupportedOperatorError
from nnmap.frontend.lower import lower_function
from nnmap.frontend.onnx_boundary import attach_boundary, split_boundary
from nnmap.frontend.onnx_integer import import_integer_onnx, is_integer_only
from nnmap.frontend.onnx_rewrites import fold_batch_norms
from nnmap.frontend.tflite_reader import MAX_ELEMENTS
from nnmap.ir import Graph


def _read(path: Path) -> onnx.ModelProto:
    try:
        model = onnx.load_model_from_string(path.read_bytes())
        onnx.checker.check_model(model)
    except Exception as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelFormatError(f"{path}: not a valid ONNX model ({message[:160]})") from None
    if len(model.graph.node) == 0:
        raise ModelFormatError(f"{path}: the ONNX graph has no nodes (truncated or empty file?)")
    _check_initializers(path, model)
    _check_input_shapes(path, model)
    return model


def _check_input_shapes(path: Path, model: onnx.ModelProto) -> None:
    """Every model input has positive dimensions and at most MAX_ELEMENTS elements (a symbolic
    dimension counts as 1, the batch nnmap compiles)."""
    initializers = {initializer.name for initializer in model.graph.initializer}
    for info in model.graph.input:
        if info.name in initializers:
            continue
        dims = info.type.tensor_type.shape.dim
        fixed = [d.dim_value for d in dims if d.WhichOneof("value") == "dim_value"]
        if any(size <= 0 for size in fixed):
            raise ModelFormatError(f"{path}: input {info.name} has the shape {fixed}; every "
                                   "dimension must be positive")
        if math.prod(fixed) > MAX_ELEMENTS:
            raise ModelFormatError(f"{path}: input {info.name} has {math.prod(fixed):,} elements "
                                   f"(shape {fixed}), more than an MCU model's {MAX_ELEMENTS:,}")


def _check_initializers(path: Path, model: onnx.ModelProto) -> None:
    """Every initializer's data must fill the shape it declares (the checker does not look)."""
    for initializer in model.graph.initializer:
        try:
            numpy_helper.to_array(initializer)
        except Exception as error:
            raise ModelFormatError(
                f"{path}: initializer {initializer.name} does not hold the data its shape "
                f"{list(initializer.dims)} declares ({error}); the file is damaged"
            ) from None


def _check_activation_types(path: Path, model: onnx.ModelProto) -> None:
    """uint8 activations (onnxruntime's QUInt8, or a uint8 model input) are refused by name."""
    zero_points = {init.name for init in model.graph.initializer
                   if init.data_type == onnx.TensorProto.UINT8}
    for info in model.graph.input:
        if info.type.tensor_type.elem_type == onnx.TensorProto.UINT8:
            raise QuantizationError(
                f"{path}: input {info.name} is uint8; nnmap compiles int8 activations "
                "(quantize with activation_type=QInt8)")
    for node in model.graph.node:
        if node.op_type == "QuantizeLinear" and len(node.input) > 2 \
                and node.input[2] in zero_points:
            raise QuantizationError(
                f"{path}: QuantizeLinear node {node.name or node.output[0]} quantizes to uint8; "
                "nnmap compiles int8 activations (quantize with activation_type=QInt8)")


def import_onnx(path: Path) -> Graph:
    """A QDQ int8 or fp32 model through TVM's Relax frontend, or integer-only ONNX directly."""
    model = _read(path)
    if is_integer_only(model):
        return import_integer_onnx(path, model)
    from tvm.relax.frontend.onnx import from_onnx

    _check_activation_types(path, model)
    boundary = split_boundary(fold_batch_norms(model))
    try:
        module = from_onnx(boundary.model, keep_params_in_input=False)
    except Exception as error:
        text = str(error).strip()
        last = text.splitlines()[-1] if text else type(error).__name__
        raise UnsupportedOperatorError(f"{path}: TVM's ONNX importer failed: {last}") from None
    inner = lower_function(module["main"], path.stem, str(path), "NCHW")
    return attach_boundary(boundary, inner)
