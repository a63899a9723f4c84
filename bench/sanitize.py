"""Generated C and the accelerator emulators under AddressSanitizer and UndefinedBehaviorSanitizer.

Every model of the test suite's model set (the four MLPerf Tiny models from ../shared/models and
the zoo's four) is compiled for every target (host, gemmini, vta, diana, gap9) as the tests
compile it, then built with the artifact's flags (``-Wall -Wextra -Werror``) plus
``-fsanitize=address,undefined`` into a standalone program (``nnmap.codegen.sanitize``) and run
on ``--samples`` random inputs.
A row passes when the sanitizers report nothing (no leak either), ``nnmap_run`` refuses a NULL
in every pointer position, and the outputs and each accelerator layer's emulated cycles are
those of the ordinary ctypes build, bit for bit. Prints the table, writes
bench/results/sanitize.json, exits 1 if any row fails.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

import nnmap
from nnmap.codegen.artifact import Artifact, LinkedEmulator
from nnmap.codegen.sanitize import run_sanitized, sanitized_program
from nnmap.verify import random_inputs

ROOT = Path(__file__).resolve().parent.parent
MLPERF = ROOT.parent / "shared" / "models" / "mlperf_tiny"
MODELS = [
    "kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8",
    "zoo:kws", "zoo:vww", "zoo:resnet8", "zoo:autoencoder",
]
TARGETS = ["host", "gemmini", "vta", "diana", "gap9"]


def model_source(name: str) -> str | Path:
    return name if name.startswith("zoo:") else MLPERF / f"{name}.tflite"


def ordinary_run(artifact: Artifact, sample: list[np.ndarray]) -> tuple[list, dict]:
    """Outputs and per-emulator layer cycles of the ordinary build (through ctypes)."""
    outputs = artifact.run(sample)
    library = ctypes.CDLL(str(artifact.library()))
    cycles = {}
    for prefix in artifact.report.get("emulators", ()):
        emulator = LinkedEmulator.linked(library, [prefix])
        if emulator is not None:
            cycles[prefix] = tuple(emulator.layer_cycles())
    return outputs, cycles


def check(name: str, target: str, samples: int, folder: Path) -> dict:
    """Compile, build sanitized, run, compare: one row of the table."""
    started = time.perf_counter()
    artifact = nnmap.compile(model_source(name), target=target,
                             out_dir=folder / f"{target}_{name}".replace(":", "_"))
    compiled = time.perf_counter()
    sanitized_program(artifact)
    built = time.perf_counter()
    graph = nnmap.load_model(model_source(name))
    batch = random_inputs(graph, samples, seed=11)
    inputs = [[array[i : i + 1].reshape(shape) for array, shape in
               zip(batch, artifact.input_shapes, strict=True)] for i in range(samples)]
    run = run_sanitized(artifact, inputs)
    exact = cycles_equal = 0
    if not run.report:
        for sample, outputs, cycles in zip(inputs, run.outputs, run.cycles, strict=True):
            wanted, wanted_cycles = ordinary_run(artifact, sample)
            exact += all(np.array_equal(a, b) for a, b in zip(outputs, wanted, strict=True))
            cycles_equal += cycles == wanted_cycles
    accelerated = sum(layer["module"] != "host" for layer in artifact.report["layers"])
    return {
        "model": name, "target": target, "layers": len(artifact.report["layers"]),
        "accelerator_layers": accelerated, "samples": samples,
        "bit_exact": exact, "cycles_equal": cycles_equal, "report": run.report,
        "compile_s": round(compiled - started, 1), "sanitized_build_s":
        round(built - compiled, 1), "passed": not run.report and exact == cycles_equal == samples,
    }


def table(rows: list[dict]) -> Table:
    result = Table(title="generated C and emulators under -fsanitize=address,undefined")
    for column in ("model", "target", "layers (accel.)", "bit-exact", "cycles equal",
                   "sanitizer report", "compile / sanitized build s"):
        result.add_column(column)
    for row in rows:
        result.add_row(
            row["model"], row["target"], f"{row['layers']} ({row['accelerator_layers']})",
            f"{row['bit_exact']}/{row['samples']}", f"{row['cycles_equal']}/{row['samples']}",
            row["report"].splitlines()[0] if row["report"] else "none",
            f"{row['compile_s']} / {row['sanitized_build_s']}",
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=3, help="random inputs per model")
    parser.add_argument("--models", nargs="*", default=MODELS)
    parser.add_argument("--targets", nargs="*", default=TARGETS)
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "sanitize.json")
    args = parser.parse_args()
    console = Console(width=140)
    missing = [m for m in args.models if not m.startswith("zoo:")
               and not (MLPERF / f"{m}.tflite").exists()]
    if missing:
        console.print(f"skipping {', '.join(missing)}: {MLPERF} not found")
    rows = []
    args.json.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        for name in (m for m in args.models if m not in missing):
            for target in args.targets:
                rows.append(check(name, target, args.samples, Path(scratch)))
                console.print(f"{name} on {target}: "
                              f"{'passed' if rows[-1]['passed'] else 'FAILED'}")
                args.json.write_text(json.dumps(rows, indent=1))  # a long sweep's rows so far
    console.print(table(rows))
    for row in rows:
        if row["report"]:
            console.print(f"[bold]{row['model']} on {row['target']}[/bold]\n{row['report']}",
                          highlight=False)
    sys.exit(0 if all(row["passed"] for row in rows) else 1)


if __name__ == "__main__":
    main()
