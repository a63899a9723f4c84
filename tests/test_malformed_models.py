"""Hand-made malformed models end in nnmap's one-line error naming the file: a graph with a
cycle or an output nothing produces, a zero-sized or 2^31-element tensor, a buffer index out of
range, a 1 GB buffer claimed in a 1 KB file, constant data that does not fill its shape,
per-axis quantization on the wrong axis or of the wrong length, bad scales and zero points,
an output shape the layer cannot produce, ONNX inputs without elements or with 2^31 of them;
and the same through ``nnmap compile`` (exit 2, no traceback). A well-formed file from the same
builder imports and matches TFLite Micro."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from tflite_files import BufferSpec, ModelSpec, TensorSpec, fully_connected_chain, write_model

import nnmap
from nnmap.errors import NnmapError
from nnmap.reference.run import run_batch
from nnmap.verify import random_inputs, tflite_micro_outputs


def _tensor(spec: ModelSpec, name: str) -> TensorSpec:
    return next(tensor for tensor in spec.tensors if tensor.name == name)


def _cycle(spec: ModelSpec) -> None:
    first_inputs, first_outputs = spec.operators[0]
    spec.operators[0] = ((spec.outputs[0], *first_inputs[1:]), first_outputs)


def _dangling_output(spec: ModelSpec) -> None:
    spec.tensors.append(TensorSpec("dangling", (1, 4)))
    spec.outputs = (*spec.outputs, len(spec.tensors) - 1)


def _claimed_gigabyte(spec: ModelSpec) -> None:
    weight = _tensor(spec, "w1")
    spec.buffers.append(BufferSpec(offset=600, size=1 << 30))
    weight.buffer = len(spec.buffers) - 1


def _short_constant(spec: ModelSpec) -> None:
    spec.buffers[_tensor(spec, "w1").buffer].data = bytes(10)


def _set(name: str, **fields: object) -> Callable[[ModelSpec], None]:
    def change(spec: ModelSpec) -> None:
        for key, value in fields.items():
            setattr(_tensor(spec, name), key, value)

    return change


CASES = {
    "cycle": (_cycle, "cycle|never produced"),
    "unconnected output": (_dangling_output, "output dangling is not computed by any operator"),
    "zero-sized tensor": (_set("x", shape=(1, 0)), "tensor x has no elements"),
    "2^31 elements": (_set("t1", shape=(1 << 16, 1 << 15)), "implausible shape"),
    "buffer index out of range": (_set("w1", buffer=99), "buffer 99 is out of range"),
    "1 GB claimed buffer": (_claimed_gigabyte, "past the end of the file"),
    "constant shorter than its shape": (_short_constant, "w1 holds 10 bytes"),
    "per-axis on the wrong axis": (_set("w1", axis=1), "axis 1"),
    "per-axis scales of the wrong length": (
        _set("w1", scales=(0.01,) * 3, zero_points=(0,) * 3), "3 scales"),
    "quantization axis outside the shape": (_set("w1", axis=5), "axis 5"),
    "scale of 0": (_set("t1", scales=(0.0,)), "scale 0.0 is not a positive finite"),
    "NaN scale": (_set("t1", scales=(float("nan"),)), "scale nan is not a positive finite"),
    "infinite scale": (_set("t1", scales=(float("inf"),)), "scale inf is not a positive finite"),
    "zero point outside int8": (_set("t1", zero_points=(200,)), "zero point 200 is outside int8"),
    "output shape the layer cannot produce": (
        _set("t1", shape=(1, 5)), "output tensor t1 has shape"),
}


@pytest.mark.parametrize("case", CASES)
def test_malformed_tflite_is_a_one_line_error_naming_the_file(case: str, tmp_path: Path) -> None:
    change, message = CASES[case]
    spec = fully_connected_chain()
    change(spec)
    path = write_model(spec, tmp_path / "model.tflite")
    assert path.stat().st_size < 2048
    with pytest.raises(NnmapError, match=message) as info:
        nnmap.load_model(path)
    text = str(info.value)
    assert "\n" not in text and str(path) in text


def test_the_unchanged_builder_model_imports_and_matches_tflite_micro(tmp_path: Path) -> None:
    path = write_model(fully_connected_chain(), tmp_path / "model.tflite")
    graph = nnmap.load_model(path)
    inputs = random_inputs(graph, 8, seed=1)
    np.testing.assert_array_equal(run_batch(graph, inputs)[0],
                                  tflite_micro_outputs(path, inputs, 1)[0])


def test_compile_of_a_malformed_model_exits_2_in_one_line(tmp_path: Path) -> None:
    spec = fully_connected_chain()
    _claimed_gigabyte(spec)
    path = write_model(spec, tmp_path / "model.tflite")
    command = [sys.executable, "-m", "nnmap", "compile", str(path), "--target", "host",
               "-o", str(tmp_path / "out")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert str(path) in result.stderr.replace("\n", "")
    assert not (tmp_path / "out").exists()


def _onnx_chain(nodes: list[onnx.NodeProto], outputs: list[str]) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 4]) for name in outputs])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize(
    ("nodes", "outputs"),
    [
        ([helper.make_node("Relu", ["b"], ["a"]), helper.make_node("Relu", ["a"], ["b"])], ["b"]),
        ([helper.make_node("Relu", ["x"], ["a"])], ["a", "dangling"]),
    ],
    ids=["cycle", "unconnected output"],
)
def test_malformed_onnx_graph_is_a_one_line_error_naming_the_file(
        nodes: list[onnx.NodeProto], outputs: list[str], tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(_onnx_chain(nodes, outputs).SerializeToString())
    with pytest.raises(NnmapError) as info:
        nnmap.load_model(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize(
    ("shape", "message"),
    [([1, 0], "every dimension must be positive"), ([1, -4], "every dimension must be positive"),
     ([1 << 31, 4], "8,589,934,592 elements")],
    ids=["zero-sized", "negative", "2^31 rows"],
)
def test_onnx_input_shapes_are_checked(shape: list[int], message: str, tmp_path: Path) -> None:
    weight = onnx.numpy_helper.from_array(np.ones((4, 4), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [shape[0], 4])], [weight])
    path = tmp_path / "model.onnx"
    path.write_bytes(helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    with pytest.raises(NnmapError, match=message) as info:
        nnmap.load_model(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_an_onnx_initializer_with_more_data_than_its_shape_is_refused(tmp_path: Path) -> None:
    weight = onnx.numpy_helper.from_array(np.ones((4, 4), np.float32), "w")
    weight.dims[:] = [2, 4]  # 64 bytes of data for a shape of 32 (the checker sees too few only)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], [weight])
    path = tmp_path / "model.onnx"
    path.write_bytes(helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    with pytest.raises(NnmapError, match="initializer w does not hold the data its shape") as info:
        nnmap.load_model(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_errors_stay_on_one_line_whatever_a_name_holds() -> None:
    name = "x\n#include <stdio.h>\x00" + "y" * 5000
    text = str(NnmapError(f"model.tflite: tensor {name}: re-quantize the model"))
    assert "\n" not in text and "\x00" not in text and "\\n#include" in text
    assert text.startswith("model.tflite: tensor x") and text.endswith("re-quantize the model")
    assert len(text) < 700
