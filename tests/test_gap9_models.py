"""Whole models on GAP9, exact numerics: bit-exact with TFLite Micro (MLPerf Tiny KWS) and
nnmap's reference (zoo KWS), with layers on NE16 and on the cluster in the same model, a true
reason per layer, and the cost model within 10% of the emulator on every accelerator layer.
The other MLPerf Tiny models run in bench/gap9.py."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from conftest import compiled_models, mlperf_model

import nnmap
from nnmap.codegen.artifact import Artifact
from nnmap.reference.run import run_batch
from nnmap.targets import get_target
from nnmap.targets.gap9.baseline import REASON, dory_cluster_only
from nnmap.verify import random_inputs, tflite_micro_outputs

SAMPLES = 5
SEED = 3
Compiled = Callable[[str], Artifact]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Compiled:
    return compiled_models(tmp_path_factory, "gap9")


def _modules(artifact: Artifact) -> set[str]:
    return {entry["module"] for entry in artifact.report["layers"]}


def test_mlperf_kws_bit_exact_with_tflite_micro_on_ne16_and_cluster(compiled: Compiled) -> None:
    path = mlperf_model("kws_ref_model")
    artifact = compiled("kws_ref_model")
    graph = nnmap.load_model(path)
    inputs = random_inputs(graph, SAMPLES, seed=SEED)
    expected = tflite_micro_outputs(path, inputs, len(graph.outputs))
    for actual, wanted in zip(artifact.run_batch(inputs), expected, strict=True):
        np.testing.assert_array_equal(actual, wanted)
    assert {"ne16", "cluster"} <= _modules(artifact)


def test_zoo_kws_bit_exact_and_cost_model_within_10_percent(compiled: Compiled) -> None:
    artifact = compiled("zoo:kws")
    graph = nnmap.load_model("zoo:kws")
    inputs = random_inputs(graph, SAMPLES, seed=SEED)
    for actual, expected in zip(artifact.run_batch(inputs), run_batch(graph, inputs), strict=True):
        np.testing.assert_array_equal(actual, expected)
    emulated = artifact.measure_cycles([x[:1] for x in inputs])
    layers = {entry["name"]: entry for entry in artifact.report["layers"]}
    assert emulated and all(cycles > 0 for cycles in emulated.values())
    for name, cycles in emulated.items():
        modelled = layers[name]["modelled_cycles"]
        assert abs(modelled - cycles) <= 0.10 * cycles, (name, modelled, cycles)


def test_every_layer_says_why_it_is_where_it_is(compiled: Compiled) -> None:
    for entry in compiled("zoo:kws").report["layers"]:
        reason = str(entry["placement"])
        if entry["module"] in ("ne16", "cluster"):
            assert reason.startswith(f"cost model: {entry['module']} cheapest")
        elif entry["kind"] == "Softmax":
            assert reason == "Softmax: not an accelerator layer"
        if entry["kind"] == "AveragePool":
            assert entry["module"] == "cluster"


def test_hardware_numerics_use_normquant_and_report_the_deviation(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    artifact = nnmap.compile("zoo:kws", target="gap9", numerics="hardware",
                             out_dir=tmp_path_factory.mktemp("hardware") / "out")
    ne16 = [entry for entry in artifact.report["layers"] if entry["module"] == "ne16"]
    assert ne16
    assert "NE16 normquant" in (artifact.path / ne16[0]["file"]).read_text()
    graph = nnmap.load_model("zoo:kws")
    inputs = random_inputs(graph, SAMPLES, seed=SEED)
    for actual, expected in zip(artifact.run_batch(inputs), run_batch(graph, inputs), strict=True):
        assert np.abs(actual.astype(int) - expected.astype(int)).max() <= 4


def test_dory_baseline_puts_every_cluster_layer_on_the_cluster_with_the_most_l1() -> None:
    graph = nnmap.load_model("zoo:kws")
    target = get_target("gap9")
    baseline = dory_cluster_only(graph, target)
    assert baseline and all(mapped.module == "cluster" for mapped in baseline)
    assert all(mapped.reason == REASON for mapped in baseline)
    ours = {planned.layer.name: planned.mapped for planned in nnmap.plan(graph, target).layers
            if planned.mapped is not None}
    compared = 0
    for mapped in baseline:
        chosen = ours[mapped.layer]
        if chosen.module == "cluster":
            assert mapped.cost.footprint[0][0][1] >= chosen.cost.footprint[0][0][1]
            compared += 1
    assert compared > 0


def test_zoo_resnet8_residual_adds_on_the_cluster_bit_exact(compiled: Compiled) -> None:
    artifact = compiled("zoo:resnet8")
    graph = nnmap.load_model("zoo:resnet8")
    inputs = random_inputs(graph, SAMPLES, seed=SEED)
    for actual, expected in zip(artifact.run_batch(inputs), run_batch(graph, inputs), strict=True):
        np.testing.assert_array_equal(actual, expected)
    adds = [entry for entry in artifact.report["layers"] if entry["kind"] == "Add"]
    assert adds and all(entry["module"] == "cluster" for entry in adds)
