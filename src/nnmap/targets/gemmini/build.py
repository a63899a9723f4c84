"""nnmap's Gemmini emulator as an ``Emulator``: its C files, its parameters from the module."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from nnmap.hw import DeviceBuild, ExecModule
from nnmap.runtime.emulator_build import COMMON_DIR, Emulator
from nnmap.targets.gemmini.params import render_header

GEMMINI_DIR = Path(__file__).resolve().parent / "emulator"
SOURCES = (
    GEMMINI_DIR / "gemmini_emulator.c",
    GEMMINI_DIR / "gemmini_timing.c",
    GEMMINI_DIR / "gemmini_command_timing.c",
    COMMON_DIR / "decoupled_timing.c",
)
HEADERS = (
    GEMMINI_DIR / "gemmini.h",
    GEMMINI_DIR / "gemmini_timing.h",
    GEMMINI_DIR / "gemmini_command_timing.h",
    COMMON_DIR / "decoupled_timing.h",
)


def emulator(module: ExecModule) -> Emulator:
    """The emulator of the Gemmini ``module``: its parameters header follows the module."""
    return Emulator(
        name="gemmini",
        directory=GEMMINI_DIR,
        sources=SOURCES,
        headers=HEADERS,
        params_header="gemmini_params.h",
        render_params=partial(render_header, module),
        link_flags=("-lm",),
    )


def device_build(module: ExecModule) -> DeviceBuild:
    """The device flavour, as gemmini-rocc-tests builds: ``-I<repo> -I<repo>/include`` (its
    gemmini.h includes ``include/gemmini_params.h`` and ``rocc-software/src/xcustom.h``)."""
    variables = (("GEMMINI_INCLUDE", "a gemmini-rocc-tests checkout (include/gemmini.h)"),)
    return DeviceBuild(variables, "-I$(GEMMINI_INCLUDE) -I$(GEMMINI_INCLUDE)/include")
