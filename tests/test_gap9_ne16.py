"""NE16's numpy model and timing: the weight bit planes, a job's arithmetic against a direct
convolution, the normquant exactness proof, and DORY's Ne16PerfModel (as gap9.md states it)
against cases worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from nnmap.ir import Requant
from nnmap.targets.gap9.ne16_model import (
    Ne16Job,
    normquant_is_exact,
    pack_weights,
    run_job,
    unpack_weights,
)
from nnmap.targets.gap9.ne16_timing import block_cycles, job_cycles, output_cycles


def _direct(data: np.ndarray, weights: np.ndarray, job: Ne16Job) -> np.ndarray:
    """A plain convolution of uint8 ``data`` (padding ``padding_value``) by int8 OHWI weights."""
    size, (top, left) = job.kernel, job.padding
    out = np.zeros((job.out_height, job.out_width, job.out_channels), dtype=np.int64)
    for oy in range(job.out_height):
        for ox in range(job.out_width):
            for k in range(job.out_channels):
                total = 0
                for fy in range(size):
                    for fx in range(size):
                        y, x = oy * job.stride + fy - top, ox * job.stride + fx - left
                        inside = 0 <= y < job.in_height and 0 <= x < job.in_width
                        if job.mode == "3x3_dw":
                            value = data[y, x, k] if inside else job.padding_value
                            total += int(value) * int(weights[k, fy, fx, 0])
                            continue
                        pixel = data[y, x] if inside else np.full(job.in_channels,
                                                                   job.padding_value)
                        total += int(pixel.astype(np.int64) @ weights[k, fy, fx].astype(np.int64))
                out[oy, ox, k] = total
    return out


def test_weight_bit_planes_round_trip_with_channels_padded_to_16() -> None:
    weights = np.random.default_rng(0).integers(-128, 128, (5, 3, 3, 20), dtype=np.int8)
    packed = pack_weights(weights, depthwise=False)
    assert packed.size == 5 * 2 * 8 * 9 * 2  # K x Cin blocks x bits x taps x 16 bits
    unpacked = unpack_weights(packed, 5, 2, 9)
    np.testing.assert_array_equal(unpacked[:, :, :20] - 128, weights.reshape(5, 9, 20))
    assert not unpacked[:, :, 20:].any()


@pytest.mark.parametrize(("mode", "stride"), [("3x3", 1), ("3x3", 2), ("1x1", 1), ("3x3_dw", 1)])
def test_a_job_is_the_direct_convolution(mode: str, stride: int) -> None:
    rng = np.random.default_rng(stride)
    depthwise, size = mode == "3x3_dw", 1 if mode == "1x1" else 3
    channels = 18
    job = Ne16Job(mode, 5, 6, channels, 5 if stride == 1 else 3, 3, channels, stride,
                  (1, 1) if size == 3 else (0, 0), 140)
    weights = rng.integers(-128, 128, (channels, size, size, 1 if depthwise else channels),
                           dtype=np.int8)
    data = rng.integers(0, 256, (5, 6, channels), dtype=np.uint8)
    result = run_job(job, data, pack_weights(weights, depthwise))
    np.testing.assert_array_equal(result, _direct(data, weights, job))


def test_normquant_is_proven_exact_only_where_it_is() -> None:
    # s_in * s_w / s_out = 1/2: TFLite's doubling high multiply by 2**30 rounds half up, as
    # normquant's (acc * 128 + 128) >> 8 does, on every accumulator
    half = Requant.from_scales(1.0, np.array([0.5]), 1.0)
    assert normquant_is_exact(half, np.array([7]), 2, bound=20_000, low=-128, high=127)
    # 2**-7: TFLite rounds twice (63 / 128 -> 32 / 64 -> 1), normquant once (-> 0)
    twice = Requant.from_scales(1.0, np.array([2.0**-7]), 1.0)
    assert not normquant_is_exact(twice, np.array([64]), 0, bound=50, low=-128, high=127)
    typical = Requant.from_scales(0.05, np.array([0.0031]), 0.7)
    assert not normquant_is_exact(typical, np.array([100]), 3, bound=5000, low=-128, high=127)


def test_dory_block_costs_worked_by_hand() -> None:
    # gap9.md: 3x3: load 6 + 5x5 x ceil(16*8/256) = 31, matvec 6 + k*8, offset 6, index 2
    assert block_cycles("3x3", 32) == 31 + (6 + 256) + 6 + 2
    # 1x1: load 10 + 3x3 x 1 = 19, matvec 6 + k
    assert block_cycles("1x1", 32) == 19 + (6 + 32) + 6 + 2
    # depthwise: weight offset 6 + k
    assert block_cycles("3x3_dw", 16) == 31 + (6 + 128) + (6 + 16) + 2
    # normquant ceil(k/4) + 9 + ceil(k/4) + 8 + ceil(k/8); stream-out 3 + 9 x ceil(k*8/256) + 1
    assert output_cycles(32, 8) == (8 + 9 + 8 + 8 + 4) + (3 + 9 + 1)
    assert output_cycles(32, 32) == 3 + 9 * 4 + 1  # accumulators out: 32-bit stream, no normquant


def test_dory_job_costs_worked_by_hand() -> None:
    # 6x6 outputs = 4 patches; K 40 = blocks of 32 and 8; C 20 = 2 blocks of 16
    per_32 = 2 * (31 + 262 + 8) + (8 + 9 + 8 + 8 + 4) + 13
    per_8 = 2 * (31 + (6 + 64) + 8) + (2 + 9 + 2 + 8 + 1) + 13
    assert job_cycles("3x3", 6, 6, 40, 20, 8) == 4 * (per_32 + per_8)
    # the DORY model's peak (gap9.md): about 138 MAC/cycle in 3x3 mode, 71 in 1x1, 6 depthwise
    big = 3 * 3 * 32 * 512 * 9 / job_cycles("3x3", 3, 3, 32, 512, 8)
    assert 135 < big < 139
    assert 69 < 3 * 3 * 32 * 512 / job_cycles("1x1", 3, 3, 32, 512, 8) < 72
    assert 5 < 3 * 3 * 16 * 9 / job_cycles("3x3_dw", 3, 3, 16, 16, 8) < 6.5
