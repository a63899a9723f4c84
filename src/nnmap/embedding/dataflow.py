"""The scalar dataflow of a layer and of an accelerator instruction, as the embedding sees them.

A layer is the loop nest of ``nnmap.ir.workload`` plus the group loop ``G``:

``O[b, g, k, oy, ox] += I[b, g, c, oy*sy + fy*dy - pad, ox*sx + fx*dx - pad] * W[g, k, c, fy, fx]``

Each loop indexes some of the three operands (``LOOP_OPERANDS``). An instruction is a set of
axes, each indexing some operands: a GEMM instruction ``out[r][n] += in[r][k] * w[n][k]`` has a
row axis (indexes in and out), a column axis (w and out) and a reduction axis (in and w). Which
layer loop may sit on which instruction axis follows from these sets alone (``embedding.rules``),
so one formulation serves every GEMM-shaped instruction (a GEMM core's micro-op, a systolic
array's preload/compute, the next accelerator's).
"""

from __future__ import annotations

from dataclasses import dataclass

from nnmap.hw.model import ComputeArray
from nnmap.ir.workload import Workload

OPERANDS = ("I", "W", "O")

# The operands each layer loop indexes (I: input, W: weights, O: output).
LOOP_OPERANDS: dict[str, frozenset[str]] = {
    "G": frozenset("IWO"),
    "B": frozenset("IO"),
    "K": frozenset("WO"),
    "C": frozenset("IW"),
    "OY": frozenset("IO"),
    "OX": frozenset("IO"),
    "FY": frozenset("IW"),
    "FX": frozenset("IW"),
}
EMBEDDED_LOOPS = tuple(LOOP_OPERANDS)


@dataclass(frozen=True)
class InstructionAxis:
    """One axis of an instruction: ``size`` positions, indexing ``operands`` (of I, W, O)."""

    name: str
    size: int
    operands: frozenset[str]

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError(f"instruction axis {self.name}: size must be >= 1 (got {self.size})")
        if not self.operands or not self.operands <= set(OPERANDS):
            raise ValueError(f"instruction axis {self.name}: operands must be a subset of I, W, O")

    @property
    def reduces(self) -> bool:
        """The instruction sums over this axis (it does not index the output)."""
        return "O" not in self.operands


@dataclass(frozen=True)
class InstructionDataflow:
    """An instruction's scalar dataflow: its axes and the cycles one call costs (its issue cost
    under the accelerator's timing, used to rank embeddings before they are timed exactly)."""

    name: str
    axes: tuple[InstructionAxis, ...]
    cycles_per_call: float = 1.0

    def __post_init__(self) -> None:
        names = [axis.name for axis in self.axes]
        if len(set(names)) != len(names):
            raise ValueError(f"instruction {self.name}: axis names must be distinct ({names})")

    def axis(self, name: str) -> InstructionAxis:
        return next(axis for axis in self.axes if axis.name == name)

    @property
    def lanes(self) -> int:
        """Multiply-accumulates one call performs when every position is useful."""
        total = 1
        for axis in self.axes:
            total *= axis.size
        return total


def gemm_instruction(
    name: str, rows: int, reduction: int, columns: int, cycles_per_call: float = 1.0
) -> InstructionDataflow:
    """``out[r][n] += in[r][k] * w[n][k]`` with ``rows`` x ``reduction`` x ``columns`` positions."""
    return InstructionDataflow(
        name,
        (
            InstructionAxis("rows", rows, frozenset("IO")),
            InstructionAxis("reduction", reduction, frozenset("IW")),
            InstructionAxis("columns", columns, frozenset("WO")),
        ),
        cycles_per_call,
    )


def instruction_of(array: ComputeArray) -> InstructionDataflow:
    """The GEMM instruction of a compute array from its target data: an axis unrolling channels or
    the window reduces (I, W), one unrolling output channels is the columns (W, O), one unrolling
    pixels or batch is the rows (I, O). A weight-stationary array without a rows axis streams its
    input rows through: one call streams as many rows as the reduction has positions, a row per
    cycle (a systolic array's compute command takes up to its dimension in rows); otherwise a
    call costs one cycle (a GEMM core's micro-op). The cycles per call only rank embeddings; the
    stream model times them."""
    roles = {"reduction": frozenset("IW"), "columns": frozenset("WO"), "rows": frozenset("IO")}
    axes = {}
    for axis in array.axes:
        loops = set(axis.loops)
        role = ("reduction" if loops <= {"C", "FY", "FX"} else
                "columns" if loops == {"K"} else "rows")
        axes[role] = axis.size
    cycles = 1.0
    if "rows" not in axes and array.stationary == "W":
        axes["rows"] = axes["reduction"]
        cycles = float(axes["rows"])
    ordered = tuple(
        InstructionAxis(role, axes.get(role, 1), roles[role])
        for role in ("rows", "reduction", "columns")
    )
    return InstructionDataflow(array.name, ordered, cycles)


def loop_extents(workload: Workload) -> dict[str, int]:
    """The extent of every embedded loop of a workload, the group loop included."""
    return {"G": workload.groups, **workload.loops}
