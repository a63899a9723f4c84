"""``.onnx`` -> Graph through TVM's Relax ONNX frontend (int8 QDQ or fp32 models)."""

from __future__ import annotations

from pathlib import Path

import onnx

from nnmap.errors import ModelFormatError, QuantizationError, UnsupportedOperatorError
from nnmap.frontend.lower import lower_function
from nnmap.frontend.onnx_boundary import attach_boundary, split_boundary
from nnmap.frontend.onnx_rewrites import fold_batch_norms
from nnmap.ir import Graph

INTEGER_TYPES = (onnx.TensorProto.INT8, onnx.TensorProto.UINT8, onnx.TensorProto.INT16,
                 onnx.TensorProto.INT32)


def _read(path: Path) -> onnx.ModelProto:
    try:
        model = onnx.load_model_from_string(path.read_bytes())
        onnx.checker.check_model(model)
    except Exception as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelFormatError(f"{path}: not a valid ONNX model ({message[:160]})") from None
    if len(model.graph.node) == 0:
        raise ModelFormatError(f"{path}: the ONNX graph has no nodes (truncated or empty file?)")
    return model


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


def _check_not_integer_only(path: Path, model: onnx.ModelProto) -> None:
    """The integer-only form (DORY / MATCH: Conv on integer tensors, Cast/Mul/Div
    requantization, no Quantize/DequantizeLinear) is refused in one line naming its first
    integer node."""
    ops = {node.op_type for node in model.graph.node}
    if ops & {"QuantizeLinear", "DequantizeLinear"}:
        return
    integer_inputs = [info.name for info in model.graph.input
                      if info.type.tensor_type.elem_type in INTEGER_TYPES]
    if not integer_inputs:
        return
    first = next((node for node in model.graph.node if integer_inputs[0] in node.input), None)
    where = f"{first.op_type} node {first.name or first.output[0]}" if first else "its input"
    raise UnsupportedOperatorError(
        f"{path}: integer-only ONNX ({where} on the integer input {integer_inputs[0]}, no "
        "QuantizeLinear/DequantizeLinear) is not supported yet; export QDQ int8 instead")


def import_onnx(path: Path) -> Graph:
    from tvm.relax.frontend.onnx import from_onnx

    model = _read(path)
    _check_not_integer_only(path, model)
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
