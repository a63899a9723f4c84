"""TFLite Micro's example models on the accelerator targets: whatever each backend can lower runs
there, the rest on the host, and the outputs stay bit-identical with TFLite Micro."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import shared_file

import nnmap
from nnmap.verify import random_inputs, tflite_micro_outputs

MODELS = ["hello_world_int8", "micro_speech_quantized", "person_detect", "simple_add_model"]
SAMPLES = 20


@pytest.mark.parametrize("target", ["gemmini", "vta"])
@pytest.mark.parametrize("name", MODELS)
def test_tflm_model_bit_exact_on_accelerator_target(
    name: str, target: str, tmp_path: Path
) -> None:
    path = shared_file("models", "tflm", f"{name}.tflite")
    artifact = nnmap.compile(path, target, tmp_path / "out")
    graph = nnmap.load_model(path)
    inputs = random_inputs(graph, SAMPLES, seed=1)
    expected = tflite_micro_outputs(path, inputs, len(graph.outputs))
    for actual, wanted in zip(artifact.run_batch(inputs), expected, strict=True):
        np.testing.assert_array_equal(actual, wanted)
    if name == "person_detect":
        assert any(entry["module"] == target for entry in artifact.report["layers"])
