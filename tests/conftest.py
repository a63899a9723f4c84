"""Shared fixtures: the ../shared folder (skip when absent) and the golden-file switch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import nnmap
from nnmap.codegen.artifact import Artifact

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
MLPERF_DIR = SHARED / "models" / "mlperf_tiny"
MLPERF_MODELS = ["kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/golden/ files from the current output",
    )


_RECORDED: list[str] = []


@pytest.fixture
def record_line() -> object:
    """Append a line to the summary printed at the end of the run (measured deviations)."""
    return _RECORDED.append


# The files with the longest runs (minutes of compiling and emulating whole models): handed to
# the pytest-xdist workers first, so that no worker starts one of them while the other is done.
LONG_FILES = (
    "test_targets_configurations.py",
    "test_codegen_vta.py",
    "test_codegen_gemmini_models.py",
    "test_frontend_tflm.py",
    "test_plan.py",
    "test_tflm_accelerators.py",
    "test_depthwise_accelerators.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return LONG_FILES.index(name) if name in LONG_FILES else len(LONG_FILES)

    items.sort(key=rank)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On a pytest-xdist worker, hand the recorded lines to the controller, which prints them."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["nnmap_recorded"] = list(_RECORDED)


def pytest_testnodedown(node: object, error: object) -> None:
    """On the pytest-xdist controller: collect a finished worker's recorded lines."""
    _RECORDED.extend(getattr(node, "workeroutput", {}).get("nnmap_recorded", []))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _RECORDED:
        terminalreporter.section("nnmap measurements")
        for line in _RECORDED:
            terminalreporter.write_line(line)


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


def mlperf_model(name: str) -> Path:
    """Path of one MLPerf Tiny model in ../shared; skips the test when ../shared is absent."""
    path = MLPERF_DIR / f"{name}.tflite"
    if not path.exists():
        pytest.skip(f"{path} not found: ../shared is absent (a user's fresh clone)")
    return path


def shared_file(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not found: ../shared is absent (a user's fresh clone)")
    return path


_COMPILED: dict[tuple[str, str], Artifact] = {}


def compiled_models(factory: pytest.TempPathFactory, target: str) -> Callable[[str], Artifact]:
    """A model's artifact for ``target`` (an MLPerf Tiny name or zoo:NAME), compiled on first
    use and kept for the whole session (tests only read and run artifacts)."""

    def get(model: str) -> Artifact:
        key = (target, model)
        if key not in _COMPILED:
            source: str | Path = model if model.startswith("zoo:") else mlperf_model(model)
            out = factory.mktemp(f"{target}_{model}".replace(":", "_").replace(",", "_")) / "out"
            _COMPILED[key] = nnmap.compile(source, target=target, out_dir=out)
        return _COMPILED[key]

    return get
