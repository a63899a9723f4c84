"""Integer-only ONNX (DORY / HTVM / MATCH): conv, depthwise, dense, residual Add and a small CNN
with max pooling, uint8 and int8 activations, built in the tests: the nnmap reference and the
host C bit-identical with onnxruntime running the same ONNX; on gemmini and vta the layers run on
the host with a reason, bit-identical too."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
import typer
from onnx import TensorProto, helper, numpy_helper
from onnx_integer_models import (
    IntegerModel,
    conv_model,
    dense_model,
    depthwise_model,
    network_model,
    residual_model,
)
from typer.testing import CliRunner

import nnmap
from nnmap import reference, verify
from nnmap.cli import compile_commands, model_commands
from nnmap.errors import QuantizationError, UnsupportedOperatorError
from nnmap.ir import Conv2D

SAMPLES = 20
ACTIVATIONS = {"uint8": TensorProto.UINT8, "int8": TensorProto.INT8}
MODELS: dict[str, Callable[[int], onnx.ModelProto]] = {
    "conv": conv_model, "depthwise": depthwise_model, "dense": dense_model,
    "residual": residual_model, "network": network_model,
}


def _saved(tmp_path: Path, model: onnx.ModelProto) -> Path:
    path = tmp_path / f"{model.graph.name}.onnx"
    onnx.save(model, path)
    return path


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("name", sorted(MODELS))
def test_integer_only_model_bit_exact_with_onnxruntime(tmp_path: Path, name: str,
                                                       activation: str) -> None:
    path = _saved(tmp_path, MODELS[name](ACTIVATIONS[activation]))
    graph = nnmap.load_model(path)
    assert [t.dtype for t in graph.input_tensors()] == [activation]
    assert [t.dtype for t in graph.output_tensors()] == [activation]
    inputs = verify.random_inputs(graph, SAMPLES, 3)
    ours = reference.run_batch(graph, inputs)[0]
    theirs = verify.onnxruntime_outputs(path, inputs)[0]
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    assert np.array_equal(ours, theirs)
    low, high = np.iinfo(activation).min, np.iinfo(activation).max
    assert np.mean((theirs > low) & (theirs < high)) > 0.3  # the outputs are not all clipped
    host = nnmap.compile(path, target="host", out_dir=tmp_path / "host").run_batch(inputs)[0]
    assert host.dtype == ours.dtype and np.array_equal(host, ours)


@pytest.mark.parametrize("target", ["gemmini", "vta"])
def test_integer_only_layers_run_on_the_host_of_accelerator_targets(tmp_path: Path,
                                                                    target: str) -> None:
    path = _saved(tmp_path, network_model(TensorProto.UINT8))
    plan = nnmap.plan(path, target=target)
    convs = [layer for layer in plan.layers if layer.layer.kind in ("Conv2D", "FullyConnected")]
    assert convs and all(layer.module == "host" for layer in convs)
    assert all("integer multiply-add-shift" in layer.reason for layer in convs)
    graph = nnmap.load_model(path)
    inputs = verify.random_inputs(graph, 4, 8)
    artifact = nnmap.compile(path, target=target, out_dir=tmp_path / target)
    assert np.array_equal(artifact.run_batch(inputs)[0], reference.run_batch(graph, inputs)[0])


def _with_output(model: IntegerModel, output: str, elem_type: int, shape: list[int]
                 ) -> onnx.ModelProto:
    return model.model("broken", [("x", TensorProto.UINT8, [1, 3, 8, 8])],
                       [(output, elem_type, shape)])


def test_unsupported_operator_names_op_node_and_file(tmp_path: Path) -> None:
    model = IntegerModel(7)
    model.conv("x", "c", (3, 4), TensorProto.UINT8)
    model.nodes.append(helper.make_node("Sigmoid", ["c"], ["y"], name="squash"))
    path = _saved(tmp_path, _with_output(model, "y", TensorProto.UINT8, [1, 4, 8, 8]))
    with pytest.raises(UnsupportedOperatorError) as error:
        nnmap.load_model(path)
    message = str(error.value)
    assert "Sigmoid" in message and "squash" in message and path.name in message
    assert "\n" not in message


def test_cast_without_clip_and_unrequantized_output_are_refused(tmp_path: Path) -> None:
    model = IntegerModel(8)
    weight = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.int8), "w")
    model.constants.append(weight)
    model.nodes += [helper.make_node("ConvInteger", ["x", "w"], ["acc"], name="conv0"),
                    helper.make_node("Cast", ["acc"], ["y"], to=TensorProto.UINT8, name="narrow")]
    path = _saved(tmp_path, _with_output(model, "y", TensorProto.UINT8, [1, 4, 6, 6]))
    with pytest.raises(UnsupportedOperatorError, match="narrow.*without a Clip into"):
        nnmap.load_model(path)
    model.nodes[-1] = helper.make_node("Cast", ["acc"], ["y"], to=TensorProto.INT32)
    path = _saved(tmp_path, _with_output(model, "y", TensorProto.INT32, [1, 4, 6, 6]))
    with pytest.raises(UnsupportedOperatorError, match="output y is not a uint8 or int8"):
        nnmap.load_model(path)


def test_an_int16_input_is_named_by_its_type(tmp_path: Path) -> None:
    nodes = [helper.make_node("Cast", ["x"], ["y"], to=TensorProto.INT8)]
    graph = helper.make_graph(nodes, "int16", [helper.make_tensor_value_info(
        "x", TensorProto.INT16, [1, 4])], [helper.make_tensor_value_info(
            "y", TensorProto.INT8, [1, 4])])
    path = tmp_path / "int16.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                                ir_version=8), path)
    with pytest.raises(QuantizationError, match="input x is int16; integer-only models take "
                                                "uint8 or int8"):
        nnmap.load_model(path)


def _initializer(model: onnx.ModelProto, name: str) -> onnx.TensorProto:
    return next(t for t in model.graph.initializer if t.name == name)


def test_conv_and_gemm_on_integer_tensors_as_match_emits_them(tmp_path: Path) -> None:
    """Conv (with an int32 bias) and Gemm (transB) on integer tensors, which onnxruntime does not
    run: the numbers of the same network spelt with ConvInteger and MatMulInteger (the Conv's
    bias moved behind the scale), which it does."""
    model = network_model(TensorProto.UINT8)
    reference_model = onnx.ModelProto()
    reference_model.CopyFrom(model)
    nodes = {node.output[0]: node for node in reference_model.graph.node}
    scale = numpy_helper.to_array(_initializer(reference_model, nodes["r1_scaled"].input[1]))
    chain_bias = _initializer(reference_model, nodes["r1_biased"].input[1])
    conv_bias = np.arange(-40, 40, 10, dtype=np.int32)
    moved = numpy_helper.to_array(chain_bias) + conv_bias.reshape(scale.shape) * scale
    chain_bias.CopyFrom(numpy_helper.from_array(moved.astype(np.int32), chain_bias.name))
    spelt_for_onnxruntime = _saved(tmp_path, reference_model)
    model.graph.initializer.append(numpy_helper.from_array(conv_bias, "conv_c1_bias"))
    for node in model.graph.node:
        if node.op_type == "ConvInteger":
            node.op_type = "Conv"
            if node.name == "conv_c1":
                node.input.append("conv_c1_bias")
        elif node.op_type == "MatMulInteger":
            node.op_type = "Gemm"
            node.attribute.append(helper.make_attribute("transB", 1))
            weight = _initializer(model, node.input[1])
            weight.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weight).T.copy(),
                                                    weight.name))
    model.graph.name = "network_conv_gemm"
    graph = nnmap.load_model(_saved(tmp_path, model))
    conv = graph.layers[2]
    assert isinstance(conv, Conv2D) and np.array_equal(conv.bias, conv_bias)
    inputs = verify.random_inputs(graph, SAMPLES, 5)
    theirs = verify.onnxruntime_outputs(spelt_for_onnxruntime, inputs)[0]
    assert np.array_equal(reference.run_batch(graph, inputs)[0], theirs)


def test_cli_inspects_and_runs_an_integer_only_model(tmp_path: Path) -> None:
    path = _saved(tmp_path, conv_model(TensorProto.UINT8))
    app = typer.Typer()
    model_commands.register(app)
    compile_commands.register(app)
    runner = CliRunner()
    table = runner.invoke(app, ["inspect", str(path)])
    assert table.exit_code == 0, table.output
    assert "Recast" in table.output and ">>" in table.output and "uint8" in table.output
    run = runner.invoke(app, ["run", str(path), "--inputs", "3"])
    assert run.exit_code == 0, run.output
    assert "max |difference| vs nnmap reference │      0" in run.output
