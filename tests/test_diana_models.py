"""KWS and the anomaly-detection autoencoder of MLPerf Tiny on DIANA (VWW and ResNet: their own
files): bit-identical with TFLite Micro in exact numerics (50 random inputs), hardware
numerics' deviation measured, the cost model within 10% of the
emulator on the digital layers, and the CLI mapping for the target."""

from __future__ import annotations

import pytest
from conftest import shared_file
from diana_models import check_bit_exact, diana_artifact

import nnmap
from nnmap.codegen.deviation import Deviation
from nnmap.plan.plan import Plan
from nnmap.targets import get_target
from nnmap.targets.diana.baseline import dory_mappings
from nnmap.verify import random_inputs, tflite_micro_outputs


@pytest.mark.parametrize("name", ["kws_ref_model", "ad01_int8"])
def test_mlperf_tiny_model_bit_exact_with_tflite_micro_on_diana(
        name: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_bit_exact(name, tmp_path_factory)


def test_hardware_numerics_deviation_is_measured_and_bounded(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    path = shared_file("models", "mlperf_tiny", "ad01_int8.tflite")
    artifact = diana_artifact("ad01_int8", "hardware", tmp_path_factory)
    graph = nnmap.load_model(path)
    inputs = random_inputs(graph, 10, seed=3)
    expected = tflite_micro_outputs(path, inputs, len(graph.outputs))
    deviation = Deviation.between(expected, artifact.run_batch(inputs))
    assert 0 < deviation.max_abs <= 255  # the array's shifts are not TFLite's scales
    exact = diana_artifact("ad01_int8", "exact", tmp_path_factory).report["latency"]
    hardware = artifact.report["latency"]
    assert hardware["host_cycles"] < exact["host_cycles"]  # no requantization on the host


def test_cost_model_within_10_percent_of_the_emulator(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    errors = []
    for name in ("kws_ref_model", "ad01_int8"):
        artifact = diana_artifact(name, "exact", tmp_path_factory)
        graph = nnmap.load_model(shared_file("models", "mlperf_tiny", f"{name}.tflite"))
        emulated = artifact.measure_cycles([x[:1] for x in random_inputs(graph, 1, seed=0)])
        for layer in artifact.report["layers"]:
            if layer["module"] == "digital":
                errors.append(abs(layer["modelled_cycles"] - emulated[layer["name"]])
                              / emulated[layer["name"]])
    assert len(errors) >= 15
    assert sum(error <= 0.10 for error in errors) >= 0.9 * len(errors)


def _modelled(plan: Plan) -> float:
    return sum((layer.accelerator_cycles or 0.0) + layer.host_cycles for layer in plan.layers)


def test_nnmap_placement_is_no_slower_than_the_dory_style_one() -> None:
    graph = nnmap.load_model(shared_file("models", "mlperf_tiny", "kws_ref_model.tflite"))
    target = get_target("diana")
    ours = nnmap.plan(graph, target, "exact")
    dory = nnmap.plan(graph, target, "exact", dory_mappings(graph, target, "exact"))
    assert _modelled(ours) <= _modelled(dory)
    first = next(layer for layer in ours.layers if layer.layer.kind == "Conv2D")
    assert first.module == "host" and "kernel 10x4 is not supported" in first.reason


def test_residual_adds_run_on_the_array_in_hardware_numerics_only() -> None:
    graph = nnmap.load_model(shared_file("models", "mlperf_tiny",
                                         "pretrainedResnet_quant.tflite"))
    exact = {layer.layer.name: layer for layer in nnmap.plan(graph, "diana", "exact").layers}
    hardware = nnmap.plan(graph, "diana", "hardware")
    adds = [layer for layer in hardware.layers if layer.layer.kind == "Add"]
    assert adds and all(layer.module == "digital" for layer in adds)
    for layer in adds:
        assert exact[layer.layer.name].module == "host"
        assert "rescales each input by its own multiplier" in exact[layer.layer.name].reason


def test_cli_maps_for_diana() -> None:
    from typer.testing import CliRunner

    from nnmap.cli import build_app

    path = str(shared_file("models", "mlperf_tiny", "ad01_int8.tflite"))
    mapped = CliRunner().invoke(build_app(), ["map", path, "--target", "diana", "--json"])
    assert mapped.exit_code == 0, mapped.output
    assert '"digital"' in mapped.output
