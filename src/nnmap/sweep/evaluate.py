"""One design point: a model on one target spec, planned with the cost model (or compiled and run
on the emulator).

The area proxy is read from the Target value: ``processing_elements`` is the sum of the compute
array lanes of every module (host included), ``sram_bytes`` the sum of the sizes of every on-chip
memory (every memory level of every module but the outermost, which is off-chip DRAM), each
memory counted once by name. It is a proxy, not an area: PEs and SRAM bytes are kept apart and
never weighed against each other.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

import nnmap
from nnmap.hw import Target
from nnmap.targets import resolve_target

OK, FAILED = "ok", "failed"


@dataclass(frozen=True)
class PointResult:
    """The outcome of one (model, target spec) point: latency, the area proxy, or why it failed.

    ``source`` says where the cycles come from: "cost model" or "emulator" (accelerator layers
    emulated, host layers modelled).
    """

    model: str
    target: str
    status: str
    reason: str = ""
    total_cycles: float | None = None
    accelerator_cycles: float | None = None
    host_cycles: float | None = None
    processing_elements: int | None = None
    sram_bytes: int | None = None
    source: str = "cost model"
    seconds: float = 0.0

    def row(self) -> dict[str, Any]:
        return asdict(self)


def area_proxy(target: Target) -> tuple[int, int]:
    """(processing elements, on-chip SRAM bytes) of ``target``, as the module docstring says."""
    lanes = sum(module.array.lanes for module in target.modules())
    on_chip = {
        memory.name: memory.size
        for module in target.modules()
        for level in module.levels[:-1]
        for memory in level
    }
    return lanes, sum(on_chip.values())


def _modelled_cycles(model: str, target: Target) -> tuple[float, float]:
    """(accelerator, host) cycles of the model's Plan on ``target``: the cost model's cycles of
    every accelerator kernel, and the modelled host cycles of host layers and of the host stages
    of accelerator kernels (im2col, requantization)."""
    plan = nnmap.plan(model, target)
    accelerator = sum(layer.accelerator_cycles or 0.0 for layer in plan.layers)
    return accelerator, sum(layer.host_cycles for layer in plan.layers)


def _emulated_cycles(model: str, spec: str) -> tuple[float, float]:
    """(accelerator, host) cycles of the compiled model: accelerator layers run on the emulator
    on one random input, host layers modelled (the artifact report's latency)."""
    with tempfile.TemporaryDirectory(prefix="nnmap-sweep-") as work:
        artifact = nnmap.compile(model, spec, Path(work) / "artifact")
        rng = np.random.default_rng(0)
        inputs = [rng.integers(-128, 128, size=shape, dtype=np.int8)
                  for shape in artifact.input_shapes]
        artifact.measure_cycles(inputs)
        latency = artifact.report["latency"]
    return float(latency["accelerator_cycles"]), float(latency["host_cycles"])


def evaluate_point(model: str, spec: str, emulate: bool = False) -> PointResult:
    """Evaluate ``model`` on target ``spec``; a user error becomes a failed point with its
    one-line reason (other exceptions propagate: they are bugs, and Dask reports them)."""
    start = time.perf_counter()
    try:
        target = resolve_target(spec)
        if emulate:
            accelerator, host = _emulated_cycles(model, spec)
        else:
            accelerator, host = _modelled_cycles(model, target)
    except nnmap.NnmapError as error:
        return PointResult(model, spec, FAILED, reason=str(error),
                           seconds=time.perf_counter() - start)
    elements, sram = area_proxy(target)
    return PointResult(
        model, spec, OK,
        total_cycles=accelerator + host,
        accelerator_cycles=accelerator,
        host_cycles=host,
        processing_elements=elements,
        sram_bytes=sram,
        source="emulator" if emulate else "cost model",
        seconds=time.perf_counter() - start,
    )
