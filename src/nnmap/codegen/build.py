"""gcc builds of an artifact's C: objects, a shared library, and the code size of the kernels."""

from __future__ import annotations

import hashlib
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from nnmap.errors import BuildError

COMPILER = "gcc"
WEIGHTS_SOURCE = "weights.c"
# Where an artifact keeps nnmap's emulation of its accelerators, and the define that compiles
# its layer hooks in (the emulator flavour of the generated Makefile).
EMULATOR_DIR = "emulator"
EMULATOR_DEFINE = "NNMAP_EMULATOR"


def _first_error_line(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line]
    return (errors or lines or ["(no compiler output)"])[0]


def run_compiler(command: Sequence[str], failure: str) -> None:
    """Run a compiler or linker; on failure a BuildError: ``failure`` and the first error line."""
    result = subprocess.run(list(command), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BuildError(f"{failure}: {_first_error_line(result.stderr)}")


def _compile_object(source: Path, obj: Path, cflags: str, artifact: Path) -> Path:
    command = [COMPILER, *shlex.split(cflags), "-fPIC", "-c", str(source), "-o", str(obj)]
    run_compiler(command, f"gcc failed on {artifact}")
    return obj


def artifact_files(source_dir: Path, pattern: str) -> list[Path]:
    """The artifact's files matching ``pattern``, then its emulator's (the emulator flavour)."""
    emulator = source_dir / EMULATOR_DIR
    return sorted(source_dir.glob(pattern)) + sorted(emulator.rglob(pattern))


def build_id(source_dir: Path, cflags: str) -> str:
    """A short hash of the C sources and flags: the cache key of a built library."""
    digest = hashlib.sha256(cflags.encode())
    for path in artifact_files(source_dir, "*.[ch]"):
        digest.update(str(path.relative_to(source_dir)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def compile_objects(source_dir: Path, build_dir: Path, cflags: str, artifact: Path) -> list[Path]:
    """Compile the emulator flavour of ``source_dir`` (every .c with nnmap's emulation of its
    accelerators) into ``build_dir``, in parallel; BuildError on failure.

    ``artifact`` is the path named in error messages (the artifact the user asked for).
    """
    if shutil.which(COMPILER) is None:
        raise BuildError(f"{COMPILER} not found on PATH: it is needed to build {artifact}")
    build_dir.mkdir(parents=True, exist_ok=True)
    flags = f"{cflags} -D{EMULATOR_DEFINE} -I{source_dir / EMULATOR_DIR}"
    with ThreadPoolExecutor(max_workers=4) as pool:
        jobs = [
            pool.submit(_compile_object, s, build_dir / f"{s.stem}.o", flags, artifact)
            for s in artifact_files(source_dir, "*.c")
        ]
        return [job.result() for job in jobs]


def link_shared(objects: list[Path], library: Path, artifact: Path) -> Path:
    """Link objects into a shared library (written under a temporary name, then renamed)."""
    partial = library.with_suffix(".so.partial")
    command = [COMPILER, "-shared", *map(str, objects), "-o", str(partial), "-lm"]
    run_compiler(command, f"linking {artifact} failed")
    partial.replace(library)
    return library


def code_bytes(objects: list[Path]) -> int:
    """Bytes of machine code (``.text*`` sections) in the objects, weights excluded."""
    code = [obj for obj in objects if obj.name != Path(WEIGHTS_SOURCE).with_suffix(".o").name]
    if not code or shutil.which("size") is None:
        return 0
    result = subprocess.run(
        ["size", "-A", *map(str, code)], capture_output=True, text=True, check=False
    )
    total = 0
    for line in result.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0].startswith(".text") and fields[1].isdigit():
            total += int(fields[1])
    return total
