"""Lowering of individual ONNX QDQ operators, checked against onnxruntime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import nnmap
from nnmap import reference, verify


def test_quantized_concat_with_rescale_matches_onnxruntime(tmp_path: Path) -> None:
    initializers = [
        helper.make_tensor("s1", TensorProto.FLOAT, [], [0.05]),
        helper.make_tensor("z1", TensorProto.INT8, [], [3]),
        helper.make_tensor("s2", TensorProto.FLOAT, [], [0.08]),
        helper.make_tensor("z2", TensorProto.INT8, [], [-5]),
    ]
    nodes = [
        helper.make_node("DequantizeLinear", ["x", "s1", "z1"], ["xf"]),
        helper.make_node("DequantizeLinear", ["y", "s2", "z2"], ["yf"]),
        helper.make_node("Concat", ["xf", "yf"], ["cf"], axis=1),
        helper.make_node("QuantizeLinear", ["cf", "s2", "z2"], ["c"]),
    ]
    graph = helper.make_graph(
        nodes,
        "concat",
        [
            helper.make_tensor_value_info("x", TensorProto.INT8, [1, 4, 8, 9]),
            helper.make_tensor_value_info("y", TensorProto.INT8, [1, 3, 8, 9]),
        ],
        [helper.make_tensor_value_info("c", TensorProto.INT8, [1, 7, 8, 9])],
        initializer=initializers,
    )
    path = tmp_path / "concat.onnx"
    onnx.save(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), path
    )
    model = nnmap.load_model(path)
    assert [layer.kind for layer in model] == ["Concat"]
    inputs = verify.random_inputs(model, 20, 0)
    ours = reference.run_batch(model, inputs)[0]
    theirs = verify.onnxruntime_outputs(path, inputs)[0]
    # The second input passes unchanged; the first is rescaled (TFLite rounds ties away from
    # zero, onnxruntime to even), so at most 1 LSB and only in the first 4 channels.
    assert np.array_equal(ours[:, 4:], theirs[:, 4:])
    assert verify.Difference.between(theirs, ours).max_abs <= 1


def _pad_function(quantized_chain: bool):
    """A Relax function as the TFLite frontend emits PAD: int8 pad, or dequantize-pad-quantize."""
    from tvm import relax

    builder = relax.BlockBuilder()
    x = relax.Var("x", relax.TensorType((1, 4, 5, 3), "int8"))
    scale, zero = relax.const(0.1, "float32"), relax.const(-3, "int32")
    with builder.function("main", [x]):
        with builder.dataflow():
            if quantized_chain:
                real = builder.emit(relax.op.dequantize(x, scale, zero))
                padded = builder.emit(relax.op.nn.pad(real, [0, 0, 1, 2, 2, 1, 0, 0]))
                out = builder.emit_output(relax.op.quantize(padded, scale, zero))
            else:
                builder.emit(relax.op.dequantize(x, scale, zero))
                out = builder.emit_output(
                    relax.op.nn.pad(x, [0, 0, 1, 2, 2, 1, 0, 0], pad_value=-3.0)
                )
        builder.emit_func_output(out)
    return builder.get()["main"]


@pytest.mark.parametrize("quantized_chain", [True, False])
def test_pad_lowers_to_a_zero_point_pad(quantized_chain: bool) -> None:
    from nnmap.frontend.lower import lower_function

    graph = lower_function(_pad_function(quantized_chain), "pad", "pad.tflite", "NHWC")
    assert [layer.kind for layer in graph] == ["Pad"]
    x = np.arange(60, dtype=np.int8).reshape(1, 4, 5, 3)
    (y,) = reference.run(graph, [x])
    assert y.shape == (1, 7, 8, 3)
    assert np.array_equal(y[:, 1:5, 2:7], x)
    assert np.count_nonzero(y == -3) == y.size - x.size
