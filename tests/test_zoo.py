"""nnmap.zoo: built-in models build, check, run in onnxruntime and match MLPerf Tiny's shapes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, numpy_helper

from nnmap import zoo
from nnmap.errors import ModelFormatError
from nnmap.verify import onnxruntime_session

QDQ_MODELS = ["kws", "vww", "resnet8", "autoencoder"]

OUTPUT_SHAPES = {"kws": (1, 12), "vww": (1, 2), "resnet8": (1, 10), "autoencoder": (1, 640),
                 "cnn_fp32": (1, 10)}

# Totals from shared/models/mlperf_tiny/LAYERS.md (conv, depthwise and FC layers).
MACS = {"kws": 2_656_768, "vww": 7_489_664, "resnet8": 12_501_632, "autoencoder": 264_192}

# Parameters (weights + biases of conv, depthwise and FC layers), also from LAYERS.md.
PARAMS = {"kws": 22_604, "vww": 210_850, "resnet8": 77_706, "autoencoder": 265_864}

# Per model: op counts (Conv includes depthwise), and how many Convs are depthwise.
OP_COUNTS = {
    "kws": {"Conv": 9, "Gemm": 1, "Relu": 9, "AveragePool": 1, "Flatten": 1, "Softmax": 1},
    "vww": {"Conv": 27, "Gemm": 1, "Relu": 27, "AveragePool": 1, "Flatten": 1, "Softmax": 1},
    "resnet8": {"Conv": 9, "Add": 3, "Gemm": 1, "Relu": 7, "AveragePool": 1, "Flatten": 1,
                "Softmax": 1},
    "autoencoder": {"Gemm": 10, "Relu": 9},
    "cnn_fp32": {"Conv": 4, "Relu": 4, "MaxPool": 2, "GlobalAveragePool": 1, "Flatten": 1,
                 "Gemm": 1, "Softmax": 1},
}
DEPTHWISE = {"kws": 4, "vww": 13, "resnet8": 0, "autoencoder": 0, "cnn_fp32": 1}
COMPUTE_OPS = {"Conv", "Gemm", "Add", "AveragePool", "Flatten", "Softmax"}


@pytest.fixture(scope="module")
def models() -> dict[str, onnx.ModelProto]:
    return {name: zoo.build(name) for name in zoo.names()}


def _session(model: onnx.ModelProto) -> ort.InferenceSession:
    return onnxruntime_session(model.SerializeToString())


def _random_input(session: ort.InferenceSession, rng: np.random.Generator) -> np.ndarray:
    info = session.get_inputs()[0]
    if info.type == "tensor(float)":
        return rng.normal(size=info.shape).astype(np.float32)
    return rng.integers(-128, 128, info.shape).astype(np.int8)


def _attr(node: onnx.NodeProto, name: str, default: int) -> int:
    return next((int(a.i) for a in node.attribute if a.name == name), default)


def _attr_ints(node: onnx.NodeProto, name: str) -> list[int]:
    return next(list(a.ints) for a in node.attribute if a.name == name)


def _macs(model: onnx.ModelProto) -> int:
    """MACs of Conv and Gemm nodes from the shape-inferred graph."""
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in [*inferred.graph.value_info, *inferred.graph.output]}
    shapes.update({t.name: list(t.dims) for t in inferred.graph.initializer})
    total = 0
    for node in inferred.graph.node:
        if node.op_type in ("Conv", "Gemm"):
            out, weight = shapes[node.output[0]], shapes[node.input[1]]
            per_output = int(np.prod(weight[1:]))  # Conv: C/group*KH*KW; Gemm (transB): in
            total += int(np.prod(out)) * per_output
    return total


def test_names_and_descriptions() -> None:
    assert zoo.names() == ["kws", "vww", "resnet8", "autoencoder", "cnn_fp32"]
    for name in zoo.names():
        line = zoo.describe(name)
        assert line.startswith(f"{name}: ") and "\n" not in line


@pytest.mark.parametrize("name", ["kws", "vww", "resnet8", "autoencoder", "cnn_fp32"])
def test_builds_checks_and_runs(models: dict[str, onnx.ModelProto], name: str) -> None:
    model = models[name]
    onnx.checker.check_model(model, full_check=True)
    assert model.ir_version <= 10 and model.opset_import[0].version == 13
    session = _session(model)
    rng = np.random.default_rng(0)
    outputs = [session.run(None, {"input": _random_input(session, rng)})[0] for _ in range(6)]
    assert all(o.shape == OUTPUT_SHAPES[name] for o in outputs)
    assert any(not np.array_equal(outputs[0], o) for o in outputs[1:]), "output is constant"


@pytest.mark.parametrize("name", ["kws", "vww", "resnet8", "autoencoder", "cnn_fp32"])
def test_op_counts(models: dict[str, onnx.ModelProto], name: str) -> None:
    graph = models[name].graph
    counts = Counter(node.op_type for node in graph.node)
    for op, expected in OP_COUNTS[name].items():
        assert counts[op] == expected, op
    depthwise = [n for n in graph.node if n.op_type == "Conv" and _attr(n, "group", 1) > 1]
    assert len(depthwise) == DEPTHWISE[name]


@pytest.mark.parametrize("name", QDQ_MODELS)
def test_mac_counts_match_mlperf(models: dict[str, onnx.ModelProto], name: str) -> None:
    assert _macs(models[name]) == MACS[name]


@pytest.mark.parametrize("name", QDQ_MODELS)
def test_parameter_counts_match_mlperf(models: dict[str, onnx.ModelProto], name: str) -> None:
    graph = models[name].graph
    producer = {out: node for node in graph.node for out in node.output}
    sizes = {t.name: int(np.prod(t.dims)) for t in graph.initializer}
    layers = [n for n in graph.node if n.op_type in ("Conv", "Gemm")]
    total = sum(sizes[producer[i].input[0]] for n in layers for i in n.input[1:])
    assert total == PARAMS[name]


@pytest.mark.parametrize("name", QDQ_MODELS)
def test_activation_scales_use_the_int8_range(models: dict[str, onnx.ModelProto],
                                              name: str) -> None:
    """Every conv/dense/add output spans at least a quarter of int8 and rarely saturates."""
    model = onnx.ModelProto()
    model.CopyFrom(models[name])
    producer = {out: node for node in model.graph.node for out in node.output}
    layer_outputs = [n.output[0] for n in model.graph.node if n.op_type == "QuantizeLinear"
                     and producer[n.input[0]].op_type in ("Conv", "Gemm", "Add", "Relu")]
    model.graph.output.extend(onnx.helper.make_tensor_value_info(o, TensorProto.INT8, None)
                              for o in layer_outputs if o != "output")
    session = _session(model)
    rng = np.random.default_rng(1)
    runs = [session.run(None, {"input": _random_input(session, rng)}) for _ in range(4)]
    for index, info in enumerate(session.get_outputs()):
        values = np.stack([run[index] for run in runs]).astype(np.int32)
        if info.name in layer_outputs:
            assert values.max() - values.min() >= 64, info.name
            assert np.mean(values == 127) < 0.05, info.name


@pytest.mark.parametrize("name", QDQ_MODELS)
def test_qdq_contract(models: dict[str, onnx.ModelProto], name: str) -> None:
    graph = models[name].graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    assert graph.input[0].type.tensor_type.elem_type == TensorProto.INT8
    assert graph.output[0].type.tensor_type.elem_type == TensorProto.INT8
    assert producer["output"].op_type == "QuantizeLinear"
    for node in graph.node:
        if node.op_type in COMPUTE_OPS:  # every float operand is a DequantizeLinear output
            assert all(producer[i].op_type == "DequantizeLinear" for i in node.input), node.name
        if node.op_type in ("QuantizeLinear", "DequantizeLinear") and node.input[1] in inits:
            scale, zp = inits[node.input[1]], inits[node.input[2]]
            assert scale.dtype == np.float32 and zp.dtype in (np.int8, np.int32)
            assert np.all(scale > 0) and scale.shape == zp.shape


@pytest.mark.parametrize("name", QDQ_MODELS)
def test_weights_and_biases(models: dict[str, onnx.ModelProto], name: str) -> None:
    graph = models[name].graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    for node in (n for n in graph.node if n.op_type in ("Conv", "Gemm")):
        w_dq, b_dq = producer[node.input[1]], producer[node.input[2]]
        w, s_w, w_zp = (inits[i] for i in w_dq.input)
        b, s_b, b_zp = (inits[i] for i in b_dq.input)
        assert w.dtype == np.int8 and s_w.shape == (w.shape[0],) and not w_zp.any()
        assert b.dtype == np.int32 and b.shape == (w.shape[0],) and not b_zp.any()
        s_in = inits[producer[node.input[0]].input[1]]
        np.testing.assert_array_equal(s_b, np.float32(s_in) * s_w)
        assert _attr(w_dq, "axis", 1) == 0 and _attr(b_dq, "axis", 1) == 0


@pytest.mark.parametrize("name", QDQ_MODELS)
def test_pool_flatten_softmax_quantization(models: dict[str, onnx.ModelProto], name: str) -> None:
    graph = models[name].graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    consumer = {i: node for node in graph.node for i in node.input}
    for node in graph.node:
        if node.op_type not in ("AveragePool", "Flatten", "Softmax"):
            continue
        q_in, q_out = producer[node.input[0]], consumer[node.output[0]]
        out_qparams = (float(inits[q_out.input[1]]), int(inits[q_out.input[2]]))
        if node.op_type == "Softmax":
            assert out_qparams == (1 / 256, -128)
        else:
            assert out_qparams == (float(inits[q_in.input[1]]), int(inits[q_in.input[2]]))


def test_resnet8_residuals(models: dict[str, onnx.ModelProto]) -> None:
    graph = models["resnet8"].graph
    convs = [n for n in graph.node if n.op_type == "Conv"]
    shortcuts = [n for n in convs if _attr_ints(n, "kernel_shape") == [1, 1]]
    assert len(shortcuts) == 2 and all(_attr_ints(n, "strides") == [2, 2] for n in shortcuts)


def test_same_padding_puts_extra_pad_bottom_right(models: dict[str, onnx.ModelProto]) -> None:
    first = next(n for n in models["kws"].graph.node if n.op_type == "Conv")
    assert _attr_ints(first, "pads") == [4, 1, 5, 1]  # 10x4 s2 on 49x10
    strided = next(n for n in models["vww"].graph.node if n.op_type == "Conv")
    assert _attr_ints(strided, "pads") == [0, 0, 1, 1]  # 3x3 s2 on 96x96


@pytest.mark.parametrize("name", ["kws", "vww", "resnet8", "autoencoder", "cnn_fp32"])
def test_builds_are_byte_identical(models: dict[str, onnx.ModelProto], name: str) -> None:
    assert zoo.build(name).SerializeToString() == models[name].SerializeToString()


def test_materialize_writes_and_reuses(tmp_path: Path) -> None:
    path = zoo.materialize("autoencoder", tmp_path)
    assert path == tmp_path / "autoencoder.onnx"
    onnx.checker.check_model(onnx.load(path))
    mtime = path.stat().st_mtime_ns
    assert zoo.materialize("autoencoder", tmp_path) == path
    assert path.stat().st_mtime_ns == mtime
    assert [p.name for p in tmp_path.iterdir()] == ["autoencoder.onnx"]


def test_materialize_replaces_a_stale_file(tmp_path: Path) -> None:
    (tmp_path / "kws.onnx").write_bytes(b"stale")
    path = zoo.materialize("kws", tmp_path)
    assert path.read_bytes() == zoo.build("kws").SerializeToString()


def test_materialize_default_honours_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = zoo.materialize("cnn_fp32")
    assert path == tmp_path / "nnmap" / "zoo" / "cnn_fp32.onnx" and path.is_file()


@pytest.mark.parametrize("call", [zoo.build, zoo.describe, zoo.materialize])
def test_unknown_name(call: Callable[[str], object]) -> None:
    with pytest.raises(ModelFormatError, match="kws, vww, resnet8, autoencoder, cnn_fp32"):
        call("mobilenet")
