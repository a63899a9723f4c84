"""Build one candidate kernel as the C nnmap emits and time it on this machine.

A candidate is the kernel's plain C (``nnmap.codegen.emit_c``, the same text a compile writes)
plus a small harness, built into a shared library with ``MEASURE_CFLAGS``. The harness times each
call with the calling thread's CPU clock (other processes on a shared machine do not inflate it),
on fixed random activations and the layer's real constants. The result is the median of the
samples left after discarding outliers (above the third quartile plus 1.5 interquartile ranges),
and the output of the last call, which the tuner compares with the default schedule's.
"""

from __future__ import annotations

import ctypes
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnmap.codegen.build import run_compiler
from nnmap.codegen.emit_c import C_TYPES, KernelSource, plain_kernel_source
from nnmap.codegen.kernels import CONSTANT, OUTPUT, KernelDef
from nnmap.tuning.space import KernelSchedule

# The flags of a build for this CPU (bench/host_latency.py builds artifacts with the same).
MEASURE_CFLAGS = ("-std=c11", "-O3", "-march=native", "-fPIC", "-shared")
TARGET_SECONDS = 0.15  # measured time per candidate, after the warm-up calls
MIN_RUNS, MAX_RUNS = 15, 2000
SYMBOL = "nnmap_tune_kernel"

HARNESS = """#define _POSIX_C_SOURCE 199309L
#include <stdlib.h>
#include <time.h>
#include "nnmap_kernels.h"

void *TVMBackendAllocWorkspace(int device_type, int device_id, uint64_t nbytes,
                               int dtype_code_hint, int dtype_bits_hint) {
  (void)device_type; (void)device_id; (void)dtype_code_hint; (void)dtype_bits_hint;
  return aligned_alloc(64, (size_t)((nbytes + 63) / 64 * 64));
}

int TVMBackendFreeWorkspace(int device_type, int device_id, void *ptr) {
  (void)device_type; (void)device_id;
  free(ptr);
  return 0;
}

/* Calls the kernel `runs` times; seconds[i] is the thread CPU time of call i. */
int nnmap_tune_measure(void **buffers, int runs, double *seconds) {
  for (int i = 0; i < runs; ++i) {
    struct timespec start, end;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
    if (CALL != 0) {
      return 1;
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &end);
    seconds[i] = (double)(end.tv_sec - start.tv_sec) + 1e-9 * (double)(end.tv_nsec - start.tv_nsec);
  }
  return 0;
}
"""


@dataclass(frozen=True)
class Built:
    """A candidate built into ``library`` (None when gcc or TVM failed: ``error`` says why)."""

    schedule: KernelSchedule | None
    library: Path | None
    error: str = ""


@dataclass(frozen=True)
class Measurement:
    """The median seconds of one call and the output it computed."""

    seconds: float
    samples: int
    output: bytes


def candidate_source(kernel: KernelDef, schedule: KernelSchedule | None) -> KernelSource:
    """The kernel's C with ``schedule`` (None: nnmap's fixed schedule)."""
    return plain_kernel_source(kernel, SYMBOL, "tuning candidate", schedule)


def harness_files(kernel: KernelDef, source: KernelSource) -> dict[str, str]:
    """The candidate's kernel file, nnmap_kernels.h and the timing harness."""
    arguments = []
    for index, param in enumerate(kernel.params):
        qualifier = "" if param.role == OUTPUT else "const "
        arguments.append(f"({qualifier}{C_TYPES[param.dtype]} *)buffers[{index}]")
    header = "\n".join([
        "#include <math.h>", "#include <stdbool.h>", "#include <stddef.h>", "#include <stdint.h>",
        "void *TVMBackendAllocWorkspace(int, int, uint64_t, int, int);",
        "int TVMBackendFreeWorkspace(int, int, void *);", f"{source.prototype};", ""])
    call = f"{SYMBOL}({', '.join(arguments)})"
    return {"kernel.c": source.definition, "nnmap_kernels.h": header,
            "harness.c": HARNESS.replace("CALL", call)}


def build_candidate(files: dict[str, str], schedule: KernelSchedule | None, folder: Path
                    ) -> Built:
    """Write ``files`` into ``folder`` and link them into a shared library with gcc."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    library = folder / "candidate.so"
    sources = [str(folder / "kernel.c"), str(folder / "harness.c")]
    try:
        run_compiler(["gcc", *MEASURE_CFLAGS, f"-I{folder}", *sources, "-o", str(library)],
                     f"tuning candidate {schedule}")
    except Exception as error:  # noqa: BLE001 - a candidate that does not build is skipped
        return Built(schedule, None, str(error))
    return Built(schedule, library)


def kernel_buffers(kernel: KernelDef, seed: int = 0) -> list[np.ndarray]:
    """One array per parameter: the layer's constants, random activations, zeroed outputs."""
    generator = np.random.default_rng(seed)
    buffers = []
    for param, tensor in zip(kernel.params, kernel.tensors, strict=True):
        shape = tuple(int(d) for d in tensor.shape)
        if param.role == CONSTANT:
            buffers.append(np.ascontiguousarray(kernel.constants[param.name]))
        elif param.role == OUTPUT:
            buffers.append(np.zeros(shape, dtype=param.dtype))
        else:
            buffers.append(generator.integers(-128, 128, size=shape).astype(param.dtype))
    return buffers


def robust_median(samples: list[float]) -> float:
    """The median of ``samples`` without the outliers above Q3 + 1.5 IQR."""
    first, _, third = statistics.quantiles(samples, n=4)
    kept = [s for s in samples if s <= third + 1.5 * (third - first)]
    return statistics.median(kept)


def measure(library: Path, kernel: KernelDef, buffers: list[np.ndarray]) -> Measurement:
    """Time the built candidate: warm-up calls, then enough calls for ``TARGET_SECONDS``."""
    measure_function = ctypes.CDLL(str(library)).nnmap_tune_measure
    measure_function.restype = ctypes.c_int
    pointers = (ctypes.c_void_p * len(buffers))(*(b.ctypes.data for b in buffers))

    def run(count: int) -> list[float]:
        seconds = np.zeros(count, dtype=np.float64)
        status = measure_function(pointers, count, seconds.ctypes.data_as(ctypes.c_void_p))
        if status != 0:
            raise RuntimeError(f"tuning candidate {library}: the kernel returned an error")
        return [float(s) for s in seconds]

    warm = run(3)
    runs = int(min(MAX_RUNS, max(MIN_RUNS, TARGET_SECONDS / max(min(warm), 1e-7))))
    samples = run(runs)
    output = buffers[[p.role for p in kernel.params].index(OUTPUT)]
    return Measurement(robust_median(samples), runs, output.tobytes())


def scratch_folder() -> tempfile.TemporaryDirectory[str]:
    """A temporary folder for a tuning run's candidates."""
    return tempfile.TemporaryDirectory(prefix="nnmap-tune-")
