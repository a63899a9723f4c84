"""The ``device`` flavour of an artifact builds against the vendors' own headers, as a Gemmini or
VTA user builds it: the four MLPerf Tiny models, for Gemmini with a RISC-V cross compiler (zig's
clang, from the ziglang package) and gemmini-rocc-tests' headers in GNU C, for VTA with the host
gcc, VTA's runtime header and its configuration flags. Every file compiles with no implicit
declaration and no nnmap header on the include path, and links against stub definitions of the
vendor's functions."""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import MLPERF_MODELS, SHARED, compiled_models

from nnmap.codegen.artifact import Artifact
from nnmap.targets import get_target
from nnmap.targets.vta.build import config_flags

VENDOR = SHARED / "vendor"
GEMMINI_INCLUDE = VENDOR / "gemmini-rocc-tests"
VTA_INCLUDE = VENDOR / "vta"
ZIG_CC = f"{sys.executable} -m ziglang cc -target riscv64-linux-musl"
ZIG_AR = f"{sys.executable} -m ziglang ar"
Compiled = Callable[[str], Artifact]

MAIN = """
#include <stdint.h>
#include "network.h"
static int8_t inputs[NNMAP_INPUT0_BYTES];
static int8_t outputs[NNMAP_OUTPUT0_BYTES];
int main(void) { return nnmap_run(inputs, outputs); }
"""

# A bare-metal program's own start and the C library calls compilers emit for copies (Gemmini's
# tests link their own; linking musl instead would make zig build it for RISC-V first).
BARE_METAL = """
#include <stddef.h>
void *memcpy(void *to, const void *from, size_t size) {
  for (size_t i = 0; i < size; ++i) ((char *)to)[i] = ((const char *)from)[i];
  return to;
}
void *memmove(void *to, const void *from, size_t size) { return memcpy(to, from, size); }
void *memset(void *to, int value, size_t size) {
  for (size_t i = 0; i < size; ++i) ((char *)to)[i] = (char)value;
  return to;
}
void _start(void) { main(); for (;;) {} }
"""

# Stub definitions of the VTA runtime calls generated code makes, against VTA's own header (so
# their signatures are the real ones): they only have to link.
VTA_STUBS = """
#include <vta/runtime/runtime.h>
static int handle;
VTACommandHandle VTATLSCommandHandle(void) { return &handle; }
void *VTABufferAlloc(size_t size) { (void)size; return &handle; }
void VTABufferFree(void *buffer) { (void)buffer; }
void VTABufferCopy(const void *from, size_t from_offset, void *to, size_t to_offset, size_t size,
                   int kind_mask) {
  (void)from; (void)from_offset; (void)to; (void)to_offset; (void)size; (void)kind_mask;
}
void *VTABufferCPUPtr(VTACommandHandle cmd, void *buffer) { (void)cmd; return buffer; }
void VTAWriteBarrier(VTACommandHandle cmd, void *buffer, uint32_t elem_bits, uint32_t start,
                     uint32_t extent) {
  (void)cmd; (void)buffer; (void)elem_bits; (void)start; (void)extent;
}
void VTAReadBarrier(VTACommandHandle cmd, void *buffer, uint32_t elem_bits, uint32_t start,
                    uint32_t extent) {
  (void)cmd; (void)buffer; (void)elem_bits; (void)start; (void)extent;
}
void VTALoadBuffer2D(VTACommandHandle cmd, void *src_dram_addr, uint32_t src_elem_offset,
                     uint32_t x_size, uint32_t y_size, uint32_t x_stride, uint32_t x_pad_before,
                     uint32_t y_pad_before, uint32_t x_pad_after, uint32_t y_pad_after,
                     uint32_t dst_sram_index, uint32_t dst_memory_type) {
  (void)cmd; (void)src_dram_addr; (void)src_elem_offset; (void)x_size; (void)y_size;
  (void)x_stride; (void)x_pad_before; (void)y_pad_before; (void)x_pad_after; (void)y_pad_after;
  (void)dst_sram_index; (void)dst_memory_type;
}
void VTAStoreBuffer2D(VTACommandHandle cmd, uint32_t src_sram_index, uint32_t src_memory_type,
                      void *dst_dram_addr, uint32_t dst_elem_offset, uint32_t x_size,
                      uint32_t y_size, uint32_t x_stride) {
  (void)cmd; (void)src_sram_index; (void)src_memory_type; (void)dst_dram_addr;
  (void)dst_elem_offset; (void)x_size; (void)y_size; (void)x_stride;
}
void VTAUopPush(uint32_t mode, uint32_t reset_out, uint32_t dst_index, uint32_t src_index,
                uint32_t wgt_index, uint32_t opcode, uint32_t use_imm, int32_t imm_val) {
  (void)mode; (void)reset_out; (void)dst_index; (void)src_index; (void)wgt_index;
  (void)opcode; (void)use_imm; (void)imm_val;
}
void VTAUopLoopBegin(uint32_t extent, uint32_t dst_factor, uint32_t src_factor,
                     uint32_t wgt_factor) {
  (void)extent; (void)dst_factor; (void)src_factor; (void)wgt_factor;
}
void VTAUopLoopEnd(void) {}
int VTAPushGEMMOp(void **uop_handle, int (*finit)(void *), void *signature, int nbytes) {
  (void)uop_handle; (void)finit; (void)signature; (void)nbytes; return 0;
}
int VTAPushALUOp(void **uop_handle, int (*finit)(void *), void *signature, int nbytes) {
  (void)uop_handle; (void)finit; (void)signature; (void)nbytes; return 0;
}
int VTADepPush(VTACommandHandle cmd, int from_qid, int to_qid) {
  (void)cmd; (void)from_qid; (void)to_qid; return 0;
}
int VTADepPop(VTACommandHandle cmd, int from_qid, int to_qid) {
  (void)cmd; (void)from_qid; (void)to_qid; return 0;
}
void VTASynchronize(VTACommandHandle cmd, uint32_t wait_cycles) { (void)cmd; (void)wait_cycles; }
"""


def _vendor(folder: Path) -> Path:
    if not folder.exists():
        pytest.skip(f"{folder} not found: ../shared is absent (a user's fresh clone)")
    return folder


@pytest.fixture(scope="module")
def gemmini(tmp_path_factory: pytest.TempPathFactory) -> Compiled:
    return compiled_models(tmp_path_factory, "gemmini")


@pytest.fixture(scope="module")
def vta(tmp_path_factory: pytest.TempPathFactory) -> Compiled:
    return compiled_models(tmp_path_factory, "vta")


def _make_device(artifact: Artifact, variables: dict[str, str]) -> str:
    """``make device`` in the artifact with ``variables``; the compiler commands it ran (and
    fails the test on any error)."""
    assignments = [f"{name}={value}" for name, value in variables.items()]
    result = subprocess.run(
        ["make", "-C", str(artifact.path), "-B", "device", *assignments],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "implicit declaration" not in result.stderr
    return result.stdout


def _assert_only_vendor_includes(commands: str, vendor: Path, artifact: Artifact) -> None:
    """Every -I of the device build is the vendor's; no nnmap header shadows the vendor's."""
    includes = [word for word in shlex.split(commands) if word.startswith("-I")]
    assert includes and all(word[2:].startswith(str(vendor)) for word in includes), includes
    shipped = {path.name for path in artifact.path.glob("*.h")}
    assert shipped == {"network.h", "nnmap_kernels.h", "weights.h"}
    assert not (artifact.path / "vta").exists()


def _link(
    artifact: Artifact, compiler: str, extra: list[str], main_text: str = MAIN,
    libraries: tuple[str, ...] = (),
) -> None:
    """Link ``main_text`` and ``extra`` (flags, stub sources) with the device library."""
    main = artifact.path / "device" / "main.c"
    main.write_text(main_text)
    program = artifact.path / "device" / "network"
    command = [*shlex.split(compiler), f"-I{artifact.path}", str(main), *extra,
               str(artifact.path / "device" / "libnnmap_network.a"), *libraries, "-o", str(program)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert program.stat().st_size > 0


@pytest.mark.parametrize("name", MLPERF_MODELS)
def test_gemmini_device_build_against_gemmini_rocc_tests(name: str, gemmini: Compiled) -> None:
    vendor = _vendor(GEMMINI_INCLUDE)
    artifact = gemmini(name)
    variables = {"GEMMINI_INCLUDE": str(vendor), "CC": ZIG_CC, "AR": ZIG_AR}
    commands = _make_device(artifact, variables)
    assert "-std=gnu99" in commands and "-Werror " not in commands
    _assert_only_vendor_includes(commands, vendor, artifact)
    _link(artifact, ZIG_CC, ["-O2", "-nostdlib"], MAIN + BARE_METAL)


@pytest.mark.parametrize("name", MLPERF_MODELS)
def test_vta_device_build_against_vta_runtime(name: str, vta: Compiled) -> None:
    vendor = _vendor(VTA_INCLUDE)
    artifact = vta(name)
    commands = _make_device(artifact, {"VTA_INCLUDE": str(vendor), "CC": "gcc"})
    flags = config_flags(get_target("vta").module("vta"))
    assert flags in commands and "-DVTA_LOG_BLOCK_IN=" in flags
    _assert_only_vendor_includes(commands, vendor, artifact)
    stubs = artifact.path / "device" / "vta_stubs.c"
    stubs.write_text(VTA_STUBS)
    extra = ["-std=gnu99", f"-I{vendor}", *shlex.split(flags), str(stubs)]
    _link(artifact, "gcc", extra, libraries=("-lm",))
