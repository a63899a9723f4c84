"""The emulators hold C to the hardware's ordering and memory rules: each rule is shown catching a
deliberately broken kernel, and the same kernel written correctly runs clean.

Gemmini: mvin/mvout complete asynchronously (the CPU may touch their DRAM only after
gemmini_fence()); the scratchpad has the configured rows. VTA: DMA works on VTABufferAlloc
buffers (handle plus element offset), with VTAReadBarrier before VTA reads what the CPU wrote
and VTAWriteBarrier before the CPU reads what VTA stored; the SRAMs have the configured entries.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from nnmap.targets import get_target
from nnmap.targets.gemmini.build import emulator as gemmini_emulator
from nnmap.targets.vta.build import emulator as vta_emulator

GEMMINI = get_target("gemmini").module("gemmini")
VTA = get_target("vta").module("vta")

GEMMINI_PRELUDE = """
#include <stdio.h>
#include "gemmini.h"
static elem_t source[DIM][DIM];
static elem_t result[DIM][DIM];
static int early, late;
void move_through_the_scratchpad(void);
void move_through_the_scratchpad(void) {
  for (int i = 0; i < DIM; ++i) source[i][i] = (elem_t)(i + 1);
  gemmini_config_ld(DIM);
  gemmini_config_st(DIM);
  gemmini_mvin(source, 0);
  gemmini_mvout(result, 0);
}
"""

GEMMINI_KERNELS = {
    "read_before_fence": "move_through_the_scratchpad(); early = result[0][0]; gemmini_fence();"
    " late = result[0][0];",
    "fenced_read": "move_through_the_scratchpad(); gemmini_fence(); early = result[0][0];"
    " late = early;",
    "write_into_pending_mvout": "move_through_the_scratchpad(); result[2][3] = 7;"
    " gemmini_fence();",
    "write_source_of_pending_mvin": "move_through_the_scratchpad(); source[1][1] = 9;"
    " gemmini_fence();",
    "no_fence_before_layer_end": "move_through_the_scratchpad();",
    "past_the_scratchpad": "gemmini_config_ld(DIM);"
    " gemmini_mvin(source, NNMAP_GEMMINI_SPAD_ROWS - DIM / 2); gemmini_fence();",
    "mvin_of_more_rows_than_dim": "gemmini_config_ld(DIM);"
    " gemmini_extended_mvin(source, 0, DIM, DIM + 1); gemmini_fence();",
}

VTA_PRELUDE = """
#include <stdio.h>
#include <string.h>
#include "vta_params.h"
#include "vta_runtime.h"
#define ENTRY_BYTES (NNMAP_VTA_BATCH * NNMAP_VTA_BLOCK_IN)
int8_t host[4 * ENTRY_BYTES];
static VTACommandHandle cmd;
static void *buffer;
void load(void *dram);
void load(void *dram) {
  VTALoadBuffer2D(cmd, dram, 0, 4, 1, 4, 0, 0, 0, 0, 0, VTA_MEM_ID_INP);
  VTASynchronize(cmd, 1000u);
}
void store(void);
void store(void) {
  VTAStoreBuffer2D(cmd, 0, VTA_MEM_ID_OUT, buffer, 0, 2, 1, 2);
  VTASynchronize(cmd, 1000u);
}
void write_through_the_cpu(void);
void write_through_the_cpu(void) {
  memset(VTABufferCPUPtr(cmd, buffer), 3, sizeof(host));
}
"""

VTA_KERNELS = {
    "raw_pointer": "load(host);",
    "flushed_load": "write_through_the_cpu(); VTAReadBarrier(cmd, buffer, 8, 0, sizeof(host));"
    " load(buffer);",
    "missing_read_barrier": "write_through_the_cpu(); load(buffer);",
    "missing_write_barrier": "store();",
    "invalidated_store": "store(); VTAWriteBarrier(cmd, buffer, 8, 0, sizeof(host));",
    "many_stores_then_barrier": "for (int i = 0; i < 10000; ++i) {"
    " VTAStoreBuffer2D(cmd, 0, VTA_MEM_ID_OUT, buffer, 0, 2, 1, 2); }"
    " VTASynchronize(cmd, 1000u); VTAWriteBarrier(cmd, buffer, 8, 0, sizeof(host));",
    "past_the_sram": "VTALoadBuffer2D(cmd, buffer, 0, 4, 1, 4, 0, 0, 0, 0,"
    " nnmap_vta_sram_entries(VTA_MEM_ID_INP) - 2, VTA_MEM_ID_INP); VTASynchronize(cmd, 1000u);",
    "padding_past_its_field": "VTALoadBuffer2D(cmd, buffer, 0, 4, 1, 4, 16, 0, 0, 0, 0,"
    " VTA_MEM_ID_INP);",
}


def _program(prelude: str, prefix: str, body: str, setup: str = "", report: str = "") -> str:
    return "\n".join([
        prelude,
        "int main(void) {",
        f"  {setup}",
        f'  {prefix}_layer_begin("broken");',
        f"  {body}",
        f"  {prefix}_layer_end();",
        f"  {report}",
        f'  const char *error = {prefix}_error();',
        '  printf("%s", error ? error : "");',
        "  return 0;",
        "}",
    ])


def _run(library: Path, includes: tuple[Path, ...], source: str, tmp_path: Path) -> str:
    """Build ``source`` against the emulator ``library`` and run it; its standard output."""
    program = tmp_path / "kernel.c"
    program.write_text(source)
    binary = tmp_path / "kernel"
    flags = ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", *(f"-I{p}" for p in includes)]
    linking = [str(library), f"-Wl,-rpath,{library.parent}"]
    subprocess.run(["gcc", *flags, str(program), *linking, "-o", str(binary)], check=True)
    return subprocess.run([str(binary)], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def gemmini_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return gemmini_emulator(GEMMINI).build_library(tmp_path_factory.mktemp("gemmini"))


@pytest.fixture(scope="module")
def vta_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return vta_emulator(VTA).build_library(tmp_path_factory.mktemp("vta"))


def _gemmini(library: Path, kernel: str, tmp_path: Path) -> str:
    includes = gemmini_emulator(GEMMINI).include_dirs(library.parent)
    report = 'printf("%d %d|", early, late);'
    program = _program(GEMMINI_PRELUDE, "nnmap_gemmini", GEMMINI_KERNELS[kernel], report=report)
    return _run(library, includes, program, tmp_path)


def _vta(library: Path, kernel: str, tmp_path: Path) -> str:
    includes = vta_emulator(VTA).include_dirs(library.parent)
    setup = "cmd = VTATLSCommandHandle(); buffer = VTABufferAlloc(sizeof(host));"
    program = _program(VTA_PRELUDE, "nnmap_vta", VTA_KERNELS[kernel], setup)
    return _run(library, includes, program, tmp_path)


def test_gemmini_mvout_results_reach_the_cpu_only_at_the_fence(
    gemmini_library: Path, tmp_path: Path
) -> None:
    early, late = _gemmini(gemmini_library, "read_before_fence", tmp_path).split("|")[0].split()
    assert (int(early), int(late)) != (1, 1) and int(late) == 1
    assert _gemmini(gemmini_library, "fenced_read", tmp_path) == "1 1|"


@pytest.mark.parametrize(
    ("kernel", "rule"),
    [
        ("write_into_pending_mvout", "the CPU wrote DRAM 0x"),
        ("write_source_of_pending_mvin", "the source of an mvin still pending"),
        ("no_fence_before_layer_end", "ends with 16 mvout row(s) and 16 mvin row(s) pending"),
        ("past_the_scratchpad", "local rows out of range"),
    ],
)
def test_gemmini_rule_broken_is_reported_with_layer_and_address(
    gemmini_library: Path, tmp_path: Path, kernel: str, rule: str
) -> None:
    error = _gemmini(gemmini_library, kernel, tmp_path).split("|")[1]
    assert error.startswith("layer broken") and rule in error


def test_gemmini_mvin_takes_at_most_dim_rows(gemmini_library: Path, tmp_path: Path) -> None:
    """Gemmini's mvin moves 1 to DIM rows: DIM + 1 is refused (a kernel reading fewer rows
    than a block, e.g. a batch-1 layer's one input row, is within what the hardware takes)."""
    error = _gemmini(gemmini_library, "mvin_of_more_rows_than_dim", tmp_path).split("|")[1]
    assert "tile size outside 1..DIM" in error


def test_gemmini_pending_mvout_message_names_the_written_address(
    gemmini_library: Path, tmp_path: Path
) -> None:
    error = _gemmini(gemmini_library, "write_into_pending_mvout", tmp_path)
    assert "inside an mvout still pending" in error and "gemmini_fence()" in error


@pytest.mark.parametrize(
    ("kernel", "rule"),
    [
        ("raw_pointer", "is not a buffer from VTABufferAlloc"),
        ("missing_read_barrier", "without a VTAReadBarrier"),
        ("missing_write_barrier", "no VTAWriteBarrier made them visible to the CPU"),
        ("past_the_sram", "outside memory 2"),
        ("padding_past_its_field", "exceeds the instruction's 4-bit pad fields"),
    ],
)
def test_vta_rule_broken_is_reported(
    vta_library: Path, tmp_path: Path, kernel: str, rule: str
) -> None:
    assert rule in _vta(vta_library, kernel, tmp_path)


@pytest.mark.parametrize(
    "kernel", ["flushed_load", "invalidated_store", "many_stores_then_barrier"]
)
def test_vta_kernel_with_its_barriers_runs_clean(
    vta_library: Path, tmp_path: Path, kernel: str
) -> None:
    assert _vta(vta_library, kernel, tmp_path) == ""
