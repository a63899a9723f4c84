"""A short round of bench/fuzz.py: byte-mutated TFLite and ONNX models end in a Graph or in
nnmap's one-line error; none crashes, hangs or raises a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TFLM = ROOT.parent / "shared" / "models" / "tflm"
MUTANTS = 120


@pytest.mark.skipif(not TFLM.is_dir(), reason="../shared/models/tflm not present")
def test_mutated_models_end_in_a_graph_or_a_one_line_error(tmp_path: Path) -> None:
    results = tmp_path / "fuzz.json"
    command = [sys.executable, str(ROOT / "bench" / "fuzz.py"), "--mutants", str(MUTANTS),
               "--seed", "7", "--json", str(results)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    report = json.loads(results.read_text())
    assert report["failures"] == [], run.stdout[-2000:]
    assert run.returncode == 0
    for kind, outcomes in report["outcomes"].items():
        assert sum(outcomes.values()) == MUTANTS, kind
        assert outcomes["error"] > 0 and outcomes["imported"] > 0, kind
