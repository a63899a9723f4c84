"""The tuning database: measured schedules of host kernels, one JSON object per line.

Each line is a ``TuningRecord``: the workload's key (the kernel's unscheduled TE compute), the
target and the CPU's instruction-set features it was measured on, the schedule's knobs, the
measured median time and the nnmap version. A compile uses a record only when all three of
workload, target and CPU features match exactly; among matching records the fastest wins.
Writers append whole lines under an exclusive ``flock``, so concurrent tuners lose nothing;
a line that does not parse is skipped with a warning.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import fcntl
import functools
import json
import logging
import os
import platform
import statistics
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

from nnmap.cache import cache_dir
from nnmap.errors import NnmapError

log = logging.getLogger(__name__)

DATABASE_NAME = "database.jsonl"
# The flags of /proc/cpuinfo that decide which code a kernel compiles to (SIMD widths, int8 dot
# products); the rest (virtualization, power management, ...) would only split the key.
ISA_FLAGS = ("sse4_1", "sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl",
             "avx512_vnni", "avx_vnni", "asimd", "asimddp", "i8mm", "sve")


class TuningDatabaseError(NnmapError):
    """The tuning database file cannot be read or written."""


@dataclass(frozen=True)
class TuningRecord:
    """One measured schedule of one workload on one machine."""

    workload: str
    target: str
    cpu_features: tuple[str, ...]
    schedule: dict[str, int]
    seconds: float
    nnmap_version: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @staticmethod
    def from_json(line: str) -> TuningRecord:
        """Parse one line; ValueError/KeyError/TypeError when it is not a record."""
        fields = json.loads(line)
        record = TuningRecord(
            workload=str(fields["workload"]),
            target=str(fields["target"]),
            cpu_features=tuple(str(flag) for flag in fields["cpu_features"]),
            schedule={str(knob): int(value) for knob, value in fields["schedule"].items()},
            seconds=float(fields["seconds"]),
            nnmap_version=str(fields["nnmap_version"]),
        )
        if not record.seconds > 0:
            raise ValueError(f"non-positive time {record.seconds}")
        return record


def nnmap_version() -> str:
    """The installed nnmap's version ("unknown" when it runs from a bare source tree)."""
    try:
        return metadata.version("nnmap")
    except metadata.PackageNotFoundError:
        return "unknown"


def cpu_features(cpuinfo: Path = Path("/proc/cpuinfo")) -> tuple[str, ...]:
    """The machine architecture and the ISA flags of ``ISA_FLAGS`` this CPU has, sorted."""
    flags: set[str] = set()
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() in ("flags", "Features"):
                flags.update(value.split())
                break
    return (platform.machine(), *sorted(flag for flag in ISA_FLAGS if flag in flags))


def default_database_path() -> Path:
    """The user's tuning database: ``database.jsonl`` in nnmap's ``tuning`` cache folder."""
    return cache_dir("tuning") / DATABASE_NAME


@functools.lru_cache(maxsize=8)
def _parsed_records(path: Path, modified_ns: int, size: int) -> tuple[TuningRecord, ...]:
    """The records of ``path`` as it was at (``modified_ns``, ``size``): a compile looks up
    every layer, the file is parsed once per change."""
    records = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(TuningRecord.from_json(line))
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            log.warning("tuning database %s, line %d: skipped (%s)", path, number, error)
    return tuple(records)


@dataclass(frozen=True)
class TuningDatabase:
    """A JSON-lines file of TuningRecords (created on the first append)."""

    path: Path

    def records(self) -> tuple[TuningRecord, ...]:
        """Every well-formed record, in file order; malformed lines are logged and skipped."""
        try:
            if not self.path.is_file():
                return ()
            status = self.path.stat()
            return _parsed_records(self.path, status.st_mtime_ns, status.st_size)
        except OSError as error:
            raise TuningDatabaseError(
                f"tuning database {self.path}: cannot be read ({error.strerror}); pass "
                "another file with --db") from error

    def append(self, record: TuningRecord) -> None:
        """Add ``record`` as one line, holding an exclusive lock while writing."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a") as stream:
                fcntl.flock(stream, fcntl.LOCK_EX)
                try:
                    stream.write(record.to_json() + "\n")
                    stream.flush()
                    os.fsync(stream.fileno())
                finally:
                    fcntl.flock(stream, fcntl.LOCK_UN)
        except OSError as error:
            raise TuningDatabaseError(
                f"tuning database {self.path}: cannot be written ({error.strerror}); pass "
                "another file with --db") from error

    def best(self, workload: str, target: str, features: tuple[str, ...]) -> TuningRecord | None:
        """Among the records whose workload, target and CPU features all match exactly, the
        schedule with the lowest median time over its measurements (a schedule measured again,
        e.g. by the tuner's confirmation, is judged on all of them); a record of it at that
        median."""
        by_schedule: dict[str, list[TuningRecord]] = {}
        for record in self.records():
            if (record.workload, record.target, record.cpu_features) == (
                    workload, target, features):
                key = json.dumps(record.schedule, sort_keys=True)
                by_schedule.setdefault(key, []).append(record)
        if not by_schedule:
            return None
        medians = {key: statistics.median(r.seconds for r in records)
                   for key, records in by_schedule.items()}
        fastest = min(medians, key=lambda key: medians[key])
        return dataclasses.replace(by_schedule[fastest][-1], seconds=medians[fastest])


_ACTIVE: contextvars.ContextVar[TuningDatabase | None] = contextvars.ContextVar(
    "nnmap_tuning_database", default=None)
_DISABLED: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "nnmap_tuning_disabled", default=False)


def active_database() -> TuningDatabase | None:
    """The database compiles read: the one set by ``using_database``, else the user's (None
    when tuned schedules are switched off)."""
    if _DISABLED.get():
        return None
    return _ACTIVE.get() or TuningDatabase(default_database_path())


@contextlib.contextmanager
def using_database(path: Path | None, enabled: bool = True) -> Iterator[None]:
    """Compile with the database at ``path`` (None: the user's), or with none (``enabled``
    False: every kernel gets its default schedule)."""
    database_token = _ACTIVE.set(TuningDatabase(Path(path)) if path is not None else None)
    disabled_token = _DISABLED.set(not enabled)
    try:
        yield
    finally:
        _ACTIVE.reset(database_token)
        _DISABLED.reset(disabled_token)
