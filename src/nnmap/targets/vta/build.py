"""nnmap's VTA emulator as an ``Emulator``: its C files, its parameters from the module."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from nnmap.hw import ExecModule
from nnmap.runtime.emulator_build import COMMON_DIR, Emulator
from nnmap.targets.vta.params import render_header

VTA_DIR = Path(__file__).resolve().parent / "emulator"
SOURCES = (
    VTA_DIR / "vta_emulator.c",
    VTA_DIR / "vta_exec.c",
    VTA_DIR / "vta_pipeline.c",
    VTA_DIR / "vta_command_timing.c",
    COMMON_DIR / "decoupled_timing.c",
)
HEADERS = (
    VTA_DIR / "vta.h",
    VTA_DIR / "vta_runtime.h",
    VTA_DIR / "vta_internal.h",
    VTA_DIR / "vta_command_timing.h",
    COMMON_DIR / "decoupled_timing.h",
)


def emulator(module: ExecModule) -> Emulator:
    """The emulator of the VTA ``module``: its parameters header follows the module."""
    return Emulator(
        name="vta",
        directory=VTA_DIR,
        sources=SOURCES,
        headers=HEADERS,
        params_header="vta_params.h",
        render_params=partial(render_header, module),
    )
