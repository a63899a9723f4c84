"""The tuning database: round trip, exact-key lookups, corrupt lines, concurrent writers."""

from __future__ import annotations

import logging
import multiprocessing
from pathlib import Path

import pytest

from nnmap.tuning.database import (
    TuningDatabase,
    TuningRecord,
    active_database,
    cpu_features,
    default_database_path,
    using_database,
)

FEATURES = ("x86_64", "avx", "avx2")


def _record(workload: str = "reduce_inner:1x8x8x16:abc", seconds: float = 1e-5,
            features: tuple[str, ...] = FEATURES, pixels: int = 4) -> TuningRecord:
    schedule = {"pixels": pixels, "channels": 16, "pixels_inside": 1, "unroll": 0}
    return TuningRecord(workload, "host", features, schedule, seconds, "0.1.0")


def test_round_trip_keeps_every_field_and_best_is_the_fastest(tmp_path: Path) -> None:
    database = TuningDatabase(tmp_path / "tuning.jsonl")
    slow, fast = _record(seconds=3e-5, pixels=1), _record(seconds=1e-5, pixels=4)
    database.append(slow)
    database.append(fast)
    assert database.records() == (slow, fast)
    assert database.best(fast.workload, "host", FEATURES) == fast


def test_a_schedule_is_judged_on_the_median_of_its_measurements(tmp_path: Path) -> None:
    database = TuningDatabase(tmp_path / "tuning.jsonl")
    for seconds in (1e-6, 5e-6, 5e-6):  # one lucky measurement among slow ones
        database.append(_record(seconds=seconds, pixels=1))
    database.append(_record(seconds=3e-6, pixels=4))
    best = database.best(_record().workload, "host", FEATURES)
    assert best is not None and best.schedule["pixels"] == 4 and best.seconds == 3e-6


def test_a_key_mismatch_finds_nothing(tmp_path: Path) -> None:
    database = TuningDatabase(tmp_path / "tuning.jsonl")
    record = _record()
    database.append(record)
    other_shape = "reduce_inner:1x8x8x32:abc"
    assert database.best(other_shape, "host", FEATURES) is None
    assert database.best(record.workload, "host", (*FEATURES, "avx512_vnni")) is None
    assert database.best(record.workload, "gemmini", FEATURES) is None


def test_a_corrupt_line_is_skipped_with_a_warning(tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "tuning.jsonl"
    good = _record()
    path.write_text('{"workload": "truncated\n' + good.to_json() + "\n" + '{"seconds": 1}\n')
    with caplog.at_level(logging.WARNING, logger="nnmap.tuning.database"):
        assert TuningDatabase(path).records() == (good,)
    warned = [r.getMessage() for r in caplog.records]
    assert any("line 1" in message for message in warned)
    assert any("line 3" in message for message in warned)


def _append_many(path: str, writer: int) -> None:
    database = TuningDatabase(Path(path))
    for index in range(200):
        database.append(_record(workload=f"w{writer}:{index}" + "x" * 3000))


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "tuning.jsonl"
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_append_many, args=(str(path), w)) for w in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=60)
        assert writer.exitcode == 0
    workloads = {r.workload for r in TuningDatabase(path).records()}
    assert len(workloads) == 4 * 200


def test_compiles_read_the_users_database_unless_told_otherwise(tmp_path: Path) -> None:
    default = active_database()
    assert default is not None and default.path == default_database_path()
    with using_database(tmp_path / "mine.jsonl"):
        chosen = active_database()
        assert chosen is not None and chosen.path == tmp_path / "mine.jsonl"
    with using_database(None, enabled=False):
        assert active_database() is None


def test_cpu_features_keep_only_isa_flags(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor : 0\nflags : fpu vme avx2 hypervisor avx512_vnni sse4_2\n")
    features = cpu_features(cpuinfo)
    assert features[1:] == ("avx2", "avx512_vnni", "sse4_2")
