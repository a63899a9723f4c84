"""Convolutions read straight from their input feature map on VTA: no host im2col gather.

Where the input's channels fill whole BLOCK_IN-wide entries (NHWC int8, C a multiple of
BLOCK_IN), one input entry is BLOCK_IN channels of one pixel and an input row of W pixels is
``W * C / BLOCK_IN`` consecutive entries, so VTA's 2-D LOAD can fetch input rows as they lie in
DRAM. A tile is ``rows`` whole output rows x ``n`` channel blocks with the whole window as its
reduction (``r = FY * FX * C / BLOCK_IN`` blocks, one GEMM step per tile). Its input tile is the
``(rows - 1) * stride_y + FY`` input rows under it, ``(OX - 1) * stride_x + FX`` pixels wide,
loaded by one LOAD INP with the halo's zero padding inserted on the fly (``x_pad``/``y_pad``) as
``[input row][pixel][channel block]`` entries. The GEMM's micro-ops index it with address
offsets, as TVM's VTA convolution schedules do: two micro-op loops over the tile's output rows
and columns (source factors ``stride_y * width * blocks`` and ``stride_x * blocks``) around one
micro-op per (output channel block, fy, fx, input channel block).

VTA's instruction holds each padding in 4 bits (``hw_spec.h``: ``VTA_MEMOP_PAD_BIT_WIDTH 4``),
so at most ``PAD_LIMIT`` entries on either side of a row and rows above or below the image: a
layer whose left/right padding exceeds it is not read directly, and a tile loads at most
``PAD_LIMIT + 1`` input rows (its bottom padding is then within the field's range).

LOAD pads with zeros while TFLite pads with the input's zero point; with the zero point's share
folded into the bias (``accel_gemm.folded_bias``), an output whose window crosses the border
misses ``zp_in * sum(w over the taps outside)``. Such layers start their accumulators from a
per-pixel bias (``border_bias``) instead of one row repeated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnmap.ir.workload import Workload
from nnmap.mapping.gemm_tiling import N_LOOPS, ceil_div, even_tile, m_loops_first, tile_product
from nnmap.mapping.model import Mapping

PAD_LIMIT = 15  # VTA hw_spec.h: VTA_MEMOP_PAD_BIT_WIDTH 4
SLOTS = 2  # input and weight tiles are double-buffered (as in tiling.py)
KERNEL_RESERVE = 8  # micro-op entries kept for the result kernels (shift, ALU requantization)


@dataclass(frozen=True)
class ConvWindow:
    """The window of a convolution read directly: input channel blocks, output size, kernel,
    strides and padding (top, left, bottom, right), from the layer's workload."""

    blocks: int
    out_height: int
    out_width: int
    kernel_y: int
    kernel_x: int
    stride_y: int
    stride_x: int
    padding: tuple[int, int, int, int]

    @property
    def width(self) -> int:
        """Pixels of an input tile row: the columns the output row's windows reach."""
        return (self.out_width - 1) * self.stride_x + self.kernel_x

    @property
    def reduction(self) -> int:
        """Reduction blocks of one output: FY x FX x input channel blocks."""
        return self.kernel_y * self.kernel_x * self.blocks

    def input_rows(self, rows: int) -> int:
        """Input rows under ``rows`` output rows."""
        return (rows - 1) * self.stride_y + self.kernel_y

    def tile_entries(self, rows: int) -> int:
        """Input entries of the tile of ``rows`` output rows."""
        return self.input_rows(rows) * self.width * self.blocks


def conv_window(workload: Workload, block_in: int) -> ConvWindow | str:
    """The window of ``workload`` read directly, or why it cannot be."""
    loops = workload.loops
    if workload.kind != "conv" or workload.groups != 1:
        return "only dense convolutions are read directly"
    if loops["B"] != 1:
        return f"batch {loops['B']}: the direct convolution reads one image"
    if workload.dilation != (1, 1):
        return f"dilation {workload.dilation}: the direct convolution needs dilation 1"
    if loops["C"] % block_in:
        return (
            f"input channels C={loops['C']} are not a multiple of BLOCK_IN={block_in}: an input "
            "entry cannot hold one pixel"
        )
    blocks = loops["C"] // block_in
    _, left, _, right = workload.padding
    if max(left, right) * blocks > PAD_LIMIT:
        return (
            f"padding of {max(left, right) * blocks} entries per row exceeds LOAD's 4-bit pad "
            f"field ({PAD_LIMIT})"
        )
    return ConvWindow(
        blocks, loops["OY"], loops["OX"], loops["FY"], loops["FX"], *workload.stride,
        workload.padding,
    )


@dataclass(frozen=True)
class DirectLimits:
    """The SRAM entries a direct tile may use: one input and one weight slot, the accumulator
    and the micro-op buffer."""

    inp_slot: int
    wgt_slot: int
    acc_entries: int
    uop_entries: int


def direct_channel_blocks(window: ConvWindow, channels: int, wanted: int, block_out: int,
                          limits: DirectLimits) -> int:
    """Channel blocks per tile (0: not even one fits the weight slot or micro-op buffer)."""
    r = window.reduction
    most = min(limits.wgt_slot // r, (limits.uop_entries - KERNEL_RESERVE) // (SLOTS * r))
    if most < 1:
        return 0
    return even_tile(ceil_div(channels, block_out), ceil_div(wanted, block_out), most)


def direct_rows(window: ConvWindow, wanted: int, n: int, limits: DirectLimits) -> int:
    """Output rows per tile (0: not even one fits): the input tile in one slot, at most
    ``PAD_LIMIT + 1`` input rows, the accumulator tile in the accumulator."""
    most = 0
    while (
        most < window.out_height
        and window.input_rows(most + 1) <= PAD_LIMIT + 1
        and window.tile_entries(most + 1) <= limits.inp_slot
        and (most + 1) * window.out_width * n <= limits.acc_entries
    ):
        most += 1
    return 0 if most == 0 else even_tile(window.out_height, wanted, most)


@dataclass(frozen=True)
class DirectTile:
    """Output rows and channel blocks per tile, and whether pixel tiles are the outer loop."""

    rows: int
    n: int
    m_outer: bool


def direct_tile(window: ConvWindow, channels: int, mapping: Mapping, block_out: int,
                limits: DirectLimits) -> DirectTile | None:
    """The tile ``mapping`` asks for (its OY tile and K tile), clipped to the limits; None when
    nothing fits."""
    n = direct_channel_blocks(window, channels, tile_product(mapping, N_LOOPS), block_out, limits)
    rows = direct_rows(window, mapping.tile(0, "OY"), n, limits) if n else 0
    return DirectTile(rows, n, m_loops_first(mapping)) if rows else None


def border_bias(bias: np.ndarray, matrix: np.ndarray, window: ConvWindow, height: int,
                width: int, zp_in: int) -> np.ndarray:
    """[OY * OX, channels] int64: ``bias`` (zero point folded in) plus, per output pixel,
    ``zp_in`` times the weights of its taps outside the ``height`` x ``width`` input."""
    top, left = window.padding[:2]
    taps = matrix.astype(np.int64).reshape(window.kernel_y, window.kernel_x, -1, matrix.shape[1])
    per_tap = taps.sum(axis=2)  # [FY, FX, channels]
    oy = np.arange(window.out_height)[:, None] * window.stride_y - top
    ox = np.arange(window.out_width)[:, None] * window.stride_x - left
    outside_y = (oy + np.arange(window.kernel_y) < 0) | (oy + np.arange(window.kernel_y) >= height)
    outside_x = (ox + np.arange(window.kernel_x) < 0) | (ox + np.arange(window.kernel_x) >= width)
    outside = outside_y[:, None, :, None] | outside_x[None, :, None, :]  # [OY, OX, FY, FX]
    missing = np.einsum("yxab,abk->yxk", outside.astype(np.int64), per_tap)
    return (bias.astype(np.int64) + zp_in * missing).reshape(-1, matrix.shape[1])


@dataclass(frozen=True)
class Span:
    """One axis of a LOAD: ``size`` real rows or pixels from ``first``, with ``before`` and
    ``after`` zero-padded ones around them."""

    first: int
    size: int
    before: int
    after: int


def _span(first: int, length: int, extent: int) -> Span | None:
    """Of ``length`` rows from ``first`` (negative: padding above), the real ones in
    ``0..extent-1`` and the padding around them; None when a LOAD cannot express it."""
    before = max(0, -first)
    size = min(first + length, extent) - (first + before)
    after = length - before - size
    if size < 1 or before > PAD_LIMIT or after > PAD_LIMIT:
        return None
    return Span(first + before, size, before, after)


def row_spans(window: ConvWindow, rows: int, tiles: int, height: int) -> list[Span] | None:
    """Per tile of ``rows`` output rows, the input rows its LOAD reads from a ``height``-row
    input (None when some tile's LOAD cannot be expressed)."""
    spans = []
    for tile in range(tiles):
        first = tile * rows * window.stride_y - window.padding[0]
        span = _span(first, window.input_rows(rows), height)
        if span is None:
            return None
        spans.append(span)
    return spans


def column_span(window: ConvWindow, width: int) -> Span | None:
    """The input pixels every LOAD reads from a ``width``-pixel row (None: not expressible)."""
    span = _span(-window.padding[1], window.width, width)
    if span is None or max(span.before, span.after) * window.blocks > PAD_LIMIT:
        return None
    return span
