"""The analytical host model calibrated from measured kernels: the fit recovers known
coefficients, every built-in core carries its fitted data, the calibrated model is closer to
the emulated Rocket core than the assumed one on kernels it was not fitted on, and the mapper's
placement follows the calibrated costs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from layer_graphs import conv_graph

import nnmap
from nnmap.hostsim.calibrate import (
    CALL,
    MAC_KINDS,
    OP_KINDS,
    TIED,
    KernelSample,
    fit,
    layer_units,
    measure_kernels,
)
from nnmap.hostsim.calibration_graphs import GraphBuilder
from nnmap.hw import Target
from nnmap.hw.host_core import HostCalibration
from nnmap.ir import AveragePool, Requant
from nnmap.mapping.host_model import FALLBACK_KIND
from nnmap.targets import get_target
from nnmap.targets.host_cores import BUILTIN_CORES, ROCKET


def test_fit_recovers_the_coefficients_measurements_were_made_of() -> None:
    rng = np.random.default_rng(3)
    truth = {CALL: 300.0, "mac:conv": 12.0, "mac:dense": 9.0, "op:add": 3.0, "op:copy": 2.5}
    truth["op:requantization"] = truth[TIED["op:requantization"]]
    samples = []
    for index in range(24):
        units = {CALL: 1.0}
        chosen = ["mac:conv", "mac:dense", "op:add", "op:copy"][index % 4]
        units[chosen] = float(rng.integers(1_000, 200_000))
        if chosen.startswith("mac:"):
            units["op:requantization"] = float(rng.integers(100, 20_000))
        cycles = sum(truth[name] * value for name, value in units.items())
        samples.append(KernelSample(f"layer_{index}", units, cycles))
    fitted = fit(samples)
    for name, value in truth.items():
        assert fitted.coefficients[name] == pytest.approx(value, rel=1e-6), name
    assert fitted.coefficients["mac:depthwise"] == 0.0  # no kernel had the unit
    assert max(fitted.relative_errors) < 1e-9


def test_a_coefficient_driven_negative_is_dropped() -> None:
    samples = [KernelSample(f"copy_{n}", {CALL: 1.0, "op:copy": float(n)}, 4.0 * n - 1.0)
               for n in (100, 1_000, 10_000)]
    fitted = fit(samples)
    assert fitted.coefficients[CALL] == 0.0
    assert fitted.coefficients["op:copy"] == pytest.approx(4.0, rel=0.01)


def test_every_builtin_core_carries_its_fitted_calibration() -> None:
    for core in BUILTIN_CORES.values():
        calibration = core.calibration
        assert calibration is not None, core.name
        assert "bench/calibrate_host.py" in calibration.source and core.name in calibration.source
        assert set(calibration.mac_cycles) == set(MAC_KINDS)
        assert set(calibration.op_cycles) == set(OP_KINDS) and FALLBACK_KIND in OP_KINDS
        assert all(value > 0 for value in calibration.mac_cycles.values())


def _relative_errors(target: Target, graph: nnmap.Graph, measured: dict[str, float]
                     ) -> list[float]:
    plan = nnmap.plan(graph, target)
    scale = target.clock_hz / ROCKET.clock_hz
    return [abs(layer.host_cycles - measured[layer.layer.name] * scale)
            / (measured[layer.layer.name] * scale)
            for layer in plan.layers if layer.layer.name in measured]


def unseen_graph() -> nnmap.Graph:
    """Six host kernels at sizes none of the calibration graphs has."""
    build = GraphBuilder(np.random.default_rng(11), "unseen", (1, 10, 10, 5))
    full = build.conv("conv_3x3", "x", 24, 3)
    depthwise = build.conv("depthwise", full, 24, 3, depthwise=True)
    summed = build.add("add", depthwise, build.conv("conv_1x1", depthwise, 24, 1))
    pooled = build.pool("average_pool", summed, AveragePool)
    return build.graph(build.dense("dense", pooled, 20))


def test_calibrated_model_is_closer_to_the_emulated_core_on_unseen_kernels(
        tmp_path: Path, record_line) -> None:
    graph = unseen_graph()
    samples = measure_kernels(ROCKET, [graph], tmp_path)
    measured = {sample.layer: sample.cycles for sample in samples}
    alone = get_target("gemmini").host_only()
    assumed = replace(alone, host_core=replace(ROCKET, calibration=None))
    before = float(np.median(_relative_errors(assumed, graph, measured)))
    after = float(np.median(_relative_errors(alone, graph, measured)))
    record_line(f"host model vs Rocket on an unseen graph: median error {before:.0%} assumed, "
                f"{after:.0%} calibrated")
    assert after < before
    assert after < 0.35
    assert set(layer_units(graph, "conv_3x3")) == {CALL, "mac:conv", "op:requantization"}


def _scaled(calibration: HostCalibration, factor: float) -> HostCalibration:
    return replace(calibration,
                   mac_cycles={k: v * factor for k, v in calibration.mac_cycles.items()},
                   op_cycles={k: v * factor for k, v in calibration.op_cycles.items()},
                   call_cycles=calibration.call_cycles * factor)


def test_the_mapper_places_layers_by_the_calibrated_host_costs() -> None:
    graph = conv_graph(np.random.default_rng(1), lambda k: Requant.from_scales(
        0.05, np.full(k, 0.002), 0.2), (8, 16, 16, 3, 1))
    target = get_target("gemmini")
    assert ROCKET.calibration is not None
    placements = {}
    for factor in (1e-4, 1e4):
        core = replace(ROCKET, calibration=_scaled(ROCKET.calibration, factor))
        layer = nnmap.plan(graph, replace(target, host_core=core)).layers[0]
        placements[factor] = layer.module
        if layer.module == "host":
            assert any("calibrated" in stage for stage in layer.host_stages)
    assert placements == {1e-4: "host", 1e4: "gemmini"}
