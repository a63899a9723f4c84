"""The cost model against hand-computed cases on a small, round-numbered module.

The module: a 4x4 array (rows unroll C, columns unroll K), one array step per cycle, no fill;
level 0 is a 1 KiB buffer for I and W and an accumulator for O (int32 partial sums); level 1 is
DRAM at 2 B/cycle with 10 cycles per transfer. On-chip ports move 4 B/cycle.
"""

from __future__ import annotations

import pytest

from nnmap.hw import ArrayAxis, ComputeArray, ExecModule, Memory
from nnmap.ir.workload import LOOPS, Workload, conv_workload, gemm_workload
from nnmap.mapping import Mapping, cost

ARRAY = ComputeArray("pe", axes=(ArrayAxis("rows", 4, ("C",)), ArrayAxis("cols", 4, ("K",))))
SPATIAL = (("rows", "C", 4), ("cols", "K", 4))
DRAM = Memory("dram", size=1 << 20, operands=("I", "W", "O"), read_bw=2, write_bw=2, latency=10)


def small_module(acc_psums: bool = True, burst: int = 1) -> ExecModule:
    buffer = Memory("buf", size=1024, operands=("I", "W"), read_bw=4, write_bw=4)
    acc = Memory("acc", size=1024, operands=("O",), read_bw=4, write_bw=4, holds_psums=acc_psums)
    dram = Memory(
        "dram",
        size=1 << 20,
        operands=("I", "W", "O"),
        read_bw=2,
        write_bw=2,
        latency=10,
        burst_bytes=burst,
    )
    return ExecModule("toy", ARRAY, ((buffer, acc), (dram,)))


def mapping(
    tiles: dict[str, int], order: str, buffered: str = "", spatial: tuple = SPATIAL
) -> Mapping:
    full = tuple(tiles.get(loop, 1) for loop in LOOPS)
    loops = tuple(order.split())
    rest = tuple(loop for loop in LOOPS if loop not in loops)
    return Mapping(spatial, (full,), (rest + loops,), (frozenset(buffered),))


def test_a_gemm_that_fits() -> None:
    # 8x8x8 in one tile: every operand crosses once: 64 B / 2 B/cycle + 10 = 42 cycles each.
    # Compute: B 8 steps x K 8/4 x C 8/4 = 32 cycles. All serial: 32 + 3 * 42.
    result = cost(
        gemm_workload("g", 8, 8, 8), mapping({"B": 8, "K": 8, "C": 8}, "B K C"), small_module()
    )
    assert result.compute_cycles == 32
    assert result.transfer_bytes == (192,)
    assert result.transfer_cycles == (126,)
    assert result.total_cycles == 158
    assert result.fits
    # I + W = 128 B in the buffer; O as int32 partial sums 64 * 4 B in the accumulator
    assert result.footprint[0] == (("buf", 128, 1024), ("acc", 256, 1024))
    assert result.spatial_utilization == 1.0
    assert result.utilization == pytest.approx(512 / (158 * 16))


def test_a_gemm_whose_partial_sums_spill() -> None:
    # Tiles B 4, C 4 (K 8 whole) with the reduction loop C outermost: the two output tiles are
    # written out after the first C half as int32 partial sums, read back, and finished.
    result = cost(
        gemm_workload("g", 8, 8, 8), mapping({"B": 4, "K": 8, "C": 4}, "C B"), small_module()
    )
    # I: each (B, C) tile once: 64 B / 2 + 4 transfers * 10 = 72
    # W: C is its innermost relevant loop, B inside it: each of 2 tiles once: 32 + 2 * 10 = 52
    # O: out: 64 B final + 64 * 4 B partial; back: 64 * 4 B; (2*2 - 1) * 2 = 6 transfers:
    #    320 / 2 + 256 / 2 + 60 = 348
    assert result.transfer_bytes == (64 + 64 + 320 + 256,)
    assert result.transfer_cycles == (72 + 52 + 348,)
    # compute: B 2 tiles x 4 steps, K 2 steps, C 2 tiles x 1 step = 32
    assert result.compute_cycles == 32
    assert result.total_cycles == 32 + 72 + 52 + 348


def test_keeping_the_reduction_inside_avoids_the_spill() -> None:
    # Same tiles with C innermost: each output tile stays until it is complete.
    result = cost(
        gemm_workload("g", 8, 8, 8), mapping({"B": 4, "K": 8, "C": 4}, "B C"), small_module()
    )
    # I 72 as before; W is refetched for each B tile: 2 * 64 B / 2 + 4 * 10 = 104;
    # O: 64 B / 2 + 2 * 10 = 52
    assert result.transfer_cycles == (72 + 104 + 52,)


def test_strided_convolution_halo() -> None:
    # 1 channel, 4 output rows, 3x1 kernel, stride 2: input rows (4-1)*2 + 3 = 9.
    # Two tiles of 2 output rows each read (2-1)*2 + 3 = 5 rows: 10 rows, one more than the layer.
    layer = conv_workload(
        "c",
        batch=1,
        in_channels=1,
        out_channels=1,
        out_height=4,
        out_width=1,
        kernel=(3, 1),
        stride=(2, 1),
    )
    module = ExecModule("toy", ARRAY, ((Memory("buf", 1024, ("I", "W", "O"), 4, 4),), (DRAM,)))
    result = cost(
        layer,
        mapping({"OY": 2, "FY": 3}, "OY", spatial=(("rows", "C", 1), ("cols", "K", 1))),
        module,
    )
    # I: 10 B / 2 + 2 * 10 = 25; W: 3 B / 2 + 10 = 11.5; O: 4 B / 2 + 2 * 10 = 22
    assert result.transfer_bytes == (10 + 3 + 4,)
    assert result.transfer_cycles == (25 + 11.5 + 22,)
    # compute: OY 4 steps x FY 3 steps on a 1x1-used array = 12
    assert result.compute_cycles == 12
    assert result.spatial_utilization == pytest.approx(12 / (12 * 16))


@pytest.mark.parametrize(
    ("buffered", "expected"),
    [
        # single: 32 + I 72 + W 42 + O 72
        ("", 32 + 72 + 42 + 72),
        # I and O doubled: first tiles 18 + 18, then max(compute 32, hidden 54 + 54), then W 42
        ("IO", 36 + 108 + 42),
    ],
)
def test_double_buffered_and_single_buffered_transfers(buffered: str, expected: float) -> None:
    # B in 4 tiles of 2 rows: I and O move in 4 transfers of 16 B (16/2 + 10 = 18 cycles each),
    # W (64 B) once.
    result = cost(
        gemm_workload("g", 8, 8, 8),
        mapping({"B": 2, "K": 8, "C": 8}, "B", buffered),
        small_module(),
    )
    assert result.compute_cycles == 32
    assert result.transfer_cycles == (72 + 42 + 72,)
    assert result.total_cycles == expected
    doubled = 2 if "I" in buffered else 1
    assert result.footprint[0][0] == ("buf", doubled * 16 + 64, 1024)


def test_edge_tiles_waste_array_lanes() -> None:
    # N = 10 output features on 4 columns: whole, ceil(10/4) = 3 steps; in tiles of 6 and 4,
    # 2 + 1 = 3 steps; in tiles of 5 and 5, 2 + 2 = 4 steps.
    layer = gemm_workload("g", 1, 10, 4)
    module = small_module()
    steps = {
        tile: cost(layer, mapping({"K": tile, "C": 4}, "K"), module).compute_cycles
        for tile in (10, 6, 5)
    }
    assert steps == {10: 3, 6: 3, 5: 4}


def test_short_rows_cost_whole_bursts() -> None:
    # C tiles of 4 of 8 bytes: each input row moves 4 B but costs an 8 B burst.
    layer = gemm_workload("g", 8, 4, 8)
    result = cost(layer, mapping({"B": 8, "K": 4, "C": 4}, "C"), small_module(burst=8))
    # I: 64 B in rows of 4 -> 16 rows * 8 B = 128 B; W (K 4 x C 4, rows of 4 B) likewise
    # 32 B -> 64 B; O: K is whole, so its 32 B are one contiguous run of 4 bursts: 32 B
    assert result.transfer_bytes == (128 + 64 + 32,)


def test_overflow_is_reported_not_asserted() -> None:
    result = cost(
        gemm_workload("g", 32, 32, 32), mapping({"B": 32, "K": 32, "C": 32}, "B"), small_module()
    )
    assert not result.fits
    assert result.overflows() == ["buf (2048 > 1024 B)", "acc (4096 > 1024 B)"]


def test_energy_where_the_target_gives_it() -> None:
    array = ComputeArray("pe", axes=ARRAY.axes, mac_energy_pj=0.5)
    buffer = Memory("buf", 1024, ("I", "W", "O"), 4, 4, energy_pj_per_byte=1.0)
    dram = Memory("dram", 1 << 20, ("I", "W", "O"), 2, 2, energy_pj_per_byte=10.0)
    module = ExecModule("toy", array, ((buffer,), (dram,)))
    result = cost(gemm_workload("g", 8, 8, 8), mapping({"B": 8, "K": 8, "C": 8}, "B"), module)
    # 512 MACs * 0.5 + 192 B * (1 + 10)
    assert result.energy_pj == 512 * 0.5 + 192 * 11
    assert (
        cost(
            gemm_workload("g", 8, 8, 8), mapping({"B": 8, "K": 8, "C": 8}, "B"), small_module()
        ).energy_pj
        is None
    )


def test_weight_stationary_reload_and_fill() -> None:
    # A weight-stationary array: each 4x4 weight block takes max(rows streamed, 8) cycles;
    # each innermost tile pays fill 3 + drain 2.
    array = ComputeArray(
        "ws", axes=ARRAY.axes, stationary="W", reload_cycles=8, fill_cycles=3, drain_cycles=2
    )
    module = ExecModule("ws", array, small_module().levels)
    layer = gemm_workload("g", 6, 8, 8)
    # B tiles of 2: 3 tiles; per tile 4 blocks (K 2 x C 2) x max(2 rows, 8) = 32 -> 96, + 3 * 5
    result = cost(layer, mapping({"B": 2, "K": 8, "C": 8}, "B"), module)
    assert result.compute_cycles == 3 * 4 * 8 + 3 * 5
    # whole B: 4 blocks x max(6, 8) = 32, + 5
    assert cost(layer, mapping({"B": 6, "K": 8, "C": 8}, "B"), module).compute_cycles == 37


def test_workloads_are_validated() -> None:
    with pytest.raises(ValueError, match="loop K has size < 1"):
        Workload("w", "dense", {"B": 1, "K": 0, "C": 1, "OY": 1, "OX": 1, "FY": 1, "FX": 1})
