"""Latency of one inference on the host CPU: nnmap's C vs TFLite Micro vs LiteRT (XNNPACK).

For each MLPerf Tiny model in ../shared/models/mlperf_tiny, on one fixed random int8 input:
- nnmap: the compiled artifact built with ``gcc -O3 -march=native`` plus a small timing harness
  that calls ``nnmap_run`` in a loop and times each call with ``clock_gettime`` (in C);
- TFLite Micro: ``Interpreter.invoke()`` timed from Python with ``time.perf_counter``;
- LiteRT: ``Interpreter(model_path, num_threads=1).invoke()`` (default XNNPACK delegate).
All three are single-threaded. Each reports the median over its runs (the count is in the JSON).
Usage: ``python bench/host_latency.py [--budget SECONDS]``; writes bench/results/host_latency.json.
"""

from __future__ import annotations

import argparse
import ctypes
import json
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

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT.parent / "shared" / "models" / "mlperf_tiny"
NAMES = ["kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8"]
RESULTS = ROOT / "bench" / "results" / "host_latency.json"
FAST_CFLAGS = "-std=c11 -O3 -march=native -Wall -Wextra -Werror"
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
    clock_gettime(CLOCK_MONOTONIC, &start);
    nnmap_run(input, output);
    clock_gettime(CLOCK_MONOTONIC, &end);
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
    """Median seconds of ``invoke()`` over as many runs as fit ``budget`` (at least 10)."""
    invoke()
    samples: list[float] = []
    deadline = time.perf_counter() + budget
    while len(samples) < 10 or (time.perf_counter() < deadline and len(samples) < 5000):
        start = time.perf_counter()
        invoke()
        samples.append(time.perf_counter() - start)
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


def measure(name: str, budget: float, work: Path) -> dict[str, object]:
    path = MODELS / f"{name}.tflite"
    graph = nnmap.load_model(path)
    shape = graph.input_tensors()[0].shape
    x = np.random.default_rng(0).integers(-128, 128, size=shape, dtype=np.int8)
    artifact = nnmap.compile(graph, "host", work / name)
    runs = 2000 if name == "ad01_int8" else 500
    ours, _ = nnmap_latency(artifact, x, runs)
    micro, micro_runs = tflite_micro_latency(path, x, budget)
    lite, lite_runs = litert_latency(path, x, budget)
    return {"model": name, "nnmap_us": ours * 1e6, "nnmap_runs": runs,
            "tflite_micro_us": micro * 1e6, "tflite_micro_runs": micro_runs,
            "litert_xnnpack_us": lite * 1e6, "litert_runs": lite_runs,
            "speedup_vs_tflite_micro": micro / ours, "ratio_vs_litert": ours / lite}


def table(rows: list[dict[str, object]]) -> Table:
    out = Table(title="median latency of one inference, one thread (us)")
    for column in ("model", "nnmap C", "TFLite Micro", "LiteRT+XNNPACK", "TFLM / nnmap",
                   "nnmap / LiteRT"):
        out.add_column(column, justify="left" if column == "model" else "right")
    for r in rows:
        out.add_row(str(r["model"]), f"{r['nnmap_us']:.1f}", f"{r['tflite_micro_us']:.1f}",
                    f"{r['litert_xnnpack_us']:.1f}", f"{r['speedup_vs_tflite_micro']:.1f}x",
                    f"{r['ratio_vs_litert']:.2f}x")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=3.0,
                        help="seconds of Python-timed runs per runtime and model")
    args = parser.parse_args()
    console = Console()
    if not MODELS.is_dir():
        console.print(f"{MODELS} not found: ../shared is absent")
        return
    with tempfile.TemporaryDirectory(prefix="nnmap-bench-") as work:
        rows = [measure(name, args.budget, Path(work)) for name in NAMES]
    console.print(table(rows))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"machine": platform.processor() or platform.machine(),
                                   "cflags": FAST_CFLAGS, "rows": rows}, indent=1))
    console.print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
