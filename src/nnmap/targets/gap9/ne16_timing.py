"""NE16's cycles per job: DORY's Ne16PerfModel as gap9.md states it (pulp-platform/dory,
``Hardware_targets/PULP/GAP9_NE16/Tiler/Ne16PerfModel.py``). The emulator's ``gap9_ne16.c``
computes the same; ``tests/test_gap9_ne16.py`` checks both against cases worked by hand."""

from __future__ import annotations

PORT_BITS = 256  # gap9.md: memory port 256 bits/cycle
LANES = 16  # gap9.md: blocks of 16 input channels
OUTPUT_BLOCK = 32  # gap9.md: output buffer 3x3x32 (depthwise: blocks of 16)
PATCH = 3  # gap9.md: a 3x3 output patch per step
FIFO = 6  # gap9.md: FIFO latency 6
WEIGHT_OFFSET = 6  # gap9.md: weight offset 6 (depthwise: 6 + k)
INDEX_UPDATE = 2  # gap9.md: index update 2


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def block_cycles(mode: str, k: int) -> int:
    """One block of 16 input channels for ``k`` output channels: load, matrix-vector, weight
    offset, index update."""
    load_words = _ceil(LANES * 8, PORT_BITS)
    if mode == "1x1":
        load = 10 + PATCH * PATCH * load_words
        matvec = FIFO + k
    else:
        load = FIFO + (PATCH + 2) * (PATCH + 2) * load_words
        matvec = FIFO + k * 8
    offset = WEIGHT_OFFSET + k if mode == "3x3_dw" else WEIGHT_OFFSET
    return load + matvec + offset + INDEX_UPDATE


def output_cycles(k: int, output_bits: int) -> int:
    """Normquant (8-bit outputs only) and stream-out of one patch of ``k`` channels."""
    stream_out = 3 + PATCH * PATCH * _ceil(k * output_bits, PORT_BITS) + 1
    if output_bits == 32:
        return stream_out
    normquant = _ceil(k, 4) + 9 + _ceil(k, 4) + 8 + _ceil(k, 8)
    return normquant + stream_out


def job_cycles(mode: str, out_height: int, out_width: int, out_channels: int,
               in_channels: int, output_bits: int) -> int:
    """The cycles of one job: per 3x3 output patch, per block of output channels, every input
    channel block then normquant and stream-out."""
    patches = _ceil(out_height, PATCH) * _ceil(out_width, PATCH)
    block = LANES if mode == "3x3_dw" else OUTPUT_BLOCK
    in_blocks = 1 if mode == "3x3_dw" else _ceil(in_channels, LANES)
    total = 0
    for first in range(0, out_channels, block):
        k = min(block, out_channels - first)
        total += in_blocks * block_cycles(mode, k) + output_cycles(k, output_bits)
    return patches * total
