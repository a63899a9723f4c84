"""TFLite's int8 average and max pooling on the cluster (``pool_kernel.c.in``): tiles of output
rows (the Mapping's OY tile) with every column and channel, input and output rows
double-buffered in L1; its cost replays that schedule as the emulator times it."""

from __future__ import annotations

import re
from collections.abc import Mapping as Table
from dataclasses import dataclass
from pathlib import Path

from nnmap.codegen.kernels import clamp_range
from nnmap.codegen.layers import Argument, LayerCode, layer_id
from nnmap.hw import ExecModule
from nnmap.ir import Graph
from nnmap.ir.layers import AveragePool, MaxPool, Pool2D
from nnmap.ir.workload import LOOPS, Workload
from nnmap.mapping.graph import LayerMapping
from nnmap.mapping.model import Cost, Mapping
from nnmap.mapping.space import tile_candidates
from nnmap.targets.gap9.cluster_code import render
from nnmap.targets.gap9.cluster_cost import Timeline
from nnmap.targets.gap9.cluster_tiles import CORES

TEMPLATE = Path(__file__).resolve().parent / "pool_kernel.c.in"


def pool_refusal(layer: Pool2D, graph: Graph) -> str | None:
    """Why the cluster's pooling kernel does not take ``layer`` (None: it does)."""
    if not isinstance(layer, AveragePool | MaxPool):
        return f"{layer.kind}: it pools by average or maximum only"
    if graph.tensor(layer.output).dtype != "int8":
        return f"{layer.kind}: it takes int8 pooling only"
    return None


@dataclass(frozen=True)
class PoolShape:
    """A pooling layer as the kernel runs it: input and output sizes, window, strides, top and
    left padding."""

    height: int
    width: int
    channels: int
    out_height: int
    out_width: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]

    @staticmethod
    def of(workload: Workload) -> PoolShape:
        top, left, bottom, right = workload.padding
        height = workload.input_extent("Y", workload["OY"], workload["FY"]) - top - bottom
        width = workload.input_extent("X", workload["OX"], workload["FX"]) - left - right
        return PoolShape(height, width, workload.groups, workload["OY"], workload["OX"],
                         (workload["FY"], workload["FX"]), workload.stride, (top, left))

    def input_rows(self, first_row: int, rows: int) -> int:
        first = first_row * self.stride[0] - self.padding[0]
        last = first + (rows - 1) * self.stride[0] + self.kernel[0]
        return min(last, self.height) - max(first, 0)

    def buffers(self, rows: int) -> tuple[int, int]:
        """Bytes of one input and one output buffer for tiles of ``rows`` output rows."""
        in_rows = min((rows - 1) * self.stride[0] + self.kernel[0], self.height)
        return (_aligned(in_rows * self.width * self.channels),
                _aligned(rows * self.out_width * self.channels))


def _aligned(size: int) -> int:
    return -(-size // 16) * 16


def pool_cycles(shape: PoolShape, rows: int, timing: Table[str, float]) -> tuple[int, int, int]:
    """Total, compute and DMA-busy cycles of the pooling kernel's schedule."""
    line = Timeline(timing, now=int(timing["layer_overhead"]))
    firsts = list(range(0, shape.out_height, rows))
    per_output = shape.kernel[0] * shape.kernel[1] * int(timing["pool_tap_cycles"])
    per_output += int(timing["pool_output_cycles"])
    row_bytes = shape.width * shape.channels
    ready = line.issue(shape.input_rows(0, min(rows, shape.out_height)) * row_bytes)
    stored: list[int] = []
    for index, first in enumerate(firsts):
        count = min(rows, shape.out_height - first)
        line.wait(ready)
        if index + 1 < len(firsts):
            following = firsts[index + 1]
            following_rows = min(rows, shape.out_height - following)
            ready = line.issue(shape.input_rows(following, following_rows) * row_bytes)
        if index >= 2:
            line.wait(stored[index - 2])
        outputs = count * shape.out_width * shape.channels
        line.fork(min(-(-outputs // CORES), outputs) * per_output)
        stored.append(line.issue(outputs))
    line.wait(stored[-1])
    return line.now, line.compute, line.dma_busy


def pool_cost(workload: Workload, mapping: Mapping, module: ExecModule) -> Cost:
    shape = PoolShape.of(workload)
    rows = min(mapping.tile(0, "OY"), shape.out_height)
    total, compute, busy = pool_cycles(shape, rows, module.timing)
    l1, l2 = module.levels[0][0], module.levels[1][0]
    whole = shape.height * shape.width * shape.channels
    whole += shape.out_height * shape.out_width * shape.channels
    return Cost(
        macs=workload.macs, compute_cycles=float(compute), transfer_cycles=(float(busy),),
        transfer_bytes=(float(whole),), total_cycles=float(total),
        utilization=workload.macs / (total * module.peak_macs_per_cycle),
        spatial_utilization=1.0,
        footprint=(((l1.name, 2 * sum(shape.buffers(rows)), l1.size),),
                   ((l2.name, whole, l2.size),)),
        energy_pj=None,
    )


def pool_bound(workload: Workload, mapping: Mapping, module: ExecModule) -> float:
    """A lower bound on ``pool_cost``: the cores' work alone."""
    shape = PoolShape.of(workload)
    outputs = shape.out_height * shape.out_width * shape.channels
    per_output = shape.kernel[0] * shape.kernel[1] * int(module.timing["pool_tap_cycles"])
    return float(-(-outputs // CORES) * (per_output + int(module.timing["pool_output_cycles"])))


def pool_mappings(workload: Workload, module: ExecModule) -> list[Mapping]:
    """Output-row tiles (``tile_candidates``) whose four buffers fit L1."""
    shape = PoolShape.of(workload)
    budget = module.levels[0][0].size
    found = []
    for rows in tile_candidates(shape.out_height, 1):
        if 2 * sum(shape.buffers(rows)) <= budget:
            sizes = {**dict.fromkeys(LOOPS, 1), "OY": rows, "OX": shape.out_width,
                     "FY": shape.kernel[0], "FX": shape.kernel[1]}
            found.append(Mapping((("cores", "OX", min(CORES, shape.out_width)),),
                                 (tuple(sizes[loop] for loop in LOOPS),), (LOOPS,),
                                 (frozenset({"I", "O"}),)))
    return found


def pool_layer_code(layer: Pool2D, graph: Graph, index: int, mapped: LayerMapping,
                    module_name: str) -> LayerCode:
    """The kernel file and driver call of a pooling layer on the cluster."""
    _, height, width, channels = graph.tensor(layer.inputs[0]).shape
    workload_shape = PoolShape.of(mapped.workload)
    shape = PoolShape(int(height), int(width), int(channels), workload_shape.out_height,
                      workload_shape.out_width, workload_shape.kernel, workload_shape.stride,
                      workload_shape.padding)
    rows = min(mapped.mapping.tile(0, "OY"), shape.out_height)
    in_buffer, out_buffer = shape.buffers(rows)
    low, high = clamp_range(layer.clamp)
    values = {
        "IN_H": shape.height, "IN_W": shape.width, "CHANNELS": shape.channels,
        "OUT_H": shape.out_height, "OUT_W": shape.out_width, "K_H": shape.kernel[0],
        "K_W": shape.kernel[1], "STRIDE_Y": shape.stride[0], "STRIDE_X": shape.stride[1],
        "PAD_TOP": shape.padding[0], "PAD_LEFT": shape.padding[1],
        "AVERAGE": int(isinstance(layer, AveragePool)), "CLAMP_LOW": low, "CLAMP_HIGH": high,
        "TILE_ROWS": rows, "IN_BUFFER": in_buffer, "OUT_BUFFER": out_buffer,
    }
    symbol = f"nnmap_gap9_{layer_id(index, layer)}"
    name = re.sub(r"[^A-Za-z0-9_./:;-]", "_", layer.name)
    comment = (f"layer {name} ({layer.kind}) on the GAP9 cluster, mapping "
               f"{mapped.mapping.describe_level(0)}")
    prototype = f"int32_t {symbol}(const int8_t *restrict input, int8_t *restrict output)"
    arguments = (Argument("input", layer.inputs[0]), Argument("output", layer.output))
    return LayerCode(layer, index, symbol, prototype, f"{layer_id(index, layer)}.c",
                     render(TEMPLATE, symbol, comment, values), arguments, {}, 0,
                     module=module_name)
