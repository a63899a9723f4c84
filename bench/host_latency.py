"""Latency of one inference on the host CPU: nnmap's C (default and tuned) vs TFLite Micro vs
LiteRT (XNNPACK).

For each MLPerf Tiny model in ../shared/models/mlperf_tiny, on one fixed random int8 input:
- nnmap default: the artifact compiled without a tuning database, built with
  ``gcc -O3 -march=native`` plus a small timing harness that calls ``nnmap_run`` in a loop and
  times each call with the thread's CPU clock (``CLOCK_THREAD_CPUTIME_ID``, in C);
- nnmap tuned: ``nnmap tune`` on the model with a budget of ``--tune-minutes`` (at most 10) into a
  fresh database, then compiled with it and timed the same way;
- TFLite Micro: ``Interpreter.invoke()`` timed from Python with ``time.thread_time``;
- LiteRT: ``Interpreter(model_path, num_threads=1).invoke()`` (default XNNPACK delegate), same.
All are single-threaded; thread CPU time, not wall time, so other processes on a shared machine
do not inflate it (the load average is recorded). Each reports the median over >= 50 invokes.
Usage: ``python bench/host_latency.py [--budget SECONDS] [--tune-minutes M]``; writes
bench/results/host_latency.json.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

import nnmap
from nnmap.codegen.build import compile_objects, link_shared
from nnmap.tuning.budget import Budget
from nnmap.tuning.database import TuningDatabase, cpu_features, using_database
from nnmap.tuning.tuner import tune_graph

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT.parent / "shared" / "models" / "mlperf_tiny"
NAMES = ["kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8"]
RESULTS = ROOT / "bench" / "results" / "host_latency.json"
FAST_CFLAGS = "-std=c11 -O3 -march=native -Wall -Wextra -Werror"
MIN_RUNS = 50
HARNESS = """#define _POSIX_C_SOURCE 199309L
#include <time.h>
#include "network.h"

static int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

void qsort(void *base, unsigned long count, unsigned long size,
           int (*cmp)(const void *, const void *));

/* Median nanoseconds of one nnmap_run over `runs` timed calls (after `runs / 10` warm-ups). */
double nnmap_bench_median_ns(const int8_t *input, int8_t *output, int runs, double *times) {
  for (int i = 0; i < runs / 10 + 1; ++i) {
    nnmap_run(input, output);
  }
  for (int i = 0; i < runs; ++i) {
    struct timespec start, end;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
    nnmap_run(input, output);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &end);
    times[i] = (double)(end.tv_sec - start.tv_sec) * 1e9 + (double)(end.tv_nsec - start.tv_nsec);
  }
  qsort(times, (unsigned long)runs, sizeof(double), compare);
  return times[runs / 2];
}
"""


def nnmap_latency(artifact: nnmap.codegen.artifact.Artifact, x: np.ndarray, runs: int
                  ) -> tuple[float, np.ndarray]:
    """Median seconds of one inference of the artifact built with FAST_CFLAGS, and its output."""
    with tempfile.TemporaryDirectory(prefix="nnmap-bench-") as work:
        source = Path(work) / "src"
        shutil.copytree(artifact.path, source, ignore=shutil.ignore_patterns("build"))
        (source / "bench_harness.c").write_text(HARNESS)
        objects = compile_objects(source, Path(work) / "obj", FAST_CFLAGS, artifact.path)
        library = ctypes.CDLL(str(link_shared(objects, Path(work) / "libbench.so",
                                              artifact.path)))
        bench = library.nnmap_bench_median_ns
        bench.restype = ctypes.c_double
        out = np.zeros(artifact.output_shapes[0], dtype=np.int8)
        times = np.zeros(runs, dtype=np.float64)
        pointer = ctypes.POINTER(ctypes.c_int8)
        median = bench(x.ctypes.data_as(pointer), out.ctypes.data_as(pointer), runs,
                       times.ctypes.data_as(ctypes.POINTER(ctypes.c_double)))
        return median * 1e-9, out


def python_latency(invoke: Callable[[], None], budget: float) -> tuple[float, int]:
    """Median thread CPU seconds of ``invoke()`` over as many runs as fit ``budget`` (at least
    MIN_RUNS)."""
    invoke()
    samples: list[float] = []
    deadline = time.perf_counter() + budget
    while len(samples) < MIN_RUNS or (time.perf_counter() < deadline and len(samples) < 5000):
        start = time.thread_time()
        invoke()
        samples.append(time.thread_time() - start)
    return statistics.median(samples), len(samples)


def tflite_micro_latency(path: Path, x: np.ndarray, budget: float) -> tuple[float, int]:
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_file(str(path))
    interpreter.set_input(x, 0)
    return python_latency(interpreter.invoke, budget)


def litert_latency(path: Path, x: np.ndarray, budget: float) -> tuple[float, int]:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    return python_latency(interpreter.invoke, budget)


def tuned_artifact(graph: nnmap.Graph, work: Path, minutes: float
                   ) -> nnmap.codegen.artifact.Artifact:
    """The model tuned for ``minutes`` into a fresh database, compiled with it."""
    database = TuningDatabase(work / f"{graph.name}-tuning.jsonl")
    tune_graph(graph, "host", database, Budget(seconds=minutes * 60))
    with using_database(database.path):
        return nnmap.compile(graph, "host", work / f"{graph.name}-tuned")


def measure(name: str, budget: float, tune_minutes: float, work: Path) -> dict[str, object]:
    path = MODELS / f"{name}.tflite"
    graph = nnmap.load_model(path)
    shape = graph.input_tensors()[0].shape
    x = np.random.default_rng(0).integers(-128, 128, size=shape, dtype=np.int8)
    with using_database(None, enabled=False):
        default = nnmap.compile(graph, "host", work / name)
    runs = 2000 if name == "ad01_int8" else 500
    ours, expected = nnmap_latency(default, x, runs)
    tuned, actual = nnmap_latency(tuned_artifact(graph, work, tune_minutes), x, runs)
    if not np.array_equal(expected, actual):
        raise RuntimeError(f"{name}: the tuned build's output differs from the default's")
    micro, micro_runs = tflite_micro_latency(path, x, budget)
    lite, lite_runs = litert_latency(path, x, budget)
    return {"model": name, "nnmap_us": ours * 1e6, "nnmap_tuned_us": tuned * 1e6,
            "nnmap_runs": runs, "tune_minutes": tune_minutes,
            "tflite_micro_us": micro * 1e6, "tflite_micro_runs": micro_runs,
            "litert_xnnpack_us": lite * 1e6, "litert_runs": lite_runs,
            "speedup_vs_tflite_micro": micro / ours, "ratio_vs_litert": ours / lite,
            "tuned_ratio_vs_litert": tuned / lite, "load_average": os.getloadavg()[0]}


def table(rows: list[dict[str, object]]) -> Table:
    out = Table(title="median thread CPU time of one inference, one thread (us)")
    for column in ("model", "nnmap default", "nnmap tuned", "TFLite Micro", "LiteRT+XNNPACK",
                   "TFLM / nnmap", "nnmap / LiteRT", "tuned / LiteRT", "load"):
        out.add_column(column, justify="left" if column == "model" else "right")
    for r in rows:
        out.add_row(str(r["model"]), f"{r['nnmap_us']:.1f}", f"{r['nnmap_tuned_us']:.1f}",
                    f"{r['tflite_micro_us']:.1f}", f"{r['litert_xnnpack_us']:.1f}",
                    f"{r['speedup_vs_tflite_micro']:.1f}x", f"{r['ratio_vs_litert']:.2f}x",
                    f"{r['tuned_ratio_vs_litert']:.2f}x", f"{r['load_average']:.1f}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=3.0,
                        help="seconds of Python-timed runs per runtime and model")
    parser.add_argument("--tune-minutes", type=float, default=5.0,
                        help="tuning budget per model (at most 10)")
    parser.add_argument("--models", nargs="*", default=NAMES, help="a subset of the models")
    args = parser.parse_args()
    if not 0 < args.tune_minutes <= 10:
        parser.error("--tune-minutes must be in (0, 10]")
    console = Console()
    if not MODELS.is_dir():
        console.print(f"{MODELS} not found: ../shared is absent")
        return
    with tempfile.TemporaryDirectory(prefix="nnmap-bench-") as work:
        rows = [measure(name, args.budget, args.tune_minutes, Path(work))
                for name in args.models]
    console.print(table(rows))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"machine": platform.processor() or platform.machine(),
                                   "cpu_features": list(cpu_features()),
                                   "cflags": FAST_CFLAGS, "rows": rows}, indent=1))
    console.print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
