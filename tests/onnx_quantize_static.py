"""onnxruntime's ``quantize_static`` in the tests: fp32 versions of the zoo's int8 networks, the
quantized models, and the per-layer comparison of nnmap's reference with onnxruntime.

The zoo builds its networks as int8 QDQ graphs; ``float_version`` takes the quantization out
(weights dequantized into float initializers, activation QuantizeLinear/DequantizeLinear pairs
bypassed, float input and output), which is the float model a user would quantize themselves.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

from nnmap import reference, verify
from nnmap.ir import Graph

CALIBRATION_BATCHES = 16
# Layers that may have no QuantizeLinear of their own in onnxruntime's model.
WITHOUT_COUNTERPART = ("Reshape", "Transpose", "Dequantize")
# Kinds whose 4-D outputs nnmap keeps NHWC (onnxruntime's are NCHW).
NHWC_KINDS = ("Conv2D", "MaxPool", "AveragePool", "Reduce", "Add", "Concat", "Pad")


class Calibration(CalibrationDataReader):
    """Standard normal batches for the model's one input."""

    def __init__(self, name: str, shape: tuple[int, ...], seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.batches = iter([{name: rng.standard_normal(shape).astype(np.float32)}
                             for _ in range(CALIBRATION_BATCHES)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self.batches, None)


def _dequantized(node: onnx.NodeProto, arrays: dict[str, np.ndarray]) -> np.ndarray:
    values = arrays[node.input[0]].astype(np.float32)
    scale = arrays[node.input[1]].astype(np.float32)
    zero = arrays[node.input[2]].astype(np.float32) if len(node.input) > 2 else np.float32(0)
    if scale.size > 1:
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        shape = [1] * values.ndim
        shape[axis] = scale.size
        scale, zero = scale.reshape(shape), np.reshape(zero, shape if zero.size > 1 else ())
    return ((values - zero) * scale).astype(np.float32)


def float_version(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` (int8 QDQ) without its quantization: a float32 model of the same network."""
    graph = model.graph
    arrays = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    bypassed: dict[str, str] = {}
    initializers: list[onnx.TensorProto] = []
    nodes = []
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0] in arrays:
            initializers.append(numpy_helper.from_array(_dequantized(node, arrays),
                                                        node.output[0]))
        elif node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            bypassed[node.output[0]] = bypassed.get(node.input[0], node.input[0])
        else:
            nodes.append(node)
    renamed = {bypassed.get(info.name, info.name): info.name for info in graph.output}
    renamed.update({name: name for name in (i.name for i in graph.input)})

    def name_of(value: str) -> str:
        source = bypassed.get(value, value)
        return renamed.get(source, source)

    rebuilt = [helper.make_node(n.op_type, [name_of(v) for v in n.input],
                                [renamed.get(v, v) for v in n.output], name=n.name)
               for n in nodes]
    for old, new in zip(nodes, rebuilt, strict=True):
        new.attribute.extend(old.attribute)

    def as_float(info: onnx.ValueInfoProto) -> onnx.ValueInfoProto:
        dims = [d.dim_value for d in info.type.tensor_type.shape.dim]
        return helper.make_tensor_value_info(info.name, TensorProto.FLOAT, dims)

    float_graph = helper.make_graph(rebuilt, graph.name, [as_float(i) for i in graph.input],
                                    [as_float(o) for o in graph.output],
                                    initializer=initializers)
    return helper.make_model(float_graph, opset_imports=list(model.opset_import),
                             ir_version=model.ir_version)


def with_batch_norm(model: onnx.ModelProto, conv_output: str, seed: int = 5) -> onnx.ModelProto:
    """``model`` with a BatchNormalization (unfolded) after the Conv writing ``conv_output``."""
    graph = model.graph
    conv = next(n for n in graph.node if n.output[0] == conv_output)
    channels = next(numpy_helper.to_array(t).shape[0] for t in graph.initializer
                    if t.name == conv.input[1])
    rng = np.random.default_rng(seed)
    parameters = {"gamma": rng.uniform(0.5, 1.5, channels), "beta": rng.normal(0, 0.1, channels),
                  "mean": rng.normal(0, 0.1, channels), "var": rng.uniform(0.5, 1.5, channels)}
    names = {key: f"{conv_output}_bn_{key}" for key in parameters}
    for node in graph.node:
        node.input[:] = [f"{conv_output}_bn" if v == conv_output else v for v in node.input]
    position = list(graph.node).index(conv) + 1
    graph.node.insert(position, helper.make_node(
        "BatchNormalization", [conv_output, *names.values()], [f"{conv_output}_bn"],
        name=f"{conv_output}_batchnorm"))
    graph.initializer.extend(numpy_helper.from_array(values.astype(np.float32), names[key])
                             for key, values in parameters.items())
    return model


def nhwc_input(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model behind a Transpose from an NHWC input (how TensorFlow exports arrive)."""
    original = model.graph.input[0]
    n, c, h, w = (d.dim_value for d in original.type.tensor_type.shape.dim)
    nodes = [helper.make_node("Transpose", ["input_nhwc"], [original.name], perm=[0, 3, 1, 2]),
             *model.graph.node]
    graph = helper.make_graph(
        nodes, model.graph.name,
        [helper.make_tensor_value_info("input_nhwc", TensorProto.FLOAT, [n, h, w, c])],
        list(model.graph.output), initializer=list(model.graph.initializer))
    return helper.make_model(graph, opset_imports=list(model.opset_import),
                             ir_version=model.ir_version)


def quantized(directory: Path, model: onnx.ModelProto, per_channel: bool = True,
              activation_type: QuantType = QuantType.QInt8) -> Path:
    """``model`` saved and quantized by onnxruntime's ``quantize_static`` (QDQ)."""
    source = directory / f"{model.graph.name}_float.onnx"
    target = directory / f"{model.graph.name}_quantized.onnx"
    onnx.save(model, source)
    tensor_type = model.graph.input[0].type.tensor_type
    shape = tuple(d.dim_value for d in tensor_type.shape.dim)
    quantize_static(str(source), str(target), Calibration(model.graph.input[0].name, shape),
                    quant_format=QuantFormat.QDQ, per_channel=per_channel,
                    activation_type=activation_type, weight_type=QuantType.QInt8)
    return target


def onnxruntime_quantized_values(path: Path, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Every QuantizeLinear output (node order) as onnxruntime computes it."""
    model = onnx.load(path)
    names = [n.output[0] for n in model.graph.node if n.op_type == "QuantizeLinear"]
    for name in names:
        model.graph.output.append(helper.make_tensor_value_info(name, TensorProto.INT8, None))
    session = onnxruntime.InferenceSession(model.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    feeds = [item.name for item in session.get_inputs()]
    runs = [session.run(names, {f: a[i:i + 1] for f, a in zip(feeds, inputs, strict=True)})
            for i in range(inputs[0].shape[0])]
    return [np.concatenate(column) for column in zip(*runs, strict=True)]


def every_layer_within_one_lsb(graph: Graph, path: Path, inputs: list[np.ndarray]) -> float:
    """Each int8 layer run on onnxruntime's own values of its inputs, against onnxruntime's
    value of its output (the unused QuantizeLinear output of the same size, in order)."""
    unused = onnxruntime_quantized_values(path, inputs)
    values = dict(zip(graph.inputs, inputs, strict=True))
    worst = 0.0
    for layer in graph:
        ours = reference.run_layer(graph, layer, values)
        values[layer.output] = ours
        out = graph.tensor(layer.output)
        match = next((i for i, v in enumerate(unused) if v[0].size == out.size
                      and not ("_nhwc_" in out.name or "_nchw_" in out.name)), None)
        if match is None or layer.kind in WITHOUT_COUNTERPART:
            assert layer.kind in WITHOUT_COUNTERPART or not out.is_quantized, layer.name
            continue
        theirs = unused.pop(match)
        if theirs.ndim == 4 and layer.kind in NHWC_KINDS:
            theirs = np.transpose(theirs, (0, 2, 3, 1))
        theirs = theirs.reshape(ours.shape)
        difference = verify.Difference.between(theirs, ours)
        assert difference.max_abs <= 1, f"layer {layer.name} is {difference.max_abs} LSB off"
        worst = max(worst, difference.max_abs)
        values[layer.output] = theirs
    return worst
