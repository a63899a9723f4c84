"""TFLite's int8 residual add on the cluster (``add_kernel.c.in``): tiles of elements (the
Mapping's OX tile), both inputs and the output double-buffered in L1, each core a contiguous
share of a tile; its cost replays that schedule as the emulator times it."""

from __future__ import annotations

import re
from collections.abc import Mapping as Table
from pathlib import Path

from nnmap.codegen.kernels import clamp_range
from nnmap.codegen.layers import Argument, LayerCode, layer_id
from nnmap.hw import ExecModule
from nnmap.ir import Graph
from nnmap.ir.layers import Add, AddRescale
from nnmap.ir.workload import LOOPS, Workload
from nnmap.mapping.graph import LayerMapping
from nnmap.mapping.model import Cost, Mapping
from nnmap.mapping.space import tile_candidates
from nnmap.targets.gap9.cluster_code import render
from nnmap.targets.gap9.cluster_cost import Timeline
from nnmap.targets.gap9.cluster_tiles import CORES

TEMPLATE = Path(__file__).resolve().parent / "add_kernel.c.in"


def add_refusal(layer: Add, graph: Graph) -> str | None:
    """Why the cluster's add kernel does not take ``layer`` (None: it does)."""
    if not isinstance(layer.rescale, AddRescale):
        return "Add: it takes TFLite's int8 Add only"
    shapes = {graph.tensor(name).shape for name in (*layer.inputs, layer.output)}
    if len(shapes) != 1:
        return "Add with broadcasting: it adds tensors of one shape only"
    return None


def _buffer(tile: int) -> int:
    return -(-tile // 16) * 16


def add_cycles(elements: int, tile: int, timing: Table[str, float]) -> tuple[int, int, int]:
    """Total, compute and DMA-busy cycles of the add kernel's schedule."""
    line = Timeline(timing, now=int(timing["layer_overhead"]))
    counts = [min(tile, elements - first) for first in range(0, elements, tile)]
    line.issue(counts[0])
    ready = line.issue(counts[0])
    stored: list[int] = []
    for index, count in enumerate(counts):
        line.wait(ready)
        if index + 1 < len(counts):
            line.issue(counts[index + 1])
            following = line.issue(counts[index + 1])
        if index >= 2:
            line.wait(stored[index - 2])
        line.fork(min(-(-count // CORES), count) * int(timing["add_cycles"]))
        stored.append(line.issue(count))
        ready = following if index + 1 < len(counts) else ready
    line.wait(stored[-1])
    return line.now, line.compute, line.dma_busy


def add_cost(workload: Workload, mapping: Mapping, module: ExecModule) -> Cost:
    elements, tile = workload["OX"], mapping.tile(0, "OX")
    total, compute, busy = add_cycles(elements, tile, module.timing)
    l1, l2 = module.levels[0][0], module.levels[1][0]
    return Cost(
        macs=workload.macs, compute_cycles=float(compute), transfer_cycles=(float(busy),),
        transfer_bytes=(3.0 * elements,), total_cycles=float(total),
        utilization=workload.macs / (total * module.peak_macs_per_cycle),
        spatial_utilization=1.0,
        footprint=(((l1.name, 6 * _buffer(tile), l1.size),), ((l2.name, 3 * elements, l2.size),)),
        energy_pj=None,
    )


def add_bound(workload: Workload, mapping: Mapping, module: ExecModule) -> float:
    """A lower bound on ``add_cost``: the cores' work alone."""
    return float(-(-workload["OX"] // CORES) * int(module.timing["add_cycles"]))


def add_mappings(workload: Workload, module: ExecModule) -> list[Mapping]:
    """Element tiles (``tile_candidates``) whose six buffers fit L1."""
    budget = module.levels[0][0].size
    found = []
    for tile in tile_candidates(workload["OX"], 8 * CORES):
        if 6 * _buffer(tile) <= budget:
            sizes = tuple(tile if loop == "OX" else 1 for loop in LOOPS)
            found.append(Mapping((("cores", "OX", CORES),), (sizes,), (LOOPS,),
                                 (frozenset({"I", "O"}),)))
    return found


def add_layer_code(layer: Add, graph: Graph, index: int, mapped: LayerMapping,
                   module_name: str) -> LayerCode:
    """The kernel file and driver call of a residual add on the cluster."""
    rescale = layer.rescale
    assert isinstance(rescale, AddRescale), add_refusal(layer, graph)
    low, high = clamp_range(layer.clamp)
    first, second = (graph.tensor(name) for name in layer.inputs)
    values = {
        "ELEMENTS": graph.tensor(layer.output).size, "TILE": mapped.mapping.tile(0, "OX"),
        "LEFT_SHIFT": rescale.left_shift, "ZP_A": int(first.zero_point or 0),
        "ZP_B": int(second.zero_point or 0),
        "ZP_OUT": int(graph.tensor(layer.output).zero_point or 0),
        "MULT_A": rescale.input1.multiplier, "SHIFT_A": rescale.input1.shift,
        "MULT_B": rescale.input2.multiplier, "SHIFT_B": rescale.input2.shift,
        "MULT_OUT": rescale.output.multiplier, "SHIFT_OUT": rescale.output.shift,
        "CLAMP_LOW": low, "CLAMP_HIGH": high,
    }
    symbol = f"nnmap_gap9_{layer_id(index, layer)}"
    name = re.sub(r"[^A-Za-z0-9_./:;-]", "_", layer.name)
    comment = f"layer {name} (Add) on the GAP9 cluster, mapping {mapped.mapping.describe_level(0)}"
    prototype = (f"int32_t {symbol}(const int8_t *restrict a, const int8_t *restrict b, "
                 "int8_t *restrict out)")
    arguments = (Argument("input", layer.inputs[0]), Argument("input", layer.inputs[1]),
                 Argument("output", layer.output))
    return LayerCode(layer, index, symbol, prototype, f"{layer_id(index, layer)}.c",
                     render(TEMPLATE, symbol, comment, values), arguments, {}, 0,
                     module=module_name)
