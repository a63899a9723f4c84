"""Whole models on Gemmini, exact numerics: the four MLPerf Tiny models bit-exact with TFLite
Micro and the int8 zoo models bit-exact with nnmap's reference, 50 random inputs each; the
report's placement reasons and latency. Each model is compiled once per module."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable

import numpy as np
import pytest
from conftest import MLPERF_MODELS, compiled_models, mlperf_model
from sanitized_runs import assert_clean_under_sanitizers

import nnmap
from nnmap.codegen.artifact import Artifact
from nnmap.reference.run import run_batch
from nnmap.verify import random_inputs, tflite_micro_outputs

SAMPLES = 50
SEED = 7
ZOO_MODELS = ["kws", "vww", "resnet8", "autoencoder"]
Compiled = Callable[[str], Artifact]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Compiled:
    """The Gemmini artifact of a model (an MLPerf Tiny name or zoo:NAME), compiled once."""
    return compiled_models(tmp_path_factory, "gemmini")


def _record_cycles(artifact: Artifact, record_line: Callable[[str], None]) -> None:
    latency = artifact.report["latency"]
    record_line(
        f"gemmini {artifact.report['model']}: total {latency['total_cycles']:,.0f} cycles "
        f"({latency['microseconds']:,.0f} us): accelerator {latency['accelerator_cycles']:,.0f} "
        f"({latency['accelerator_source']}) + host {latency['host_cycles']:,.0f} (modelled)"
    )


@pytest.mark.parametrize("name", MLPERF_MODELS)
def test_mlperf_bit_exact_with_tflite_micro_on_gemmini(
    name: str, compiled: Compiled, record_line: Callable[[str], None]
) -> None:
    path = mlperf_model(name)
    artifact = compiled(name)
    graph = nnmap.load_model(path)
    inputs = random_inputs(graph, SAMPLES, seed=SEED)
    expected = tflite_micro_outputs(path, inputs, len(graph.outputs))
    for actual, wanted in zip(artifact.run_batch(inputs), expected, strict=True):
        np.testing.assert_array_equal(actual, wanted)
    assert any(entry["module"] == "gemmini" for entry in artifact.report["layers"])
    artifact.measure_cycles([x[:1] for x in inputs])
    _record_cycles(artifact, record_line)


@pytest.mark.parametrize("name", ZOO_MODELS)
def test_zoo_bit_exact_on_gemmini(name: str, compiled: Compiled) -> None:
    artifact = compiled(f"zoo:{name}")
    graph = nnmap.load_model(f"zoo:{name}")
    inputs = random_inputs(graph, SAMPLES, seed=SEED)
    for actual, expected in zip(artifact.run_batch(inputs), run_batch(graph, inputs), strict=True):
        np.testing.assert_array_equal(actual, expected)


def test_report_says_why_each_layer_is_on_the_host(compiled: Compiled) -> None:
    """VWW: depthwise layers run on Gemmini in the solver's block-diagonal embedding where the
    cost model finds it cheaper in all, else stay on the host for that reason; the average
    pool stays on the host because Gemmini's backend refuses it; softmax is no accelerator
    layer; Gemmini layers cite the cost model."""
    layers = compiled("vww_96_int8").report["layers"]
    graph = nnmap.load_model(mlperf_model("vww_96_int8"))
    depthwise_names = {layer.name for layer in graph.layers if getattr(layer, "groups", 1) > 1}
    depthwise = [e for e in layers if e["name"] in depthwise_names]
    on_gemmini = [e for e in depthwise if e["module"] == "gemmini"]
    assert on_gemmini and all(
        "block-diagonal embedding: G" in str(e["placement"]) for e in on_gemmini
    )
    assert all(
        str(e["placement"]).startswith("cost model: host cheaper")
        for e in depthwise if e["module"] != "gemmini"
    )
    by_kind: dict[str, list[dict[str, object]]] = {}
    for entry in layers:
        by_kind.setdefault(str(entry["placement"]).split(" ")[0], []).append(entry)
    softmax = [str(e["placement"]) for e in by_kind["Softmax:"]]
    assert softmax == ["Softmax: not an accelerator layer"]
    (pool,) = by_kind["AveragePool"]
    assert str(pool["placement"]).startswith("AveragePool on the host: gemmini cannot run it:")
    accelerated = [e for e in layers if e["module"] == "gemmini"]
    assert accelerated and all(
        str(e["placement"]).startswith("cost model: gemmini cheapest") for e in accelerated
    )
    assert all(e["placement"] for e in layers)


def test_latency_adds_emulated_accelerator_and_modelled_host_cycles(compiled: Compiled) -> None:
    artifact = compiled("kws_ref_model")
    graph = nnmap.load_model(mlperf_model("kws_ref_model"))
    emulated = artifact.measure_cycles(random_inputs(graph, 1, seed=1))
    report = artifact.report
    latency = report["latency"]
    assert latency["accelerator_source"] == "emulated"
    assert latency["accelerator_cycles"] == sum(emulated.values()) > 0
    host = [e["host_cycles"] for e in report["layers"]]
    assert latency["host_cycles"] == pytest.approx(sum(host)) and latency["host_cycles"] > 0
    totals = [e["total_cycles"] for e in report["layers"]]
    assert latency["total_cycles"] == pytest.approx(sum(totals))
    assert latency["microseconds"] == pytest.approx(
        latency["total_cycles"] / report["clock_hz"] * 1e6
    )
    for entry in report["layers"]:
        if entry["module"] == "gemmini":
            stages = {"im2col gather", "bias add and requantization", "call overhead"}
            if entry["kind"] == "FullyConnected":  # batch 1, 64 deep: its input read in place
                stages.remove("im2col gather")
            assert set(entry["host_stages"]) == stages
            assert 0 < entry["utilization"] <= 1
        elif entry["kind"] != "Reshape":
            assert entry["host_cycles"] > 0 and entry["emulated_cycles"] is None


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nnmap", *args], capture_output=True, text=True, timeout=300
    )


def test_run_reports_hardware_numerics_deviation() -> None:
    """``nnmap run --numerics hardware`` prints the deviation from the reference; on KWS the
    top-1 class of the random inputs agrees on at least 90% of them."""
    result = _cli("run", "zoo:kws", "--target", "gemmini", "--numerics", "hardware",
                  "--inputs", "20", "--seed", "3")
    assert result.returncode == 0, result.stderr
    assert "hardware numerics" in result.stdout
    differing = re.search(r"share of differing values\s*│\s*([\d.]+)%", result.stdout)
    top1 = re.search(r"top-1 agreement\s*│\s*(\d+)%", result.stdout)
    assert differing is not None and top1 is not None, result.stdout
    assert float(differing.group(1)) < 50 and int(top1.group(1)) >= 90


def test_run_rejects_unknown_numerics() -> None:
    result = _cli("run", "zoo:kws", "--target", "gemmini", "--numerics", "fast")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "numerics" in result.stderr


def test_kws_and_emulator_clean_under_sanitizers(compiled: Compiled) -> None:
    """Gemmini's generated C and the Gemmini emulator under ASan/UBSan (bench/sanitize.py runs
    every model)."""
    assert_clean_under_sanitizers(compiled("zoo:kws"), nnmap.load_model("zoo:kws"))
