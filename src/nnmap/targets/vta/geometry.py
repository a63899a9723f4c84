"""The GEMM of one layer on VTA: its blocked, padded shape and the tile that sits in VTA's SRAM.

The entries, the tile and the rule that turns the layer's Mapping into it are described in
``nnmap.targets.vta.tiling`` (``vta_tile``, shared with the cost model); this module adds the
layer's own sizes and its byte planes.

Exactness: STORE keeps an accumulator's low 8 bits, so the int32 results leave VTA as byte
planes (ALU SHR by 8 between stores). ``planes`` is how many bytes hold every result, from the
static bound ``|bias| + 128 * sum |w|`` per channel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnmap.errors import MappingError
from nnmap.ir.workload import accumulator_bound
from nnmap.mapping.model import Mapping
from nnmap.targets.vta.direct import ConvWindow, column_span, row_spans
from nnmap.targets.vta.instructions import VtaConfig
from nnmap.targets.vta.tiling import (
    SLOTS,
    VtaBuffers,
    VtaTile,
    direct_vta_tile,
    planes_for_bound,
    vta_tile,
)

__all__ = ["SLOTS", "VtaGemm", "result_planes", "vta_gemm"]


@dataclass(frozen=True)
class VtaGemm(VtaTile):
    """A layer's tile (``VtaTile``: the tile and padded sizes in entries) with its logical sizes
    (rows x channels, reduction depth), how many byte planes carry a result back and the GEMM
    core's block sizes; read directly, the input's height and width and whether the
    accumulators start from a per-pixel bias (``direct.border_bias``)."""

    rows: int
    channels: int
    depth: int
    planes: int
    block_in: int
    block_out: int
    image: tuple[int, int] = (0, 0)
    pixel_bias: bool = False


def result_planes(matrix: np.ndarray, bias: np.ndarray) -> int:
    """Bytes needed by the largest |int32 result| of ``staged @ matrix + bias`` (int8 staged)."""
    return planes_for_bound(accumulator_bound(matrix.T, bias))


def vta_gemm(
    name: str, matrix: np.ndarray, bias: np.ndarray, rows: int, mapping: Mapping,
    config: VtaConfig, window: ConvWindow | None = None, image: tuple[int, int] = (0, 0),
) -> VtaGemm:
    """The tiled GEMM of layer ``name`` (weights ``matrix`` [r, n]) under ``mapping``: the tile
    of ``nnmap.targets.vta.tiling.vta_tile`` (or ``direct_vta_tile`` for a convolution read
    directly through ``window``), the rule the cost model times."""
    if config.batch != 1:
        raise MappingError(f"layer {name}: VTA code generation needs BATCH = 1 (the default)")
    depth, channels = matrix.shape
    buffers = VtaBuffers(
        config.block_in, config.block_out, config.inp_entries, config.wgt_entries,
        config.acc_entries, config.uop_entries,
    )
    if window is None:
        tile = vta_tile(rows, depth, channels, mapping, buffers)
    else:
        found = direct_vta_tile(window, channels, mapping, buffers)
        if found is None:
            raise MappingError(f"layer {name}: no direct convolution tile fits VTA's SRAM")
        tile = found
        tiles = tile.rows_padded // tile.m
        spans = row_spans(window, tile.m // window.out_width, tiles, image[0])
        if spans is None or column_span(window, image[1]) is None:
            raise MappingError(
                f"layer {name}: a tile's halo does not fit LOAD's 4-bit padding fields"
            )
    return VtaGemm(
        **vars(tile),
        rows=rows,
        channels=channels,
        depth=depth,
        planes=result_planes(matrix, bias),
        block_in=config.block_in,
        block_out=config.block_out,
        image=image,
    )
