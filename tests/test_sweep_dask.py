"""The sweep on a Dask LocalCluster of two worker processes: a 2x2 Gemmini grid checked against
direct ``nnmap.plan`` calls, failed points, reruns, the CLI on an existing scheduler, and a
worker killed mid-sweep."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import Client, LocalCluster

import nnmap
from nnmap.sweep import Point, PointResult, area_proxy, expand_grid, grid_points, sweep
from nnmap.sweep.evaluate import FAILED, OK
from nnmap.sweep.table import read_table
from nnmap.targets import resolve_target

MODELS = ["zoo:kws", "zoo:autoencoder"]
GRID = ["dim=8,16", "scratchpad_kib=64,256"]


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as connected:
        yield connected


def test_two_by_two_grid_matches_direct_plans(client: Client, tmp_path: Path) -> None:
    specs = expand_grid("gemmini", GRID)
    output = tmp_path / "sweep.parquet"
    results = sweep(client, grid_points(MODELS[:1], specs), output)
    assert len(results) == 4 and all(result.status == OK for result in results)
    table = read_table(output).set_index("target")
    assert sorted(table.index) == sorted(specs)
    for spec in specs:
        target = resolve_target(spec)
        plan = nnmap.plan(MODELS[0], target)
        accelerator = sum(layer.accelerator_cycles or 0.0 for layer in plan.layers)
        host = sum(layer.host_cycles for layer in plan.layers)
        row = table.loc[spec]
        assert row["accelerator_cycles"] == pytest.approx(accelerator)
        assert row["host_cycles"] == pytest.approx(host)
        assert row["total_cycles"] == pytest.approx(accelerator + host)
        assert (row["processing_elements"], row["sram_bytes"]) == area_proxy(target)
    assert table["processing_elements"].nunique() == 2 and table["sram_bytes"].nunique() == 2
    for scratchpad in ("64", "256"):  # a quarter of the PEs takes more cycles
        small, large = (table.loc[f"gemmini:dim={dim},scratchpad_kib={scratchpad}",
                                  "accelerator_cycles"] for dim in ("8", "16"))
        assert small > large


def test_failed_points_keep_their_reason_and_rerun_skips_finished_ones(
        client: Client, tmp_path: Path) -> None:
    output = tmp_path / "sweep.csv"
    points = [Point("zoo:autoencoder", "gemmini"), Point("missing_model.tflite", "gemmini"),
              Point("zoo:autoencoder", "gemmini:dim=0")]
    counts: list[tuple[int, int]] = []
    first = sweep(client, points, output, on_start=lambda *c: counts.append(c))
    by_point = {(r.model, r.target): r for r in first}
    assert by_point["zoo:autoencoder", "gemmini"].status == OK
    assert by_point["missing_model.tflite", "gemmini"].status == FAILED
    assert "missing_model.tflite" in by_point["missing_model.tflite", "gemmini"].reason
    assert "dim=0" in by_point["zoo:autoencoder", "gemmini:dim=0"].reason
    second = sweep(client, points, output, on_start=lambda *c: counts.append(c))
    assert counts == [(0, 3), (1, 2)]
    assert {(r.model, r.target) for r in second} == {p for p in by_point if p[1] != "gemmini"
                                                     or p[0] != "zoo:autoencoder"}
    assert len(read_table(output)) == 3


def test_cli_sweeps_on_an_existing_scheduler(client: Client, tmp_path: Path) -> None:
    output, plot = tmp_path / "sweep.csv", tmp_path / "pareto.png"
    result = subprocess.run(
        [sys.executable, "-m", "nnmap", "sweep", "zoo:autoencoder", "--target", "gemmini",
         "--grid", "dim=8,16", "--scheduler", client.scheduler.address, "-o", str(output),
         "--plot", str(plot)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "Pareto set per model" in result.stdout
    table = read_table(output)
    assert sorted(table["target"]) == ["gemmini:dim=16", "gemmini:dim=8"]
    assert (table["status"] == OK).all()
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_sweep_completes_when_a_worker_is_killed_mid_sweep(client: Client,
                                                          tmp_path: Path) -> None:
    points = grid_points(MODELS, expand_grid("gemmini", GRID))
    killed: list[str] = []

    def kill_a_busy_worker(result: PointResult) -> None:
        if killed:
            return
        busy = [worker for worker, keys in client.processing().items() if keys]
        pids = client.run(os.getpid)
        killed.append(busy[0])
        os.kill(pids[busy[0]], signal.SIGKILL)

    results = sweep(client, points, tmp_path / "sweep.parquet", on_result=kill_a_busy_worker)
    assert killed, "no worker was busy after the first result"
    assert sorted((r.model, r.target) for r in results) == sorted(
        (p.model, p.target) for p in points)
    assert all(result.status == OK for result in results), [r.reason for r in results]
    client.wait_for_workers(2, timeout=120)
    assert killed[0] not in client.scheduler_info()["workers"]
