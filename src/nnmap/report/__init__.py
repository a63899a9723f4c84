"""The HTML report of an artifact: where the time goes, layer by layer, as one self-contained
page rendered from report.json (and, where given, the model and target it was compiled for)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from nnmap.errors import NnmapError
from nnmap.hw import Target
from nnmap.ir import Graph
from nnmap.report.enrich import deviation_entries, enriched
from nnmap.report.page import render

log = logging.getLogger(__name__)

REPORT_FILE = "report.json"


def read_artifact_report(artifact_dir: Path) -> dict[str, Any]:
    """The report.json of the artifact at ``artifact_dir``; NnmapError when there is none."""
    path = Path(artifact_dir) / REPORT_FILE
    try:
        report = json.loads(path.read_text())
    except FileNotFoundError:
        raise NnmapError(f"{path}: no report.json; give the directory `nnmap compile -o` "
                         "wrote") from None
    except json.JSONDecodeError as error:
        raise NnmapError(f"{path}: not valid JSON ({error}); recompile the artifact") from None
    if not isinstance(report, dict):
        raise NnmapError(f"{path}: not an nnmap report (a JSON object is expected)")
    return report


def write_report(report: dict[str, Any], out: Path, graph: Graph | None = None,
                 target: Target | None = None,
                 deviation: list[dict[str, Any]] | None = None) -> Path:
    """Render ``report`` (enriched from ``graph``, ``target`` and ``deviation`` where given) to
    the HTML file ``out``; returns its path."""
    page = render(enriched(report, graph, target, deviation))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page)
    log.info("wrote %s (%d bytes)", out, len(page))
    return out


__all__ = ["deviation_entries", "enriched", "read_artifact_report", "render", "write_report"]
