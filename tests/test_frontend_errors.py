"""Bad input gives a one-line NnmapError naming the file and what to do; the CLI exits with 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from conftest import mlperf_model
from onnx import TensorProto, helper

import nnmap
from nnmap.errors import (
    ModelFormatError,
    NnmapError,
    QuantizationError,
    UnsupportedOperatorError,
)


def _one_line(error: pytest.ExceptionInfo[NnmapError], *fragments: str) -> None:
    message = str(error.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelFormatError) as error:
        nnmap.load_model(tmp_path / "absent.tflite")
    _one_line(error, "absent.tflite", "no such model file")


def test_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "model.pb"
    path.write_bytes(b"\x00" * 64)
    with pytest.raises(ModelFormatError) as error:
        nnmap.load_model(path)
    _one_line(error, "model.pb", ".pb")


def test_not_a_tflite_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.tflite"
    path.write_text("this is not a model\n")
    with pytest.raises(ModelFormatError) as error:
        nnmap.load_model(path)
    _one_line(error, "notes.tflite", "TFL3")


def test_truncated_tflite(tmp_path: Path) -> None:
    data = mlperf_model("kws_ref_model").read_bytes()
    path = tmp_path / "kws_truncated.tflite"
    path.write_bytes(data[:4096])
    with pytest.raises(ModelFormatError) as error:
        nnmap.load_model(path)
    _one_line(error, "kws_truncated.tflite")


def test_truncated_onnx(tmp_path: Path) -> None:
    from nnmap import zoo

    data = zoo.build("resnet8").SerializeToString()
    path = tmp_path / "resnet8_truncated.onnx"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelFormatError) as error:
        nnmap.load_model(path)
    _one_line(error, "resnet8_truncated.onnx", "ONNX")


def _float_input_tflite(source: Path, target: Path) -> None:
    """Rewrite the input tensor's type field from INT8 to FLOAT32 in the flatbuffer."""
    import tflite

    data = bytearray(source.read_bytes())
    model = tflite.Model.GetRootAsModel(data, 0)
    subgraph = model.Subgraphs(0)
    tensor = subgraph.Tensors(int(subgraph.InputsAsNumpy()[0]))
    field = tensor._tab.Offset(6)  # the Type field of tflite.Tensor
    assert field and data[tensor._tab.Pos + field] == tflite.TensorType.INT8
    data[tensor._tab.Pos + field] = tflite.TensorType.FLOAT32
    target.write_bytes(bytes(data))


def test_float_tflite_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "kws_float_input.tflite"
    _float_input_tflite(mlperf_model("kws_ref_model"), path)
    with pytest.raises(QuantizationError) as error:
        nnmap.load_model(path)
    _one_line(error, "kws_float_input.tflite", "int8")


def _qdq_model_with(op_type: str, path: Path) -> None:
    """int8 in -> DequantizeLinear -> op_type -> QuantizeLinear -> int8 out."""
    scale = helper.make_tensor("scale", TensorProto.FLOAT, [], [0.05])
    zero = helper.make_tensor("zero", TensorProto.INT8, [], [0])
    nodes = [
        helper.make_node("DequantizeLinear", ["x", "scale", "zero"], ["xf"]),
        helper.make_node(op_type, ["xf"], ["yf"]),
        helper.make_node("QuantizeLinear", ["yf", "scale", "zero"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.INT8, [1, 8])],
        [helper.make_tensor_value_info("y", TensorProto.INT8, [1, 8])],
        initializer=[scale, zero],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.save(model, path)


def test_operator_nnmap_cannot_lower(tmp_path: Path) -> None:
    path = tmp_path / "uses_sigmoid.onnx"
    _qdq_model_with("Sigmoid", path)
    with pytest.raises(UnsupportedOperatorError) as error:
        nnmap.load_model(path)
    _one_line(error, "uses_sigmoid.onnx", "sigmoid", "binding")


def test_operator_tvm_cannot_import(tmp_path: Path) -> None:
    path = tmp_path / "uses_unknown.onnx"
    nodes = [helper.make_node("NoSuchOperator", ["x"], ["y"], domain="com.example")]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.example", 1)],
        ir_version=8,
    )
    onnx.save(model, path)
    with pytest.raises(NnmapError) as error:
        nnmap.load_model(path)
    _one_line(error, "uses_unknown.onnx")


def test_unknown_zoo_name() -> None:
    with pytest.raises(ModelFormatError) as error:
        nnmap.load_model("zoo:nope")
    _one_line(error, "nope", "resnet8")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nnmap", *args], capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("make_bad", ["missing", "garbage", "sigmoid"])
def test_cli_prints_one_line_and_exits_2(tmp_path: Path, make_bad: str) -> None:
    path = {
        "missing": tmp_path / "absent.onnx",
        "garbage": tmp_path / "garbage.onnx",
        "sigmoid": tmp_path / "uses_sigmoid.onnx",
    }[make_bad]
    if make_bad == "garbage":
        path.write_bytes(np.arange(100, dtype=np.uint8).tobytes())
    if make_bad == "sigmoid":
        _qdq_model_with("Sigmoid", path)
    result = _cli("inspect", str(path))
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and path.name in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [(("run", "model.tflite", "--bogus"), "No such option"),
     (("inspect",), "Missing argument"),
     (("no-such-command",), "No such command")],
)
def test_cli_usage_errors_are_typers_message_and_exit_2(args: tuple[str, ...],
                                                        fragment: str) -> None:
    result = _cli(*args)
    assert result.returncode == 2
    assert fragment in result.stderr and "Usage:" in result.stderr
    assert "Traceback" not in result.stderr


def test_corrupt_tflite_files_give_nnmap_errors_only(tmp_path: Path) -> None:
    """Random byte flips in a small model: importing and running it either works or raises
    an NnmapError (never IndexError, struct.error, ... from inside)."""
    from nnmap import reference, verify

    source = (Path(__file__).parent / "models" / "ops" / "classifier_head.tflite").read_bytes()
    rng = np.random.default_rng(0)
    for trial in range(150):
        data = bytearray(source)
        for _ in range(int(rng.integers(1, 6))):
            data[int(rng.integers(8, len(data)))] = int(rng.integers(0, 256))
        path = tmp_path / f"corrupt_{trial}.tflite"
        path.write_bytes(bytes(data))
        try:
            graph = nnmap.load_model(path)
            reference.run_batch(graph, verify.random_inputs(graph, 1, 0))
        except NnmapError as error:
            assert "\n" not in str(error)


@pytest.mark.parametrize("scale", [0.0, -0.5, float("nan"), float("inf")])
def test_a_scale_that_is_not_positive_and_finite_names_the_tensor(scale: float) -> None:
    from nnmap.ir import Tensor

    with pytest.raises(QuantizationError, match="tensor act: quantization scale"):
        Tensor("act", (1, 4), "int8", scale, 0)


def test_a_zero_point_outside_the_type_names_the_tensor() -> None:
    from nnmap.ir import Tensor

    with pytest.raises(QuantizationError, match="zero point 130 is outside int8"):
        Tensor("act", (1, 4), "int8", 0.5, 130)
    Tensor("in", (1, 4), "uint8", 0.5, 130)


def test_a_rescale_factor_that_is_not_finite_is_a_quantization_error() -> None:
    from nnmap.ir.quant import Requant

    with pytest.raises(QuantizationError, match="re-quantize the model"):
        Requant.from_scales(0.5, np.array([float("nan")]), 0.25)
