"""Every MLPerf Tiny model on every compiling target (host, gemmini, vta): compile, run a few
random inputs (accelerator cycles emulated), compare with TFLite Micro, render the HTML report
with the graph, target and deviation, and open it in headless Chromium. A report passes when
Chromium logs no console message and draws every figure the page has. Writes
bench/results/report_check.json and, with ``--screenshot``, docs/report_screenshot.png of the
first page (colours reduced so the PNG stays small).

A bench script rather than a test: the twelve compilations take minutes, more than CI's test
budget; ``tests/test_report_page.py`` checks one model on Gemmini on every ``make test``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from rich.console import Console
from rich.table import Table

import nnmap
from nnmap.codegen.compare import reference_outputs_for
from nnmap.report import deviation_entries, write_report
from nnmap.report.browser import check_page, screenshot
from nnmap.targets import get_target

ROOT = Path(__file__).resolve().parent.parent
MLPERF = ROOT.parent / "shared" / "models" / "mlperf_tiny"
MODELS = ["kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8"]
TARGETS = ("host", "gemmini", "vta")
INPUTS = 2
RESULTS = ROOT / "bench" / "results" / "report_check.json"
SCREENSHOT = ROOT / "docs" / "report_screenshot.png"
SCREENSHOT_COLOURS = 64
console = Console()


def check(path: Path, target: str, work: Path) -> tuple[dict[str, object], Path]:
    """Compile, run and report ``path`` on ``target``; what the browser saw."""
    start = time.perf_counter()
    graph = nnmap.load_model(path)
    artifact = nnmap.compile(graph, target, work / f"{path.stem}_{target}")
    rng = np.random.default_rng(0)
    samples = [rng.integers(-128, 128, size=(INPUTS, *t.shape[1:]), dtype=np.int8)
               for t in graph.input_tensors()]
    actual = artifact.run_batch(samples)
    if target != "host":
        artifact.measure_cycles([sample[:1] for sample in samples])
    _, expected = reference_outputs_for(path, graph, samples)
    report = artifact.report
    deviation = deviation_entries([t["name"] for t in report["outputs"]], expected, actual)
    page = write_report(report, work / f"{path.stem}_{target}.html", graph, get_target(target),
                        deviation)
    seen = check_page(page)
    figures = page.read_text().count('class="plotly-graph-div"')
    return {
        "model": path.stem, "target": target, "seconds": round(time.perf_counter() - start, 1),
        "html_bytes": page.stat().st_size, "figures": figures,
        "rendered_plots": seen.rendered_plots, "console_messages": list(seen.console_messages),
        "passed": not seen.console_messages and seen.rendered_plots == figures > 0,
    }, page


def small_screenshot(page: Path) -> None:
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    screenshot(page, SCREENSHOT, width=1100, height=1900)
    image = Image.open(SCREENSHOT).convert("RGB").quantize(SCREENSHOT_COLOURS)
    image.save(SCREENSHOT, optimize=True)
    console.print(f"wrote {SCREENSHOT} ({SCREENSHOT.stat().st_size:,} bytes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--screenshot", action="store_true", help="also write the README image")
    parser.add_argument("--models", nargs="*", default=MODELS, help="MLPerf Tiny model names")
    arguments = parser.parse_args()
    rows = []
    table = Table(title="HTML reports in headless Chromium")
    for column in ("model", "target", "s", "HTML bytes", "figures drawn", "console", "passed"):
        table.add_column(column)
    with tempfile.TemporaryDirectory(prefix="nnmap-report-check-") as work:
        for name in arguments.models:
            for target in TARGETS:
                row, page = check(MLPERF / f"{name}.tflite", target, Path(work))
                rows.append(row)
                table.add_row(name, target, str(row["seconds"]), f"{row['html_bytes']:,}",
                              f"{row['rendered_plots']}/{row['figures']}",
                              str(len(row["console_messages"])), str(row["passed"]))
                if arguments.screenshot and name == arguments.models[0] and target == "gemmini":
                    small_screenshot(page)
    console.print(table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(rows, indent=1))
    console.print(f"{sum(bool(r['passed']) for r in rows)}/{len(rows)} passed; wrote {RESULTS}")


if __name__ == "__main__":
    main()
