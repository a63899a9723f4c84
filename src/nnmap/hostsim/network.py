"""A compiled network measured on its SoC's host core: the artifact's C cross-compiled for the
core and run once on the instruction-set emulator, its host cycles split by layer kernel.

Accelerator emulators cross-compiled with it run inside the same emulated program (their
functions are excluded from host work and keep their own cycle counters), so one run gives the
host's cycles and the accelerator's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnmap.errors import NnmapError
from nnmap.hostsim.crosscompile import cross_compile_artifact
from nnmap.hostsim.emulate import HostMachine
from nnmap.hw.host_core import HostCore


@dataclass(frozen=True)
class NetworkCycles:
    """Host cycles of one inference on ``core`` (at the core's clock): per kernel symbol, and
    the driver's own (``nnmap_run`` and everything not inside a kernel); the output bytes."""

    core: str
    clock_hz: float
    kernels: dict[str, float]
    driver: float
    outputs: tuple[bytes, ...]

    @property
    def total(self) -> float:
        return self.driver + sum(self.kernels.values())


def measure_network(
    artifact_dir: Path,
    core: HostCore,
    inputs: Sequence[np.ndarray],
    output_bytes: Sequence[int],
    kernels: Sequence[str],
    emulator_functions: Sequence[str] = (),
) -> NetworkCycles:
    """Run ``nnmap_run`` of the artifact once on ``core`` and return its host cycles."""
    image = cross_compile_artifact(core, artifact_dir, Path(artifact_dir) / "build" / core.name)
    with HostMachine(image, core, tuple(emulator_functions)) as machine:
        run = machine.call("nnmap_run", [np.ascontiguousarray(x).tobytes() for x in inputs],
                           list(output_bytes))
    if run.return_value != 0:
        raise NnmapError(f"{artifact_dir}: nnmap_run failed on {core.name} in layer "
                         f"{run.return_value - 1}")
    ran = {function.name: function.cycles for function in run.cycles.host_functions}
    per_kernel = {name: ran.get(name, 0.0) for name in kernels}
    return NetworkCycles(core.name, core.clock_hz, per_kernel,
                         run.cycles.total - sum(per_kernel.values()), run.outputs)
