"""NE16 as numpy: its weight layout, one job's arithmetic, its normquant and DORY's timing.

Weights (our layout, after the pulp-nnx description in gap9.md): per output channel (a depthwise
job: per block of 16 channels), per block of 16 input channels (Cin padded to 16), per bit 0..7,
per kernel tap, two bytes whose bit ``i`` is that bit of channel ``i``'s weight plus 128 (uint8).
The engine adds ``weights_offset`` (-128) times the input sum back. Inputs are uint8: int8 data
plus 128, padding reads ``padding_value``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnmap.ir import Requant
from nnmap.ir.quant import multiply_by_quantized_multiplier

LANES = 16  # gap9.md: blocks of 16 input channels
BITS = 8  # gap9.md: 8-bit weights streamed bit-serially
WEIGHT_OFFSET = -128  # int8 weights stored as uint8 with +128
MODES = {"3x3": 0, "1x1": 1, "3x3_dw": 2}


def blocks(channels: int) -> int:
    return -(-channels // LANES)


def pack_weights(weights: np.ndarray, depthwise: bool) -> np.ndarray:
    """OHWI int8 weights (depthwise: [C, FY, FX, 1]) -> NE16's bit planes, uint8 bytes."""
    channels, fy, fx, depth = weights.shape
    taps = fy * fx
    unsigned = (weights.astype(np.int16) - WEIGHT_OFFSET).astype(np.uint8).reshape(channels, taps,
                                                                                   depth)
    if depthwise:  # one output "row" per block of 16 channels, lanes = channels
        rows = blocks(channels)
        padded = np.zeros((rows * LANES, taps), dtype=np.uint8)
        padded[:channels] = unsigned[:, :, 0]
        lanes = padded.reshape(rows, 1, LANES, taps).transpose(0, 1, 3, 2)  # row, cb, tap, lane
    else:
        padded = np.zeros((channels, taps, blocks(depth) * LANES), dtype=np.uint8)
        padded[:, :, :depth] = unsigned
        lanes = padded.reshape(channels, taps, blocks(depth), LANES).transpose(0, 2, 1, 3)
    bits = (lanes[:, :, None, :, :] >> np.arange(BITS)[None, None, :, None, None]) & 1
    words = (bits.astype(np.uint16) << np.arange(LANES, dtype=np.uint16)).sum(axis=-1)
    return np.ascontiguousarray(words.astype("<u2")).view(np.uint8).reshape(-1)


def unpack_weights(packed: np.ndarray, rows: int, depth_blocks: int, taps: int) -> np.ndarray:
    """The uint8 weights [rows, taps, 16 * depth_blocks] a packed array holds."""
    words = packed.view("<u2").reshape(rows, depth_blocks, BITS, taps).astype(np.uint32)
    lanes = (words[..., None] >> np.arange(LANES)) & 1  # row, cb, bit, tap, lane
    values = (lanes << np.arange(BITS)[None, None, :, None, None]).sum(axis=2)  # row, cb, tap, lane
    return values.transpose(0, 2, 1, 3).reshape(rows, taps, depth_blocks * LANES).astype(np.int64)


@dataclass(frozen=True)
class Ne16Job:
    """One job's geometry as the task fields give it (a tile in L1)."""

    mode: str
    in_height: int
    in_width: int
    in_channels: int
    out_height: int
    out_width: int
    out_channels: int
    stride: int
    padding: tuple[int, int]  # top, left
    padding_value: int

    @property
    def kernel(self) -> int:
        return 1 if self.mode == "1x1" else 3


def run_job(job: Ne16Job, data: np.ndarray, packed: np.ndarray) -> np.ndarray:
    """The int32 accumulators [out_h, out_w, out_k] of a job: uint8 ``data`` [h, w, c]."""
    size = job.kernel
    top, left = job.padding
    height = (job.out_height - 1) * job.stride + size
    width = (job.out_width - 1) * job.stride + size
    window = np.full((max(height, top + job.in_height), max(width, left + job.in_width),
                      job.in_channels), job.padding_value, dtype=np.int64)
    window[top:top + job.in_height, left:left + job.in_width] = data
    depthwise = job.mode == "3x3_dw"
    rows = blocks(job.out_channels) if depthwise else job.out_channels
    depth_blocks = 1 if depthwise else blocks(job.in_channels)
    weights = unpack_weights(packed, rows, depth_blocks, size * size)
    out = np.zeros((job.out_height, job.out_width, job.out_channels), dtype=np.int64)
    for fy in range(size):
        for fx in range(size):
            patch = window[fy:fy + job.stride * job.out_height:job.stride,
                           fx:fx + job.stride * job.out_width:job.stride]
            tap = fy * size + fx
            if depthwise:
                lane = weights[:, tap, :].reshape(-1)[:job.out_channels] + WEIGHT_OFFSET
                out += patch[:, :, :job.out_channels] * lane
            else:
                matrix = weights[:, tap, :job.in_channels] + WEIGHT_OFFSET
                out += patch @ matrix.T
    return out.astype(np.int32)


@dataclass(frozen=True)
class NormQuant:
    """NE16's per-channel normquant: ``(acc * scale + bias) >> shift``, then clipped."""

    scale: np.ndarray  # uint8
    shift: np.ndarray  # uint8, 0..31
    bias: np.ndarray  # int32

    def apply(self, accumulators: np.ndarray, low: int, high: int) -> np.ndarray:
        value = accumulators.astype(np.int64) * self.scale + self.bias
        return np.clip(value >> self.shift.astype(np.int64), low, high).astype(np.int8)


def normquant_for(requant: Requant, folded_bias: np.ndarray, zero_point: int) -> NormQuant:
    """The normquant nearest TFLite's requantization: scale an 8-bit mantissa of the real
    multiplier, the bias and output zero point folded in, rounding half up."""
    channels = folded_bias.size
    multiplier = np.broadcast_to(requant.multiplier, (channels,)).astype(np.float64)
    exponent = np.broadcast_to(requant.shift, (channels,)).astype(np.float64)
    real = multiplier * np.exp2(exponent - 31)
    positive = np.where(real > 0, real, 1.0)  # a zero multiplier: scale 0, the bias alone
    shift = np.clip(np.floor(np.log2(255.0 / positive)), 0, 31).astype(np.int64)
    scale = np.where(real > 0, np.clip(np.round(real * np.exp2(shift)), 1, 255), 0)
    scale = scale.astype(np.int64)
    half = np.where(shift > 0, np.left_shift(1, np.maximum(shift - 1, 0)), 0)
    bias = folded_bias.astype(np.int64) * scale + half + (np.int64(zero_point) << shift)
    return NormQuant(scale.astype(np.uint8), shift.astype(np.uint8), bias.astype(np.int64))


def normquant_is_exact(requant: Requant, folded_bias: np.ndarray, zero_point: int,
                       bound: int, low: int, high: int, limit: int = 1 << 18) -> bool:
    """Whether normquant equals TFLite's requantization on every accumulator in
    [-bound, bound] of every channel (checked value by value; False past ``limit`` values)."""
    if 2 * bound + 1 > limit:
        return False
    normquant = normquant_for(requant, folded_bias, zero_point)
    if np.abs(normquant.bias).max(initial=0) >= 1 << 31:
        return False
    values = np.arange(-bound, bound + 1, dtype=np.int64)
    for channel in range(folded_bias.size):
        fixed = requant.channel(channel)
        total = np.clip(values + int(folded_bias[channel]), -(1 << 31), (1 << 31) - 1)
        expected = np.clip(multiply_by_quantized_multiplier(total, fixed.multiplier, fixed.shift)
                           + zero_point, low, high)
        part = slice(channel, channel + 1)
        single = NormQuant(normquant.scale[part], normquant.shift[part], normquant.bias[part])
        if not np.array_equal(single.apply(values, low, high), expected):
            return False
    return True
