"""The HLS model of a whole design, and the mapper that chooses each layer's optimizations.

Latency of one inference: each kernel starts when the kernels that wrote its inputs have ended
(and, on one in-order queue, when the kernel before it has); a kernel reading a channel starts
with its producer and computes once the last element is through (the producer's end plus the
channel's latency): a consumer stalls on an empty channel, a producer on a full one (the
back-pressure), so in a stream of inferences a chain of channel-connected kernels issues one
inference per its slowest kernel (the ``interval``). Every kernel the host enqueues costs the
launch overhead, on the critical path when the queue is in order, once at the start when every
kernel has its own queue; autorun kernels cost none.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from nnmap.errors import MappingError
from nnmap.ir import Graph, Layer, Reshape, Softmax
from nnmap.targets.stratix10.device import FpgaDevice
from nnmap.targets.stratix10.hls import KernelEstimate, Resources
from nnmap.targets.stratix10.layer_model import layer_estimates, reduction_of
from nnmap.targets.stratix10.options import LayerChoice, Optimizations

SHELL = Resources(0, 500, 100_000)  # assumed: the board's shell (PCIe, DDR controllers) in use
HEADROOM = 0.8  # assumed: the share of each resource a design may use and still route
UNROLL_FACTORS = tuple(2**power for power in range(11))
TILE_BYTES = 64 * 1024  # assumed: the largest weight tile one kernel caches in M20K blocks


@dataclass(frozen=True)
class LayerEstimate:
    """One layer's modelled kernels, when they end, and their resources."""

    index: int
    name: str
    kernels: tuple[KernelEstimate, ...]
    end_cycle: float

    @property
    def cycles(self) -> int:
        return sum(kernel.cycles for kernel in self.kernels)

    @property
    def resources(self) -> Resources:
        return sum((kernel.resources for kernel in self.kernels), Resources())


@dataclass(frozen=True)
class DesignEstimate:
    """A design's modelled latency (one inference), interval (a stream of inferences) and
    resources against the device."""

    layers: tuple[LayerEstimate, ...]
    latency_seconds: float
    interval_seconds: float
    resources: Resources
    device: FpgaDevice

    def utilization(self) -> dict[str, float]:
        """Each resource used over the device's."""
        return {"dsp": self.resources.dsps / self.device.dsp_blocks,
                "m20k": self.resources.m20ks / self.device.m20k_blocks,
                "alm": self.resources.alms / self.device.alms}

    @property
    def fits(self) -> bool:
        return all(share <= HEADROOM for share in self.utilization().values())


KernelCache = dict[tuple[int, LayerChoice], list[KernelEstimate]]


def _shape_key(graph: Graph, layer: Layer) -> tuple[object, ...]:
    """What a kernel's OpenCL text depends on besides its constant buffers: the layer's kind
    and geometry, its tensors' shapes and zero points (padding, output offset), its clamp."""
    tensors = [graph.tensor(name) for name in (*layer.inputs, layer.output)]
    geometry = tuple((name, value) for name, value in vars(layer).items()
                     if name not in ("name", "inputs", "output")
                     and not hasattr(value, "shape") and not hasattr(value, "multiplier"))
    return (type(layer).__name__, geometry,
            tuple((tensor.shape, tensor.zero_point) for tensor in tensors),
            tuple(getattr(layer, "weight", np.empty(0)).shape))


def kernel_groups(graph: Graph) -> dict[int, int]:
    """Layer index -> the first layer whose kernels it can share (itself when none)."""
    first: dict[tuple[object, ...], int] = {}
    return {index: first.setdefault(_shape_key(graph, layer), index)
            for index, layer in enumerate(graph.layers)}


def estimate(graph: Graph, options: Optimizations, choices: Mapping[int, LayerChoice],
             device: FpgaDevice, channels: frozenset[str] = frozenset(),
             autorun: int = 0, cache: KernelCache | None = None) -> DesignEstimate:
    """The modelled design: ``channels`` the tensors carried by channels, ``autorun`` how many
    kernels start by themselves; ``cache`` keeps each layer's kernels per choice (the mapper
    estimates the same layers under the same choices many times)."""
    cache = {} if cache is None else cache
    clock, launch = device.kernel_clock_hz, device.launch_overhead_seconds * device.kernel_clock_hz
    ends: dict[str, float] = dict.fromkeys(graph.inputs, 0.0)
    previous_end, launched, layers = 0.0, 0, []
    groups = kernel_groups(graph) if options.shared_kernels else {}
    for index, layer in enumerate(graph.layers):
        ready = max((ends.get(name, 0.0) for name in layer.inputs), default=0.0)
        if isinstance(layer, Reshape | Softmax):
            ends[layer.output] = ready
            continue
        choice = choices.get(index, LayerChoice())
        if (index, choice) not in cache:
            cache[index, choice] = layer_estimates(layer, graph, options, choice, device)
        kernels = cache[index, choice]
        launched += len(kernels)
        if any(name in channels for name in layer.inputs):
            ready += device.channel_latency
        start = ready if options.concurrent_queues else max(ready, previous_end) + launch * len(
            kernels)
        end = start + sum(kernel.cycles for kernel in kernels)
        ends[layer.output] = previous_end = end
        layers.append(LayerEstimate(index, layer.name, tuple(kernels), end))
    total = max(ends[name] for name in graph.outputs)
    if options.concurrent_queues:
        total += launch if launched > autorun else 0.0
    interval = max((layer.cycles for layer in layers), default=0) if channels else total
    used = sum((layer.resources for layer in layers
                if groups.get(layer.index, layer.index) == layer.index), SHELL)
    used = replace(used, m20ks=used.m20ks + channel_m20ks(graph, channels, device))
    return DesignEstimate(tuple(layers), total / clock, interval / clock, used, device)


def channel_m20ks(graph: Graph, channels: frozenset[str], device: FpgaDevice) -> int:
    """The consumers' buffers of the channel tensors (whole tensors, in M20K blocks)."""
    return sum(math.ceil(graph.tensor(name).size / device.m20k_bytes) for name in channels)


def _tile(layer_index: int, graph: Graph) -> int:
    reduction = reduction_of(graph.layers[layer_index], graph)
    if reduction is None or not reduction.weights:
        return 0
    per_channel = reduction.channels * reduction.window
    tile = reduction.output_channels
    while tile > 1 and tile * per_channel > TILE_BYTES:
        tile = math.ceil(tile / 2)
    return tile


def choose(graph: Graph, options: Optimizations, device: FpgaDevice,
           channels: frozenset[str] = frozenset()) -> dict[int, LayerChoice]:
    """Per layer, the unroll factor and weight tile that minimize the modelled latency within
    the device's resources (``HEADROOM``): greedily, while the design fits, the one layer
    whose unroll doubling or whole unrolling saves the most cycles per added DSP takes it
    (a doubling may save nothing where only the whole reduction unrolled does); then each
    layer keeps its weight tile (``TILE_BYTES`` at most) where that shortens the latency."""
    choices = {index: LayerChoice(1, _tile(index, graph) if options.tiling else 0)
               for index, layer in enumerate(graph.layers)
               if reduction_of(layer, graph) is not None}
    cache: KernelCache = {}
    groups = kernel_groups(graph) if options.shared_kernels else {}
    smallest = estimate(graph, options, choices, device, channels, cache=cache)
    if not smallest.fits:
        worst, share = max(smallest.utilization().items(), key=lambda item: item[1])
        raise MappingError(f"{graph.name} does not fit the {device.name} even without "
                           f"unrolling: {share:.0%} of its {worst} blocks (at most "
                           f"{HEADROOM:.0%}); switch optimizations off or split the network")
    if options.unroll:
        choices = _unrolled(graph, options, device, channels, choices, cache)
    for index in list(choices):  # a weight tile only where the model says it pays
        untiled = {**choices, **{member: replace(choices[member], channel_tile=0)
                                 for member in choices if groups.get(member, member)
                                 == groups.get(index, index)}}
        candidate = estimate(graph, options, untiled, device, channels, cache=cache)
        if candidate.fits and candidate.latency_seconds < estimate(
                graph, options, choices, device, channels, cache=cache).latency_seconds:
            choices = untiled
    return choices


def _unrolled(graph: Graph, options: Optimizations, device: FpgaDevice,
              channels: frozenset[str], choices: dict[int, LayerChoice], cache: KernelCache
              ) -> dict[int, LayerChoice]:
    groups = kernel_groups(graph) if options.shared_kernels else {}

    def group_of(index: int) -> list[int]:
        """The layers that share ``index``'s kernel take one choice."""
        leader = groups.get(index, index)
        return [member for member in choices if groups.get(member, member) == leader]

    while True:
        current = estimate(graph, options, choices, device, channels, cache=cache)
        best, best_gain = None, 0.0
        for index, choice in choices.items():
            reduction = reduction_of(graph.layers[index], graph)
            assert reduction is not None
            whole = next(f for f in UNROLL_FACTORS if f >= min(reduction.channels,
                                                                UNROLL_FACTORS[-1]))
            for factor in {min(choice.unroll * 2, whole), whole} - {choice.unroll}:
                trial = {**choices, **{member: replace(choice, unroll=factor)
                                       for member in group_of(index)}}
                candidate = estimate(graph, options, trial, device, channels, cache=cache)
                added = max(candidate.resources.dsps - current.resources.dsps, 1)
                gain = (current.latency_seconds - candidate.latency_seconds) / added
                if candidate.fits and gain > best_gain:
                    best, best_gain = trial, gain
        if best is None:
            return choices
        choices = best
