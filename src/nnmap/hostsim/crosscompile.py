"""Cross-compiling C (a generated artifact's sources) into a static ELF image for a host core.

The compiler is ``zig cc`` from the ``ziglang`` PyPI package (clang with every target built in,
installed with nnmap's dependencies), run as ``python -m ziglang cc``. Programs are freestanding:
``support/`` adds the part of the C library nnmap's C uses (block copies and fills, string
copies, a heap, text formatting into buffers, ``nearbyintf``: enough for the accelerator
emulators' C too), and a linker script placing everything at ``IMAGE_BASE``. Images are cached
by the hash of their inputs, like the accelerator emulators.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

from nnmap.codegen.build import EMULATOR_DEFINE, EMULATOR_DIR, artifact_files, run_compiler
from nnmap.errors import BuildError
from nnmap.hw.host_core import HostCore

logger = logging.getLogger(__name__)

SUPPORT_DIR = Path(__file__).parent / "support"
LIBC_SOURCES = (SUPPORT_DIR / "nnmap_hostsim_libc.c", SUPPORT_DIR / "nnmap_hostsim_format.c")
LINKER_SCRIPT = SUPPORT_DIR / "link.ld"
INCLUDE_DIR = SUPPORT_DIR / "include"
IMAGE_BASE = 0x10000
WARNINGS = ("-Wall", "-Wextra", "-Werror")
FREESTANDING = ("-std=c11", "-ffreestanding", "-fno-vectorize", "-fno-slp-vectorize")
# every function stays in the image (the entry is called by the emulator, not by _start)
LINK_FLAGS = (f"-Wl,-T,{LINKER_SCRIPT}", "-Wl,--no-gc-sections")


def zig_command() -> list[str]:
    """``zig cc`` through the Python running nnmap (the ``ziglang`` package)."""
    return [sys.executable, "-m", "ziglang", "cc"]


def compile_command(
    core: HostCore,
    sources: Sequence[Path],
    include_dirs: Sequence[Path],
    output: Path,
    defines: Sequence[str] = (),
) -> list[str]:
    """The full ``zig cc`` command line building ``sources`` into the static image ``output``."""
    return [
        *zig_command(),
        "-target",
        core.target,
        f"-mcpu={core.cpu}",
        *core.compile_flags,
        *FREESTANDING,
        *WARNINGS,
        *(f"-D{define}" for define in defines),
        *(f"-I{directory}" for directory in (*include_dirs, INCLUDE_DIR)),
        *map(str, sources),
        *map(str, LIBC_SOURCES),
        *LINK_FLAGS,
        "-o",
        str(output),
    ]


def image_hash(
    core: HostCore, sources: Sequence[Path], include_dirs: Sequence[Path], defines: Sequence[str]
) -> str:
    """Hash of everything the image depends on: the core's compile settings and defines, every
    source, every header in the include directories and the support files."""
    settings = (version("ziglang"), core.target, core.cpu, core.compile_flags, tuple(defines))
    digest = hashlib.sha256(repr(settings).encode())
    headers = sorted(
        header for directory in (*include_dirs, INCLUDE_DIR) for header in directory.glob("*.h")
    )
    for path in (*sources, *headers, *LIBC_SOURCES, LINKER_SCRIPT):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def cross_compile(
    core: HostCore,
    sources: Sequence[Path],
    out_dir: Path,
    include_dirs: Sequence[Path] = (),
    defines: Sequence[str] = (),
) -> Path:
    """Compile ``sources`` for ``core`` into a static ELF image in ``out_dir``; an unchanged build
    is reused. Raises BuildError with the compiler's first error line."""
    sources = [Path(source) for source in sources]
    include_dirs = [Path(directory) for directory in include_dirs]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tag = image_hash(core, sources, include_dirs, defines)
    image = out_dir / f"nnmap_{core.name}_{tag}.elf"
    if image.exists():
        return image
    partial = image.with_suffix(f".{os.getpid()}.tmp")
    command = compile_command(core, sources, include_dirs, partial, defines)
    logger.info("cross-compiling for %s: %s", core.name, " ".join(command))
    run_compiler(command, f"zig cc failed building for host core {core.name}")
    partial.replace(image)
    return image


def cross_compile_artifact(core: HostCore, artifact_dir: Path, out_dir: Path | None = None) -> Path:
    """Cross-compile the emulator flavour of a generated artifact folder (its sources with nnmap's
    emulation of its accelerators) for ``core``; the image goes to ``out_dir``, by default
    ``<artifact>/build/hostsim``."""
    artifact_dir = Path(artifact_dir)
    sources = artifact_files(artifact_dir, "*.c")
    if not sources:
        raise BuildError(f"{artifact_dir}: no C sources to cross-compile; run nnmap compile first")
    target_dir = Path(out_dir) if out_dir is not None else artifact_dir / "build" / "hostsim"
    include_dirs = [artifact_dir, artifact_dir / EMULATOR_DIR]
    return cross_compile(core, sources, target_dir, include_dirs, defines=[EMULATOR_DEFINE])
