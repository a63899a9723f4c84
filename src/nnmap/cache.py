"""nnmap's on-disk cache: one folder per kind of entry under the user's cache directory.

Entries are content-addressed (their file name is a digest of everything they were made from), so
a stale entry is never found, only an unused one; each is written to a private temporary file and
renamed into place, so concurrent compiles see a whole entry or none.
"""

from __future__ import annotations

import getpass
import os
import tempfile
from pathlib import Path


def cache_dir(kind: str) -> Path:
    """``$XDG_CACHE_HOME/nnmap/<kind>`` (by default ``~/.cache/nnmap/<kind>``), created; a folder
    in the system's temporary directory when that cannot be created."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    directory = Path(base) / "nnmap" / kind
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        directory = Path(tempfile.gettempdir()) / f"nnmap-{kind}-{getpass.getuser()}"
        directory.mkdir(parents=True, exist_ok=True)
    return directory


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary sibling renamed into place."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
