"""The search against exhaustive enumeration of the same space, and the fit of what it returns."""

from __future__ import annotations

from itertools import chain, combinations, permutations, product
from math import inf

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnmap.errors import MappingError
from nnmap.hw import ArrayAxis, ComputeArray, ExecModule, Memory
from nnmap.ir.workload import LOOPS, Workload, conv_workload, gemm_workload
from nnmap.mapping import Mapping, cost, search_result
from nnmap.mapping.problem import problem_of
from nnmap.mapping.space import spatial_options, tile_candidates
from nnmap.targets import get_target

AXES = (ArrayAxis("rows", 4, ("C", "FY")), ArrayAxis("cols", 4, ("K",)))
DRAM = Memory(
    "dram", size=1 << 20, operands=("I", "W", "O"), read_bw=2, write_bw=2, latency=10, burst_bytes=4
)


def toy(stationary: bool) -> ExecModule:
    """A small module whose memories force tiling: 48 B for I and W, 64 B of int32 sums."""
    array = (
        ComputeArray("ws", AXES, stationary="W", reload_cycles=6, fill_cycles=3, drain_cycles=2)
        if stationary
        else ComputeArray("pe", AXES)
    )
    buffer = Memory("buf", size=48, operands=("I", "W"), read_bw=4, write_bw=4)
    acc = Memory("acc", size=64, operands=("O",), read_bw=4, write_bw=2, holds_psums=True)
    return ExecModule("toy", array, ((buffer, acc), (DRAM,)), timing={"layer_overhead": 5})


def exhaustive_best(workload: Workload, module: ExecModule) -> float:
    """The least cost over the whole candidate space, every loop order included (no pruning);
    on a module whose code generator runs the layer as a command stream, the stream's cost."""
    problem = problem_of(workload, module)
    operands = ("I", "W", "O")
    subsets = [
        frozenset(s) for s in chain.from_iterable(combinations(operands, n) for n in range(4))
    ]
    best = inf
    for spatial in spatial_options(problem):
        unroll = Mapping(spatial, (), (), ()).unrolling()
        candidates = [
            tile_candidates(size, unroll[loop])
            for loop, size in zip(LOOPS, problem.sizes, strict=True)
        ]
        for tile in product(*candidates):
            active = [loop for loop, t, n in zip(LOOPS, tile, problem.sizes, strict=True) if t < n]
            idle = tuple(loop for loop in LOOPS if loop not in active)
            for order in permutations(active):
                for buffered in subsets:
                    mapping = Mapping(spatial, (tile,), (idle + order,), (buffered,))
                    result = cost(workload, mapping, module)
                    if result.fits:
                        best = min(best, result.total_cycles)
    return best


def check_optimal(workload: Workload, module: ExecModule) -> None:
    found = search_result(workload, module, budget_s=30)
    assert found.complete
    assert found.cost.fits
    assert found.cost == cost(workload, found.mapping, module)
    assert found.cost.total_cycles == pytest.approx(exhaustive_best(workload, module), rel=1e-9)


@settings(max_examples=12, deadline=None)
@given(m=st.integers(1, 8), n=st.integers(1, 8), k=st.integers(1, 8), stationary=st.booleans())
def test_search_finds_the_exhaustive_optimum_of_small_gemms(
    m: int, n: int, k: int, stationary: bool
) -> None:
    check_optimal(gemm_workload("g", m, n, k), toy(stationary))


@settings(max_examples=8, deadline=None)
@given(k=st.integers(1, 4), oy=st.integers(1, 6), fy=st.integers(1, 3), stride=st.integers(1, 2))
def test_search_finds_the_exhaustive_optimum_of_small_convs(
    k: int, oy: int, fy: int, stride: int
) -> None:
    layer = conv_workload(
        "c",
        batch=1,
        in_channels=1,
        out_channels=k,
        out_height=oy,
        out_width=1,
        kernel=(fy, 1),
        stride=(stride, 1),
    )
    check_optimal(layer, toy(stationary=False))


@settings(max_examples=3, deadline=None)
@given(m=st.integers(1, 6), n=st.integers(1, 6), k=st.integers(1, 6))
def test_search_finds_the_exhaustive_optimum_on_vta(m: int, n: int, k: int) -> None:
    check_optimal(gemm_workload("g", m, n, k), get_target("vta").module("vta"))


MODULES = [
    ("gemmini", "gemmini"),
    ("vta", "vta"),
    ("diana", "digital"),
    ("gap9", "cluster"),
    ("gap9", "ne16"),
    ("host", "mcu"),
]


@settings(max_examples=12, deadline=None)
@given(
    where=st.sampled_from(MODULES),
    k=st.sampled_from([16, 32, 48, 96]),
    c=st.integers(1, 200),
    size=st.integers(1, 40),
    kernel=st.sampled_from([1, 3]),
    stride=st.integers(1, 2),
)
def test_every_mapping_fits_every_memory(
    where: tuple[str, str], k: int, c: int, size: int, kernel: int, stride: int
) -> None:
    module = get_target(where[0]).module(where[1])
    layer = conv_workload(
        "c",
        batch=1,
        in_channels=c,
        out_channels=k,
        out_height=size,
        out_width=size,
        kernel=(kernel, kernel),
        stride=(stride, stride),
    )
    try:
        found = search_result(layer, module, budget_s=1.0)
    except MappingError as error:  # too big for this module's outermost memory
        assert "split the layer" in str(error)
        return
    assert found.cost.fits, found.cost.overflows()
    assert found.cost == cost(layer, found.mapping, module)


def test_three_level_hierarchy() -> None:
    array = ComputeArray("pe", AXES)
    l1 = Memory("l1", size=64, operands=("I", "W", "O"), read_bw=8, write_bw=8)
    l2 = Memory("l2", size=512, operands=("I", "W", "O"), read_bw=4, write_bw=4, latency=2)
    module = ExecModule("deep", array, ((l1,), (l2,), (DRAM,)))
    found = search_result(gemm_workload("g", 8, 6, 8), module, budget_s=20)
    assert found.complete and found.cost.fits
    assert len(found.mapping.tiles) == 2
    assert all(inner <= outer for inner, outer in zip(*found.mapping.tiles, strict=True))


def test_a_module_that_refuses_the_layer_says_why() -> None:
    with pytest.raises(MappingError, match="layer g: module analog cannot run it: the analog"):
        search_result(gemm_workload("g", 4, 16, 16), get_target("diana").module("analog"))


def test_a_layer_too_big_for_the_outer_memory_says_what_to_do() -> None:
    with pytest.raises(
        MappingError,
        match=r"layer big: its tensors need \d+ B but digital's "
        r"l2-accel holds 458752 B; split the layer",
    ):
        search_result(gemm_workload("big", 1, 1024, 1024), get_target("diana").module("digital"))
