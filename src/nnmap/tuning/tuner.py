"""``tune_graph``: measure the schedule space of every distinct host workload of a model.

For each workload (convolution, depthwise and fully connected kernels; a model's repeated shapes
are tuned once) the tuner times nnmap's fixed schedule first, then candidates of the space in an
order fixed by the workload's key (an even sample of the space when trials are few), each built
as the C nnmap emits. gcc builds run in parallel processes; the timing runs one at a time (two
measured kernels on two cores would disturb each other). A candidate whose output differs from
the fixed schedule's on the same inputs is rejected. Every measurement is appended to the
database at once, so an interrupted run resumes where it stopped: measured points are skipped.
The best point is then timed again against the default, alternately (``CONFIRM_ROUNDS``), and
the database judges each schedule on the median of all its measurements.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnmap.codegen.kernels import KernelDef, lower_layer
from nnmap.errors import NnmapError
from nnmap.ir import Graph, Layer
from nnmap.tuning.budget import Budget
from nnmap.tuning.database import TuningDatabase, TuningRecord, cpu_features, nnmap_version
from nnmap.tuning.measure import (
    Built,
    build_candidate,
    candidate_source,
    harness_files,
    kernel_buffers,
    measure,
    scratch_folder,
)
from nnmap.tuning.space import KernelSchedule, candidates, is_tunable, workload_key

log = logging.getLogger(__name__)

CONFIRM_ROUNDS = 2

# Progress: (workload key, measurements done in this workload, points it may measure)
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, eq=False)
class Workload:
    """One distinct tunable kernel of a model and the layers that share it."""

    key: str
    kernel: KernelDef
    layers: tuple[str, ...]


@dataclass(frozen=True)
class WorkloadResult:
    """What tuning found for one workload."""

    key: str
    layers: tuple[str, ...]
    default_seconds: float | None
    best: TuningRecord | None
    measured: int
    rejected: int


def host_workloads(graph: Graph) -> list[Workload]:
    """The distinct tunable kernels of ``graph``, in layer order."""
    found: dict[str, tuple[KernelDef, list[str]]] = {}
    for layer in graph.layers:
        kernel = _tunable_kernel(layer, graph)
        if kernel is None:
            continue
        key = workload_key(kernel)
        found.setdefault(key, (kernel, []))[1].append(layer.name)
    return [Workload(key, kernel, tuple(names)) for key, (kernel, names) in found.items()]


def _tunable_kernel(layer: Layer, graph: Graph) -> KernelDef | None:
    try:
        kernel = lower_layer(layer, graph)
    except NnmapError:
        return None
    return kernel if is_tunable(kernel) else None


def _schedule_order(workload: Workload) -> list[KernelSchedule]:
    points = candidates(workload.kernel)
    random.Random(workload.key).shuffle(points)
    return points


def _measured_schedules(records: tuple[TuningRecord, ...], key: str, target: str,
                        features: tuple[str, ...]) -> list[dict[str, int]]:
    return [r.schedule for r in records
            if (r.workload, r.target, r.cpu_features) == (key, target, features)]


def _build_all(workload: Workload, points: list[KernelSchedule | None], folder: Path,
               workers: int) -> list[Built]:
    """Generate each point's C (TVM, in this process) and build them in parallel."""
    files = [harness_files(workload.kernel, candidate_source(workload.kernel, p)) for p in points]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        jobs = [pool.submit(build_candidate, f, p, folder / str(i))
                for i, (f, p) in enumerate(zip(files, points, strict=True))]
        return [job.result() for job in jobs]


@dataclass(frozen=True)
class TuningRun:
    """The fixed parts of one tuning run."""

    database: TuningDatabase
    target: str
    budget: Budget
    workers: int
    deadline: float | None


def tune_workload(workload: Workload, run: TuningRun, progress: Progress | None = None
                  ) -> WorkloadResult:
    """Measure the default and the budget's candidates of one workload; record each."""
    features = cpu_features()
    done = _measured_schedules(run.database.records(), workload.key, run.target, features)
    pending = [p for p in _schedule_order(workload) if p.as_dict() not in done]
    if run.budget.trials is not None:
        pending = pending[: max(0, run.budget.trials - len(done))]
    points: list[KernelSchedule | None] = [None, *pending]
    buffers = kernel_buffers(workload.kernel)
    measured = rejected = 0
    default_seconds: float | None = None
    reference: bytes | None = None
    with scratch_folder() as folder:
        for start in range(0, len(points), 2 * run.workers):
            if run.deadline is not None and time.monotonic() > run.deadline and start > 0:
                break
            batch = points[start: start + 2 * run.workers]
            for built in _build_all(workload, batch, Path(folder) / str(start), run.workers):
                if built.library is None:
                    log.warning("workload %s: candidate %s failed (%s)", workload.key,
                                built.schedule, built.error)
                    rejected += 1
                    continue
                result = measure(built.library, workload.kernel, buffers)
                if built.schedule is None:
                    default_seconds, reference = result.seconds, result.output
                    if {} in done:
                        continue
                elif result.output != reference:
                    log.warning("workload %s: candidate %s changed the output; rejected",
                                workload.key, built.schedule)
                    rejected += 1
                    continue
                schedule = {} if built.schedule is None else built.schedule.as_dict()
                run.database.append(TuningRecord(workload.key, run.target, features, schedule,
                                                 result.seconds, nnmap_version()))
                measured += 1
                if progress is not None:
                    progress(workload.key, measured, len(points))
    best = run.database.best(workload.key, run.target, features)
    if best is not None and best.schedule and measured > 1:
        _confirm(workload, best, run, features, buffers)
        best = run.database.best(workload.key, run.target, features)
    return WorkloadResult(workload.key, workload.layers, default_seconds, best, measured,
                          rejected)


def _confirm(workload: Workload, best: TuningRecord, run: TuningRun,
             features: tuple[str, ...], buffers: list[np.ndarray]) -> None:
    """Time the best point and the default again, alternately, ``CONFIRM_ROUNDS`` times each:
    a point that won one noisy measurement must keep winning on the medians."""
    points: list[KernelSchedule | None] = [None, KernelSchedule.from_dict(best.schedule)]
    with scratch_folder() as folder:
        built = _build_all(workload, points, Path(folder), run.workers)
        for _ in range(CONFIRM_ROUNDS):
            for candidate in built:
                if candidate.library is None:
                    return
                result = measure(candidate.library, workload.kernel, buffers)
                schedule = {} if candidate.schedule is None else candidate.schedule.as_dict()
                run.database.append(TuningRecord(workload.key, run.target, features, schedule,
                                                 result.seconds, nnmap_version()))


def tune_graph(graph: Graph, target: str, database: TuningDatabase, budget: Budget,
               progress: Progress | None = None) -> list[WorkloadResult]:
    """Tune every distinct host workload of ``graph`` for ``target`` into ``database``."""
    workloads = host_workloads(graph)
    deadline = None if budget.seconds is None else time.monotonic() + budget.seconds
    workers = max(1, os.cpu_count() or 1)
    results = []
    for index, workload in enumerate(workloads):
        share = None  # this workload's end: an even split of the time left
        if deadline is not None:
            share = time.monotonic() + (deadline - time.monotonic()) / (len(workloads) - index)
        run = TuningRun(database, target, budget, workers, share)
        results.append(tune_workload(workload, run, progress))
    return results
