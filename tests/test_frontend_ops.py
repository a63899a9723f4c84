"""Lowering of individual ONNX QDQ operators, checked against onnxruntime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
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
