"""The cluster kernel's cycles, modelled as the emulator times it, and its mapping search.

The model replays the kernel's schedule (``cluster_code.py``) event by event: every DMA
transfer queues on the one cluster DMA (``dma_overhead`` + bytes / ``dma_bytes_per_cycle`` +
one cycle per row of a 2-D transfer, gap9.md), the cores wait for a tile's operands, compute it
(the slowest core's share, ``core_cycles``), and the transfers of the next tile and of the
previous tile's outputs overlap the compute (double buffering).
"""

from __future__ import annotations

from collections.abc import Mapping as Table
from dataclasses import dataclass

from nnmap.hw import ExecModule
from nnmap.ir.workload import LOOPS, Workload
from nnmap.mapping.model import Cost, Mapping
from nnmap.mapping.space import tile_candidates
from nnmap.targets.gap9.cluster_tiles import (
    CORES,
    PARAM_WORDS,
    BufferSizes,
    ClusterLayer,
    ClusterTiling,
)


def dma_cycles(timing: Table[str, float], size: int, rows: int = 0) -> int:
    """Cycles the DMA is busy with one transfer of ``size`` bytes (``rows`` rows if 2-D)."""
    per_cycle = int(timing["dma_bytes_per_cycle"])
    rows_cycles = rows * int(timing["dma_row_cycles"])
    return int(timing["dma_overhead"]) + -(-size // per_cycle) + rows_cycles


def core_cycles(layer: ClusterLayer, outputs: int, timing: Table[str, float]) -> int:
    """Cycles of the slowest core on a tile of ``outputs`` outputs split evenly over 8 cores."""
    share = min(-(-outputs // CORES), outputs)
    kind = "depthwise" if layer.depthwise else "conv"
    per_32 = timing[f"{kind}_cycles_per_32_macs"]
    mac_cycles = -(-layer.macs_per_output * int(per_32) // 32)
    return share * (mac_cycles + int(timing["output_cycles"]))


@dataclass(frozen=True)
class TileTransfers:
    """The bytes (and rows, for 2-D transfers) each operand of one tile moves."""

    input: tuple[int, int]
    weights: int
    params: int
    output: tuple[int, int]


def tile_transfers(layer: ClusterLayer, tiling: ClusterTiling, tile: tuple[int, int]
                   ) -> tuple[TileTransfers, int]:
    """What tile ``tile`` moves, and its number of outputs."""
    row_tile, channel_tile = tile
    first_row = row_tile * tiling.rows
    rows = min(tiling.rows, layer.out_height - first_row)
    first_channel = channel_tile * tiling.channels
    channels = min(tiling.channels, layer.out_channels - first_channel)
    top, bottom = layer.input_rows(first_row, rows)
    pixels = (bottom - top) * layer.width
    if layer.depthwise and channels < layer.channels:
        inputs = (pixels * channels, pixels)
    else:
        inputs = (pixels * (channels if layer.depthwise else layer.channels), 0)
    weight_depth = 1 if layer.depthwise else layer.channels
    out_pixels = rows * layer.out_width
    output = (out_pixels * channels, out_pixels if channels < layer.out_channels else 0)
    transfers = TileTransfers(inputs, channels * layer.taps * weight_depth,
                              channels * PARAM_WORDS * 4, output)
    return transfers, out_pixels * channels


@dataclass
class Timeline:
    """The cluster controller's clock and the DMA queue's."""

    timing: Table[str, float]
    now: int = 0
    dma_free: int = 0
    dma_busy: int = 0
    compute: int = 0

    def issue(self, size: int, rows: int = 0) -> int:
        self.now += int(self.timing["dma_issue"])
        busy = dma_cycles(self.timing, size, rows)
        self.dma_free = max(self.now, self.dma_free) + busy
        self.dma_busy += busy
        return self.dma_free

    def wait(self, done: int) -> None:
        self.now = max(self.now, done)

    def fork(self, cycles: int) -> None:
        step = int(self.timing["fork"]) + cycles
        self.now += step
        self.compute += step


def _loads(line: Timeline, layer: ClusterLayer, tiles: list[tuple[int, int]], index: int,
           tiling: ClusterTiling) -> tuple[int, int]:
    """Issue the loads tile ``index`` needs that the tile before it did not load; when its
    input and its weights (with their parameters) are ready."""
    transfers, _ = tile_transfers(layer, tiling, tiles[index])
    previous = tiles[index - 1] if index > 0 else None
    same_rows = previous is not None and previous[0] == tiles[index][0]
    same_channels = previous is not None and previous[1] == tiles[index][1]
    inputs = weights = 0
    if not (same_rows and (same_channels or not layer.depthwise)):
        inputs = line.issue(*transfers.input)
    if not same_channels:
        line.issue(transfers.weights)
        weights = line.issue(transfers.params)
    return inputs, weights


def cluster_timeline(layer: ClusterLayer, tiling: ClusterTiling, timing: Table[str, float]
                     ) -> tuple[int, int, int]:
    """Total, compute and DMA-busy cycles of the kernel's schedule."""
    line = Timeline(timing, now=int(timing["layer_overhead"]))
    tiles = tiling.tiles(layer)
    ready = _loads(line, layer, tiles, 0, tiling)
    stored: list[int] = []
    for index, tile in enumerate(tiles):
        line.wait(max(ready))
        if index + 1 < len(tiles):
            following = _loads(line, layer, tiles, index + 1, tiling)
            ready = (following[0] or ready[0], following[1] or ready[1])
        if index >= 2:
            line.wait(stored[index - 2])
        transfers, outputs = tile_transfers(layer, tiling, tile)
        line.fork(core_cycles(layer, outputs, timing))
        stored.append(line.issue(*transfers.output))
    line.wait(max(stored))
    return line.now, line.compute, line.dma_busy


def cluster_cost(workload: Workload, mapping: Mapping, module: ExecModule) -> Cost:
    """The modelled cost of the cluster kernel ``mapping`` names."""
    layer = ClusterLayer.of(workload)
    tiling = ClusterTiling.of(layer, mapping)
    timeline = cluster_timeline(layer, tiling, module.timing)
    return timeline_cost(workload, module, timeline, BufferSizes.of(layer, tiling).total)


def timeline_cost(workload: Workload, module: ExecModule, timeline: tuple[int, int, int],
                  l1_bytes: int) -> Cost:
    """The Cost of a kernel of the cluster's modules from its replayed ``timeline`` (total,
    compute and DMA-busy cycles) and the L1 bytes its buffers take."""
    total, compute, busy = timeline
    l1, l2 = module.levels[0][0], module.levels[1][0]
    whole = workload.operand_elements("I") + workload.operand_elements("W") * workload.groups
    whole += workload.operand_elements("O") * workload.groups
    return Cost(
        macs=workload.macs,
        compute_cycles=float(compute),
        transfer_cycles=(float(busy),),
        transfer_bytes=(float(busy * int(module.timing["dma_bytes_per_cycle"])),),
        total_cycles=float(total),
        utilization=workload.macs / (total * module.peak_macs_per_cycle),
        spatial_utilization=1.0,
        footprint=(((l1.name, l1_bytes, l1.size),), ((l2.name, whole, l2.size),)),
        energy_pj=None,
    )


def cluster_bound(workload: Workload, mapping: Mapping, module: ExecModule) -> float:
    """A lower bound on ``cluster_cost``: the compute alone."""
    layer = ClusterLayer.of(workload)
    tiling = ClusterTiling.of(layer, mapping)
    tiles = tiling.tiles(layer)
    timing = module.timing
    fork = int(timing["fork"])
    return float(sum(fork + core_cycles(layer, tile_transfers(layer, tiling, tile)[1], timing)
                     for tile in tiles))


def cluster_mapping(layer: ClusterLayer, rows: int, channels: int, rows_outer: bool) -> Mapping:
    """The Mapping of cluster tiles of ``rows`` x ``channels``."""
    sizes = dict.fromkeys(LOOPS, 1)
    sizes.update({layer.row_loop: rows, "K": channels, "FY": layer.kernel[0],
                  "FX": layer.kernel[1], "OX": layer.out_width})
    if not layer.depthwise:
        sizes["C"] = layer.channels
    outer = (layer.row_loop, "K") if rows_outer else ("K", layer.row_loop)
    order = (*outer, *(loop for loop in LOOPS if loop not in outer))
    spatial = (("cores", "OX", min(CORES, layer.out_width)), ("simd", "C", 4))
    return Mapping(spatial, (tuple(sizes[loop] for loop in LOOPS),), (order,),
                   (frozenset({"I", "W", "O"}),))


def candidate_mappings(workload: Workload, module: ExecModule) -> list[Mapping]:
    """Every row and channel tile pair (``tile_candidates``) in both orders that fits L1."""
    layer = ClusterLayer.of(workload)
    budget = module.levels[0][0].size
    found = []
    for rows in tile_candidates(layer.out_height, 1):
        for channels in tile_candidates(layer.out_channels, 4):
            if BufferSizes.of(layer, ClusterTiling(rows, channels, True)).total > budget:
                continue
            for rows_outer in (True, False):
                found.append(cluster_mapping(layer, rows, channels, rows_outer))
    return found
