"""ONNX models quantized by onnxruntime's own ``quantize_static`` (float input and output, QDQ,
per-channel or per-tensor), an NHWC Transpose at the input, and an int8 input reshaped before
its first DequantizeLinear: every layer within 1 LSB of onnxruntime given the same inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import typer
from onnx import TensorProto, helper, numpy_helper
from onnx_quantize_static import every_layer_within_one_lsb, nhwc_input, quantized
from onnxruntime.quantization import QuantType
from typer.testing import CliRunner

import nnmap
from nnmap import reference, verify, zoo
from nnmap.cli import compile_commands

SAMPLES = 20


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


@pytest.mark.parametrize(("variant", "per_channel"),
                         [("nchw", True), ("nchw", False), ("nhwc", True), ("int8_reshape", True),
                          ("batchnorm", True)])
def test_quantize_static_model_within_one_lsb(tmp_path: Path, variant: str, per_channel: bool,
                                              record_line) -> None:
    model = _conv_batchnorm_model() if variant == "batchnorm" else zoo.build("cnn_fp32")
    if variant == "nhwc":
        model = nhwc_input(model)
    path = quantized(tmp_path, model, per_channel)
    if variant == "int8_reshape":
        path = _int8_reshaped_input(path)
    graph = nnmap.load_model(path)
    expected_input = "int8" if variant == "int8_reshape" else "float32"
    assert [t.dtype for t in graph.input_tensors()] == [expected_input]
    assert [t.dtype for t in graph.output_tensors()] == ["float32"]
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert graph.input_tensors()[0].shape == tuple(session.get_inputs()[0].shape)
    inputs = verify.random_inputs(graph, SAMPLES, 4)
    worst = every_layer_within_one_lsb(graph, path, inputs)
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

    target = quantized(tmp_path, zoo.build("cnn_fp32"), activation_type=QuantType.QUInt8)
    with pytest.raises(QuantizationError) as error:
        nnmap.load_model(target)
    message = str(error.value)
    assert "uint8" in message and target.name in message and "\n" not in message


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


def test_float_boundary_compiled_c_takes_and_returns_float(tmp_path: Path) -> None:
    """quantize_static's float input and output: nnmap_run takes and gives float (the driver
    quantizes and dequantizes), Artifact.run feeds floats, and the outputs are the
    reference's bit for bit; ``nnmap run`` compares them on floats."""
    path = quantized(tmp_path, nhwc_input(_conv_batchnorm_model()))
    artifact = nnmap.compile(path, target="host", out_dir=tmp_path / "host")
    assert "int nnmap_run(const float *input, float *output);" in \
        (artifact.path / "network.h").read_text()
    assert artifact.input_dtypes == ["float32"] and artifact.output_dtypes == ["float32"]
    graph = nnmap.load_model(path)
    inputs = verify.random_inputs(graph, SAMPLES, 6)
    inputs[0][0, 0, 0, :] = [0.0, 1e6, -1e6]  # zero and both saturations
    assert graph.layers[0].kind == "Transpose" and graph.layers[1].kind == "Quantize"
    ours = reference.run_batch(graph, inputs)[0]
    compiled = artifact.run_batch(inputs)[0]
    assert compiled.dtype == np.float32 and np.array_equal(compiled, ours)
    app = typer.Typer()
    compile_commands.register(app)
    result = CliRunner().invoke(app, ["run", str(path), "--inputs", "3"])
    assert result.exit_code == 0, result.output
    assert "max |difference| vs nnmap reference" in result.output
