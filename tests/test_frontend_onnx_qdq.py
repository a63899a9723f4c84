"""ONNX models quantized by onnxruntime's own ``quantize_static`` (float input and output, QDQ,
per-channel or per-tensor), an NHWC Transpose at the input, and an int8 input reshaped before
its first DequantizeLinear: every layer within 1 LSB of onnxruntime given the same inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

import nnmap
from nnmap import reference, verify, zoo
from nnmap.ir import Graph

SAMPLES = 20
# Layers that may have no QuantizeLinear of their own in onnxruntime's model.
WITHOUT_COUNTERPART = ("Reshape", "Transpose", "Dequantize")
# Kinds whose 4-D outputs nnmap keeps NHWC (onnxruntime's are NCHW).
NHWC_KINDS = ("Conv2D", "MaxPool", "AveragePool", "Reduce", "Add", "Concat", "Pad")


class _Calibration(CalibrationDataReader):
    def __init__(self, name: str, shape: tuple[int, ...]) -> None:
        rng = np.random.default_rng(0)
        self.batches = iter([{name: rng.standard_normal(shape).astype(np.float32)}
                             for _ in range(16)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self.batches, None)


def _nhwc_input(model: onnx.ModelProto) -> onnx.ModelProto:
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


def _conv_batchnorm_model() -> onnx.ModelProto:
    """Conv -> BatchNormalization -> Relu -> GlobalAveragePool: BN left unfolded."""
    rng = np.random.default_rng(5)
    channels = 8
    arrays = {
        "w": rng.normal(0, 0.3, (channels, 3, 3, 3)), "b": rng.normal(0, 0.1, channels),
        "gamma": rng.uniform(0.5, 1.5, channels), "beta": rng.normal(0, 0.1, channels),
        "mean": rng.normal(0, 0.1, channels), "var": rng.uniform(0.5, 1.5, channels),
    }
    nodes = [
        helper.make_node("Conv", ["input", "w", "b"], ["conv"], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["conv", "gamma", "beta", "mean", "var"], ["bn"]),
        helper.make_node("Relu", ["bn"], ["relu"]),
        helper.make_node("GlobalAveragePool", ["relu"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes, "conv_bn",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, channels, 1, 1])],
        initializer=[numpy_helper.from_array(v.astype(np.float32), k) for k, v in arrays.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)


def _quantized(tmp_path: Path, model: onnx.ModelProto, per_channel: bool) -> Path:
    source, target = tmp_path / "float.onnx", tmp_path / "quantized.onnx"
    onnx.save(model, source)
    tensor_type = model.graph.input[0].type.tensor_type
    shape = tuple(d.dim_value for d in tensor_type.shape.dim)
    quantize_static(str(source), str(target), _Calibration(model.graph.input[0].name, shape),
                    quant_format=QuantFormat.QDQ, per_channel=per_channel,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    return target


def _int8_reshaped_input(path: Path) -> Path:
    """Form (b): an int8 flat input, reshaped before its first DequantizeLinear."""
    model = onnx.load(path)
    graph = model.graph
    quantize = next(n for n in graph.node if n.op_type == "QuantizeLinear"
                    and n.input[0] == graph.input[0].name)
    dims = [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    shape = numpy_helper.from_array(np.array(dims, dtype=np.int64), "image_shape")
    reshape = helper.make_node("Reshape", ["flat_int8", "image_shape"], [quantize.output[0]])
    nodes = [reshape, *(n for n in graph.node if n is not quantize)]
    flat = helper.make_tensor_value_info("flat_int8", TensorProto.INT8, [1, int(np.prod(dims))])
    new_graph = helper.make_graph(nodes, graph.name, [flat], list(graph.output),
                                  initializer=[*graph.initializer, shape])
    target = path.with_name("int8_reshaped.onnx")
    onnx.save(helper.make_model(new_graph, opset_imports=list(model.opset_import),
                                ir_version=model.ir_version), target)
    return target


def _onnxruntime_quantized_values(path: Path, inputs: list[np.ndarray]) -> list[np.ndarray]:
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


def _every_layer_within_one_lsb(graph: Graph, path: Path, inputs: list[np.ndarray]) -> float:
    """Each int8 layer run on onnxruntime's own values of its inputs, against onnxruntime's
    value of its output (the unused QuantizeLinear output of the same size, in order)."""
    unused = _onnxruntime_quantized_values(path, inputs)
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


@pytest.mark.parametrize(("variant", "per_channel"),
                         [("nchw", True), ("nchw", False), ("nhwc", True), ("int8_reshape", True),
                          ("batchnorm", True)])
def test_quantize_static_model_within_one_lsb(tmp_path: Path, variant: str, per_channel: bool,
                                              record_line) -> None:
    model = _conv_batchnorm_model() if variant == "batchnorm" else zoo.build("cnn_fp32")
    if variant == "nhwc":
        model = _nhwc_input(model)
    path = _quantized(tmp_path, model, per_channel)
    if variant == "int8_reshape":
        path = _int8_reshaped_input(path)
    graph = nnmap.load_model(path)
    expected_input = "int8" if variant == "int8_reshape" else "float32"
    assert [t.dtype for t in graph.input_tensors()] == [expected_input]
    assert [t.dtype for t in graph.output_tensors()] == ["float32"]
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert graph.input_tensors()[0].shape == tuple(session.get_inputs()[0].shape)
    inputs = verify.random_inputs(graph, SAMPLES, 4)
    worst = _every_layer_within_one_lsb(graph, path, inputs)
    ours = reference.run_batch(graph, inputs)[0]
    theirs = verify.onnxruntime_outputs(path, inputs)[0]
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    if variant == "batchnorm":
        assert "BatchNormalization" in {node.op_type for node in onnx.load(path).graph.node}
        assert [layer.kind for layer in graph].count("Conv2D") == 2  # BN: a depthwise 1x1
    record_line(f"quantize_static ({variant}, per_channel={per_channel}): every layer "
                f"within {worst:g} LSB of onnxruntime; top-1 agreement "
                f"{np.mean(ours.argmax(-1) == theirs.argmax(-1)):.0%}")


def test_uint8_activations_are_refused_by_name(tmp_path: Path) -> None:
    from nnmap.errors import QuantizationError

    model = zoo.build("cnn_fp32")
    source, target = tmp_path / "float.onnx", tmp_path / "uint8.onnx"
    onnx.save(model, source)
    quantize_static(str(source), str(target), _Calibration("input", (1, 3, 32, 32)),
                    quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8)
    with pytest.raises(QuantizationError) as error:
        nnmap.load_model(target)
    message = str(error.value)
    assert "uint8" in message and "uint8.onnx" in message and "\n" not in message


def test_softmax_at_any_output_quantization_host_bit_exact(tmp_path: Path) -> None:
    """int8 in and out, a Softmax whose output is not at 1/256, -128: onnxruntime's semantics
    in the reference (within 1 LSB of it) and the same bits in the host C."""
    initializers = [
        numpy_helper.from_array(np.array(0.07, np.float32), "in_scale"),
        numpy_helper.from_array(np.array(3, np.int8), "in_zero"),
        numpy_helper.from_array(np.array(0.0045, np.float32), "out_scale"),
        numpy_helper.from_array(np.array(-100, np.int8), "out_zero"),
    ]
    nodes = [
        helper.make_node("DequantizeLinear", ["x", "in_scale", "in_zero"], ["xf"]),
        helper.make_node("Softmax", ["xf"], ["yf"], axis=-1),
        helper.make_node("QuantizeLinear", ["yf", "out_scale", "out_zero"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "softmax", [helper.make_tensor_value_info("x", TensorProto.INT8, [1, 3, 17])],
        [helper.make_tensor_value_info("y", TensorProto.INT8, [1, 3, 17])],
        initializer=initializers)
    path = tmp_path / "softmax.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                                ir_version=8), path)
    model = nnmap.load_model(path)
    assert [layer.kind for layer in model] == ["Softmax"]
    inputs = verify.random_inputs(model, SAMPLES, 9)
    ours = reference.run_batch(model, inputs)[0]
    theirs = verify.onnxruntime_outputs(path, inputs)[0]
    assert verify.Difference.between(theirs, ours).max_abs <= 1
    host = nnmap.compile(path, target="host", out_dir=tmp_path / "out").run_batch(inputs)[0]
    assert np.array_equal(host.reshape(ours.shape), ours)
