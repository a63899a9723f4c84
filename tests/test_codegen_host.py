"""Host C artifacts: bit-exact with TFLite Micro (MLPerf Tiny) and nnmap's reference (zoo)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import MLPERF_MODELS, mlperf_model
from sanitized_runs import assert_clean_under_sanitizers

import nnmap
from nnmap import zoo
from nnmap.codegen.artifact import Artifact
from nnmap.codegen.compare import tflite_micro_arena_head
from nnmap.errors import QuantizationError
from nnmap.reference.run import run_batch
from nnmap.verify import random_inputs, tflite_micro_outputs

SAMPLES = 100
INT8_ZOO = [name for name in zoo.names() if not name.endswith("fp32")]


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Artifact]:
    """Each model compiled once per session, on first use."""
    return {}


def _artifact(cache: dict[str, Artifact], spec: str, tmp: Path) -> Artifact:
    if spec not in cache:
        cache[spec] = nnmap.compile(spec, "host", tmp / spec.replace(":", "_").replace("/", "_"))
    return cache[spec]


@pytest.mark.parametrize("name", MLPERF_MODELS)
def test_mlperf_bit_exact_with_tflite_micro(name: str, artifacts: dict[str, Artifact],
                                            tmp_path_factory: pytest.TempPathFactory) -> None:
    path = mlperf_model(name)
    artifact = _artifact(artifacts, str(path), tmp_path_factory.mktemp(name))
    graph = nnmap.load_model(path)
    inputs = random_inputs(graph, SAMPLES, seed=7)
    expected = tflite_micro_outputs(path, inputs, len(graph.outputs))
    actual = artifact.run_batch(inputs)
    for e, a in zip(expected, actual, strict=True):
        np.testing.assert_array_equal(a, e)


@pytest.mark.parametrize("name", MLPERF_MODELS)
def test_mlperf_arena_within_tflite_micro(name: str, artifacts: dict[str, Artifact],
                                          tmp_path_factory: pytest.TempPathFactory) -> None:
    path = mlperf_model(name)
    artifact = _artifact(artifacts, str(path), tmp_path_factory.mktemp(name))
    ours, theirs = artifact.report["arena_bytes"], tflite_micro_arena_head(path)
    print(f"{name}: nnmap arena {ours} B, TFLite Micro head {theirs} B")  # noqa: T201
    assert ours <= theirs


@pytest.mark.parametrize("name", INT8_ZOO)
def test_zoo_bit_exact_with_reference(name: str, artifacts: dict[str, Artifact],
                                      tmp_path_factory: pytest.TempPathFactory) -> None:
    spec = f"zoo:{name}"
    artifact = _artifact(artifacts, spec, tmp_path_factory.mktemp(name))
    graph = nnmap.load_model(spec)
    inputs = random_inputs(graph, SAMPLES, seed=11)
    for e, a in zip(run_batch(graph, inputs), artifact.run_batch(inputs), strict=True):
        np.testing.assert_array_equal(a, e)


def test_float_model_is_rejected_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(QuantizationError, match="int8 models only") as info:
        nnmap.compile("zoo:cnn_fp32", "host", tmp_path / "fp32")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "fp32").exists()


def test_artifact_layout_and_report(artifacts: dict[str, Artifact],
                                    tmp_path_factory: pytest.TempPathFactory) -> None:
    artifact = _artifact(artifacts, "zoo:kws", tmp_path_factory.mktemp("kws"))
    files = {p.name for p in artifact.path.iterdir()}
    assert {"network.h", "network.c", "weights.c", "Makefile", "report.json"} <= files
    report = artifact.report
    kernels = [layer for layer in report["layers"] if layer["file"]]
    assert all(layer["file"] in files for layer in kernels)
    assert report["macs"] == sum(layer["macs"] for layer in report["layers"]) > 0
    assert report["code_bytes"] > 0 and report["weight_bytes"] > 0
    header = (artifact.path / "network.h").read_text()
    assert "int nnmap_run(const int8_t *input, int8_t *output);" in header
    for name in files - {"Makefile", "report.json", "build"}:
        text = (artifact.path / name).read_text()
        assert "tvm/" not in text and "DLTensor" not in text and "malloc" not in text


def test_kws_clean_under_sanitizers(artifacts: dict[str, Artifact],
                                    tmp_path_factory: pytest.TempPathFactory) -> None:
    """The host's generated C under ASan/UBSan (bench/sanitize.py runs every model)."""
    artifact = _artifact(artifacts, "zoo:kws", tmp_path_factory.mktemp("kws"))
    assert_clean_under_sanitizers(artifact, nnmap.load_model("zoo:kws"))
