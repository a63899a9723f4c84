"""Per-operator TFLite models (tests/models/ops, made by TensorFlow's converter with
tests/models/make_op_models.py): nnmap's reference and the host C bit-exact with TFLite Micro."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import nnmap
from nnmap import reference, verify
from nnmap.frontend.tflite_reader import read_tflite

OPS_DIR = Path(__file__).resolve().parent / "models" / "ops"
MODELS = sorted(path.stem for path in OPS_DIR.glob("*.tflite"))
# TFLite Micro has no kernel for these; LiteRT's reference kernels are their reference.
NOT_IN_TFLITE_MICRO = {"relu_n1_to_1"}
SAMPLES = 20
# Every operator nnmap converts, and a committed model that uses it (the converter rewrites
# SQUEEZE and EXPAND_DIMS to RESHAPE, so no converter-made model holds them).
COVERED = {
    "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "SUB", "MUL", "MEAN", "SUM",
    "AVERAGE_POOL_2D", "MAX_POOL_2D", "SOFTMAX", "LOGISTIC", "TANH", "HARD_SWISH", "RELU",
    "RELU6", "RELU_N1_TO_1", "LEAKY_RELU", "PRELU", "RESHAPE", "PAD", "PADV2", "CONCATENATION",
    "TRANSPOSE", "STRIDED_SLICE", "SLICE", "SPLIT", "SPLIT_V", "QUANTIZE", "DEQUANTIZE",
    "RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR", "MAXIMUM", "MINIMUM",
}


def _expected(name: str, inputs: list[np.ndarray], outputs: int) -> list[np.ndarray]:
    path = OPS_DIR / f"{name}.tflite"
    if name in NOT_IN_TFLITE_MICRO:
        return verify.litert_outputs(path, inputs, reference_kernels=True)
    return verify.tflite_micro_outputs(path, inputs, outputs)


def test_every_operator_has_a_model() -> None:
    used = {op.name for name in MODELS for op in read_tflite(OPS_DIR / f"{name}.tflite").operators}
    assert COVERED <= used, f"no model uses {sorted(COVERED - used)}"


@pytest.mark.parametrize("name", MODELS)
def test_reference_and_host_c_bit_exact(name: str, tmp_path: Path) -> None:
    path = OPS_DIR / f"{name}.tflite"
    graph = nnmap.load_model(path)
    inputs = verify.random_inputs(graph, SAMPLES, 11)
    expected = _expected(name, inputs, len(graph.outputs))
    ours = reference.run_batch(graph, inputs)
    for tensor, theirs, mine in zip(graph.output_tensors(), expected, ours, strict=True):
        assert mine.shape == theirs.shape == (SAMPLES, *tensor.shape[1:])
        assert mine.dtype == theirs.dtype
        assert np.array_equal(mine, theirs), f"{name}: {tensor.name} differs from the reference"
    if not graph.is_quantized:
        return  # float at the boundary: the host C flow takes int8 models
    artifact = nnmap.compile(path, target="host", out_dir=tmp_path / "out")
    for theirs, compiled in zip(expected, artifact.run_batch(inputs), strict=True):
        assert np.array_equal(compiled.reshape(theirs.shape), theirs), f"{name}: host C differs"
