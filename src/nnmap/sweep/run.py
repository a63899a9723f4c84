"""The sweep on Dask: one task per (model, target spec) point, on a local cluster of processes or
on an existing ``dask.distributed`` scheduler, through the same code path.

A point whose evaluation raises (a user error inside ``evaluate_point`` is already a failed
point; here: a bug, or a task whose workers died too often) is recorded as failed with the
exception as its reason, and the sweep goes on. The table is rewritten after every point, so an
interrupted sweep keeps what it finished, and a rerun skips the points that succeeded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from distributed import Client, LocalCluster, as_completed

from nnmap.sweep.evaluate import FAILED, PointResult, evaluate_point
from nnmap.sweep.grid import SweepError
from nnmap.sweep.table import finished_points, merged, read_table, write_table

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10
LOOPBACK = "127.0.0.1"
Evaluate = Callable[[str, str, bool], PointResult]
OnResult = Callable[[PointResult], None]


@dataclass(frozen=True)
class Point:
    """One task of the sweep."""

    model: str
    target: str


def grid_points(models: Sequence[str], specs: Sequence[str]) -> list[Point]:
    """Every model on every target spec, model-major."""
    return [Point(model, spec) for model in models for spec in specs]


@contextmanager
def dask_client(scheduler: str | None, workers: int) -> Iterator[Client]:
    """A client of the scheduler at ``scheduler``, or of a new local cluster of ``workers``
    single-threaded worker processes (closed on exit)."""
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as error:
            raise SweepError(
                f"--scheduler {scheduler}: cannot reach a Dask scheduler there ({error}); start "
                "one with `dask scheduler` or leave --scheduler out for a local cluster"
            ) from None
        with client:
            yield client
        return
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None, host=LOOPBACK) as cluster, Client(cluster) as client:
        yield client


def _outcome(future: object, point: Point) -> PointResult:
    try:
        return future.result()  # type: ignore[attr-defined, no-any-return]
    except Exception as error:  # a failed point must not stop the sweep
        log.warning("point %s on %s failed: %s", point.model, point.target, error)
        return PointResult(point.model, point.target, FAILED,
                           reason=f"{type(error).__name__}: {error}")


def run_points(client: Client, points: Sequence[Point], emulate: bool = False,
               evaluate: Evaluate = evaluate_point,
               on_result: OnResult | None = None) -> list[PointResult]:
    """Evaluate ``points`` as one Dask task each; results in completion order."""
    futures = {
        client.submit(evaluate, point.model, point.target, emulate, pure=False): point
        for point in points
    }
    results = []
    for future in as_completed(futures):
        result = _outcome(future, futures[future])
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def sweep(client: Client, points: Sequence[Point], output: Path, emulate: bool = False,
          on_start: Callable[[int, int], None] | None = None,
          on_result: OnResult | None = None) -> list[PointResult]:
    """Run the points of ``points`` not yet in ``output`` and keep the table there up to date.

    ``on_start(skipped, pending)`` is told how many points the table already holds and how many
    run now; ``on_result`` gets each result as it arrives. Returns the results of this run.
    """
    table = read_table(output)
    done = finished_points(table)
    pending = [point for point in points if (point.model, point.target) not in done]
    if on_start is not None:
        on_start(len(points) - len(pending), len(pending))

    def record(result: PointResult) -> None:
        nonlocal table
        table = merged(table, [result])
        write_table(table, output)
        if on_result is not None:
            on_result(result)

    return run_points(client, pending, emulate, on_result=record)
