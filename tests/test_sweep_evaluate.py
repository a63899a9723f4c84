"""The evaluation of one design point: cost model, emulator, area proxy, failures."""

from __future__ import annotations

import pytest

from nnmap.sweep import area_proxy, evaluate_point
from nnmap.sweep.evaluate import FAILED, OK
from nnmap.targets import get_target

MODEL_TOLERANCE = 0.10  # DESIGN.md: the cost model stays within 10% of the emulator


def test_area_proxy_counts_array_lanes_and_on_chip_memories_only() -> None:
    target = get_target("gemmini")
    gemmini = target.accelerators[0]
    lanes, sram = area_proxy(target)
    assert lanes == gemmini.array.lanes + target.host.array.lanes
    scratchpad, accumulator = gemmini.levels[0]
    assert sram >= scratchpad.size + accumulator.size
    assert sram < min(memory.size for memory in target.shared)  # DRAM is not on chip


def test_cost_model_point_splits_its_cycles() -> None:
    point = evaluate_point("zoo:kws", "gemmini")
    assert point.status == OK and point.source == "cost model"
    assert point.accelerator_cycles and point.host_cycles  # depthwise and pooling stay on host
    assert point.total_cycles == point.accelerator_cycles + point.host_cycles


@pytest.mark.slow
def test_emulated_point_agrees_with_the_cost_model_on_the_accelerator() -> None:
    modelled = evaluate_point("zoo:autoencoder", "gemmini")
    emulated = evaluate_point("zoo:autoencoder", "gemmini", emulate=True)
    assert emulated.status == OK and emulated.source == "emulator"
    assert modelled.accelerator_cycles and emulated.accelerator_cycles
    error = abs(emulated.accelerator_cycles - modelled.accelerator_cycles)
    assert error <= MODEL_TOLERANCE * emulated.accelerator_cycles
    assert emulated.processing_elements == modelled.processing_elements


@pytest.mark.parametrize("model, spec, named", [
    ("no_such_model.tflite", "gemmini", "no_such_model.tflite"),
    ("zoo:kws", "no_such_target", "no_such_target"),
])
def test_a_user_error_is_a_failed_point_with_its_reason(model: str, spec: str,
                                                        named: str) -> None:
    point = evaluate_point(model, spec)
    assert point.status == FAILED and named in point.reason
    assert point.total_cycles is None
