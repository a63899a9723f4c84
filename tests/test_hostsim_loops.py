"""Hand-written loops (tests/hostsim_loops/counted_loop.c) on every built-in host core: the
instructions by class, stalls, branch directions and cache misses counted by hand from the
assembly match the emulator's, and so do the cycles priced with the core's costs."""

from __future__ import annotations

import struct
from dataclasses import replace
from pathlib import Path

import pytest

from nnmap.errors import TargetError
from nnmap.hostsim import HostMachine, HostSimulationError, cross_compile, emulate
from nnmap.hw.host_core import DataCache, HostCore
from nnmap.targets.host_cores import BUILTIN_CORES, ROCKET

LOOPS = Path(__file__).parent / "hostsim_loops" / "counted_loop.c"
WORD, BYTE, ITERATIONS = 7, -3, 10


def wrap32(value: int) -> int:
    """``value`` as a signed 32-bit int."""
    value &= 0xFFFF_FFFF
    return value - (1 << 32) if value & 0x8000_0000 else value


@pytest.fixture(scope="module", params=sorted(BUILTIN_CORES))
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    core = BUILTIN_CORES[request.param]
    return core, cross_compile(core, [LOOPS], tmp_path_factory.mktemp(core.name))


def test_counted_loop_matches_the_hand_count(built: tuple[HostCore, Path]) -> None:
    core, image = built
    n = ITERATIONS
    buffer = struct.pack("<ibxxxi", WORD, BYTE, n)
    run = emulate(image, core, "counted_loop", [buffer], [])
    expected_result = 0
    for _ in range(n):
        expected_result = wrap32((expected_result + WORD + BYTE) * WORD)
    assert run.return_value == expected_result
    loop = run.cycles.of("counted_loop")
    assert loop.classes == {
        "alu": 2 + 3 * n,
        "load": 1 + n,
        "load_subword": n,
        "multiply": n,
        "branch": n,
        "indirect_jump": 1,
    }
    cached = core.data_cache is not None
    assert loop.events == {
        "load_use": n,
        "load_subword_use": 0,
        "branch_taken": n - 1,
        "branch_not_taken": 1,
        "branch_mispredict": 1,
        "extra_registers": 0,
        "cache_accesses": 1 + 2 * n if cached else 0,
        "cache_misses": 1 if cached else 0,
    }
    costs = core.costs
    miss = core.data_cache.miss_penalty if core.data_cache is not None else 0
    assert loop.cycles == pytest.approx(
        (2 + 3 * n) * costs.alu
        + (1 + n) * costs.load
        + n * costs.load_subword
        + n * costs.multiply
        + (n - 1) * costs.branch_taken
        + costs.branch_not_taken
        + costs.branch_mispredict
        + costs.indirect_jump
        + n * costs.load_use_stall
        + miss
    )
    assert run.cycles.total == loop.cycles
    assert run.cycles.instructions == 4 + 7 * n


def test_a_call_that_never_returns_is_stopped(built: tuple[HostCore, Path]) -> None:
    core, image = built
    with HostMachine(image, core) as machine:
        with pytest.raises(HostSimulationError, match="did not return within 1000 basic blocks"):
            machine.call("spin", max_blocks=1000)
        buffer = struct.pack("<ibxxxi", WORD, BYTE, 1)
        assert machine.call("counted_loop", [buffer]).return_value == (WORD + BYTE) * WORD


@pytest.mark.parametrize(("lines", "misses"), [(4, 4), (8, 16)])
def test_cache_walk_misses_follow_lru(lines: int, misses: int, tmp_path: Path) -> None:
    # 2 sets x 2 ways of 64 bytes: 4 lines fit (first touch only), 8 lines evict each other
    core = replace(ROCKET, data_cache=DataCache(sets=2, ways=2, line_bytes=64, miss_penalty=10))
    image = cross_compile(core, [LOOPS], tmp_path)
    buffer = struct.pack("<i", lines) + bytes(lines * 64)
    walk = emulate(image, core, "cache_walk", [buffer], []).cycles.of("cache_walk")
    assert walk.events["cache_accesses"] == 1 + 2 * lines
    assert walk.events["cache_misses"] == misses
    assert walk.classes["load"] == 1 + 2 * lines


def test_host_core_rejects_bad_data() -> None:
    with pytest.raises(TargetError, match="isa"):
        replace(ROCKET, isa="x86")
    with pytest.raises(TargetError, match="alu"):
        replace(ROCKET, costs=replace(ROCKET.costs, alu=-1))
    with pytest.raises(TargetError, match="ways"):
        replace(ROCKET, data_cache=DataCache(sets=1, ways=0, line_bytes=64, miss_penalty=1))
