"""The HTML report of a compiled model: self-contained, and drawn by headless Chromium without a
console message (Chromium is installed by ``make test``, so these tests never skip)."""

from __future__ import annotations

import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

import nnmap
from nnmap.report import read_artifact_report, write_report
from nnmap.report.browser import check_page

FIGURES_WITHOUT_DEVIATION = 4
FIGURES_WITH_DEVIATION = 5


class ExternalReferences(HTMLParser):
    """Collects every tag attribute that would make the browser fetch something."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.script_sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "data") and value:
                self.found.append(f"<{tag} {name}={value}>")
        if tag == "link":
            self.found.append("<link>")


def assert_self_contained(page: Path) -> None:
    text = page.read_text()
    parser = ExternalReferences()
    parser.feed(text)
    assert parser.found == []
    assert text.count("<script") >= 2  # plotly.js itself is inlined, then the figures


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nnmap", *args], capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def kws_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    artifact = nnmap.compile("zoo:kws", "gemmini", tmp_path_factory.mktemp("kws") / "artifact")
    shapes = artifact.input_shapes
    artifact.measure_cycles([np.zeros(shape, dtype=np.int8) for shape in shapes])
    return artifact.path


def test_report_command_writes_a_page_chromium_draws_without_errors(
        kws_artifact: Path, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    result = _cli("report", str(kws_artifact), "-o", str(page), "--model", "zoo:kws")
    assert result.returncode == 0, result.stderr
    assert_self_contained(page)
    text = page.read_text()
    for layer in ("conv2d_0", "dense_0", "softmax_0"):
        assert layer in text
    assert "block-diagonal embedding" in text  # a placement reason, on hover and in the table
    seen = check_page(page)
    assert seen.console_messages == ()
    assert seen.rendered_plots == FIGURES_WITHOUT_DEVIATION


def test_report_without_the_model_skips_what_needs_it(kws_artifact: Path, tmp_path: Path) -> None:
    page = write_report(read_artifact_report(kws_artifact), tmp_path / "plain.html")
    text = page.read_text()
    assert text.count("Not shown:") == 3  # roofline, memory use, deviation
    assert check_page(page).rendered_plots == FIGURES_WITHOUT_DEVIATION - 2


def test_run_with_report_adds_the_deviation_of_hardware_numerics(tmp_path: Path) -> None:
    page = tmp_path / "run.html"
    result = _cli("run", "zoo:kws", "--target", "gemmini", "--inputs", "2", "--numerics",
                  "hardware", "--report", str(page))
    assert result.returncode == 0, result.stderr
    assert_self_contained(page)
    assert "Deviation per output" in page.read_text()
    seen = check_page(page)
    assert seen.console_messages == ()
    assert seen.rendered_plots == FIGURES_WITH_DEVIATION


def test_a_page_with_a_script_error_is_caught(tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>undefinedFunction();</script></body></html>")
    (message,) = check_page(page).console_messages
    assert "undefinedFunction" in message


def test_report_of_a_directory_without_report_json_is_one_line_exit_2(tmp_path: Path) -> None:
    result = _cli("report", str(tmp_path))
    assert result.returncode == 2
    assert "no report.json" in result.stderr and "Traceback" not in result.stderr
