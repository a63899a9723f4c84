"""MLPerf Tiny models compiled for DIANA once per session, and the bit-exactness check the
DIANA model tests share."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_file

import nnmap
from nnmap.codegen.artifact import Artifact
from nnmap.verify import random_inputs, tflite_micro_outputs

SAMPLES = 50
_ARTIFACTS: dict[tuple[str, str], Artifact] = {}


def diana_artifact(name: str, numerics: str, factory: pytest.TempPathFactory) -> Artifact:
    """The MLPerf Tiny model ``name`` compiled for diana in ``numerics`` (once per session)."""
    if (name, numerics) not in _ARTIFACTS:
        path = shared_file("models", "mlperf_tiny", f"{name}.tflite")
        out = factory.mktemp(f"diana_{name}_{numerics}") / "out"
        _ARTIFACTS[name, numerics] = nnmap.compile(path, "diana", out, numerics=numerics)
    return _ARTIFACTS[name, numerics]


def check_bit_exact(name: str, factory: pytest.TempPathFactory) -> None:
    """``name`` in exact numerics equals TFLite Micro on SAMPLES random inputs, with layers on
    the digital array and none on the analog core."""
    path = shared_file("models", "mlperf_tiny", f"{name}.tflite")
    artifact = diana_artifact(name, "exact", factory)
    graph = nnmap.load_model(path)
    inputs = random_inputs(graph, SAMPLES, seed=7)
    expected = tflite_micro_outputs(path, inputs, len(graph.outputs))
    for actual, wanted in zip(artifact.run_batch(inputs), expected, strict=True):
        np.testing.assert_array_equal(actual, wanted)
    modules = {layer["module"] for layer in artifact.report["layers"]}
    assert "digital" in modules and "analog" not in modules
