"""Target specs: generators with parameters, user target files, one-line errors, and the
configuration followed by the emulator's parameter header."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nnmap.errors import TargetError
from nnmap.targets import resolve_target
from nnmap.targets.gemmini.params import render_header as gemmini_header
from nnmap.targets.vta.params import render_header as vta_header


def test_gemmini_spec_sets_mesh_and_memories() -> None:
    target = resolve_target("gemmini:dim=8,scratchpad_kib=64,accumulator_kib=16")
    assert target.name == "gemmini:dim=8,scratchpad_kib=64,accumulator_kib=16"
    gemmini = target.module("gemmini")
    assert gemmini.peak_macs_per_cycle == 64
    spad, acc = gemmini.levels[0]
    assert (spad.size, acc.size) == (64 * 1024, 16 * 1024)
    header = gemmini_header(gemmini)
    assert "#define NNMAP_GEMMINI_DIM 8\n" in header
    assert f"#define NNMAP_GEMMINI_SPAD_ROWS {64 * 1024 // 8}\n" in header
    assert f"#define NNMAP_GEMMINI_ACC_ROWS {16 * 1024 // 32}\n" in header


def test_vta_spec_sets_the_core_and_buffers() -> None:
    vta = resolve_target("vta:log_block=5").module("vta")
    axes = {axis.name: axis.size for axis in vta.array.axes}
    assert axes == {"batch": 1, "block_in": 32, "block_out": 32}
    header = vta_header(vta)
    assert "#define NNMAP_VTA_BLOCK_IN 32u\n" in header
    assert "#define NNMAP_VTA_WGT_ENTRIES 256u\n" in header  # 256 KiB of 32x32 blocks


def test_default_spec_is_the_plain_name() -> None:
    assert resolve_target("gemmini").name == "gemmini"
    assert resolve_target("gemmini").module("gemmini").peak_macs_per_cycle == 256


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("gemmini:size=8", "unknown key 'size' \\(known: dim, scratchpad_kib"),
        ("gemmini:dim=eight", "dim='eight' is not a whole number"),
        ("gemmini:dim", "'dim' is not key=value"),
        ("gemmini:dim=1", "dim=1 is outside 2..256"),
        ("gemmini:scratchpad_kib=0", "scratchpad_kib=0 holds 0 rows"),
        ("gemmini:accumulator_kib=0", "accumulator_kib=0"),
        ("vta:log_block=9", "log_block 1..6"),
        ("vta:log_inp_buff_size=2", "log_inp_buff_size=2 gives 0 entries"),
        ("vta:log_inp_buff_size=99", "log_inp_buff_size=99 is outside 0..30"),
        ("tpu:x=1", "unknown target 'tpu'"),
    ],
)
def test_bad_specs_are_one_line_errors(spec: str, message: str) -> None:
    with pytest.raises(TargetError, match=message) as info:
        resolve_target(spec)
    assert "\n" not in str(info.value)


def test_user_target_file(tmp_path: Path) -> None:
    path = tmp_path / "my_soc.py"
    path.write_text(
        "from nnmap.targets.gemmini.target import gemmini_target\n"
        "from dataclasses import replace\n"
        "TARGET = replace(gemmini_target(dim=4, scratchpad_kib=16, accumulator_kib=4),"
        " name='my_soc')\n"
    )
    target = resolve_target(str(path))
    assert target.name == "my_soc" and target.module("gemmini").peak_macs_per_cycle == 16


def test_broken_target_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_text("TARGET = 1 / 0\n")
    with pytest.raises(TargetError, match="broken.py: failed to load: ZeroDivisionError"):
        resolve_target(str(path))
    (tmp_path / "empty.py").write_text("x = 1\n")
    with pytest.raises(TargetError, match="define TARGET"):
        resolve_target(str(tmp_path / "empty.py"))
    with pytest.raises(TargetError, match="no such target file"):
        resolve_target(str(tmp_path / "missing.py"))


ABSURD_TARGETS = {
    "0 MHz clock": ("replace(gemmini_target(), clock_hz=0)", "clock_hz must be > 0"),
    "infinite clock": ("replace(gemmini_target(), clock_hz=float('inf'))", "and finite"),
    "NaN clock": ("replace(gemmini_target(), clock_hz=float('nan'))", "clock_hz must be > 0"),
    "0 KiB scratchpad": ("gemmini_target(scratchpad_kib=0)", "scratchpad_kib=0 holds 0 rows"),
    "negative bandwidth": (
        "replace(gemmini_target(), shared=(Memory('dram', 1 << 20, ('I', 'W', 'O'), -4.0, 4.0),))",
        "memory 'dram': read_bw must be > 0"),
}


@pytest.mark.parametrize("case", ABSURD_TARGETS)
def test_absurd_target_files_are_one_line_errors(case: str, tmp_path: Path) -> None:
    expression, message = ABSURD_TARGETS[case]
    path = tmp_path / "absurd.py"
    path.write_text("from dataclasses import replace\n"
                    "from nnmap.hw.model import Memory\n"
                    "from nnmap.targets.gemmini.target import gemmini_target\n"
                    f"TARGET = {expression}\n")
    with pytest.raises(TargetError, match=message) as info:
        resolve_target(str(path))
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_compile_for_an_absurd_target_exits_2_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "zero_clock.py"
    path.write_text("from dataclasses import replace\n"
                    "from nnmap.targets.gemmini.target import gemmini_target\n"
                    "TARGET = replace(gemmini_target(), clock_hz=0)\n")
    command = [sys.executable, "-m", "nnmap", "compile", "zoo:autoencoder", "--target",
               str(path), "-o", str(tmp_path / "out")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "clock_hz must be > 0" in result.stderr.replace("\n", "")
    assert not (tmp_path / "out").exists()
