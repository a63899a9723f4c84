"""The GEMM of one layer on VTA: its blocked, padded shape and the tile that sits in VTA's SRAM.

VTA's SRAM entries are the GEMM core's blocks (vta.md): an input entry is one output pixel's
BLOCK_IN reduction values, a weight entry a BLOCK_OUT x BLOCK_IN block, an accumulator entry one
pixel's BLOCK_OUT int32 sums (BATCH = 1: pixels are not blocked). A tile is ``m`` pixels x ``n``
channel blocks x ``r`` reduction blocks; the layer's Mapping gives the wanted sizes (its level-0
tile: B*OY*OX pixels, K channels, C*FY*FX reduction), clipped so that two input and two weight
tiles (double buffering) and one accumulator tile fit. The padded dimensions are whole tiles.

Exactness: STORE keeps an accumulator's low 8 bits, so the int32 results leave VTA as byte
planes (ALU SHR by 8 between stores). ``planes`` is how many bytes hold every result, from the
static bound ``|bias| + 128 * sum |w|`` per channel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnmap.codegen.accel_gemm import (
    M_LOOPS,
    N_LOOPS,
    R_LOOPS,
    ceil_div,
    even_tile,
    m_loops_first,
    tile_product,
)
from nnmap.errors import MappingError
from nnmap.mapping.model import Mapping
from nnmap.targets.vta_intrinsics import VtaConfig

SLOTS = 2  # input and weight tiles are double-buffered
INT8_MAGNITUDE = 128


@dataclass(frozen=True)
class VtaGemm:
    """Logical sizes (rows x channels, reduction depth), the tile in entries, the padded sizes
    in entries (multiples of the tile) and how many byte planes carry a result back."""

    rows: int
    channels: int
    depth: int
    m: int
    n: int
    r: int
    rows_padded: int
    n_blocks: int
    r_blocks: int
    planes: int
    m_outer: bool
    block_in: int
    block_out: int

    @property
    def tiles(self) -> int:
        return (self.rows_padded // self.m) * (self.n_blocks // self.n) * (self.r_blocks // self.r)


def result_planes(matrix: np.ndarray, bias: np.ndarray) -> int:
    """Bytes needed by the largest |int32 result| of ``staged @ matrix + bias`` (int8 staged)."""
    bound = np.abs(bias.astype(np.int64)) + INT8_MAGNITUDE * np.abs(
        matrix.astype(np.int64)
    ).sum(axis=0)
    largest = int(bound.max(initial=0))
    planes = 1
    while largest >= 1 << (8 * planes - 1):
        planes += 1
    return min(planes, 4)


def vta_gemm(
    name: str, matrix: np.ndarray, bias: np.ndarray, rows: int, mapping: Mapping, config: VtaConfig
) -> VtaGemm:
    """The tiled GEMM of layer ``name`` (weights ``matrix`` [r, n]) under ``mapping``."""
    if config.batch != 1:
        raise MappingError(f"layer {name}: VTA code generation needs BATCH = 1 (the default)")
    depth, channels = matrix.shape
    bi, bo = config.block_in, config.block_out
    r_total, n_total = ceil_div(depth, bi), ceil_div(channels, bo)
    inp_slot, wgt_slot = config.inp_entries // SLOTS, config.wgt_entries // SLOTS
    r = even_tile(r_total, ceil_div(tile_product(mapping, R_LOOPS), bi), min(inp_slot, wgt_slot))
    n = even_tile(n_total, ceil_div(tile_product(mapping, N_LOOPS), bo), wgt_slot // r)
    m = even_tile(rows, tile_product(mapping, M_LOOPS), min(inp_slot // r, config.acc_entries // n))
    return VtaGemm(
        rows=rows,
        channels=channels,
        depth=depth,
        m=m,
        n=n,
        r=r,
        rows_padded=ceil_div(rows, m) * m,
        n_blocks=ceil_div(n_total, n) * n,
        r_blocks=ceil_div(r_total, r) * r,
        planes=result_planes(matrix, bias),
        m_outer=m_loops_first(mapping),
        block_in=bi,
        block_out=bo,
    )
