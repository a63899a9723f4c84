"""Opening a report page in headless Chromium (Debian's ``chromium``): the console messages it
logs while loading, the plots it rendered, and a screenshot. Network access is refused to the
browser, so a page that needed it would show errors."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nnmap.errors import NnmapError

BROWSERS = ("chromium", "chromium-browser")
TIMEOUT_S = 180
RENDER_BUDGET_MS = 10_000
CONSOLE = re.compile(r":CONSOLE[^\]]*\] (.*)")
# Plotly adds the class js-plotly-plot to a figure's div once it has drawn it.
RENDERED_PLOT = re.compile(r'<div[^>]*class="[^"]*\bjs-plotly-plot\b')
# No proxy answers on the discard port: any network request of the page fails (and is logged).
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--enable-logging=stderr", "--v=0", "--proxy-server=127.0.0.1:9",
         f"--virtual-time-budget={RENDER_BUDGET_MS}")


@dataclass(frozen=True)
class PageCheck:
    """What the browser saw: its console messages and how many Plotly plots were drawn."""

    console_messages: tuple[str, ...]
    rendered_plots: int


def browser() -> str:
    """The Chromium executable; NnmapError naming the package when none is installed."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise NnmapError("no headless browser: install Debian's chromium (apt-get install chromium)")


def _run(page: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="nnmap-chromium-") as profile:
        command = [browser(), *FLAGS, f"--user-data-dir={profile}", *arguments,
                   page.resolve().as_uri()]
        return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S,
                              check=False)


def check_page(page: Path) -> PageCheck:
    """Load ``page``, let its scripts run, and report its console messages and drawn plots."""
    done = _run(page, "--dump-dom")
    if done.returncode != 0:
        raise NnmapError(f"{page}: chromium exited with {done.returncode}: "
                         f"{done.stderr.strip().splitlines()[-1:]}")
    messages = tuple(match.group(1) for match in CONSOLE.finditer(done.stderr))
    return PageCheck(messages, len(RENDERED_PLOT.findall(done.stdout)))


def screenshot(page: Path, png: Path, width: int = 1200, height: int = 2400) -> Path:
    """A PNG of the top ``width`` x ``height`` pixels of ``page``."""
    done = _run(page, f"--window-size={width},{height}", f"--screenshot={png.resolve()}")
    if done.returncode != 0 or not png.exists():
        raise NnmapError(f"{page}: chromium could not take a screenshot ({done.returncode})")
    return png
