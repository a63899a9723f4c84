"""The HLS model of one layer's kernels, loop nest by loop nest, as ``kernels.py`` emits them.

A layer with a reduction (conv, depthwise, dense, pooling) is ``outputs x reduction``: in the base
design one kernel accumulates in a global buffer (innermost loop over the input channels, its
dependence through global memory) and a second requantizes; fused, one kernel requantizes each
output after its accumulation, the accumulator a register (cached writes) or one ``__local``
word; unrolled, the window loops run in parallel and the channel loop ``unroll`` lanes wide (a
reduction unrolled whole, e.g. a depthwise or pooling window, makes its output loop the
pipelined one). Other
layers are one loop over their outputs per TE stage (base) or one for all (fused).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nnmap.ir import Conv2D, FullyConnected, Graph, Layer, Pool2D
from nnmap.targets.stratix10.device import FpgaDevice
from nnmap.targets.stratix10.hls import KernelEstimate, PipelinedLoop, Resources, pipelined_loop
from nnmap.targets.stratix10.options import LayerChoice, Optimizations

MULTIPLY_DEPTH = 3  # assumed: cycles of a pipelined int8 multiply in a DSP block
REQUANT_DEPTH = 30  # assumed: 64-bit multiply, rounding shift and clamp of TFLite requantization
ELEMENT_DEPTH = 20  # assumed: an element-wise stage (rescale, add, clamp)
REQUANT_DSPS = 4  # assumed: a 32x32-bit product from 18x19 multipliers
KERNEL_ALMS = 1_500  # assumed: a kernel's control, loop counters and argument registers
LSU_ALMS = 2_000  # assumed: one burst-coalesced global load/store unit
LANE_ALMS = 40  # assumed: one int8 MAC lane's share of the adder tree and registers
REQUANT_ALMS = 600  # assumed: the requantization datapath besides its DSPs
ELEMENT_ALMS = 300  # assumed: one element-wise stage's datapath
ELEMENTWISE_STAGES = {"Add": 7}  # TE stages of TFLite's Add: 2 x (shift, rescale), sum, out


@dataclass(frozen=True)
class Reduction:
    """A layer as ``outputs`` results of a ``channels x window`` reduction each."""

    outputs: int
    channels: int
    window: int
    output_channels: int
    weights: bool


def reduction_of(layer: Layer, graph: Graph) -> Reduction | None:
    """The reduction a layer computes (None: it has none)."""
    out = graph.tensor(layer.output)
    if isinstance(layer, Conv2D):
        _, fy, fx, channels = layer.weight.shape
        return Reduction(out.size, channels, fy * fx, out.shape[-1], True)
    if isinstance(layer, FullyConnected):
        return Reduction(out.size, layer.weight.shape[1], 1, layer.weight.shape[0], True)
    if isinstance(layer, Pool2D):
        return Reduction(out.size, 1, layer.kernel[0] * layer.kernel[1], out.shape[-1], False)
    return None


def _ports(device: FpgaDevice) -> dict[str, int]:
    return {"global": max(1, int(device.ddr_banks * device.ddr_bytes_per_cycle)),
            "local": device.m20k_ports}


def _m20ks(device: FpgaDevice, nbytes: int, parallel_reads: int) -> int:
    """Blocks for a buffer: its capacity, or enough banks for its parallel reads."""
    return max(math.ceil(nbytes / device.m20k_bytes), math.ceil(parallel_reads / 2))


def _accumulating(reduction: Reduction, options: Optimizations, choice: LayerChoice,
                  device: FpgaDevice) -> list[KernelEstimate]:
    ports = _ports(device)
    global_depth = device.global_memory_latency
    if not options.fusion:
        accumulate = pipelined_loop(
            reduction.channels, global_depth + MULTIPLY_DEPTH, {"global": 4}, ports,
            recurrence=global_depth, outer=reduction.outputs * reduction.window)
        requantize = pipelined_loop(reduction.outputs, global_depth + REQUANT_DEPTH,
                                    {"global": 1}, ports)
        return [
            KernelEstimate("accumulate", (accumulate,), Resources(
                1, 0, KERNEL_ALMS + 4 * LSU_ALMS + LANE_ALMS)),
            KernelEstimate("requantize", (requantize,), Resources(
                REQUANT_DSPS, 0, KERNEL_ALMS + 5 * LSU_ALMS + REQUANT_ALMS)),
        ]
    tiled = options.tiling and 0 < choice.channel_tile <= reduction.output_channels
    tile = choice.channel_tile if tiled else reduction.output_channels
    recurrence = 1 if options.cached_writes else device.local_memory_latency + 1
    whole = options.unroll and choice.unroll >= reduction.channels
    lanes = reduction.window * min(choice.unroll, reduction.channels) if options.unroll else 1
    per_lane = {"global": 1 if tiled else 2}
    depth = global_depth + MULTIPLY_DEPTH + math.ceil(math.log2(max(lanes, 1))) + REQUANT_DEPTH
    if whole:  # the reduction unrolled whole: the loop over outputs is the pipelined one
        body = pipelined_loop(reduction.outputs, depth,
                              {"global": per_lane["global"] * lanes}, ports,
                              recurrence=0 if options.cached_writes else recurrence)
    elif options.unroll:
        body = pipelined_loop(reduction.channels, depth,
                              {"global": per_lane["global"] * reduction.window}, ports,
                              recurrence=recurrence, unroll=min(choice.unroll, reduction.channels),
                              outer=reduction.outputs)
    else:  # the reduction loops as one pipelined loop per output
        body = pipelined_loop(reduction.channels * reduction.window, depth, per_lane, ports,
                              recurrence=recurrence, outer=reduction.outputs)
    loops: list[PipelinedLoop] = [body]
    m20ks = 0
    if tiled and reduction.weights:
        tile_bytes = reduction.channels * reduction.window * tile
        tiles = math.ceil(reduction.output_channels / tile)
        loops.append(PipelinedLoop(tile_bytes, 1, global_depth, tiles))
        m20ks = _m20ks(device, tile_bytes, lanes)
    multipliers = math.ceil(lanes / device.multipliers_per_dsp) if reduction.weights else 0
    dsps = multipliers + REQUANT_DSPS
    lsus = 3 + (0 if tiled else 1) + 3  # data, weight, out; bias, multiplier, shift
    alms = KERNEL_ALMS + lsus * LSU_ALMS + lanes * LANE_ALMS + REQUANT_ALMS
    return [KernelEstimate("fused", tuple(loops), Resources(dsps, m20ks, alms))]


def _elementwise(layer: Layer, graph: Graph, options: Optimizations, device: FpgaDevice
                 ) -> list[KernelEstimate]:
    elements = graph.tensor(layer.output).size
    stages = ELEMENTWISE_STAGES.get(layer.kind, 1)
    depth = device.global_memory_latency + ELEMENT_DEPTH
    ports = _ports(device)
    if options.fusion or stages == 1:
        loop = pipelined_loop(elements, depth * (1 if options.fusion else stages),
                              {"global": len(layer.inputs) + 1}, ports)
        return [KernelEstimate("elementwise", (loop,), Resources(
            0, 0, KERNEL_ALMS + (len(layer.inputs) + 1) * LSU_ALMS + stages * ELEMENT_ALMS))]
    loop = pipelined_loop(elements, depth, {"global": 2}, ports)
    return [KernelEstimate(f"stage{index}", (loop,), Resources(
        0, 0, KERNEL_ALMS + 2 * LSU_ALMS + ELEMENT_ALMS)) for index in range(stages)]


def layer_estimates(layer: Layer, graph: Graph, options: Optimizations, choice: LayerChoice,
                    device: FpgaDevice) -> list[KernelEstimate]:
    """The modelled kernels of ``layer`` (their order and count as emitted)."""
    reduction = reduction_of(layer, graph)
    if reduction is None:
        return _elementwise(layer, graph, options, device)
    return _accumulating(reduction, options, choice, device)
