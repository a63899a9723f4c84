"""Each layer of nnmap's reference against onnxruntime's own value of that layer, given the same
int8 inputs: at most 1 LSB (onnxruntime requantizes through float, TFLite in fixed point).

End to end the outputs of deeper zoo models drift further (see test_reference_zoo.py); this test
shows the drift is accumulated 1-LSB rounding differences, not a wrong layer.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime  # noqa: F401  (imported for its session type)
import pytest

import nnmap
from nnmap import reference, verify, zoo
from nnmap.ir import Graph
from nnmap.verify import onnxruntime_session

QUANTIZED = [name for name in zoo.names() if name != "cnn_fp32"]


def _is_relayout(name: str) -> bool:
    """Tensors the importer added to change layout (NCHW <-> NHWC), with no ONNX counterpart."""
    return "_nhwc_" in name or "_nchw_" in name


def _quantize_outputs(model: onnx.ModelProto) -> list[tuple[str, float, int]]:
    """(output, scale, zero point) of every QuantizeLinear, in node order."""
    constants = {init.name: onnx.numpy_helper.to_array(init) for init in model.graph.initializer}
    return [
        (node.output[0], float(constants[node.input[1]]), int(constants[node.input[2]]))
        for node in model.graph.node
        if node.op_type == "QuantizeLinear"
    ]


def _onnxruntime_intermediates(
    model: onnx.ModelProto, inputs: list[np.ndarray]
) -> tuple[list[str], dict[str, np.ndarray]]:
    """Every QuantizeLinear output of the model, in node order, computed by onnxruntime."""
    names = [name for name, _, _ in _quantize_outputs(model)]
    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    known = {output.name for output in exposed.graph.output}
    for name in names:
        if name not in known:
            exposed.graph.output.append(
                onnx.helper.make_tensor_value_info(name, onnx.TensorProto.INT8, None)
            )
    session = onnxruntime_session(exposed.SerializeToString())
    feeds = [item.name for item in session.get_inputs()]
    per_sample = [
        session.run(
            names, {feed: array[i : i + 1] for feed, array in zip(feeds, inputs, strict=True)}
        )
        for i in range(inputs[0].shape[0])
    ]
    stacked = [np.concatenate(column) for column in zip(*per_sample, strict=True)]
    return names, dict(zip(names, stacked, strict=True))


def _in_our_layout(graph: Graph, tensor: str, value: np.ndarray) -> np.ndarray:
    shape = graph.tensor(tensor).shape
    if value.shape[1:] != shape[1:] and value.ndim == 4:
        value = np.transpose(value, (0, 2, 3, 1))
    return value.reshape((value.shape[0], *shape[1:]))


@pytest.mark.parametrize("name", QUANTIZED)
def test_every_layer_within_one_lsb_of_onnxruntime(name: str, record_line) -> None:
    model = zoo.build(name)
    graph = nnmap.load_model(f"zoo:{name}")
    inputs = verify.random_inputs(graph, 20, 11)
    _, theirs = _onnxruntime_intermediates(model, inputs)
    # A layer's counterpart is the first unused quantize with its scale, zero point and size.
    unused = _quantize_outputs(model)
    values = dict(zip(graph.inputs, inputs, strict=True))
    worst = 0.0
    for layer in graph:
        ours = reference.run_layer(graph, layer, values)
        if _is_relayout(layer.output):
            values[layer.output] = ours
            continue
        out = graph.tensor(layer.output)
        counterpart = next(
            item for item in unused if item[1:] == out.quant and theirs[item[0]][0].size == out.size
        )
        unused.remove(counterpart)
        expected = _in_our_layout(graph, layer.output, theirs[counterpart[0]])
        difference = verify.Difference.between(expected, ours)
        assert difference.max_abs <= 1, f"{name}: layer {layer.name} is {difference.max_abs} off"
        worst = max(worst, difference.max_abs)
        values[layer.output] = expected
    assert not unused, "every onnxruntime quantize output has a layer"
    record_line(
        f"zoo:{name}: every layer within {worst:g} LSB of onnxruntime given the same "
        "inputs (20 samples)"
    )
