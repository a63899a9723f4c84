"""The hardware model: memories, compute arrays, execution modules and targets, as validated values.

A target is data. Every dataclass checks itself on construction and raises ``TargetError`` naming
the offending field, so a malformed target file fails when it is imported, not deep in a search.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from math import inf, prod
from typing import Any

from nnmap.errors import TargetError
from nnmap.hw.backend import Backend
from nnmap.hw.host_core import HostCore

OPERANDS = ("I", "W", "O")
LOOP_NAMES = ("B", "K", "C", "OY", "OX", "FY", "FX")


def _require(condition: bool, where: str, what: str) -> None:
    if not condition:
        raise TargetError(f"{where}: {what}")


@dataclass(frozen=True)
class Memory:
    """One memory: ``size`` bytes, bandwidths in bytes/cycle, ``latency`` cycles per transfer.

    ``operands`` says which of I (input), W (weights), O (outputs) it may hold; ``holds_psums``
    means outputs live there as full-width partial sums (the array's accumulator width);
    ``burst_bytes`` is the transfer granularity of one contiguous row (a row shorter than a burst
    costs a whole burst); ``energy_pj_per_byte`` is the access energy where it is known.
    """

    name: str
    size: int
    operands: tuple[str, ...]
    read_bw: float
    write_bw: float
    latency: float = 0.0
    banks: int = 1
    double_buffer: bool = True
    holds_psums: bool = False
    burst_bytes: int = 1
    energy_pj_per_byte: float | None = None

    def __post_init__(self) -> None:
        where = f"memory {self.name!r}"
        _require(self.size > 0, where, f"size must be > 0 bytes (got {self.size})")
        _require(self.read_bw > 0, where, f"read_bw must be > 0 bytes/cycle (got {self.read_bw})")
        _require(
            self.write_bw > 0, where, f"write_bw must be > 0 bytes/cycle (got {self.write_bw})"
        )
        _require(self.latency >= 0, where, f"latency must be >= 0 (got {self.latency})")
        _require(self.banks >= 1, where, f"banks must be >= 1 (got {self.banks})")
        _require(self.burst_bytes >= 1, where, f"burst_bytes must be >= 1 (got {self.burst_bytes})")
        _require(len(self.operands) > 0, where, "operands must name at least one of I, W, O")
        unknown = [op for op in self.operands if op not in OPERANDS]
        _require(
            not unknown, where, f"operands has {unknown[0] if unknown else ''!r}; use I, W or O"
        )

    def holds(self, operand: str) -> bool:
        return operand in self.operands


@dataclass(frozen=True)
class ArrayAxis:
    """One spatial axis of a compute array: ``size`` lanes that may unroll one of ``loops``."""

    name: str
    size: int
    loops: tuple[str, ...]

    def __post_init__(self) -> None:
        where = f"array axis {self.name!r}"
        _require(self.size >= 1, where, f"size must be >= 1 (got {self.size})")
        _require(len(self.loops) > 0, where, "loops must list at least one loop it may unroll")
        unknown = [loop for loop in self.loops if loop not in LOOP_NAMES]
        _require(
            not unknown,
            where,
            f"loops has {unknown[0] if unknown else ''!r}; use {', '.join(LOOP_NAMES)}",
        )


@dataclass(frozen=True)
class ComputeArray:
    """The spatial datapath: axes (spatial unrolling per loop), one array step per ``step_cycles``.

    ``stationary`` names the operand held in the array across steps (W for a weight-stationary
    systolic array) and ``reload_cycles`` the cycles to load a new block of it, overlapped with
    streaming; ``fill_cycles``/``drain_cycles`` are paid once per innermost tile.
    """

    name: str
    axes: tuple[ArrayAxis, ...]
    dtypes: tuple[str, ...] = ("int8",)
    acc_bytes: int = 4
    step_cycles: int = 1
    stationary: str | None = None
    reload_cycles: int = 0
    fill_cycles: int = 0
    drain_cycles: int = 0
    mac_energy_pj: float | None = None

    def __post_init__(self) -> None:
        where = f"compute array {self.name!r}"
        _require(len(self.axes) > 0, where, "axes must have at least one axis")
        names = [axis.name for axis in self.axes]
        _require(len(set(names)) == len(names), where, "axes names must be distinct")
        _require(self.step_cycles >= 1, where, f"step_cycles must be >= 1 (got {self.step_cycles})")
        _require(self.acc_bytes >= 1, where, f"acc_bytes must be >= 1 (got {self.acc_bytes})")
        _require(
            self.stationary in (None, *OPERANDS),
            where,
            f"stationary must be None, I, W or O (got {self.stationary!r})",
        )
        for name in ("reload_cycles", "fill_cycles", "drain_cycles"):
            _require(getattr(self, name) >= 0, where, f"{name} must be >= 0")

    @property
    def lanes(self) -> int:
        return prod(axis.size for axis in self.axes)

    @property
    def peak_macs_per_cycle(self) -> float:
        return self.lanes / self.step_cycles

    def default_unrolling(self) -> dict[str, int]:
        """Spatial unrolling per loop when each axis takes its first loop."""
        unroll = dict.fromkeys(LOOP_NAMES, 1)
        for axis in self.axes:
            unroll[axis.loops[0]] *= axis.size
        return unroll


@dataclass(frozen=True)
class Instruction:
    """An intrinsic of a module: its name, the C function generated code calls, what it does."""

    name: str
    c_name: str
    meaning: str


def _always_supported(workload: Any) -> str | None:
    return None


@dataclass(frozen=True)
class ExecModule:
    """A module that runs layers: an array and its memory hierarchy, innermost level first.

    ``levels[i]`` is the tuple of memories at depth ``i``; the outermost level holds whole tensors.
    ``supports(workload)`` returns None when the module can run the workload, else the reason.
    ``timing`` holds named timing parameters (cycles), e.g. ``layer_overhead`` per offloaded layer.
    ``backend`` is the code behind an accelerator module (``nnmap.hw.backend.Backend``): what it
    lowers, how its instruction stream is timed, its emulator. A module without one runs only
    the host's C kernels.
    """

    name: str
    array: ComputeArray
    levels: tuple[tuple[Memory, ...], ...]
    supports: Callable[[Any], str | None] = _always_supported
    instructions: tuple[Instruction, ...] = ()
    timing: Mapping[str, float] = field(default_factory=dict)
    operand_bytes: Mapping[str, float] = field(default_factory=lambda: {"I": 1, "W": 1, "O": 1})
    backend: Backend | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        where = f"module {self.name!r}"
        _require(len(self.levels) > 0, where, "levels must have at least one memory level")
        for depth, level in enumerate(self.levels):
            _require(len(level) > 0, where, f"levels[{depth}] is empty")
            for operand in OPERANDS:
                holders = [mem.name for mem in level if mem.holds(operand)]
                _require(
                    len(holders) > 0,
                    where,
                    f"levels[{depth}] has no memory that can hold "
                    f"operand {operand}; add it to one memory's operands",
                )
                _require(
                    len(holders) == 1,
                    where,
                    f"levels[{depth}]: operand {operand} is held "
                    f"by several memories {holders}; give it to exactly one",
                )
        for name, value in self.timing.items():
            _require(value >= 0, where, f"timing[{name!r}] must be >= 0 (got {value})")
        self._check_array_fits()

    def _check_array_fits(self) -> None:
        """The innermost level must hold at least one array tile of every operand it holds."""
        unroll = self.array.default_unrolling()
        relevant = {
            "I": ("B", "C", "OY", "OX", "FY", "FX"),
            "W": ("K", "C", "FY", "FX"),
            "O": ("B", "K", "OY", "OX"),
        }
        for memory in self.levels[0]:
            need = 0.0
            for operand in memory.operands:
                width = (
                    self.array.acc_bytes
                    if operand == "O" and memory.holds_psums
                    else self.operand_bytes[operand]
                )
                need += width * prod(unroll[loop] for loop in relevant[operand])
            _require(
                memory.size >= need,
                f"module {self.name!r} memory {memory.name!r}",
                f"size {memory.size} B is smaller than one tile of the array ({need} B)",
            )

    def memory_for(self, depth: int, operand: str) -> Memory:
        return next(mem for mem in self.levels[depth] if mem.holds(operand))

    def memories(self) -> tuple[Memory, ...]:
        return tuple(mem for level in self.levels for mem in level)

    @property
    def peak_macs_per_cycle(self) -> float:
        return self.array.peak_macs_per_cycle


@dataclass(frozen=True)
class Target:
    """A system-on-chip: a host module, accelerator modules, shared memories and the clock;
    ``host_core`` is the host CPU as an instruction-set target (ISA, compiler flags, costs per
    instruction class), on which nnmap measures the host's C by emulation."""

    name: str
    host: ExecModule
    accelerators: tuple[ExecModule, ...] = ()
    shared: tuple[Memory, ...] = ()
    clock_hz: float = 100e6
    description: str = ""
    host_core: HostCore | None = None

    def __post_init__(self) -> None:
        where = f"target {self.name!r}"
        _require(0 < self.clock_hz < inf, where,
                 f"clock_hz must be > 0 and finite (got {self.clock_hz})")
        names = [module.name for module in self.modules()]
        _require(len(set(names)) == len(names), where, f"module names must be distinct ({names})")

    def modules(self) -> tuple[ExecModule, ...]:
        return (*self.accelerators, self.host)

    def host_only(self) -> Target:
        """The same SoC with its accelerators left idle: every layer on the host core (the
        baseline heterogeneous results are compared with)."""
        return replace(self, name=f"{self.name} (host only)", accelerators=())

    def module(self, name: str) -> ExecModule:
        for module in self.modules():
            if module.name == name:
                return module
        known = ", ".join(module.name for module in self.modules())
        raise TargetError(f"target {self.name!r} has no module {name!r} (known: {known})")
