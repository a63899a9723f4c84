"""What every accelerator's depthwise lowering shares: the block-diagonal GEMM's gathered
input and folded bias (the layout is ``nnmap.embedding.grouped.BlockDiagonal``, chosen by the
backend from the embedding solver's results).

The GEMM's staged input holds, for every output pixel and channel block, the block's reduction
positions in the layout's order: the input where the window lies inside the image, the input
zero point where it lies in the padding (TFLite pads with it), zero where the layout pads (the
weights there are zero too). The input zero point's share of every output is folded into the
bias, as for a dense layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from tvm import te, tirx

from nnmap.embedding.grouped import BlockDiagonal
from nnmap.ir import Conv2D, Graph

if TYPE_CHECKING:
    from collections.abc import Callable

    # The staged value at GEMM row m, channel block, reduction position within the block.
    BlockGather = Callable[[tirx.PrimExpr, tirx.PrimExpr, tirx.PrimExpr], tirx.PrimExpr]


def depthwise_taps(layer: Conv2D) -> np.ndarray:
    """A depthwise layer's weights as [channels, FY, FX] (its kernel is OHWI with I = 1)."""
    return layer.weight[:, :, :, 0]


def folded_column_bias(layer: Conv2D, layout: BlockDiagonal, zp_in: int) -> np.ndarray:
    """The int32 bias of every result column: the channel's bias with the input zero point's
    share of its taps folded in (zero in the padding columns)."""
    taps = depthwise_taps(layer).astype(np.int64).reshape(layout.channels, -1)
    folded = layer.bias.astype(np.int64) - zp_in * taps.sum(axis=1)
    columns = np.zeros(layout.width, np.int32)
    for channel in range(layout.channels):
        columns[layout.column_of_channel(channel)] = folded[channel]
    return columns


def depthwise_gather(
    layer: Conv2D, graph: Graph, layout: BlockDiagonal, data: te.Tensor, rows: int, zp_in: int
) -> BlockGather:
    """The staged value of a depthwise layer's block-diagonal GEMM (``rows`` real pixels)."""
    _, height, width, _ = graph.tensor(layer.inputs[0]).shape
    _, out_h, out_w, _ = graph.tensor(layer.output).shape
    (sy, sx), (dy, dx), (top, left) = layer.stride, layer.dilation, layer.padding[:2]
    kernel_y, kernel_x = layout.kernel

    def value(m: tirx.PrimExpr, block: tirx.PrimExpr, r: tirx.PrimExpr) -> tirx.PrimExpr:
        member, fy, fx = layout.position(r)
        channel = block * layout.group + member
        real = tirx.all(m < rows, r < layout.depth, member < layout.group, fy < kernel_y,
                        fx < kernel_x, channel < layout.channels)
        b, oy, ox = m // (out_h * out_w), (m // out_w) % out_h, m % out_w
        iy, ix = oy * sy + fy * dy - top, ox * sx + fx * dx - left
        inside = tirx.all(iy >= 0, iy < height, ix >= 0, ix < width)
        pixel = te.if_then_else(inside, data[b, iy, ix, channel], tirx.const(zp_in, "int8"))
        return te.if_then_else(real, pixel, tirx.const(0, "int8"))

    return value
