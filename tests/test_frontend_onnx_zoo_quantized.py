"""fp32 versions of the four zoo networks (kws with an unfolded BatchNormalization and an NHWC
Transpose at its float input), quantized by onnxruntime's ``quantize_static`` here: every layer
within 1 LSB of onnxruntime given the same inputs; and the reference, host, gemmini and vta
bit-identical with each other (float outputs compared bit for bit; kws only, to keep the suite
fast: compiling all four networks for three targets takes minutes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx_quantize_static import (
    every_layer_within_one_lsb,
    float_version,
    nhwc_input,
    quantized,
    with_batch_norm,
)

import nnmap
from nnmap import reference, verify, zoo

NETWORKS = ["kws", "vww", "resnet8", "autoencoder"]
SAMPLES = 8


def _float_model(name: str) -> onnx.ModelProto:
    model = float_version(zoo.build(name))
    if name == "kws":
        model = nhwc_input(with_batch_norm(model, "conv0_out"))
    return model


@pytest.mark.parametrize("name", NETWORKS)
def test_quantize_static_zoo_network_every_layer_within_one_lsb(tmp_path: Path, name: str,
                                                                record_line) -> None:
    model = _float_model(name)
    path = quantized(tmp_path, model)
    graph = nnmap.load_model(path)
    assert [t.dtype for t in graph.input_tensors()] == ["float32"]
    assert [t.dtype for t in graph.output_tensors()] == ["float32"]
    float_input = model.graph.input[0].type.tensor_type.shape.dim
    assert graph.input_tensors()[0].shape == tuple(d.dim_value for d in float_input)
    if name == "kws":
        nodes = onnx.load(path).graph.node
        assert "BatchNormalization" in [node.op_type for node in nodes]
        transpose = next(node for node in nodes if node.op_type == "Transpose")
        assert transpose.input[0] == graph.inputs[0] == "input_nhwc"
    inputs = verify.random_inputs(graph, SAMPLES, 11)
    worst = every_layer_within_one_lsb(graph, path, inputs)
    ours = reference.run_batch(graph, inputs)[0]
    theirs = verify.onnxruntime_outputs(path, inputs)[0]
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    record_line(f"quantize_static zoo {name}: every layer within {worst:g} LSB of onnxruntime; "
                f"top-1 agreement {np.mean(ours.argmax(-1) == theirs.argmax(-1)):.0%}")


@pytest.mark.slow
def test_quantize_static_kws_bit_identical_on_reference_host_gemmini_vta(tmp_path: Path) -> None:
    """The network with the boundary features (NHWC Transpose and QuantizeLinear at the float
    input, BatchNormalization, DequantizeLinear at the output) and accelerator layers."""
    path = quantized(tmp_path, _float_model("kws"))
    graph = nnmap.load_model(path)
    inputs = verify.random_inputs(graph, 4, 12)
    ours = reference.run_batch(graph, inputs)[0]
    for target in ("host", "gemmini", "vta"):
        artifact = nnmap.compile(graph, target=target, out_dir=tmp_path / target)
        if target != "host":
            assert any(layer["module"] != "host" for layer in artifact.report["layers"])
        compiled = artifact.run_batch(inputs)[0]
        assert compiled.dtype == np.float32 and np.array_equal(compiled, ours), target
