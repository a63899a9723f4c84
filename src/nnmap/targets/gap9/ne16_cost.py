"""NE16 layers' cycles, modelled as the emulator times the kernel of ``ne16_kernel.c.in``, and
their mapping search: per tile the DMA loads (double-buffered), the cores' int8 -> uint8 pass
over a new input, the job (DORY's Ne16PerfModel, ``ne16_timing.py``), the cores'
requantization of the accumulators (exact numerics) and the store."""

from __future__ import annotations

from collections.abc import Mapping as Table
from dataclasses import dataclass

from nnmap.hw import ExecModule
from nnmap.ir.workload import Workload
from nnmap.mapping.model import Cost, Mapping
from nnmap.mapping.space import tile_candidates
from nnmap.targets.gap9.cluster_cost import (
    Timeline,
    cluster_mapping,
    tile_transfers,
    timeline_cost,
)
from nnmap.targets.gap9.cluster_tiles import CORES, ClusterLayer, ClusterTiling
from nnmap.targets.gap9.ne16_model import BITS, LANES, blocks
from nnmap.targets.gap9.ne16_timing import job_cycles


def mode_of(layer: ClusterLayer) -> str:
    if layer.depthwise:
        return "3x3_dw"
    return "1x1" if layer.kernel == (1, 1) else "3x3"


def weight_row_bytes(layer: ClusterLayer) -> int:
    """Bytes of one packed weight row (an output channel; depthwise: 16 channels)."""
    depth_blocks = 1 if layer.depthwise else blocks(layer.channels)
    return depth_blocks * BITS * layer.taps * 2


@dataclass(frozen=True)
class Ne16Buffers:
    input: int
    weights: int
    params: int
    output: int
    accumulators: int

    @staticmethod
    def of(layer: ClusterLayer, tiling: ClusterTiling, normquant: bool) -> Ne16Buffers:
        in_rows = min((tiling.rows - 1) * layer.stride[0] + layer.kernel[0], layer.height)
        in_channels = tiling.channels if layer.depthwise else layer.channels
        rows = blocks(tiling.channels) if layer.depthwise else tiling.channels
        outputs = tiling.rows * layer.out_width * tiling.channels
        return Ne16Buffers(_aligned(in_rows * layer.width * in_channels),
                           _aligned(rows * weight_row_bytes(layer)), 12 * tiling.channels,
                           _aligned(outputs), 0 if normquant else 4 * outputs)

    @property
    def total(self) -> int:
        return 2 * (self.input + self.weights + self.params + self.output) + self.accumulators


def _aligned(size: int) -> int:
    return -(-size // 16) * 16


def _share(total: int) -> int:
    return min(-(-total // CORES), total)


def ne16_timeline(layer: ClusterLayer, tiling: ClusterTiling, timing: Table[str, float],
                  normquant: bool) -> tuple[int, int, int]:
    """Total, compute (cores and NE16) and DMA-busy cycles of the NE16 kernel's schedule."""
    line = Timeline(timing, now=int(timing["layer_overhead"]))
    tiles = tiling.tiles(layer)
    mode = mode_of(layer)
    row_bytes = weight_row_bytes(layer)

    def loads(index: int) -> tuple[int, int, bool]:
        tile, previous = tiles[index], tiles[index - 1] if index else None
        transfers, _ = tile_transfers(layer, tiling, tile)
        same_rows = previous is not None and previous[0] == tile[0]
        same_channels = previous is not None and previous[1] == tile[1]
        inputs = weights = 0
        fresh = not (same_rows and (same_channels or not layer.depthwise))
        if fresh:
            inputs = line.issue(*transfers.input)
        if not same_channels:
            channels = transfers.params // 12
            line.issue((blocks(channels) if layer.depthwise else channels) * row_bytes)
            weights = line.issue(transfers.params)
        return inputs, weights, fresh

    first = loads(0)
    ready, fresh = (first[0], first[1]), first[2]
    stored: list[int] = []
    for index, tile in enumerate(tiles):
        line.wait(max(ready))
        transfers, outputs = tile_transfers(layer, tiling, tile)
        if fresh:
            in_bytes = transfers.input[0]
            line.fork(-(-_share(in_bytes) // 4) * int(timing["convert_cycles_per_4_bytes"]))
        fresh = False
        if index + 1 < len(tiles):
            following = loads(index + 1)
            ready = (following[0] or ready[0], following[1] or ready[1])
            fresh = following[2]
        if index >= 2:
            line.wait(stored[index - 2])
        channels = transfers.params // 12
        rows = outputs // (layer.out_width * channels)
        in_channels = channels if layer.depthwise else layer.channels
        job = job_cycles(mode, rows, layer.out_width, channels, in_channels,
                         8 if normquant else 32)
        line.now += int(timing["job_setup"]) + job
        line.compute += int(timing["job_setup"]) + job
        if not normquant:
            line.fork(_share(outputs) * int(timing["output_cycles"]))
        stored.append(line.issue(*transfers.output))
    line.wait(max(stored))
    return line.now, line.compute, line.dma_busy


def ne16_cost_in(workload: Workload, mapping: Mapping, module: ExecModule,
                 normquant: bool) -> Cost:
    """The modelled cost of the NE16 kernel ``mapping`` names (normquant or accumulators out)."""
    layer = ClusterLayer.of(workload)
    tiling = ClusterTiling.of(layer, mapping)
    timeline = ne16_timeline(layer, tiling, module.timing, normquant)
    l1_bytes = Ne16Buffers.of(layer, tiling, normquant).total
    return timeline_cost(workload, module, timeline, l1_bytes)


def ne16_cost(workload: Workload, mapping: Mapping, module: ExecModule) -> Cost:
    """The cost in exact numerics: the accumulators out, the cores requantize."""
    return ne16_cost_in(workload, mapping, module, normquant=False)


def ne16_bound(workload: Workload, mapping: Mapping, module: ExecModule) -> float:
    """A lower bound on ``ne16_cost``: the jobs alone."""
    layer = ClusterLayer.of(workload)
    tiling = ClusterTiling.of(layer, mapping)
    mode, total = mode_of(layer), 0
    for tile in tiling.tiles(layer):
        transfers, outputs = tile_transfers(layer, tiling, tile)
        channels = transfers.params // 12
        rows = outputs // (layer.out_width * channels)
        in_channels = channels if layer.depthwise else layer.channels
        total += job_cycles(mode, rows, layer.out_width, channels, in_channels, 32)
    return float(total)


def candidate_mappings(workload: Workload, module: ExecModule) -> list[Mapping]:
    """Row tiles by channel tiles of whole 16-channel blocks, both orders, that fit L1 with
    the accumulator buffer."""
    layer = ClusterLayer.of(workload)
    budget = module.levels[0][0].size
    channel_options = [c for c in tile_candidates(layer.out_channels, LANES)
                       if c % LANES == 0 or c == layer.out_channels]
    found = []
    for rows in tile_candidates(layer.out_height, 1):
        for channels in channel_options:
            if Ne16Buffers.of(layer, ClusterTiling(rows, channels, True), False).total > budget:
                continue
            for rows_outer in (True, False):
                found.append(cluster_mapping(layer, rows, channels, rows_outer))
    return found
