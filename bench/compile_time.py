"""Compile time of the four MLPerf Tiny models: wall and CPU seconds of ``nnmap.compile``.

Each compile runs in a fresh Python process (TVM loaded, nothing cached in memory; the on-disk
emulator and timing-engine caches stay warm after the first run), ``--runs`` times per model; the
table gives the median. CPU seconds are the child's user + system time: on a loaded machine they
move far less than wall seconds, so they are the figure to compare two versions measured side by
side. ``--source DIR`` times another checkout's ``src`` (for example an older commit in a git
worktree). Writes bench/results/compile_time.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
MLPERF_DIR = ROOT.parent / "shared" / "models" / "mlperf_tiny"
MODELS = {
    "kws": "kws_ref_model.tflite",
    "vww": "vww_96_int8.tflite",
    "resnet8": "pretrainedResnet_quant.tflite",
    "ad01": "ad01_int8.tflite",
}
COMPILE = "import sys, nnmap; nnmap.compile(sys.argv[1], target=sys.argv[2], out_dir=sys.argv[3])"


def time_compile(model: Path, target: str, source: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one compile in a fresh process."""
    environment = {**os.environ, "PYTHONPATH": str(source)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-c", COMPILE, str(model), target, str(Path(out) / "a")]
        subprocess.run(command, check=True, env=environment, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", default="gemmini", help="target spec")
    parser.add_argument("--runs", type=int, default=3, help="compiles per model")
    parser.add_argument("--source", type=Path, default=ROOT / "src", help="nnmap sources to time")
    args = parser.parse_args()
    rows = []
    for name, file in MODELS.items():
        model = MLPERF_DIR / file
        times = [time_compile(model, args.target, args.source) for _ in range(args.runs)]
        wall = statistics.median(t[0] for t in times)
        cpu = statistics.median(t[1] for t in times)
        rows.append({"model": name, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2)})
    table = Table(title=f"nnmap.compile on {args.target}: median of {args.runs} fresh processes")
    for column in ("model", "wall s", "CPU s"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(row["model"], f"{row['wall_s']:.1f}", f"{row['cpu_s']:.1f}")
    Console().print(table)
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    record = {"target": args.target, "runs": args.runs, "source": str(args.source), "rows": rows}
    (results / "compile_time.json").write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
