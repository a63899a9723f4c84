"""The cluster's tiles: a layer as the cluster kernel sees it, and the tiles a Mapping names.

The cluster kernel keeps every input channel, kernel tap and output column of a tile in L1 and
tiles the output rows (OY, or the rows B of a dense layer) and the output channels (K, or the
channels of a depthwise convolution); the L1 tile sizes of those two loops and their order come
from the layer's Mapping. Every operand has two L1 buffers (double buffering): the DMA fills one
while the cores compute on the other.
"""

from __future__ import annotations

from dataclasses import dataclass

from nnmap.ir.workload import LOOPS, Workload
from nnmap.mapping.model import Mapping

CORES = 8  # gap9.md: 8 worker cores
PARAM_WORDS = 3  # bias, multiplier, shift per output channel (int32)


@dataclass(frozen=True)
class ClusterLayer:
    """A convolution, depthwise convolution or dense layer as the cluster kernel runs it: an
    NHWC input ``height`` x ``width`` x ``channels`` (a dense layer: ``rows`` x 1 x C), an output
    ``out_height`` x ``out_width`` x ``out_channels``, its window, strides and padding."""

    depthwise: bool
    height: int
    width: int
    channels: int
    out_height: int
    out_width: int
    out_channels: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]  # top, left
    row_loop: str = "OY"  # the loop counting output rows: B for a dense layer

    @staticmethod
    def of(workload: Workload) -> ClusterLayer:
        """The cluster's view of a workload (its input size implied by its window)."""
        loops = workload.loops
        if workload.kind == "dense":
            return ClusterLayer(False, loops["B"], 1, loops["C"], loops["B"], 1, loops["K"],
                                (1, 1), (1, 1), (0, 0), "B")
        top, left, bottom, right = workload.padding
        height = workload.input_extent("Y", loops["OY"], loops["FY"]) - top - bottom
        width = workload.input_extent("X", loops["OX"], loops["FX"]) - left - right
        depthwise = workload.kind == "depthwise"
        channels = workload.groups if depthwise else loops["C"]
        out_channels = workload.groups if depthwise else loops["K"]
        return ClusterLayer(depthwise, height, width, channels, loops["OY"], loops["OX"],
                            out_channels, (loops["FY"], loops["FX"]), workload.stride,
                            (top, left))

    @property
    def taps(self) -> int:
        return self.kernel[0] * self.kernel[1]

    @property
    def macs_per_output(self) -> int:
        return self.taps * (1 if self.depthwise else self.channels)

    def input_rows(self, first_row: int, rows: int) -> tuple[int, int]:
        """The input rows [first, last) inside the tensor that output rows need."""
        first = first_row * self.stride[0] - self.padding[0]
        last = first + (rows - 1) * self.stride[0] + self.kernel[0]
        return max(first, 0), min(last, self.height)


@dataclass(frozen=True)
class ClusterTiling:
    """The L1 tiles: ``rows`` output rows by ``channels`` output channels, row tiles outermost
    when ``rows_outer``."""

    rows: int
    channels: int
    rows_outer: bool

    @staticmethod
    def of(layer: ClusterLayer, mapping: Mapping) -> ClusterTiling:
        """The tiles a cluster mapping names: rows in its ``row_loop`` tile, channels in its K
        tile (a depthwise convolution's K tile counts its channels, one per group)."""
        row_loop = layer.row_loop
        rows = min(mapping.tile(0, row_loop), layer.out_height)
        channels = min(mapping.tile(0, "K"), layer.out_channels)
        order = mapping.orders[0]
        rows_outer = _position(order, row_loop) < _position(order, "K")
        return ClusterTiling(rows, channels, rows_outer)

    def counts(self, layer: ClusterLayer) -> tuple[int, int]:
        """Row tiles and channel tiles."""
        return -(-layer.out_height // self.rows), -(-layer.out_channels // self.channels)

    def tiles(self, layer: ClusterLayer) -> list[tuple[int, int]]:
        """(row tile, channel tile) of every tile in the order the kernel runs them."""
        row_tiles, channel_tiles = self.counts(layer)
        if self.rows_outer:
            return [(r, c) for r in range(row_tiles) for c in range(channel_tiles)]
        return [(r, c) for c in range(channel_tiles) for r in range(row_tiles)]


def _position(order: tuple[str, ...], loop: str) -> int:
    return order.index(loop) if loop in order else len(LOOPS)


@dataclass(frozen=True)
class BufferSizes:
    """Bytes of one L1 buffer of each operand (two of each are allocated)."""

    input: int
    weights: int
    params: int
    output: int

    @staticmethod
    def of(layer: ClusterLayer, tiling: ClusterTiling) -> BufferSizes:
        in_rows = (tiling.rows - 1) * layer.stride[0] + layer.kernel[0]
        in_channels = tiling.channels if layer.depthwise else layer.channels
        weight_depth = 1 if layer.depthwise else layer.channels
        return BufferSizes(
            _aligned(min(in_rows, layer.height) * layer.width * in_channels),
            _aligned(tiling.channels * layer.taps * weight_depth),
            _aligned(tiling.channels * PARAM_WORDS * 4),
            _aligned(tiling.rows * layer.out_width * tiling.channels),
        )

    @property
    def total(self) -> int:
        return 2 * (self.input + self.weights + self.params + self.output)


def _aligned(size: int) -> int:
    return -(-size // 4) * 4
