"""``nnmap compile``/``run --target stratix10``: the artifact (kernels, C host program,
Makefile) and its host program built against pyopencl's OpenCL loader and run on Intel's
emulator and on PoCL, bit-exact with the reference."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from fpga_models import small_graph
from typer.testing import CliRunner

from nnmap.cli import build_app
from nnmap.reference import run
from nnmap.targets.stratix10.flow import plan_design, write_artifact
from nnmap.targets.stratix10.options import PORTABLE
from nnmap.verify import random_inputs


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return small_graph(tmp_path_factory.mktemp("fpga-flow"))


def _run_host(folder: Path, target: str, sample: np.ndarray) -> np.ndarray:
    (folder / "input.bin").write_bytes(sample.astype(np.int8).tobytes())
    result = subprocess.run(["make", "-s", "-C", str(folder), target], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return np.frombuffer((folder / "output.bin").read_bytes(), np.int8)


def test_compile_writes_kernels_host_program_and_makefile(small, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path, graph = small
    out = tmp_path / "design"
    result = CliRunner().invoke(build_app(), ["compile", str(path), "--target", "stratix10",
                                              "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert {"kernels.cl", "host.c", "Makefile", "constants.bin", "report.json"} <= {
        p.name for p in out.iterdir()}
    makefile = (out / "Makefile").read_text()
    assert "aoc -board=$(BOARD) kernels.cl -o kernels.aocx" in makefile
    report = json.loads((out / "report.json").read_text())
    assert report["channels"] and report["autorun_kernels"]
    assert "clEnqueueTask" in (out / "host.c").read_text()
    sample = random_inputs(graph, 1, 5)[0]
    expected = run(graph, [sample])[0].reshape(-1)
    assert np.array_equal(_run_host(out, "run-emulator", sample), expected)


def test_portable_host_program_runs_on_pocl(small, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, graph = small
    build = write_artifact(plan_design(graph, PORTABLE), tmp_path / "portable")
    assert build.path is not None
    sample = random_inputs(graph, 1, 6)[0]
    expected = run(graph, [sample])[0].reshape(-1)
    assert np.array_equal(_run_host(build.path, "run-pocl", sample), expected)


def test_run_prints_modelled_latency_resources_and_exactness(small) -> None:  # type: ignore[no-untyped-def]
    path, _ = small
    result = CliRunner().invoke(build_app(), ["run", str(path), "--target", "stratix10",
                                              "--inputs", "2"])
    assert result.exit_code == 0, result.output
    assert "modelled latency" in result.output and "M20K" in result.output
    assert re.search(r"max \|difference\| vs .+ 0\s*$", result.output)
