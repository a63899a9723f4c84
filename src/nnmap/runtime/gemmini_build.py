"""nnmap's Gemmini emulator as an ``Emulator``: its C files and its parameters from the target."""

from __future__ import annotations

from nnmap.runtime.emulator_build import COMMON_DIR, RUNTIME_DIR, Emulator
from nnmap.runtime.gemmini_params import render_header
from nnmap.targets import get_target

GEMMINI_DIR = RUNTIME_DIR / "gemmini"

EMULATOR = Emulator(
    name="gemmini",
    directory=GEMMINI_DIR,
    sources=(
        GEMMINI_DIR / "gemmini_emulator.c",
        GEMMINI_DIR / "gemmini_timing.c",
        COMMON_DIR / "decoupled_timing.c",
    ),
    headers=(
        GEMMINI_DIR / "gemmini.h",
        GEMMINI_DIR / "gemmini_timing.h",
        COMMON_DIR / "decoupled_timing.h",
    ),
    params_header="gemmini_params.h",
    render_params=lambda: render_header(get_target("gemmini").module("gemmini")),
    link_flags=("-lm",),
)

SOURCES = EMULATOR.sources
include_dirs = EMULATOR.include_dirs
write_params_header = EMULATOR.write_params_header
build_emulator_library = EMULATOR.build_library
