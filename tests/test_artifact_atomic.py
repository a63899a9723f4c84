"""Artifacts stay whole under interruption and concurrency: a compile killed mid-way leaves the old
artifact (or none), the next compile removes what it left behind, and two compiles into one folder
at once leave one whole artifact."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from nnmap.codegen.artifact import Artifact
from nnmap.codegen.publish import staging_folder

MODEL = "zoo:autoencoder"


def _default_interrupt() -> None:
    """In the child: Ctrl-C's default action (a shell's background job starts with SIGINT
    ignored, and an ignored SIGINT stays ignored in Python)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _compile(out: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "nnmap", "compile", MODEL, "--target", "host", "-o", str(out)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=_default_interrupt)


def _whole(out: Path) -> bool:
    report = json.loads((out / "report.json").read_text())
    return bool(report["layers"]) and any((out / "build").glob("libnnmap_*.so")) and all(
        (out / name).exists() for name in ("network.c", "network.h", "weights.c", "Makefile")
    )


def _hidden(parent: Path) -> list[Path]:
    return [path for path in parent.iterdir() if path.name.startswith(".")]


def _second_compile_staging(out: Path) -> tuple[bytes, subprocess.Popen[bytes]]:
    """Compile into ``out``, then start a second compile and return (the first's report.json,
    the second's process) once the second has staged its artifact."""
    first = _compile(out)
    assert first.wait(timeout=600) == 0, first.stderr.read() if first.stderr else ""
    before = (out / "report.json").read_bytes()
    second = _compile(out)
    deadline = time.monotonic() + 300
    while not any(p.name.startswith(".artifact.staging-") for p in _hidden(out.parent)):
        assert time.monotonic() < deadline and second.poll() is None, "staging never appeared"
        time.sleep(0.01)
    return before, second


def test_killed_compile_leaves_the_old_artifact_and_its_leftovers_go(tmp_path: Path) -> None:
    out = tmp_path / "artifact"
    before, second = _second_compile_staging(out)
    time.sleep(0.5)
    second.send_signal(signal.SIGKILL)
    second.wait(timeout=60)
    assert _whole(out) and (out / "report.json").read_bytes() == before
    assert _hidden(tmp_path), "the killed compile left its staging folder"
    staging_folder(out).rmdir()  # what the next compile does first
    assert _hidden(tmp_path) == []


def test_staging_of_a_live_compile_is_kept(tmp_path: Path) -> None:
    out = tmp_path / "artifact"
    mine = staging_folder(out)
    other = staging_folder(out)
    assert mine.exists() and other.exists() and str(os.getpid()) in mine.name


def test_two_compiles_into_one_folder_leave_one_whole_artifact(tmp_path: Path) -> None:
    out = tmp_path / "artifact"
    compiles = [_compile(out), _compile(out)]
    codes = [c.wait(timeout=900) for c in compiles]
    assert codes == [0, 0], [c.stderr.read() for c in compiles if c.stderr]
    assert _whole(out) and _hidden(tmp_path) == []
    artifact = Artifact(out)
    assert artifact.report["layers"]


def test_interrupted_compile_keeps_the_old_artifact_and_cleans_its_staging(tmp_path: Path) -> None:
    """SIGINT (Ctrl-C) while the new artifact is staged: one line, exit 2, the old artifact
    whole and unchanged, and no staging folder left behind (the compile removes its own)."""
    out = tmp_path / "artifact"
    before, second = _second_compile_staging(out)
    second.send_signal(signal.SIGINT)
    assert second.wait(timeout=120) == 2
    stderr = second.stderr.read().decode() if second.stderr else ""
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert _whole(out) and (out / "report.json").read_bytes() == before
    assert _hidden(tmp_path) == []
