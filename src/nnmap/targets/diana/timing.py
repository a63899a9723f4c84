"""How nnmap drives DIANA's digital array, and what that costs: the layer's shape as the array
sees it, its tiles, and the cycles of the runtime calls a tile makes.

A layer runs as tiles of ``k_tile`` output channels by ``rows`` output rows (whole input
channels and whole rows: the array does not accumulate across calls). Each tile is one input
DMA, one kernel call and one output DMA; each channel tile's weights are one DMA into the weight
memory, once per channel tile when channel tiles are the outer loop, else once per tile.

Cycles (the emulator's C, ``emulator/digital_emulator.c``, counts the same):
- a DMA call: ``dma_call`` (diana.md, MATCH: ~70 cycles per call) plus its bytes at the L2's
  8 B/cycle (diana.md: L2 8 B/cycle);
- a kernel call: ``kernel_call`` (diana.md, MATCH: ~500 cycles per tile iteration) plus, per pass
  of the 16 x 16 array (16 output channels x 16 output columns of one output row), MATCH's
  per-pass term ``C x FY x FX + 2 x C x FY + pass_overhead`` (23, diana.md). The number of
  passes follows the spatial unrolling (K 16 x OX 16): ceil(K/16) x OY x ceil(OX/16); depthwise
  layers fill 4 of each 16 rows (``depthwise_slots``, MATCH's depthwise weight layout) with
  C = 1; dense layers are one row of one column, ``3 C + 23`` per 16 outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

from nnmap.hw import ExecModule
from nnmap.ir.workload import LOOPS, Workload
from nnmap.mapping.model import Cost, Mapping

GROUP = 16  # output channels per weight group and per pass of the array (diana.md: K 16)
BIAS_BYTES = 4  # int32 bias per output channel, stored in front of its group's weights
ALIGN = 64  # L1 offsets are 512-bit aligned (diana.md: 512-bit ports)


def aligned(size: int) -> int:
    return -(-size // ALIGN) * ALIGN


@dataclass(frozen=True)
class DianaShape:
    """A conv, depthwise or dense layer as the array runs it: ``channels`` input channels,
    ``outputs`` output channels, ``rows`` x ``width`` outputs of ``batch`` samples, an
    ``fy`` x ``fx`` kernel at ``stride`` over an input padded to ``padded_width`` columns."""

    kind: str
    channels: int
    outputs: int
    rows: int
    width: int
    fy: int
    fx: int
    stride: int
    batch: int

    @staticmethod
    def of(workload: Workload) -> DianaShape:
        loops = workload.loops
        if workload.kind == "depthwise":
            channels = outputs = workload.groups
        else:
            channels, outputs = loops["C"], loops["K"]
        batch = loops["B"]
        return DianaShape(workload.kind, channels, outputs, loops["OY"], loops["OX"],
                          loops["FY"], loops["FX"], workload.stride[0], batch)

    @property
    def padded_width(self) -> int:
        return (self.width - 1) * self.stride + self.fx

    def input_rows(self, rows: int) -> int:
        """Input rows (padding included) that ``rows`` output rows read."""
        return (rows - 1) * self.stride + self.fy

    @property
    def taps_per_output(self) -> int:
        """Weights per output channel: C x FY x FX (depthwise: FY x FX)."""
        per_channel = 1 if self.kind == "depthwise" else self.channels
        return per_channel * self.fy * self.fx

    @property
    def group_bytes(self) -> int:
        """Bytes of one group of 16 output channels in the weight memory (biases, weights)."""
        return GROUP * (BIAS_BYTES + self.taps_per_output)

    def weight_bytes(self, k_tile: int) -> int:
        return ceil(k_tile / GROUP) * self.group_bytes

    def input_bytes(self, rows: int) -> int:
        if self.kind == "dense":
            return self.channels
        return self.channels * self.input_rows(rows) * self.padded_width

    def output_bytes(self, k_tile: int, rows: int, result_bytes: int) -> int:
        return k_tile * rows * self.width * result_bytes

    def staged_bytes(self, rows: int) -> int:
        """The host's staging buffer: the input channels first, padded, one block per row tile
        (halo rows repeated); none for dense layers (their input is read in place)."""
        if self.kind == "dense":
            return 0
        return ceil(self.rows / rows) * self.input_bytes(rows)


@dataclass(frozen=True)
class DianaTile:
    """``k_tile`` output channels (a multiple of 16, or all) by ``rows`` output rows per tile;
    ``channels_outer``: the channel tiles are the outer loop (weights loaded once each)."""

    k_tile: int
    rows: int
    channels_outer: bool

    @staticmethod
    def of(workload: Workload, mapping: Mapping) -> DianaTile:
        shape = DianaShape.of(workload)
        k_tile = shape.outputs if shape.kind == "depthwise" else mapping.tile(0, "K")
        outer = mapping.orders[0][0] != "OY"
        return DianaTile(k_tile, mapping.tile(0, "OY"), outer)

    def k_tiles(self, shape: DianaShape) -> int:
        return ceil(shape.outputs / self.k_tile)

    def row_tiles(self, shape: DianaShape) -> int:
        return ceil(shape.rows / self.rows)

    def activation_bytes(self, shape: DianaShape, result_bytes: int) -> int:
        """L1 activation bytes: the input tile, then (aligned) the output tile."""
        inputs = aligned(shape.input_bytes(self.rows))
        return inputs + shape.output_bytes(self.k_tile, self.rows, result_bytes)


def dma_cycles(size: int, module: ExecModule) -> int:
    """One memcpy_dig call of ``size`` bytes."""
    l2 = module.levels[-1][0]
    return int(module.timing["dma_call"]) + ceil(size / l2.read_bw)


def kernel_cycles(shape: DianaShape, k: int, rows: int, module: ExecModule) -> int:
    """One digital_conv_2d / digital_depthwise_conv_2d / digital_fully_connected call of ``k``
    output channels by ``rows`` output rows (one sample)."""
    timing = module.timing
    array_rows, array_columns = (axis.size for axis in module.array.axes)
    if shape.kind == "dense":
        passes, per_pass = ceil(k / array_rows), 3 * shape.channels
    else:
        slots = int(timing["depthwise_slots"]) if shape.kind == "depthwise" else 1
        columns = ceil(shape.width / array_columns)
        passes = ceil(k * slots / array_rows) * rows * columns
        per_pass = (shape.taps_per_output // shape.fx) * (shape.fx + 2)
    return int(timing["kernel_call"]) + passes * (per_pass + int(timing["pass_overhead"]))


@dataclass(frozen=True)
class TileCycles:
    compute: int
    transfer: int
    moved: int

    @property
    def total(self) -> int:
        return self.compute + self.transfer


def _edges(total: int, tile: int) -> list[tuple[int, int]]:
    """(size, count) of the full tiles and the edge tile of a loop of ``total`` by ``tile``."""
    full, edge = divmod(total, tile)
    return [(size, count) for size, count in ((tile, full), (edge, 1)) if count and size]


def tile_cycles(shape: DianaShape, tile: DianaTile, module: ExecModule,
                result_bytes: int) -> TileCycles:
    """The cycles of every call the layer's tiles make, in nnmap's loop order."""
    compute = transfer = moved = 0
    k_sizes, row_sizes = _edges(shape.outputs, tile.k_tile), _edges(shape.rows, tile.rows)
    row_tiles = tile.row_tiles(shape) * shape.batch
    for k, k_count in k_sizes:
        loads = k_count if tile.channels_outer or tile.k_tiles(shape) == 1 else k_count * row_tiles
        transfer += loads * dma_cycles(shape.weight_bytes(k), module)
        moved += loads * shape.weight_bytes(k)
        for rows, row_count in row_sizes:
            calls = k_count * row_count * shape.batch
            sizes = (shape.input_bytes(rows), shape.output_bytes(k, rows, result_bytes))
            transfer += calls * sum(dma_cycles(size, module) for size in sizes)
            moved += calls * sum(sizes)
            compute += calls * kernel_cycles(shape, k, rows, module)
    return TileCycles(compute, transfer, moved)


def mapping_of(shape: DianaShape, tile: DianaTile, workload: Workload) -> Mapping:
    """The Mapping that records ``tile`` (the K and OY tiles; everything else whole)."""
    sizes = dict(workload.loops)
    sizes["OY"] = tile.rows
    if shape.kind != "depthwise":
        sizes["K"] = tile.k_tile
    sizes["B"] = 1
    order = ("K", "OY", "B") if tile.channels_outer else ("OY", "K", "B")
    spatial = (("k", "K", min(GROUP, shape.outputs)), ("ox", "OX", min(GROUP, shape.width)))
    return Mapping(spatial, (tuple(sizes[loop] for loop in LOOPS),), (order,), (frozenset(),))


def fits(shape: DianaShape, tile: DianaTile, module: ExecModule, result_bytes: int) -> bool:
    activations, weights = (memory.size for memory in module.levels[0])
    return (tile.activation_bytes(shape, result_bytes) <= activations
            and shape.weight_bytes(tile.k_tile) <= weights)


def candidate_tiles(shape: DianaShape, module: ExecModule, result_bytes: int) -> list[DianaTile]:
    """Every tile that fits the L1 memories: channel tiles in whole groups of 16 (or all
    channels; depthwise layers keep all), any number of rows, both loop orders."""
    if shape.kind == "depthwise":
        k_options = [shape.outputs]
    else:
        k_options = sorted({*range(GROUP, shape.outputs, GROUP), shape.outputs})
    row_options = [1] if shape.kind == "dense" else range(1, shape.rows + 1)
    found = []
    for k_tile in k_options:
        orders = (True,) if ceil(shape.outputs / k_tile) == 1 else (True, False)
        for rows in row_options:
            for outer in orders:
                tile = DianaTile(k_tile, rows, outer)
                if fits(shape, tile, module, result_bytes):
                    found.append(tile)
    return found


def layer_cost(workload: Workload, tile: DianaTile, module: ExecModule,
               result_bytes: int) -> Cost:
    """The modelled cost of the layer's calls for ``tile``."""
    shape = DianaShape.of(workload)
    cycles = tile_cycles(shape, tile, module, result_bytes)
    activations, weights = module.levels[0]
    l2 = module.levels[-1][0]
    whole = shape.staged_bytes(tile.rows) + shape.output_bytes(
        shape.outputs, shape.rows, result_bytes) * shape.batch
    peak = module.peak_macs_per_cycle
    return Cost(
        macs=workload.macs,
        compute_cycles=float(cycles.compute),
        transfer_cycles=(float(cycles.transfer),),
        transfer_bytes=(float(cycles.moved),),
        total_cycles=float(cycles.total),
        utilization=workload.macs / (cycles.total * peak),
        spatial_utilization=min(1.0, workload.macs / (cycles.compute * peak)),
        footprint=(
            ((activations.name, tile.activation_bytes(shape, result_bytes), activations.size),
             (weights.name, shape.weight_bytes(tile.k_tile), weights.size)),
            ((l2.name, whole, l2.size),),
        ),
        energy_pj=None,
    )
