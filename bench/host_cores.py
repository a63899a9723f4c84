"""Host cores measured: the zoo's int8 models compiled for the host, cross-compiled for each
built-in host core (Rocket RV64, CV32E40P RV32, Cortex-A9 ARMv7-A) with ``zig cc`` and run on
the Unicorn emulator on one fixed random input: outputs checked bit for bit against the x86
build, host cycles and instructions counted per basic block, and the wall time of each step.

Usage: ``python bench/host_cores.py [--models kws,vww,resnet8,autoencoder]``; writes
bench/results/host_cores.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

import nnmap
from nnmap.hostsim import cross_compile_artifact, emulate
from nnmap.targets.host_cores import BUILTIN_CORES

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "host_cores.json"
MODELS = ("kws", "vww", "resnet8", "autoencoder")


@dataclass(frozen=True)
class CoreRun:
    """One model on one core: outputs bit-exact with x86, host cycles, instructions by class,
    cycles per function, and the wall time of cross-compiling and of emulating."""

    model: str
    core: str
    bit_exact: bool
    cycles: float
    instructions: int
    milliseconds: float
    classes: dict[str, int]
    function_cycles: dict[str, float]
    cross_compile_s: float
    emulation_s: float


def measure_model(name: str, work: Path) -> list[CoreRun]:
    """One model on every built-in core."""
    artifact = nnmap.compile(f"zoo:{name}", "host", work / name)
    shape = artifact.input_shapes[0]
    sample = np.random.default_rng(0).integers(-128, 128, size=shape, dtype=np.int8)
    expected = artifact.run([sample])[0]
    runs = []
    for core in BUILTIN_CORES.values():
        start = time.perf_counter()
        image = cross_compile_artifact(core, work / name, work / name / core.name)
        compiled = time.perf_counter() - start
        run = emulate(image, core, "nnmap_run", [sample.tobytes()], [expected.nbytes])
        runs.append(
            CoreRun(
                model=name,
                core=core.name,
                bit_exact=run.outputs[0] == expected.tobytes(),
                cycles=run.cycles.total,
                instructions=run.cycles.instructions,
                milliseconds=1e3 * run.cycles.seconds,
                classes=run.cycles.classes,
                function_cycles={f.name: f.cycles for f in run.cycles.functions},
                cross_compile_s=compiled,
                emulation_s=run.wall_seconds,
            )
        )
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    options = parser.parse_args()
    runs: list[CoreRun] = []
    with tempfile.TemporaryDirectory() as work:
        for name in options.models.split(","):
            runs.extend(measure_model(name, Path(work)))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps([asdict(run) for run in runs], indent=1))
    table = Table(title="host cores measured (one inference, emulated)")
    for column in ("model", "core", "bit-exact", "Mcycles", "Minstr", "ms", "emulation s"):
        table.add_column(column)
    for run in runs:
        table.add_row(
            run.model,
            run.core,
            "yes" if run.bit_exact else "NO",
            f"{run.cycles / 1e6:.2f}",
            f"{run.instructions / 1e6:.2f}",
            f"{run.milliseconds:.1f}",
            f"{run.emulation_s:.1f}",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
