"""The sweep table on disk: one row per (model, target spec) point, Parquet or CSV by suffix."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from pathlib import Path

import pandas as pd

from nnmap.sweep.evaluate import OK, PointResult
from nnmap.sweep.grid import SweepError

FORMATS = (".parquet", ".csv")
COLUMNS = [field.name for field in fields(PointResult)]
KEY = ["model", "target"]


def check_output(path: Path) -> None:
    if path.suffix.lower() not in FORMATS:
        raise SweepError(f"-o {path}: the sweep table is written as .parquet or .csv")


def read_table(path: Path) -> pd.DataFrame:
    """The table at ``path`` (an empty table when there is none yet)."""
    check_output(path)
    if not path.exists():
        return pd.DataFrame(columns=COLUMNS)
    try:
        frame = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(
            path, keep_default_na=False, na_values=[""])
    except (OSError, ValueError) as error:
        raise SweepError(f"{path}: not a readable sweep table ({error}); choose another -o"
                         ) from None
    missing = [column for column in COLUMNS if column not in frame.columns]
    if missing:
        raise SweepError(f"{path}: not a sweep table (no column {missing[0]}); choose another -o")
    return frame


def finished_points(frame: pd.DataFrame) -> set[tuple[str, str]]:
    """(model, target) of the points that succeeded: a rerun skips them (failed ones run again)."""
    done = frame[frame["status"] == OK]
    return set(zip(done["model"], done["target"], strict=True))


def merged(frame: pd.DataFrame, results: Iterable[PointResult]) -> pd.DataFrame:
    """``frame`` with ``results`` added, each replacing an earlier row of the same point."""
    new = pd.DataFrame([result.row() for result in results], columns=COLUMNS)
    if frame.empty:
        return new.reset_index(drop=True)
    if new.empty:
        return frame.reset_index(drop=True)
    combined = pd.concat([frame[COLUMNS], new], ignore_index=True)
    return combined.drop_duplicates(subset=KEY, keep="last").reset_index(drop=True)


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` atomically (a crash never leaves half a table)."""
    check_output(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.partial")
    if path.suffix.lower() == ".parquet":
        frame.to_parquet(staging, index=False)
    else:
        frame.to_csv(staging, index=False)
    staging.replace(path)
