"""The kernel optimizations of the FPGA flow, each one a switch, and the per-layer choices.

With every switch off, a layer's kernel is TVM's plain OpenCL output of nnmap's TE compute: one
single work-item kernel, its int32 accumulators in a global buffer, every stage a loop nest of
its own, each kernel launched by the host in order from one command queue.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Optimizations:
    """Which optimizations the emitted design uses (all off: TVM's base kernels)."""

    unroll: bool = False  # '#pragma unroll' of the channel and window loops
    tiling: bool = False  # output-channel tiles with their weights cached on chip (__local)
    fusion: bool = False  # accumulation, bias, requantization, activation in one nest
    cached_writes: bool = False  # accumulate in a register, write each output once
    channels: bool = False  # Intel channels between consecutive kernels instead of DDR
    autorun: bool = False  # kernels with no host argument start by themselves
    concurrent_queues: bool = False  # one command queue per kernel: kernels overlap
    shared_kernels: bool = False  # layers of one shape and quantization share one kernel

    def without(self, switch: str) -> Optimizations:
        """These optimizations with ``switch`` off."""
        return replace(self, **{switch: False})

    @property
    def intel_extensions(self) -> bool:
        """True when the design needs Intel's OpenCL extensions (channels, autorun)."""
        return self.channels or self.autorun


SWITCHES: tuple[str, ...] = tuple(field.name for field in fields(Optimizations))
BASE = Optimizations()
ALL = Optimizations(**dict.fromkeys(SWITCHES, True))
PORTABLE = replace(ALL, channels=False, autorun=False)


@dataclass(frozen=True)
class LayerChoice:
    """What the mapper chose for one layer's kernel: the unroll factor of its input-channel
    loop (1: none) and the output channels per on-chip weight tile (0: no tiling)."""

    unroll: int = 1
    channel_tile: int = 0
