"""An analytical HLS performance model of single work-item OpenCL kernels on an FPGA.

It follows FlexCL (Wang, Liang, Zhang: "FlexCL: An Analytical Performance Model for OpenCL
Workloads on Flexible FPGAs", DAC 2017) for one pipelined loop:

- initiation interval ``II = max(1, II_res, II_rec)``; ``II_res = max over memories of
  ceil(accesses per iteration / ports)``, ``II_rec = ceil(latency of the loop-carried dependence
  cycle / its distance)``;
- a pipelined loop of ``N`` iterations and depth ``D`` takes ``(N - 1) * II + D`` cycles; an outer
  loop that is not pipelined repeats its body: ``N_outer * latency(body)``;
- unrolling by ``U`` divides the trip count by ``U`` and multiplies the accesses (and the datapath)
  per iteration by ``U``; a carried dependence stays one cycle of the loop.

A kernel's loop nests run one after another; the kernels of a design run in order (one queue)
or overlap where they may (concurrent queues, channels: see ``network``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass


def resource_ii(accesses: Mapping[str, int], ports: Mapping[str, int]) -> int:
    """FlexCL's resource-constrained II: the most contended memory's accesses over its ports."""
    return max((math.ceil(count / ports[memory]) for memory, count in accesses.items()),
               default=1)


def recurrence_ii(latency: int, distance: int = 1) -> int:
    """FlexCL's recurrence-constrained II: the dependence cycle's latency over its distance."""
    return math.ceil(latency / distance) if latency else 1


@dataclass(frozen=True)
class PipelinedLoop:
    """The innermost pipelined loop of a nest: ``trip`` iterations (after unrolling), one
    issued every ``ii`` cycles, each ``depth`` cycles long; ``outer`` repetitions of it by the
    loops around it, which are not pipelined."""

    trip: int
    ii: int
    depth: int
    outer: int = 1

    @property
    def cycles(self) -> int:
        """``outer * ((trip - 1) * II + depth)``."""
        return self.outer * ((max(self.trip, 1) - 1) * self.ii + self.depth)


def pipelined_loop(trip: int, depth: int, accesses: Mapping[str, int], ports: Mapping[str, int],
                   recurrence: int = 0, distance: int = 1, unroll: int = 1, outer: int = 1
                   ) -> PipelinedLoop:
    """A loop of ``trip`` iterations unrolled by ``unroll``: ``accesses`` are those of one
    original iteration (each memory's count is multiplied by the unroll factor)."""
    unrolled = {memory: count * unroll for memory, count in accesses.items()}
    ii = max(1, resource_ii(unrolled, ports), recurrence_ii(recurrence, distance))
    return PipelinedLoop(math.ceil(trip / unroll), ii, depth, outer)


@dataclass(frozen=True)
class Resources:
    """FPGA resources a kernel or design uses."""

    dsps: int = 0
    m20ks: int = 0
    alms: int = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.dsps + other.dsps, self.m20ks + other.m20ks,
                         self.alms + other.alms)


@dataclass(frozen=True)
class KernelEstimate:
    """One kernel's modelled cycles (its loop nests in order) and resources."""

    name: str
    loops: tuple[PipelinedLoop, ...]
    resources: Resources

    @property
    def cycles(self) -> int:
        return sum(loop.cycles for loop in self.loops)
