"""Artifacts appear whole or not at all.

A compile writes into a staging folder beside the output, ``.<name>.staging-<pid>-<random>``,
and publishes it by renames under a lock on the parent folder: the old artifact is moved aside,
the staged one moved in, the old one removed. An interrupted compile (even SIGKILL) leaves the old
artifact, or none if it died between the two renames, never a mixture; what it left behind
(its staging folder, a retired artifact) is removed by the next compile into the same folder,
once the process that made it is gone. Two compiles into one folder at once publish one after
the other: the folder always holds one whole artifact, the last published.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nnmap.codegen.artifact import REPORT
from nnmap.errors import NnmapError


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _leftovers(out_dir: Path) -> Iterator[Path]:
    """Staging folders of processes that are gone, and retired artifacts, beside ``out_dir``."""
    for path in out_dir.parent.glob(f".{out_dir.name}.*"):
        kind, _, rest = path.name[len(out_dir.name) + 2 :].partition("-")
        owner = rest.split("-")[0]
        if kind == "old" or (kind == "staging" and owner.isdigit() and not _alive(int(owner))):
            yield path


def staging_folder(out_dir: Path) -> Path:
    """A new staging folder for ``out_dir`` (leftovers of dead compiles removed first)."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with _publish_lock(out_dir):
        for path in _leftovers(out_dir):
            shutil.rmtree(path, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.staging-{os.getpid()}-",
                                 dir=out_dir.parent))


@contextmanager
def _publish_lock(out_dir: Path) -> Iterator[None]:
    """An exclusive lock on the output's parent folder (nothing is left behind to clean up)."""
    descriptor = os.open(out_dir.parent, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def publish(staging: Path, out_dir: Path) -> None:
    """Move ``staging`` to ``out_dir``, replacing the artifact there (never another folder)."""
    with _publish_lock(out_dir):
        if out_dir.exists() and not (out_dir / REPORT).exists() and any(out_dir.iterdir()):
            raise NnmapError(f"{out_dir} exists and is not an nnmap artifact: choose another -o")
        retired = None
        if out_dir.exists():
            retired = out_dir.with_name(f".{out_dir.name}.old-{time.time_ns()}")
            out_dir.rename(retired)
        staging.rename(out_dir)
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)
