"""Build nnmap's VTA emulator (C) into a shared library, cached by the hash of its inputs."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
from pathlib import Path

from nnmap.errors import BuildError
from nnmap.runtime.vta_params import render_header
from nnmap.targets import get_target

logger = logging.getLogger(__name__)

RUNTIME_DIR = Path(__file__).parent
VTA_DIR = RUNTIME_DIR / "vta"
COMMON_DIR = RUNTIME_DIR / "common"
SOURCES = (
    VTA_DIR / "vta_emulator.c",
    VTA_DIR / "vta_exec.c",
    VTA_DIR / "vta_pipeline.c",
    COMMON_DIR / "decoupled_timing.c",
)
HEADERS = (VTA_DIR / "vta_runtime.h", VTA_DIR / "vta_internal.h", COMMON_DIR / "decoupled_timing.h")
CFLAGS = ("-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared")


def include_dirs(params_dir: Path) -> tuple[Path, ...]:
    """Where ``vta_runtime.h``, the generated ``vta_params.h`` and the timing engine live."""
    return (params_dir, VTA_DIR, COMMON_DIR)


def write_params_header(out_dir: Path) -> Path:
    """Render ``vta_params.h`` from the built-in vta target into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    header = out_dir / "vta_params.h"
    text = render_header(get_target("vta").module("vta"))
    if not header.exists() or header.read_text() != text:
        header.write_text(text)
    return header


def _content_hash(compiler: str, params: Path) -> str:
    digest = hashlib.sha256(" ".join((compiler, *CFLAGS)).encode())
    for path in (*SOURCES, *HEADERS, params):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def build_emulator_library(out_dir: Path) -> Path:
    """Compile the emulator into ``out_dir``; an unchanged build is reused (content hash)."""
    out_dir = Path(out_dir)
    params = write_params_header(out_dir)
    compiler = os.environ.get("CC", "gcc")
    library = out_dir / f"libnnmap_vta_{_content_hash(compiler, params)}.so"
    if library.exists():
        return library
    partial = library.with_suffix(f".{os.getpid()}.tmp")
    includes = [f"-I{path}" for path in include_dirs(out_dir)]
    command = [compiler, *CFLAGS, *includes, *map(str, SOURCES), "-o", str(partial)]
    logger.info("building the vta emulator: %s", " ".join(command))
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        first = next(iter(result.stderr.splitlines()), "no output")
        raise BuildError(f"{compiler} failed on the vta emulator: {first}")
    partial.replace(library)
    return library
