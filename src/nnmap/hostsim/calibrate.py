"""Calibrating the analytical host model from measured kernels.

Each host kernel of the calibration graphs (``calibration_graphs``) is measured on a host core
(cross-compiled, emulated, its cycles counted) and described by the model's own units: its
multiply-accumulates by workload kind, its modelled operations (a ``HostWork``'s elements x ops)
by stage kind, and one call. A relative least-squares fit over all kernels (each kernel's error
divided by its measured cycles, so small kernels count as much as large ones) gives the core's
``HostCalibration``: cycles per unit of each kind; a coefficient the fit drives negative is set
to 0 and the rest refitted.
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import nnmap
from nnmap.hostsim.calibration_graphs import calibration_graphs
from nnmap.hostsim.network import measure_network
from nnmap.hw.host_core import HostCalibration, HostCore
from nnmap.ir import Conv2D, FullyConnected, Graph
from nnmap.ir.workload import workload_of
from nnmap.mapping.host_model import host_layer_work

MAC_KINDS = ("conv", "depthwise", "dense")
OP_KINDS = ("requantization", "max pool", "average pool", "add", "softmax", "copy")
# Units fitted as one: nnmap's convolution kernels fuse their requantization with their
# multiply-accumulates, so its own cost is told apart through the add kernel's, which is three
# requantizations of the same fixed-point arithmetic per element.
TIED = {"op:requantization": "op:add"}
CALL = "call"


@dataclass(frozen=True)
class KernelSample:
    """One measured host kernel: its layer, its units (``mac:<kind>``, ``op:<kind>``, ``call``)
    and its measured core cycles."""

    layer: str
    units: Mapping[str, float]
    cycles: float


@dataclass(frozen=True)
class Fit:
    """A fitted calibration: the coefficient of each unit, how many kernels had each unit, and
    the fit's relative error per kernel."""

    coefficients: Mapping[str, float]
    kernels_per_unit: Mapping[str, int]
    relative_errors: tuple[float, ...]

    def calibration(self, source: str) -> HostCalibration:
        """The fit as a host core's calibration."""
        return HostCalibration(
            mac_cycles={kind: self.coefficients[f"mac:{kind}"] for kind in MAC_KINDS},
            op_cycles={kind: self.coefficients[f"op:{kind}"] for kind in OP_KINDS},
            call_cycles=self.coefficients[CALL],
            source=source,
        )


def unit_names() -> tuple[str, ...]:
    """Every unit a calibration has a coefficient for."""
    return (*(f"mac:{kind}" for kind in MAC_KINDS), *(f"op:{kind}" for kind in OP_KINDS), CALL)


def layer_units(graph: Graph, layer_name: str) -> dict[str, float]:
    """The model's units of one host layer: multiply-accumulates, operations per stage kind,
    one call."""
    layer = next(layer for layer in graph.layers if layer.name == layer_name)
    units: dict[str, float] = {CALL: 1.0}
    workload = workload_of(graph, layer)
    if workload is not None and isinstance(layer, Conv2D | FullyConnected):
        units[f"mac:{workload.kind}"] = float(workload.macs)
    for work in host_layer_work(layer, graph):
        key = f"op:{work.kind}"
        units[key] = units.get(key, 0.0) + work.elements * work.ops
    return units


def measure_kernels(core: HostCore, graphs: Sequence[Graph], work_dir: Path,
                    seed: int = 0) -> list[KernelSample]:
    """Compile each graph for the host, run it once on ``core`` and return every kernel's
    units and measured core cycles."""
    samples = []
    rng = np.random.default_rng(seed)
    for graph in graphs:
        artifact = nnmap.compile(graph, "host", work_dir / graph.name)
        inputs = [rng.integers(-128, 128, shape, dtype=np.int8) for shape in artifact.input_shapes]
        layers = [layer for layer in artifact.report["layers"] if layer["kernel"]]
        outputs = [int(np.prod(shape)) for shape in artifact.output_shapes]
        measured = measure_network(artifact.path, core, inputs, outputs,
                                   [layer["kernel"] for layer in layers])
        samples += [
            KernelSample(layer["name"], layer_units(graph, layer["name"]),
                         measured.kernels[layer["kernel"]])
            for layer in layers
        ]
    return samples


def _solve(matrix: np.ndarray, cycles: np.ndarray) -> np.ndarray:
    """Non-negative coefficients minimising the relative errors: least squares, dropping the
    units whose coefficient comes out negative until none does."""
    weighted = matrix / cycles[:, None]
    active = [index for index in range(matrix.shape[1]) if matrix[:, index].any()]
    coefficients = np.zeros(matrix.shape[1])
    while active:
        solution, *_ = np.linalg.lstsq(weighted[:, active], np.ones(len(cycles)), rcond=None)
        if (solution >= 0).all():
            coefficients[active] = solution
            break
        active = [index for index, value in zip(active, solution, strict=True) if value >= 0]
    return coefficients


def fit(samples: Sequence[KernelSample]) -> Fit:
    """Non-negative relative least squares of the measured cycles on the samples' units (the
    ``TIED`` units share their partner's coefficient)."""
    names = unit_names()
    free = [name for name in names if name not in TIED]
    groups = {name: [name, *(tied for tied, to in TIED.items() if to == name)] for name in free}
    matrix = np.array([[sum(sample.units.get(unit, 0.0) for unit in groups[name])
                        for name in free] for sample in samples])
    cycles = np.array([sample.cycles for sample in samples])
    solved = dict(zip(free, _solve(matrix, cycles).tolist(), strict=True))
    coefficients = {name: solved[TIED.get(name, name)] for name in names}
    modelled = np.array([sum(coefficients[unit] * value for unit, value in sample.units.items())
                         for sample in samples])
    return Fit(
        coefficients=coefficients,
        kernels_per_unit={name: sum(1 for sample in samples if sample.units.get(name))
                          for name in names},
        relative_errors=tuple((np.abs(modelled - cycles) / cycles).tolist()),
    )


def calibrate(core: HostCore, work_dir: Path | None = None) -> tuple[Fit, list[KernelSample]]:
    """Measure the calibration graphs' kernels on ``core`` and fit its calibration."""
    if work_dir is not None:
        samples = measure_kernels(core, calibration_graphs(), Path(work_dir))
    else:
        with tempfile.TemporaryDirectory(prefix="nnmap-calibrate-") as work:
            samples = measure_kernels(core, calibration_graphs(), Path(work))
    return fit(samples), samples


def error_summary(errors: Sequence[float]) -> dict[str, float]:
    """Median, 90th percentile and maximum of relative errors."""
    ordered = sorted(errors)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return {"median": statistics.median(ordered), "p90": p90, "max": ordered[-1]}
