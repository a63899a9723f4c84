"""Building an accelerator emulator (C) into a shared library, cached by the hash of its inputs.

Each emulator is a set of C sources, headers and a parameters header rendered from its target
file, so the C always follows the target's numbers.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nnmap.errors import BuildError

logger = logging.getLogger(__name__)

RUNTIME_DIR = Path(__file__).parent
COMMON_DIR = RUNTIME_DIR / "common"
CFLAGS = ("-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared")


@dataclass(frozen=True)
class Emulator:
    """The C of one emulator: sources, headers, and how to render its parameters header."""

    name: str
    directory: Path
    sources: tuple[Path, ...]
    headers: tuple[Path, ...]
    params_header: str
    render_params: Callable[[], str]
    link_flags: tuple[str, ...] = ()

    def include_dirs(self, params_dir: Path) -> tuple[Path, ...]:
        """Where the emulator's headers, its generated parameters and the timing engine live."""
        return (Path(params_dir), self.directory, COMMON_DIR)

    def write_params_header(self, out_dir: Path) -> Path:
        """Render the parameters header from the built-in target into ``out_dir``."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        header = out_dir / self.params_header
        text = self.render_params()
        if not header.exists() or header.read_text() != text:
            header.write_text(text)
        return header

    def _content_hash(self, compiler: str, params: Path) -> str:
        digest = hashlib.sha256(" ".join((compiler, *CFLAGS)).encode())
        for path in (*self.sources, *self.headers, params):
            digest.update(path.read_bytes())
        return digest.hexdigest()[:16]

    def build_library(self, out_dir: Path) -> Path:
        """Compile the emulator into ``out_dir``; an unchanged build is reused (content hash)."""
        out_dir = Path(out_dir)
        params = self.write_params_header(out_dir)
        compiler = os.environ.get("CC", "gcc")
        library = out_dir / f"libnnmap_{self.name}_{self._content_hash(compiler, params)}.so"
        if library.exists():
            return library
        partial = library.with_suffix(f".{os.getpid()}.tmp")
        includes = [f"-I{path}" for path in self.include_dirs(out_dir)]
        command = [
            compiler,
            *CFLAGS,
            *includes,
            *map(str, self.sources),
            *self.link_flags,
            "-o",
            str(partial),
        ]
        logger.info("building the %s emulator: %s", self.name, " ".join(command))
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            first = next(iter(result.stderr.splitlines()), "no output")
            raise BuildError(f"{compiler} failed on the {self.name} emulator: {first}")
        partial.replace(library)
        return library
