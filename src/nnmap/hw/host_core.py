"""A host core as data: its ISA, how to compile for it, and what each class of instruction costs.

The cost model is a sum over executed instructions of a per-class cost in cycles, plus stalls:
a load whose destination the next instruction of the same basic block reads (load-use), and,
for cores with a branch predictor, one misprediction penalty per change of direction a
two-bit predictor would miss (estimated as the smaller of a branch's taken and not-taken counts),
plus data-cache misses where the core declares a cache. ``targets/host_cores.py`` gives the
sources of every number for the cores nnmap ships.

A core may also carry a ``HostCalibration``: the per-stage costs of nnmap's host kernels on it,
fitted to emulated measurements, which the mapper's analytical host model uses instead of its
assumed operation rates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from nnmap.errors import TargetError

ISAS = ("rv64imac", "rv32imc", "armv7-a")


@dataclass(frozen=True)
class InstructionCosts:
    """Cycles each instruction class occupies the pipeline for (issue to next issue, no stall).

    ``multiply`` is a multiply whose result is one register of at most 32 bits (RV ``mulw``,
    RV32 ``mul``, ARM ``mul``/``mla``); ``multiply_wide`` one with a 64-bit product or the upper
    half (RV64 ``mul``, ``mulh*``, ARM ``smull``/``umull``/``smlal``). ``load`` is a word or
    doubleword load, ``load_subword`` a byte or halfword one (sign or zero extended); the two
    ``*_use_stall`` fields are the extra cycles when the next instruction reads the loaded
    register. ``transfer_per_register`` is added per register beyond the first of an ARM
    load/store multiple (push, pop, ldm, stm). ``branch_mispredict`` is added per mispredicted
    conditional branch (0 for cores without a predictor, whose taken cost includes the flush).
    ``other`` covers system instructions (CSR access, fences, barriers).
    """

    alu: float
    load: float
    load_subword: float
    load_use_stall: float
    load_subword_use_stall: float
    store: float
    multiply: float
    multiply_wide: float
    divide: float
    branch_taken: float
    branch_not_taken: float
    branch_mispredict: float
    jump: float
    indirect_jump: float
    transfer_per_register: float
    other: float

    def check(self, core: str) -> None:
        """Raise TargetError naming the field when a cost is negative."""
        for cost in fields(self):
            if getattr(self, cost.name) < 0:
                raise TargetError(f"host core {core}: cost {cost.name} must be >= 0")


@dataclass(frozen=True)
class DataCache:
    """A set-associative, LRU, write-allocate L1 data cache: every load and store looks up the
    line of its first byte; a miss costs ``miss_penalty`` cycles (refill from the next level,
    no write-back cost, no prefetch, no instruction cache)."""

    sets: int
    ways: int
    line_bytes: int
    miss_penalty: float

    @property
    def size_bytes(self) -> int:
        """Total capacity."""
        return self.sets * self.ways * self.line_bytes

    def check(self, core: str) -> None:
        """Raise TargetError naming the field when the geometry is not a usable cache."""
        for name in ("sets", "ways", "line_bytes"):
            if getattr(self, name) < 1:
                raise TargetError(f"host core {core}: data cache {name} must be >= 1")
        if self.miss_penalty < 0:
            raise TargetError(f"host core {core}: data cache miss_penalty must be >= 0")


@dataclass(frozen=True)
class HostCalibration:
    """What nnmap's host kernels cost on a core, fitted to measurements (core cycles):
    ``mac_cycles`` per multiply-accumulate of each compute workload kind (conv, depthwise,
    dense), ``op_cycles`` per modelled operation (a ``HostWork``'s elements x ops) of each
    streamed stage kind (requantization, max pool, average pool, add, softmax, copy),
    ``call_cycles`` per kernel call; ``source`` names the script that fitted them and on
    what."""

    mac_cycles: Mapping[str, float] = field(hash=False)
    op_cycles: Mapping[str, float] = field(hash=False)
    call_cycles: float
    source: str

    def check(self, core: str) -> None:
        """Raise TargetError naming the entry when a coefficient is negative."""
        entries = {
            **{f"mac_cycles[{kind}]": value for kind, value in self.mac_cycles.items()},
            **{f"op_cycles[{kind}]": value for kind, value in self.op_cycles.items()},
            "call_cycles": self.call_cycles,
        }
        for name, value in entries.items():
            if value < 0:
                raise TargetError(f"host core {core}: calibrated cost {name} must be >= 0")


@dataclass(frozen=True)
class HostCore:
    """A host CPU: what nnmap compiles its C for (``zig cc`` target and flags) and what its
    instructions cost. ``data_cache`` is None for cores that load from tightly coupled memory;
    ``calibration`` is None until nnmap's host kernels were measured on it."""

    name: str
    isa: str
    target: str
    cpu: str
    compile_flags: tuple[str, ...]
    clock_hz: float
    costs: InstructionCosts
    data_cache: DataCache | None = None
    calibration: HostCalibration | None = None

    def __post_init__(self) -> None:
        if self.isa not in ISAS:
            raise TargetError(
                f"host core {self.name}: isa {self.isa!r} is not one of {', '.join(ISAS)}"
            )
        if self.clock_hz <= 0:
            raise TargetError(f"host core {self.name}: clock_hz must be > 0")
        self.costs.check(self.name)
        if self.data_cache is not None:
            self.data_cache.check(self.name)
        if self.calibration is not None:
            self.calibration.check(self.name)

    @property
    def word_bits(self) -> int:
        """Register width of the ISA."""
        return 64 if self.isa.startswith("rv64") else 32
