"""Sweep pieces without Dask: the grid, the table on disk, the Pareto set and the plots."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from nnmap.sweep import PointResult, SweepError, expand_grid, overall, with_pareto
from nnmap.sweep.evaluate import FAILED, OK
from nnmap.sweep.plot import write_plot
from nnmap.sweep.table import finished_points, merged, read_table, write_table


def test_grid_crosses_every_axis_first_axis_slowest() -> None:
    specs = expand_grid("gemmini", ["dim=8,16,32", "scratchpad_kib=64,256"])
    assert specs == [
        "gemmini:dim=8,scratchpad_kib=64", "gemmini:dim=8,scratchpad_kib=256",
        "gemmini:dim=16,scratchpad_kib=64", "gemmini:dim=16,scratchpad_kib=256",
        "gemmini:dim=32,scratchpad_kib=64", "gemmini:dim=32,scratchpad_kib=256",
    ]
    assert expand_grid("vta", []) == ["vta"]


@pytest.mark.parametrize("axes, message", [
    (["dim"], "NAME=V1,V2"),
    (["=8,16"], "NAME=V1,V2"),
    (["dim=8,,16"], "NAME=V1,V2"),
    (["dim=8,8"], "listed twice"),
    (["dim=8", "dim=16"], "given twice"),
])
def test_malformed_grid_axes_name_the_axis(axes: list[str], message: str) -> None:
    with pytest.raises(SweepError, match=message):
        expand_grid("gemmini", axes)


def test_a_target_spec_with_a_grid_is_refused() -> None:
    with pytest.raises(SweepError, match="plain target name"):
        expand_grid("gemmini:dim=8", ["scratchpad_kib=64,128"])


def _point(model: str, target: str, cycles: float, pes: int, sram: int) -> PointResult:
    return PointResult(model, target, OK, total_cycles=cycles, accelerator_cycles=cycles,
                       host_cycles=0.0, processing_elements=pes, sram_bytes=sram)


POINTS = [
    _point("a", "small", 400.0, 64, 1000),
    _point("a", "wide", 100.0, 256, 1000),
    _point("a", "wasteful", 100.0, 256, 4000),  # as fast as "wide", more SRAM: dominated
    _point("a", "slow", 500.0, 64, 2000),  # slower and bigger than "small": dominated
    _point("b", "small", 90.0, 64, 1000),
    _point("b", "wide", 30.0, 256, 1000),
    _point("b", "wasteful", 40.0, 256, 4000),
    _point("b", "slow", 95.0, 64, 2000),
]


def test_pareto_set_per_model_keeps_exactly_the_undominated_points() -> None:
    table = pd.DataFrame([point.row() for point in POINTS])
    marked = with_pareto(table)
    front = set(zip(marked["model"][marked["pareto"]], marked["target"][marked["pareto"]],
                    strict=True))
    assert front == {("a", "small"), ("a", "wide"), ("b", "small"), ("b", "wide")}


def test_overall_pareto_sums_cycles_over_models_with_every_model() -> None:
    rows = [point.row() for point in POINTS] + [_point("a", "only-a", 1.0, 1, 1).row()]
    summed = overall(pd.DataFrame(rows)).set_index("target")
    assert "only-a" not in summed.index
    assert summed.loc["wide", "total_cycles"] == 130.0
    assert bool(summed.loc["wide", "pareto"]) and not bool(summed.loc["slow", "pareto"])


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_table_round_trip_replaces_a_point_and_reruns_only_failures(tmp_path: Path,
                                                                    suffix: str) -> None:
    path = tmp_path / f"sweep{suffix}"
    failed = PointResult("a", "broken", FAILED, reason="layer x: too big")
    write_table(merged(read_table(path), [*POINTS[:2], failed]), path)
    table = read_table(path)
    assert len(table) == 3
    assert table.set_index("target").loc["broken", "reason"] == "layer x: too big"
    assert finished_points(table) == {("a", "small"), ("a", "wide")}
    fixed = _point("a", "broken", 7.0, 1, 1)
    again = merged(table, [fixed])
    assert len(again) == 3 and finished_points(again) == {("a", "small"), ("a", "wide"),
                                                          ("a", "broken")}


def test_a_table_of_another_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SweepError, match=r"\.parquet or \.csv"):
        read_table(tmp_path / "sweep.xlsx")
    other = tmp_path / "other.csv"
    other.write_text("x,y\n1,2\n")
    with pytest.raises(SweepError, match="not a sweep table"):
        read_table(other)


@pytest.mark.parametrize("suffix", [".html", ".png"])
def test_pareto_plot_is_written(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"pareto{suffix}"
    write_plot(with_pareto(pd.DataFrame([point.row() for point in POINTS])), path)
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG") if suffix == ".png" else b"plotly" in data[:100_000]
