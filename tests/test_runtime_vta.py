"""nnmap's VTA runtime emulator (C) against the numpy meanings of the VTA instruction table.

Every emulated call is compared with its meaning in ``nnmap.targets.vta.instructions``; timing is
checked against vta.md's cost table by hand; the token protocol must report, never hang.
"""

from __future__ import annotations

import ctypes
import math
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vta_emulator import (
    ACC_SHAPE,
    CONFIG,
    INP_SHAPE,
    VTA,
    WGT_SHAPE,
    Emulator,
    alu,
    gemm,
    open_library,
    random_int8,
)

from nnmap.targets.vta import instructions as vi
from nnmap.targets.vta.build import emulator
from nnmap.targets.vta.instructions import UopKernel, UopLoop, VtaState

GEMM_FILL, MEMORY = 80, 150  # vta.md cost table: GEMM x + 80, LOAD/STORE + 150


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return emulator(VTA).build_library(tmp_path_factory.mktemp("vta"))


@pytest.fixture(scope="module")
def lib(library: Path) -> ctypes.CDLL:
    return open_library(library)


@pytest.fixture
def emu(lib: ctypes.CDLL) -> Emulator:
    return Emulator(lib)


def test_strided_loads_with_padding_match_the_meaning(emu: Emulator) -> None:
    rng = np.random.default_rng(0)
    inp, wgt = random_int8(rng, 40, *INP_SHAPE), random_int8(rng, 20, *WGT_SHAPE)
    acc = rng.integers(-(2**31), 2**31, size=(30, *ACC_SHAPE), dtype=np.int64).astype(np.int32)
    emu.load(inp, 3, 4, 3, 7, 1, 2, 2, 1, 10, vi.MEM_INP)
    emu.load(wgt, 1, 2, 3, 5, 0, 0, 1, 1, 4, vi.MEM_WGT)
    emu.load(acc, 0, 5, 2, 9, 0, 1, 0, 0, 100, vi.MEM_ACC)
    emu.sync()
    emu.assert_same_buffers()
    padded = emu.sram(vi.MEM_INP)[10 : 10 + 6 * 7].reshape(6, 7, *INP_SHAPE)
    assert not padded[:2].any() and not padded[:, :1].any() and not padded[:, 5:].any()
    np.testing.assert_array_equal(padded[2, 1], inp[3])
    np.testing.assert_array_equal(padded[3, 2], inp[3 + 7 + 1])


def test_gemm_reset_then_accumulate_over_two_level_uop_loops(emu: Emulator) -> None:
    rng = np.random.default_rng(1)
    emu.load(random_int8(rng, 16, *INP_SHAPE), 0, 16, 1, 16, 0, 0, 0, 0, 0, vi.MEM_INP)
    emu.load(random_int8(rng, 8, *WGT_SHAPE), 0, 8, 1, 8, 0, 0, 0, 0, 0, vi.MEM_WGT)
    loops = (UopLoop(2, 8, 4, 2), UopLoop(3, 2, 1, 1))
    emu.push(gemm([(0, 0, 0), (1, 0, 0)], loops, reset=True))
    emu.push(gemm([(0, 0, 0), (1, 2, 1)], loops))
    emu.push(gemm([(0, 0, 0), (1, 2, 1)], loops))
    emu.sync()
    emu.assert_same_buffers()
    expected = emu.state.inp[0].astype(np.int32) @ emu.state.wgt[0].astype(np.int32).T
    np.testing.assert_array_equal(emu.sram(vi.MEM_ACC)[0], 2 * expected)


def loaded_accumulator(emu: Emulator, values: np.ndarray) -> None:
    emu.load(values.astype(np.int32), 0, len(values), 1, len(values), 0, 0, 0, 0, 0, vi.MEM_ACC)


@pytest.mark.parametrize("opcode", [vi.ALU_MIN, vi.ALU_MAX, vi.ALU_ADD, vi.ALU_SHR, vi.ALU_MUL])
@pytest.mark.parametrize("use_imm", [True, False])
def test_every_alu_opcode_with_immediate_and_tensor_operands(
    emu: Emulator, opcode: int, use_imm: bool
) -> None:
    rng = np.random.default_rng(opcode)
    values = rng.integers(-(2**31), 2**31, size=(8, *ACC_SHAPE), dtype=np.int64)
    values[4:6] = rng.integers(-40, 40, size=(2, *ACC_SHAPE))  # shift amounts, both signs
    loaded_accumulator(emu, values)
    imm = {vi.ALU_SHR: -3, vi.ALU_MUL: 3}.get(opcode, -1234)
    emu.push(alu(opcode, [(0, 4), (1, 5)], use_imm, imm, (UopLoop(2, 2, 0),)))
    emu.sync()
    emu.assert_same_buffers()


def test_requantization_with_shr_min_max_clips_and_store_narrows(emu: Emulator) -> None:
    values = np.array([-1000, -129, -128, -1, 0, 127, 128, 70000], dtype=np.int32)
    loaded_accumulator(emu, np.resize(values, (1, *ACC_SHAPE)))
    emu.push(alu(vi.ALU_SHR, [(0, 0)], True, 1))
    emu.push(alu(vi.ALU_MIN, [(0, 0)], True, 127))
    emu.push(alu(vi.ALU_MAX, [(0, 0)], True, -128))
    out = np.zeros((2, *ACC_SHAPE), np.int8)
    emu.store(0, out, 1, 1, 1, 1)
    emu.sync()
    emu.assert_same_buffers()
    expected = np.clip(np.resize(values, 16) >> 1, -128, 127)
    np.testing.assert_array_equal(out[1].ravel(), expected)


def test_store_narrowing_keeps_the_low_8_bits(emu: Emulator) -> None:
    loaded_accumulator(emu, np.array([[[300, -300, 255, 128] * 4]]))
    emu.push(alu(vi.ALU_ADD, [(0, 0)], True, 0))
    out = np.zeros((1, *ACC_SHAPE), np.int8)
    emu.store(0, out, 0, 1, 1, 1)
    emu.sync()
    emu.assert_same_buffers()
    assert out.ravel()[:4].tolist() == [44, -44, -1, -128]


def test_balanced_tokens_run_and_the_meanings_agree(emu: Emulator) -> None:
    rng = np.random.default_rng(2)
    emu.load(random_int8(rng, 1, *INP_SHAPE), 0, 1, 1, 1, 0, 0, 0, 0, 0, vi.MEM_INP)
    emu.token(True, vi.Q_LOAD, vi.Q_COMPUTE)
    vi.dep_push(emu.state, None, vi.Q_LOAD, vi.Q_COMPUTE)
    emu.token(False, vi.Q_LOAD, vi.Q_COMPUTE)
    vi.dep_pop(emu.state, None, vi.Q_LOAD, vi.Q_COMPUTE)
    emu.push(gemm([(0, 0, 0)]))
    emu.sync()
    vi.synchronize(emu.state, None, 0)
    emu.assert_same_buffers()


def test_a_pop_without_its_push_is_reported_as_a_deadlock(emu: Emulator) -> None:
    emu.token(False, vi.Q_COMPUTE, vi.Q_STORE)
    emu.store(0, np.zeros((1, *ACC_SHAPE), np.int8), 0, 1, 1, 1)
    emu.sync()
    assert "deadlock: the store stage pops a token from the compute stage" in emu.error()
    with pytest.raises(vi.VtaProgramError, match="deadlock"):
        vi.dep_pop(VtaState.empty(CONFIG), None, vi.Q_COMPUTE, vi.Q_STORE)


def test_a_push_never_popped_is_reported(emu: Emulator) -> None:
    emu.push(gemm([(0, 0, 0)], reset=True))
    emu.token(True, vi.Q_COMPUTE, vi.Q_LOAD)
    emu.sync()
    assert "1 token(s) pushed from the compute stage to the load stage" in emu.error()
    state = VtaState.empty(CONFIG)
    vi.dep_push(state, None, vi.Q_COMPUTE, vi.Q_LOAD)
    with pytest.raises(vi.VtaProgramError, match="never popped"):
        vi.synchronize(state, None, 0)


def test_a_token_queue_that_does_not_exist_is_an_error(emu: Emulator) -> None:
    assert emu.lib.VTADepPush(emu.cmd, vi.Q_LOAD, vi.Q_STORE) != 0
    assert "no such token queue" in emu.error()


def test_stages_run_concurrently_so_a_pop_may_precede_its_push(emu: Emulator) -> None:
    """WAR: the load waits for the GEMM to release the input entry it overwrites."""
    rng = np.random.default_rng(3)
    old, new = random_int8(rng, 1, *INP_SHAPE), random_int8(rng, 1, *INP_SHAPE)
    emu.load(random_int8(rng, 1, *WGT_SHAPE), 0, 1, 1, 1, 0, 0, 0, 0, 0, vi.MEM_WGT)
    emu.load(old, 0, 1, 1, 1, 0, 0, 0, 0, 0, vi.MEM_INP)
    emu.sync()
    emu.token(False, vi.Q_COMPUTE, vi.Q_LOAD)
    emu.lib.VTALoadBuffer2D(emu.cmd, emu.buffer(new), 0, 1, 1, 1, 0, 0, 0, 0, 0, vi.MEM_INP)
    emu.push(gemm([(0, 0, 0)]))
    emu.token(True, vi.Q_COMPUTE, vi.Q_LOAD)
    emu.sync()
    assert emu.error() == ""
    np.testing.assert_array_equal(emu.sram(vi.MEM_ACC), emu.state.acc)  # GEMM saw the old input


def test_malformed_programs_are_reported_not_run(emu: Emulator) -> None:
    inp = np.zeros((4, *INP_SHAPE), np.int8)
    emu.lib.VTALoadBuffer2D(emu.cmd, emu.buffer(inp), 0, 2, 1, 2, 0, 0, 0, 0, 2047, vi.MEM_INP)
    emu.sync()
    assert "VTALoadBuffer2D: entries 2047..2048 outside memory 2's 0..2047" == emu.error()
    emu.lib.nnmap_vta_reset()
    with pytest.raises(vi.VtaProgramError, match="source entries 2048..2048"):
        emu.push(alu(vi.ALU_ADD, [(0, 2047)], loops=(UopLoop(2, 0, 1),)))
    emu.sync()
    assert emu.error().startswith("ALU: entries 2048..2048 outside memory 3")
    emu.lib.nnmap_vta_reset()
    emu.lib.nnmap_vta_layer_begin(b"unsynchronised")
    emu.lib.VTADepPush(emu.cmd, vi.Q_LOAD, vi.Q_COMPUTE)
    emu.lib.nnmap_vta_layer_end()
    assert "1 commands queued after the last VTASynchronize" in emu.error()
    with pytest.raises(vi.VtaProgramError, match="outside"):
        vi.load_2d(VtaState.empty(CONFIG), None, inp, 0, 2, 1, 2, 0, 0, 0, 0, 2047, vi.MEM_INP)


def uop_load_cycles(uops: int) -> int:
    return math.ceil(1.1 * uops) + MEMORY  # vta.md cost table: LOAD UOP 1.1x + 150


def test_each_instruction_costs_its_cost_table_formula(emu: Emulator) -> None:
    inp = np.zeros((40, *INP_SHAPE), np.int8)
    emu.load(inp, 0, 4, 2, 4, 1, 1, 1, 1, 0, vi.MEM_INP)
    emu.sync()
    assert emu.lib.nnmap_vta_cycles() == math.ceil(1.1 * 4 * 6) + MEMORY  # padded area 4 x 6
    emu.load(np.zeros((3, *WGT_SHAPE), np.int8), 0, 3, 1, 3, 0, 0, 0, 0, 0, vi.MEM_WGT)
    emu.sync()
    assert emu.lib.nnmap_vta_stage_busy(vi.Q_LOAD) == 27 + MEMORY + 17 * 3 + MEMORY
    kernel = gemm([(0, 0, 0), (1, 1, 0), (2, 2, 0)], (UopLoop(2, 3, 3), UopLoop(4, 0, 0)))
    before = emu.lib.nnmap_vta_cycles()
    emu.push(kernel)
    emu.push(kernel)  # still in the micro-op buffer: no second LOAD UOP
    emu.sync()
    gemm_cycles = 2 * 4 * 3 + GEMM_FILL
    assert emu.lib.nnmap_vta_cycles() - before == uop_load_cycles(3) + 2 * gemm_cycles
    assert emu.lib.nnmap_vta_stage_busy(vi.Q_COMPUTE) == uop_load_cycles(3) + 2 * gemm_cycles


@pytest.mark.parametrize(
    ("kernel", "cycles"),
    [
        (alu(vi.ALU_ADD, [(0, 0), (1, 1)], True, 1, (UopLoop(3, 2, 2),)), 6 + 46),
        (alu(vi.ALU_ADD, [(0, 8), (1, 9)], False, 0, (UopLoop(3, 2, 2),)), 2 * 6 + 46),
    ],
)
def test_alu_costs_x_plus_46_immediate_and_2x_plus_46_tensor(
    emu: Emulator, kernel: UopKernel, cycles: int
) -> None:
    emu.push(kernel)
    emu.sync()
    assert emu.lib.nnmap_vta_cycles() == uop_load_cycles(2) + cycles  # vta.md cost table


def test_store_and_accumulator_load_cost_x_plus_150(emu: Emulator) -> None:
    loaded_accumulator(emu, np.zeros((5, *ACC_SHAPE)))
    emu.sync()
    assert emu.lib.nnmap_vta_stage_busy(vi.Q_COMPUTE) == 5 + MEMORY
    emu.store(0, np.zeros((12, *ACC_SHAPE), np.int8), 0, 3, 2, 4)
    emu.sync()
    assert emu.lib.nnmap_vta_stage_busy(vi.Q_STORE) == 6 + MEMORY
    assert emu.lib.nnmap_vta_cycles() == 5 + MEMORY + 6 + MEMORY


def load_then_gemm(emu: Emulator, ordered: bool) -> tuple[int, int]:
    inp = np.zeros((8, *INP_SHAPE), np.int8)
    emu.load(inp, 0, 8, 1, 8, 0, 0, 0, 0, 0, vi.MEM_INP)
    if ordered:
        emu.token(True, vi.Q_LOAD, vi.Q_COMPUTE)
        emu.token(False, vi.Q_LOAD, vi.Q_COMPUTE)
    emu.push(gemm([(0, 0, 0)], (UopLoop(100, 0, 0),)))
    emu.sync()
    return math.ceil(1.1 * 8) + MEMORY, uop_load_cycles(1) + 100 + GEMM_FILL


def test_load_and_compute_overlap_without_tokens(emu: Emulator) -> None:
    load, compute = load_then_gemm(emu, ordered=False)
    assert emu.lib.nnmap_vta_cycles() == max(load, compute)


def test_a_token_serialises_load_and_compute(emu: Emulator) -> None:
    load, compute = load_then_gemm(emu, ordered=True)
    assert emu.lib.nnmap_vta_cycles() == load + compute
    assert emu.error() == ""


def test_layer_markers_count_the_cycles_of_their_syncs(emu: Emulator) -> None:
    emu.lib.nnmap_vta_layer_begin(b"conv0")
    load, compute = load_then_gemm(emu, ordered=True)
    emu.lib.nnmap_vta_layer_end()
    emu.lib.nnmap_vta_layer_begin(b"empty")
    emu.lib.nnmap_vta_layer_end()
    assert emu.lib.nnmap_vta_layer_count() == 2
    assert emu.lib.nnmap_vta_layer_name(0) == b"conv0"
    assert emu.lib.nnmap_vta_layer_cycles(0) == load + compute
    assert emu.lib.nnmap_vta_layer_cycles(1) == 0


def test_the_table_names_every_runtime_call_with_its_operands() -> None:
    names = {entry.c_name for entry in vi.INTRINSICS.values()}
    assert {"VTALoadBuffer2D", "VTAStoreBuffer2D", "VTAPushGEMMOp", "VTAPushALUOp"} <= names
    assert {"VTADepPush", "VTADepPop", "VTASynchronize"} <= names
    push = vi.INTRINSICS["dep_push"]
    assert push.c_call("cmd", "1", "2") == "VTADepPush(cmd, 1, 2)"
    assert [operand.role for operand in push.operands] == ["config", "queue", "queue"]
    assert len(vi.INTRINSICS["load_2d"].c_parameters()) == 12
    gemm_call = vi.INTRINSICS["push_gemm"].c_call("&handle", "kernel0", "NULL", "0")
    assert gemm_call == "VTAPushGEMMOp(&handle, kernel0, NULL, 0)"
    assert vi.instructions()[0].c_name == "VTALoadBuffer2D"


def test_generated_kernel_text_builds_against_the_header(library: Path, tmp_path: Path) -> None:
    kernel = gemm([(0, 0, 0), (1, 1, 1)], (UopLoop(2, 2, 2, 0),))
    program = "\n".join(
        [
            "#include <stdio.h>",
            '#include "vta_runtime.h"',
            kernel.render_finit("kernel0"),
            "int main(void) {",
            "    static void *handle;",
            "    VTAPushGEMMOp(&handle, kernel0, NULL, 0);",
            "    VTASynchronize(VTATLSCommandHandle(), 1000u);",
            '    printf("%llu %s", (unsigned long long)nnmap_vta_cycles(), nnmap_vta_error());',
            "    return 0;",
            "}",
        ]
    )
    source = tmp_path / "main.c"
    source.write_text(program)
    includes = [f"-I{path}" for path in emulator(VTA).include_dirs(library.parent)]
    flags = ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", *includes]
    binary = tmp_path / "main"
    linking = [str(library), f"-Wl,-rpath,{library.parent}"]
    subprocess.run(["gcc", *flags, str(source), *linking, "-o", str(binary)], check=True)
    result = subprocess.run([str(binary)], capture_output=True, text=True, check=True)
    assert result.stdout == f"{uop_load_cycles(2) + 2 * 2 + GEMM_FILL} "


SMALL = st.integers(0, 3)
LOADS = st.tuples(
    st.sampled_from([vi.MEM_INP, vi.MEM_WGT, vi.MEM_ACC]),
    st.integers(0, 8),
    st.integers(1, 4),
    st.integers(1, 3),
    SMALL,
    st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 2), st.integers(0, 2)),
    st.integers(0, 40),
)
LOOPS = st.lists(st.tuples(st.integers(1, 3), SMALL, SMALL, SMALL), max_size=2)
GEMMS = st.tuples(
    st.lists(st.tuples(st.integers(0, 15), st.integers(0, 15), st.integers(0, 7)), min_size=1),
    LOOPS,
    st.booleans(),
)
ALUS = st.tuples(
    st.integers(0, 4),
    st.lists(st.tuples(st.integers(0, 15), st.integers(0, 15)), min_size=1, max_size=4),
    LOOPS,
    st.booleans(),
    st.integers(vi.IMM_MIN, vi.IMM_MAX),
)
STORES = st.tuples(st.integers(0, 40), st.integers(0, 8), st.integers(1, 4), st.integers(1, 3))
PROGRAMS = st.lists(
    st.one_of(
        st.tuples(st.just("load"), LOADS),
        st.tuples(st.just("gemm"), GEMMS),
        st.tuples(st.just("alu"), ALUS),
        st.tuples(st.just("store"), STORES),
    ),
    max_size=12,
)


def stage_of(step: tuple) -> int:
    kind, args = step
    if kind == "load":
        return vi.Q_COMPUTE if args[0] == vi.MEM_ACC else vi.Q_LOAD
    return vi.Q_STORE if kind == "store" else vi.Q_COMPUTE


def order_after(emu: Emulator, previous: int, stage: int) -> None:
    """Make ``stage``'s next command wait for ``previous``'s last: a token, else a sync."""
    if (previous, stage) not in vi.TOKEN_QUEUES:
        emu.sync()
        return
    for push, meaning in ((True, vi.dep_push), (False, vi.dep_pop)):
        emu.token(push, previous, stage)
        meaning(emu.state, None, previous, stage)


def run_step(emu: Emulator, step: tuple, drams: dict[int, np.ndarray], out: np.ndarray) -> None:
    kind, args = step
    if kind == "load":
        memory, offset, x, y, extra_stride, pads, index = args
        emu.load(drams[memory], offset, x, y, x + extra_stride, *pads, index, memory)
    elif kind == "gemm":
        uops, loops, reset = args
        emu.push(gemm(uops, tuple(UopLoop(*loop) for loop in loops), reset))
    elif kind == "alu":
        opcode, uops, loops, use_imm, imm = args
        emu.push(alu(opcode, uops, use_imm, imm, tuple(UopLoop(*loop[:3]) for loop in loops)))
    else:
        index, offset, x, y = args
        emu.store(index, out, offset, x, y, x + 1)


@settings(max_examples=150, deadline=None)
@given(program=PROGRAMS, seed=st.integers(0, 2**16))
def test_random_token_ordered_programs_give_the_same_buffers_in_c_and_numpy(
    lib: ctypes.CDLL, program: list, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    acc = rng.integers(-(2**20), 2**20, size=(32, *ACC_SHAPE)).astype(np.int32)
    drams = {
        vi.MEM_INP: random_int8(rng, 32, *INP_SHAPE),
        vi.MEM_WGT: random_int8(rng, 32, *WGT_SHAPE),
        vi.MEM_ACC: acc,
    }
    out = np.zeros((32, *ACC_SHAPE), np.int8)
    emu = Emulator(lib)
    previous = vi.Q_LOAD
    for step in program:
        if stage_of(step) != previous:
            order_after(emu, previous, stage_of(step))
        run_step(emu, step, drams, out)
        previous = stage_of(step)
    emu.sync()
    vi.synchronize(emu.state, None, 0)
    emu.assert_same_buffers()
