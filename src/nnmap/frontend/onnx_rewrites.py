"""ONNX-level rewrites that make quantize_static models lowerable.

``fold_batch_norms``: onnxruntime's ``quantize_static`` without its pre-processing leaves a
float BatchNormalization between a DequantizeLinear and a QuantizeLinear. nnmap turns it into
what it is, a per-channel affine map: a depthwise 1x1 convolution whose int8 weights (one per
channel, scale |gamma / sqrt(var + eps)| / 127) and int32 bias (at the input scale times the
weight scale) are quantized here, so it lowers to an integer Conv2D like any other.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

INT8_MAX = 127


def _constants(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """Initializers, and the float values of DequantizeLinear nodes of initializers (the
    quantized gamma and beta of a BatchNormalization)."""
    constants = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type != "DequantizeLinear" or node.input[0] not in constants:
            continue
        scale_value = constants.get(node.input[1])
        zero_value = constants.get(node.input[2]) if len(node.input) > 2 else np.zeros(1)
        if scale_value is None or zero_value is None:
            continue
        data = constants[node.input[0]].astype(np.float64)
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        shape = [1] * data.ndim
        if scale_value.size > 1:
            shape[axis] = -1
        scale = scale_value.astype(np.float64).reshape(shape if scale_value.size > 1 else ())
        zero = zero_value.astype(np.float64).reshape(shape if zero_value.size > 1 else ())
        constants[node.output[0]] = ((data - zero) * scale).astype(np.float32)
    return constants


def _epsilon(node: onnx.NodeProto) -> float:
    return next((a.f for a in node.attribute if a.name == "epsilon"), 1e-5)


def _affine(node: onnx.NodeProto, constants: dict[str, np.ndarray]
            ) -> tuple[np.ndarray, np.ndarray] | None:
    """The per-channel factor and offset of a BatchNormalization with constant statistics."""
    values = [constants.get(name) for name in node.input[1:5]]
    if any(value is None for value in values):
        return None
    gamma, beta, mean, variance = (np.asarray(v, dtype=np.float64) for v in values)
    factor = gamma / np.sqrt(variance + _epsilon(node))
    return factor, beta - mean * factor


def _input_scale(producer: onnx.NodeProto | None, constants: dict[str, np.ndarray]
                 ) -> float | None:
    if producer is None or producer.op_type != "DequantizeLinear":
        return None
    scale = constants.get(producer.input[1])
    return float(scale.reshape(-1)[0]) if scale is not None and scale.size == 1 else None


def _depthwise_nodes(node: onnx.NodeProto, factor: np.ndarray, offset: np.ndarray,
                     input_scale: float) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """DequantizeLinear of int8 weights and int32 bias, and the depthwise 1x1 Conv."""
    prefix = f"{node.output[0]}_folded"
    channels = factor.size
    weight_scale = np.where(factor == 0, 1.0, np.abs(factor) / INT8_MAX).astype(np.float32)
    weight = np.round(factor / weight_scale).astype(np.int8).reshape(channels, 1, 1, 1)
    bias_scale = (np.float32(input_scale) * weight_scale).astype(np.float32)
    bias = np.round(offset / bias_scale.astype(np.float64)).astype(np.int32)
    initializers = [
        numpy_helper.from_array(weight, f"{prefix}_w"),
        numpy_helper.from_array(weight_scale, f"{prefix}_w_scale"),
        numpy_helper.from_array(np.zeros(channels, np.int8), f"{prefix}_w_zero"),
        numpy_helper.from_array(bias, f"{prefix}_b"),
        numpy_helper.from_array(bias_scale, f"{prefix}_b_scale"),
        numpy_helper.from_array(np.zeros(channels, np.int32), f"{prefix}_b_zero"),
    ]
    nodes = [
        helper.make_node("DequantizeLinear", [f"{prefix}_w", f"{prefix}_w_scale",
                                              f"{prefix}_w_zero"], [f"{prefix}_wf"], axis=0),
        helper.make_node("DequantizeLinear", [f"{prefix}_b", f"{prefix}_b_scale",
                                              f"{prefix}_b_zero"], [f"{prefix}_bf"], axis=0),
        helper.make_node("Conv", [node.input[0], f"{prefix}_wf", f"{prefix}_bf"],
                         [node.output[0]], group=channels, kernel_shape=[1, 1],
                         name=f"{node.name or prefix}_as_depthwise_conv"),
    ]
    return nodes, initializers


def fold_batch_norms(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` with every quantized BatchNormalization as a depthwise 1x1 int8 Conv."""
    constants = _constants(model)
    producer = {out: node for node in model.graph.node for out in node.output}
    nodes: list[onnx.NodeProto] = []
    added: list[onnx.TensorProto] = []
    for node in model.graph.node:
        affine = _affine(node, constants) if node.op_type == "BatchNormalization" else None
        scale = _input_scale(producer.get(node.input[0]), constants) if affine else None
        if affine is None or scale is None or len(node.output) != 1:
            nodes.append(node)
            continue
        replacement, initializers = _depthwise_nodes(node, *affine, scale)
        nodes += replacement
        added += initializers
    if not added:
        return model
    rewritten = onnx.ModelProto()
    rewritten.CopyFrom(model)
    del rewritten.graph.node[:]
    rewritten.graph.node.extend(nodes)
    rewritten.graph.initializer.extend(added)
    return rewritten
