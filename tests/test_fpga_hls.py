"""The HLS model: FlexCL's II and latency formulas on loops analysed by hand, the layer and
design estimates, and the mapper's choices within the device."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from fpga_models import small_graph

from nnmap.errors import MappingError
from nnmap.targets.stratix10.device import STRATIX10_SX2800
from nnmap.targets.stratix10.hls import pipelined_loop, recurrence_ii, resource_ii
from nnmap.targets.stratix10.network import HEADROOM, choose, estimate
from nnmap.targets.stratix10.options import ALL, BASE, SWITCHES

PORTS = {"local": 2, "global": 64}


def test_pipelined_dot_product_issues_one_iteration_per_cycle() -> None:
    # acc += a[i] * b[i]: a and b in two dual-port memories, acc a register (add latency 1)
    loop = pipelined_loop(1024, 12, {"a": 1, "b": 1}, {"a": 2, "b": 2}, recurrence=1)
    assert loop.ii == 1
    assert loop.cycles == (1024 - 1) * 1 + 12


def test_unrolled_accumulation_is_bound_by_its_carried_dependence() -> None:
    # acc in a __local word: load, add, store = 5 cycles carried to the next iteration;
    # unrolling by 8 leaves that cycle in every (wider) iteration: 1024 / 8 iterations at II 5
    loop = pipelined_loop(1024, 20, {"local": 1}, PORTS, recurrence=5, unroll=8)
    assert (loop.trip, loop.ii) == (128, 5)
    assert loop.cycles == (128 - 1) * 5 + 20
    assert recurrence_ii(5, distance=2) == 3  # a dependence two iterations apart


def test_loop_limited_by_one_memory_port() -> None:
    # four reads per iteration from one single-port memory: one read per cycle
    assert resource_ii({"m": 4}, {"m": 1}) == 4
    loop = pipelined_loop(100, 10, {"m": 1}, {"m": 1}, unroll=4)
    assert (loop.trip, loop.ii) == (25, 4)
    assert loop.cycles == (25 - 1) * 4 + 10
    # the same loop on a dual-port memory: half the interval
    assert pipelined_loop(100, 10, {"m": 1}, {"m": 2}, unroll=4).ii == math.ceil(4 / 2)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return small_graph(tmp_path_factory.mktemp("fpga-hls"))[1]


def test_base_accumulates_through_global_memory(small) -> None:  # type: ignore[no-untyped-def]
    base = estimate(small, BASE, {}, STRATIX10_SX2800)
    conv = next(layer for layer in base.layers if layer.index == 1)
    accumulate, requantize = conv.kernels
    (loop,) = accumulate.loops  # 8x8 outputs x 8 channels, 3x3 window, 3 input channels
    assert loop.ii == STRATIX10_SX2800.global_memory_latency
    assert (loop.trip, loop.outer) == (3, 8 * 8 * 8 * 9)
    assert requantize.loops[0].ii == 1


def test_mapper_unrolls_within_the_device_and_every_switch_counts(small) -> None:  # type: ignore[no-untyped-def]
    device = STRATIX10_SX2800
    choices = choose(small, ALL, device)
    assert any(choice.unroll > 1 for choice in choices.values())
    optimized = estimate(small, ALL, choices, device)
    base = estimate(small, BASE, {}, device)
    assert optimized.fits and all(v <= HEADROOM for v in optimized.utilization().values())
    assert base.latency_seconds / optimized.latency_seconds > 10
    without_unroll = estimate(small, ALL.without("unroll"), choose(
        small, ALL.without("unroll"), device), device)
    assert without_unroll.latency_seconds > optimized.latency_seconds
    assert set(SWITCHES) >= {"unroll", "tiling", "fusion", "cached_writes", "channels",
                             "autorun", "concurrent_queues"}


def test_mapper_stays_within_a_small_device(small) -> None:  # type: ignore[no-untyped-def]
    tiny = replace(STRATIX10_SX2800, dsp_blocks=60, alms=400_000)
    choices = choose(small, ALL, tiny)
    assert estimate(small, ALL, choices, tiny).fits
    roomy = choose(small, ALL, STRATIX10_SX2800)
    assert sum(c.unroll for c in choices.values()) < sum(c.unroll for c in roomy.values())


def test_a_design_too_big_for_the_device_is_refused(small) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MappingError, match="does not fit the Intel Stratix 10 SX 2800 even "
                       "without unrolling: .* of its alm blocks"):
        choose(small, ALL, replace(STRATIX10_SX2800, alms=150_000))
