"""GAP9's emulated calls one by one, through the emulator library: the cluster DMA (1-D, 2-D
and a 3-D box as 2-D commands) with its timing from gap9.md, the L1 allocator, the team fork
and barrier with the per-core model, and NE16 jobs against the numpy model of ne16_model.py."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from nnmap.targets import get_target
from nnmap.targets.gap9 import ne16_model
from nnmap.targets.gap9.build import build_library
from nnmap.targets.gap9.ne16_model import Ne16Job, normquant_for, pack_weights, run_job
from nnmap.targets.gap9.ne16_timing import job_cycles

TARGET = get_target("gap9")
CLUSTER, NE16 = TARGET.module("cluster"), TARGET.module("ne16")
EXT2LOC, LOC2EXT = 1, 0
ENTRY = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


class DmaCmd(ctypes.Structure):
    _fields_ = [("done", ctypes.c_uint64), ("id", ctypes.c_uint32)]


class Task(ctypes.Structure):
    _fields_ = [
        *((name, ctypes.c_void_p) for name in ("infeat_ptr", "outfeat_ptr", "weights_ptr",
                                               "scale_ptr", "scale_shift_ptr",
                                               "scale_bias_ptr")),
        *((name, ctypes.c_uint32) for name in ("h_in", "w_in", "k_in", "h_out", "w_out",
                                               "k_out", "padding_top", "padding_left",
                                               "padding_value")),
        ("weights_offset", ctypes.c_int32),
        *((name, ctypes.c_uint32) for name in ("mode", "stride2", "output_bits")),
        ("clip_low", ctypes.c_int32), ("clip_high", ctypes.c_int32),
        ("done", ctypes.c_uint64),
    ]


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    library = ctypes.CDLL(str(build_library((CLUSTER, NE16), tmp_path_factory.mktemp("gap9"))))
    library.pi_cl_l1_malloc.restype = ctypes.c_void_p
    library.pi_cl_l1_malloc.argtypes = (ctypes.c_void_p, ctypes.c_uint32)
    library.pi_cl_l1_free.argtypes = (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint32)
    library.nnmap_gap9_error.restype = ctypes.c_char_p
    library.nnmap_gap9_now.restype = ctypes.c_uint64
    library.nnmap_gap9_layer_cycles.restype = ctypes.c_uint64
    library.ne16_job_cycles.restype = ctypes.c_uint64
    library.pi_cl_dma_cmd.argtypes = (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint32,
                                      ctypes.c_int, ctypes.POINTER(DmaCmd))
    library.pi_cl_dma_cmd_2d.argtypes = (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint32,
                                         ctypes.c_uint32, ctypes.c_uint32, ctypes.c_int,
                                         ctypes.POINTER(DmaCmd))
    library.pi_cl_team_fork.argtypes = (ctypes.c_int, ENTRY, ctypes.c_void_p)
    return library


@pytest.fixture()
def gap9(emulator: ctypes.CDLL) -> ctypes.CDLL:
    emulator.nnmap_gap9_reset()
    emulator.nnmap_gap9_layer_begin(b"test")
    return emulator


def _l1(gap9: ctypes.CDLL, size: int) -> np.ndarray:
    address = gap9.pi_cl_l1_malloc(None, size)
    assert address, gap9.nnmap_gap9_error()
    return np.ctypeslib.as_array((ctypes.c_uint8 * size).from_address(address))


def _address(array: np.ndarray) -> int:
    return int(array.ctypes.data)


def test_dma_1d_copies_and_costs_overhead_plus_bytes_over_8(gap9: ctypes.CDLL) -> None:
    source = np.arange(1000, dtype=np.uint8)
    local = _l1(gap9, 1000)
    cmd = DmaCmd()
    gap9.pi_cl_dma_cmd(_address(source), _address(local), 1000, EXT2LOC, ctypes.byref(cmd))
    # gap9.md: issue 10 (assumed) then 920 cycles of overhead (MATCH) + 1000 B / 8 B per cycle
    assert cmd.done == 10 + 920 + 125
    gap9.pi_cl_dma_wait(ctypes.byref(cmd))
    assert gap9.nnmap_gap9_now() == cmd.done
    np.testing.assert_array_equal(local, source)
    back = np.zeros(1000, dtype=np.uint8)
    gap9.pi_cl_dma_cmd(_address(back), _address(local), 1000, LOC2EXT, ctypes.byref(cmd))
    # queued behind nothing: starts at the second issue, 10 cycles after the first wait
    assert cmd.done == 1055 + 10 + 920 + 125
    np.testing.assert_array_equal(back, source)
    assert gap9.nnmap_gap9_error() is None


def test_dma_2d_gathers_rows_and_adds_a_cycle_per_row(gap9: ctypes.CDLL) -> None:
    matrix = np.arange(12 * 20, dtype=np.uint8).reshape(12, 20)
    local = _l1(gap9, 12 * 6)
    cmd = DmaCmd()
    gap9.pi_cl_dma_cmd_2d(_address(matrix[:, 5:]), _address(local), 72, 20, 6, EXT2LOC,
                          ctypes.byref(cmd))
    np.testing.assert_array_equal(local.reshape(12, 6), matrix[:, 5:11])
    assert cmd.done == 10 + 920 + 9 + 12  # gap9.md (MATCH): + 1 cycle per row of a 2-D transfer


def test_a_3d_box_moves_as_one_2d_command_per_plane(gap9: ctypes.CDLL) -> None:
    volume = np.arange(4 * 8 * 10, dtype=np.uint8).reshape(4, 8, 10)
    local = _l1(gap9, 4 * 3 * 5)
    cmd = DmaCmd()
    for plane in range(4):
        gap9.pi_cl_dma_cmd_2d(_address(volume[plane, 2:, 4:]), _address(local) + plane * 15, 15,
                              10, 5, EXT2LOC, ctypes.byref(cmd))
    np.testing.assert_array_equal(local.reshape(4, 3, 5), volume[:, 2:5, 4:9])
    # the one DMA queue serialises the four, from the first issue (10 cycles): each takes
    # 920 + ceil(15 / 8) + 3 rows, the later issues hide behind the queue
    assert cmd.done == 10 + 4 * (920 + 2 + 3)


def test_dma_to_an_address_outside_l1_is_an_error(gap9: ctypes.CDLL) -> None:
    source, target = np.zeros(16, dtype=np.uint8), np.zeros(16, dtype=np.uint8)
    gap9.pi_cl_dma_cmd(_address(source), _address(target), 16, EXT2LOC, ctypes.byref(DmaCmd()))
    assert b"not inside L1" in gap9.nnmap_gap9_error()


def test_l1_allocation_is_bounded_by_the_targets_l1(gap9: ctypes.CDLL) -> None:
    size = CLUSTER.levels[0][0].size
    assert gap9.pi_cl_l1_malloc(None, size - 64)
    assert not gap9.pi_cl_l1_malloc(None, 128)
    assert b"more L1" in gap9.nnmap_gap9_error()


def test_fork_runs_every_core_and_costs_its_slowest(gap9: ctypes.CDLL) -> None:
    seen: list[int] = []

    @ENTRY
    def entry(_: int) -> None:
        core = gap9.pi_core_id()
        seen.append(core)
        gap9.nnmap_gap9_core_work(core + 1, 64, 0)  # core 7 does 8 outputs
        gap9.pi_cl_team_barrier()

    before = gap9.nnmap_gap9_now()
    gap9.pi_cl_team_fork(8, entry, None)
    assert seen == list(range(8))
    timing = CLUSTER.timing
    per_output = -(-64 * int(timing["conv_cycles_per_32_macs"]) // 32) + timing["output_cycles"]
    assert gap9.nnmap_gap9_now() - before == timing["fork"] + 8 * per_output
    assert gap9.nnmap_gap9_error() is None


def test_barrier_outside_a_fork_is_an_error(gap9: ctypes.CDLL) -> None:
    gap9.pi_cl_team_barrier()
    assert b"outside a fork" in gap9.nnmap_gap9_error()


def test_layer_records_take_the_later_of_core_and_dma(gap9: ctypes.CDLL) -> None:
    source = np.zeros(800, dtype=np.uint8)
    gap9.pi_cl_dma_cmd(_address(source), _address(_l1(gap9, 800)), 800, EXT2LOC,
                       ctypes.byref(DmaCmd()))
    gap9.nnmap_gap9_layer_end()
    assert gap9.nnmap_gap9_layer_count() == 1
    assert gap9.nnmap_gap9_layer_cycles(0) == 10 + 920 + 100


def _job_case(mode: str, stride: int, seed: int) -> tuple[Ne16Job, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    depthwise = mode == "3x3_dw"
    size = 1 if mode == "1x1" else 3
    channels, out_channels = (32, 32) if depthwise else (20, 48)
    job = Ne16Job(mode, 7, 6, channels, 4 if stride == 1 else 3, 3, out_channels, stride,
                  (1, 0) if size == 3 else (0, 0), 131)
    weights = rng.integers(-128, 128, (out_channels, size, size, 1 if depthwise else channels),
                           dtype=np.int8)
    data = rng.integers(0, 256, (job.in_height, job.in_width, channels), dtype=np.uint8)
    return job, data, pack_weights(weights, depthwise)


def _task(job: Ne16Job, data: np.ndarray, packed: np.ndarray, out: np.ndarray,
          bits: int) -> Task:
    mode = ne16_model.MODES[job.mode]
    return Task(infeat_ptr=_address(data), outfeat_ptr=_address(out),
                weights_ptr=_address(packed), h_in=job.in_height, w_in=job.in_width,
                k_in=job.in_channels, h_out=job.out_height, w_out=job.out_width,
                k_out=job.out_channels, padding_top=job.padding[0],
                padding_left=job.padding[1], padding_value=job.padding_value,
                weights_offset=ne16_model.WEIGHT_OFFSET, mode=mode, stride2=int(job.stride == 2),
                output_bits=bits, clip_low=-128, clip_high=127)


@pytest.mark.parametrize(("mode", "stride"), [("3x3", 1), ("3x3", 2), ("1x1", 1), ("3x3_dw", 1)])
def test_ne16_job_accumulators_match_the_numpy_model(gap9: ctypes.CDLL, mode: str,
                                                     stride: int) -> None:
    job, data, packed = _job_case(mode, stride, seed=len(mode) + stride)
    l1 = _l1(gap9, data.size + 4 * job.out_height * job.out_width * job.out_channels)
    l1[: data.size] = data.reshape(-1)
    out = l1[data.size:].view(np.int32)
    task = _task(job, l1[: data.size], packed, out, 32)
    gap9.ne16_nnx_dispatch(None, ctypes.byref(task))
    gap9.ne16_nnx_resolve_wait(None, ctypes.byref(task))
    assert gap9.nnmap_gap9_error() is None
    expected = run_job(job, data, packed)
    np.testing.assert_array_equal(out.reshape(expected.shape), expected)
    cycles = job_cycles(job.mode, job.out_height, job.out_width, job.out_channels,
                        job.in_channels, 32)
    assert gap9.ne16_job_cycles(ctypes.byref(task)) == cycles
    assert gap9.nnmap_gap9_now() == NE16.timing["job_setup"] + cycles


def test_ne16_normquant_matches_the_numpy_model(gap9: ctypes.CDLL) -> None:
    from nnmap.ir import Requant

    job, data, packed = _job_case("3x3", 1, seed=3)
    channels = job.out_channels
    requant = Requant.from_scales(0.05, np.linspace(0.001, 0.004, channels), 0.8)
    bias = np.random.default_rng(1).integers(-40_000, 40_000, channels)
    normquant = normquant_for(requant, bias, -3)
    scale = np.ascontiguousarray(normquant.scale)
    shift = np.ascontiguousarray(normquant.shift)
    biases = np.ascontiguousarray(normquant.bias.astype(np.int32))
    l1 = _l1(gap9, data.size + job.out_height * job.out_width * channels)
    l1[: data.size] = data.reshape(-1)
    out = l1[data.size:].view(np.int8)
    task = _task(job, l1[: data.size], packed, out, 8)
    task.scale_ptr, task.scale_shift_ptr = _address(scale), _address(shift)
    task.scale_bias_ptr = _address(biases)
    gap9.ne16_nnx_dispatch(None, ctypes.byref(task))
    expected = normquant.apply(run_job(job, data, packed), -128, 127)
    np.testing.assert_array_equal(out.reshape(expected.shape), expected)


def test_core_conversion_add_and_pool_work_are_charged_per_core(gap9: ctypes.CDLL) -> None:
    @ENTRY
    def entry(_: int) -> None:
        gap9.nnmap_gap9_core_convert(10)  # ceil(10 / 4) words
        gap9.nnmap_gap9_core_add(gap9.pi_core_id())  # core 7: 7 elements
        gap9.nnmap_gap9_core_pool(2, 9)  # two outputs of 3x3 windows

    before = gap9.nnmap_gap9_now()
    gap9.pi_cl_team_fork(8, entry, None)
    timing = CLUSTER.timing
    slowest = 3 * timing["convert_cycles_per_4_bytes"] + 7 * timing["add_cycles"]
    slowest += 2 * (9 * timing["pool_tap_cycles"] + timing["pool_output_cycles"])
    assert gap9.nnmap_gap9_now() - before == timing["fork"] + slowest
    gap9.nnmap_gap9_core_add(1)
    assert b"outside a fork" in gap9.nnmap_gap9_error()
