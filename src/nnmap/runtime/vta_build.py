"""nnmap's VTA emulator as an ``Emulator``: its C files and its parameters from the target."""

from __future__ import annotations

from nnmap.runtime.emulator_build import COMMON_DIR, RUNTIME_DIR, Emulator
from nnmap.runtime.vta_params import render_header
from nnmap.targets import get_target

VTA_DIR = RUNTIME_DIR / "vta"

EMULATOR = Emulator(
    name="vta",
    directory=VTA_DIR,
    sources=(
        VTA_DIR / "vta_emulator.c",
        VTA_DIR / "vta_exec.c",
        VTA_DIR / "vta_pipeline.c",
        COMMON_DIR / "decoupled_timing.c",
    ),
    headers=(
        VTA_DIR / "vta_runtime.h",
        VTA_DIR / "vta_internal.h",
        COMMON_DIR / "decoupled_timing.h",
    ),
    params_header="vta_params.h",
    render_params=lambda: render_header(get_target("vta").module("vta")),
)

SOURCES = EMULATOR.sources
include_dirs = EMULATOR.include_dirs
write_params_header = EMULATOR.write_params_header
build_emulator_library = EMULATOR.build_library
