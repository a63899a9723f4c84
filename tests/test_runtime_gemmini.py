"""nnmap's Gemmini emulator (C) against the numpy meanings of gemmini_intrinsics, and its timing."""

from __future__ import annotations

import ctypes
import math
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnmap.errors import TargetError
from nnmap.hw import ExecModule, Instruction
from nnmap.hw.intrinsic import Operand
from nnmap.targets import get_target
from nnmap.targets.gemmini import instructions as gi
from nnmap.targets.gemmini.build import SOURCES, emulator
from nnmap.targets.gemmini.params import render_header
from nnmap.targets.gemmini.tiling import GemminiGeometry

GEMMINI = get_target("gemmini").module("gemmini")
GEOMETRY = GemminiGeometry.of(GEMMINI)
DIM = GEOMETRY.dim
ACC = gi.ACC_BIT
GARBAGE = gi.GARBAGE_ADDR
MODULE = get_target("gemmini").module("gemmini")
DRAM_BYTES = 8192
U32, U64, F32, INT = ctypes.c_uint32, ctypes.c_uint64, ctypes.c_float, ctypes.c_int
C_SIGNATURES = {
    "nnmap_gemmini_mvin": (U64, U32, U32, U32, U32),
    "nnmap_gemmini_mvout": (U64, U32, U32, U32),
    "nnmap_gemmini_preload": (U32,) * 6,
    "nnmap_gemmini_compute": (U32,) * 6 + (INT,),
    "nnmap_gemmini_config_ex": (U32, U32, U32, F32, U32, U32, INT, INT, INT),
    "nnmap_gemmini_config_ld": (U64, F32, INT, U32),
    "nnmap_gemmini_config_st": (U64, U32, F32),
    "nnmap_gemmini_layer_begin": (ctypes.c_char_p,),
}


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    library = ctypes.CDLL(str(emulator(GEMMINI).build_library(tmp_path_factory.mktemp("gemmini"))))
    for name, argtypes in C_SIGNATURES.items():
        getattr(library, name).argtypes = argtypes
    library.nnmap_gemmini_cycles.restype = U64
    library.nnmap_gemmini_error.restype = ctypes.c_char_p
    library.nnmap_gemmini_layer_name.restype = ctypes.c_char_p
    library.nnmap_gemmini_layer_name.argtypes = (ctypes.c_size_t,)
    library.nnmap_gemmini_layer_cycles.restype = U64
    library.nnmap_gemmini_layer_cycles.argtypes = (ctypes.c_size_t,)
    library.nnmap_gemmini_test_scratchpad.restype = ctypes.POINTER(ctypes.c_int8)
    library.nnmap_gemmini_test_accumulator.restype = ctypes.POINTER(ctypes.c_int32)
    return library


class Twin:
    """The C emulator and the numpy meanings, fed the same instructions and the same DRAM."""

    def __init__(self, lib: ctypes.CDLL, seed: int = 0) -> None:
        lib.nnmap_gemmini_reset()
        self.lib = lib
        self.dram = np.random.default_rng(seed).integers(0, 256, DRAM_BYTES, dtype=np.uint8)
        self.state = gi.GemminiState.empty(
            self.dram.copy(), DIM, GEOMETRY.spad_rows, GEOMETRY.acc_rows
        )

    def put(self, offset: int, data: np.ndarray) -> None:
        raw = np.frombuffer(np.ascontiguousarray(data).tobytes(), dtype=np.uint8)
        self.dram[offset : offset + raw.size] = raw
        self.state.dram[offset : offset + raw.size] = raw

    def run(self, name: str, *args: float) -> None:
        entry = gi.INTRINSICS[name]
        entry.meaning(self.state, *args)
        c_args = [
            self.dram.ctypes.data + int(value) if operand.role == "dram" else value
            for operand, value in zip(entry.operands, args, strict=True)
        ]
        self.call_c(name, c_args)
        assert self.lib.nnmap_gemmini_error() is None

    def call_c(self, name: str, args: list[float]) -> None:
        lib = self.lib
        if name.startswith("mvin"):
            lib.nnmap_gemmini_mvin(*args, {"mvin": 0, "mvin2": 1, "mvin3": 2}[name])
        elif name.startswith("compute"):
            lib.nnmap_gemmini_compute(*args, int(name == "compute_preloaded"))
        else:
            getattr(lib, f"nnmap_gemmini_{name}")(*args)

    def spad(self) -> np.ndarray:
        rows = GEOMETRY.spad_rows
        return np.ctypeslib.as_array(self.lib.nnmap_gemmini_test_scratchpad(), (rows, DIM))

    def acc(self) -> np.ndarray:
        rows = GEOMETRY.acc_rows
        return np.ctypeslib.as_array(self.lib.nnmap_gemmini_test_accumulator(), (rows, DIM))

    def assert_same(self) -> None:
        """Fence (mvout results reach DRAM only there), then compare every memory."""
        self.lib.nnmap_gemmini_fence()
        assert self.lib.nnmap_gemmini_error() is None
        np.testing.assert_array_equal(self.spad(), self.state.spad)
        np.testing.assert_array_equal(self.acc(), self.state.acc)
        np.testing.assert_array_equal(self.dram, self.state.dram)


def _int8(shape: tuple[int, int], seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(-128, 128, shape, dtype=np.int8)


def test_table_names_the_public_macros_in_order() -> None:
    assert gi.INTRINSICS["mvin"].c_call("A", "0", "16", "4") == "gemmini_extended_mvin(A, 0, 16, 4)"
    preload = gi.INTRINSICS["preload"]
    assert [o.name for o in preload.operands] == [
        "bd",
        "c",
        "bd_cols",
        "bd_rows",
        "c_cols",
        "c_rows",
    ]
    assert gi.INTRINSICS["mvout"].operands[0] == Operand("dram_addr", "dram")
    assert gi.INTRINSICS["fence"].c_name == "gemmini_fence"
    assert all(isinstance(entry, Instruction) for entry in gi.instructions())
    with pytest.raises(ValueError, match="arguments"):
        preload.c_call("B")


def test_params_header_comes_from_the_target() -> None:
    header = render_header(MODULE)
    assert "#define NNMAP_GEMMINI_DIM 16" in header
    assert "#define NNMAP_GEMMINI_DRAM_LATENCY 20" in header
    assert "#define NNMAP_GEMMINI_STORE_QUEUE 4" in header
    broken = ExecModule(MODULE.name, MODULE.array, MODULE.levels, timing={"fence": 2})
    with pytest.raises(TargetError, match="timing lacks"):
        render_header(broken)


def test_mvin_partial_rows_and_cols_with_stride(lib: ctypes.CDLL) -> None:
    twin = Twin(lib)
    twin.put(64, _int8((7, 40)))
    twin.run("config_ld", 40, 1.0, 0, 0)
    twin.run("mvin", 64, 3, 5, 7)
    twin.run("config_ld", 40, 1.0, 0, 2)
    twin.run("mvin3", 64, 20, DIM, 1)
    twin.assert_same()
    assert (twin.spad()[3:10, 5:] == 0).all()


def test_mvin_accumulator_int32_accumulate_and_shrunk(lib: ctypes.CDLL) -> None:
    twin = Twin(lib)
    twin.put(0, np.random.default_rng(2).integers(-(2**31), 2**31, (4, DIM), dtype=np.int32))
    twin.run("config_ld", 4 * DIM, 1.0, 0, 0)
    twin.run("mvin", 0, ACC | 2, DIM, 4)
    twin.run("mvin", 0, ACC | gi.ACCUMULATE_BIT | 2, 9, 4)
    twin.run("config_ld", DIM, 1.0, 1, 1)
    twin.run("mvin2", 0, ACC | 10, DIM, 3)
    twin.assert_same()
    assert twin.acc()[10, 0] == np.int8(twin.dram[0].view(np.int8))


def test_mvin_scale_rounds_half_to_even_and_saturates(lib: ctypes.CDLL) -> None:
    twin = Twin(lib)
    twin.put(0, np.array([[3, 5, -3, -5, 127, -128, 1, 0] * 2], dtype=np.int8))
    twin.run("config_ld", DIM, 0.5, 0, 0)
    twin.run("mvin", 0, 0, DIM, 1)
    twin.run("config_ld", DIM, 3.0, 0, 0)
    twin.run("mvin", 0, 1, DIM, 1)
    twin.assert_same()
    assert list(twin.spad()[0, :4]) == [2, 2, -2, -2]
    assert twin.spad()[1, 4] == 127


def test_mvout_scale_relu_saturation_and_full_width(lib: ctypes.CDLL) -> None:
    twin = Twin(lib)
    values = np.random.default_rng(3).integers(-2000, 2000, (DIM, DIM), dtype=np.int32)
    values[0, :4] = [2, 6, -6, 10**6]
    twin.put(0, values)
    twin.run("config_ld", 4 * DIM, 1.0, 0, 0)
    twin.run("mvin", 0, ACC, DIM, DIM)
    twin.run("config_st", 20, gi.RELU, 0.25)
    twin.run("mvout", 2048, ACC, 11, 13)
    twin.run("config_st", 100, gi.NO_ACTIVATION, 1.0 / 3.0)
    twin.run("mvout", 4096, ACC, DIM, 2)
    twin.run("config_st", 4 * DIM, gi.NO_ACTIVATION, 1.0)
    twin.run("mvout", 6144, ACC | gi.READ_FULL_BIT, 5, DIM)
    twin.run("mvout", 1024, 7, DIM, 3)
    twin.assert_same()
    assert list(twin.dram[2048:2052].view(np.int8)) == [0, 2, 0, 127]
    assert twin.dram[6144:6148].view(np.int32)[0] == 2


def test_mvout_scale_is_per_instruction_like_numpy(lib: ctypes.CDLL) -> None:
    """Each mvout uses the scale of the config_st before it: float32 product, round half to
    even, ReLU floor, int8 saturation, as numpy computes them (hardware numerics)."""
    twin = Twin(lib)
    values = np.random.default_rng(8).integers(-(2**20), 2**20, (2 * DIM, DIM), dtype=np.int32)
    values[0, :6] = [5, 15, -5, -15, 2**31 - 1, -(2**31)]
    twin.put(0, values)
    twin.run("config_ld", 4 * DIM, 1.0, 0, 0)
    twin.run("mvin", 0, ACC, DIM, DIM)
    twin.run("mvin", 4 * DIM * DIM, ACC | DIM, DIM, DIM)
    runs = [(np.float32(0.1), gi.NO_ACTIVATION, -128), (np.float32(3.7e-4), gi.RELU, 0)]
    for block, (scale, activation, floor) in enumerate(runs):
        twin.run("config_st", DIM, activation, float(scale))
        twin.run("mvout", 4096 + block * DIM * DIM, ACC | (block * DIM), DIM, DIM)
        twin.run("fence")
        out = twin.dram[4096 + block * DIM * DIM :][: DIM * DIM].view(np.int8).reshape(DIM, DIM)
        block_values = values[block * DIM : (block + 1) * DIM].astype(np.float32)
        expected = np.clip(np.rint(block_values * scale), floor, 127).astype(np.int8)
        np.testing.assert_array_equal(out, expected)
    twin.assert_same()
    assert list(twin.dram[4096:4102].view(np.int8)) == [0, 2, 0, -2, 127, -128]


def test_matmul_tile_partial_bias_reuse_and_accumulate(lib: ctypes.CDLL) -> None:
    twin = Twin(lib)
    twin.put(0, _int8((DIM, DIM), 4))
    twin.put(256, _int8((DIM, DIM), 5))
    twin.put(512, _int8((DIM, DIM), 6))
    twin.run("mvin", 0, 0, DIM, DIM)
    twin.run("mvin", 256, DIM, DIM, DIM)
    twin.run("mvin", 512, 2 * DIM, DIM, DIM)
    twin.run("preload", 0, ACC, 9, 11, 7, 5)
    twin.run("compute_preloaded", DIM, 2 * DIM, 11, 6, 7, 3)
    twin.run("preload", GARBAGE, ACC | gi.ACCUMULATE_BIT, DIM, DIM, 7, 5)
    twin.run("compute_accumulated", 2 * DIM, GARBAGE, DIM, DIM, DIM, DIM)
    twin.run("preload", 0, 3 * DIM, DIM, DIM, DIM, DIM)
    twin.run("compute_preloaded", DIM, GARBAGE, DIM, DIM, DIM, DIM)
    twin.assert_same()
    weights = twin.state.spad[:11, :9].astype(np.int32)
    inputs = twin.state.spad[DIM : DIM + 6, :11].astype(np.int32)
    expected = inputs @ weights
    expected[:3, :7] += twin.state.spad[2 * DIM : 2 * DIM + 3, :7]
    reuse = twin.state.spad[2 * DIM : 2 * DIM + 5, :11].astype(np.int32) @ weights[:, :7]
    np.testing.assert_array_equal(twin.acc()[:5, :7], expected[:5, :7] + reuse)


def test_garbage_addresses_read_zeros_and_write_nothing(lib: ctypes.CDLL) -> None:
    twin = Twin(lib)
    twin.run("mvin", 0, GARBAGE, DIM, DIM)
    twin.run("mvin", 0, 0, DIM, DIM)
    twin.run("preload", GARBAGE, ACC, DIM, DIM, DIM, DIM)
    twin.run("compute_preloaded", 0, GARBAGE, DIM, DIM, DIM, DIM)
    twin.run("preload", 0, GARBAGE, DIM, DIM, DIM, DIM)
    twin.run("compute_preloaded", 0, 0, DIM, DIM, DIM, DIM)
    twin.run("mvout", 0, GARBAGE, DIM, DIM)
    twin.assert_same()
    assert not twin.acc().any()


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("mvin", (0, 0, DIM + 1, 1)),
        ("mvin", (0, ACC | (GEOMETRY.acc_rows - 2), DIM, 4)),
        ("preload", (ACC, 0, DIM, DIM, DIM, DIM)),
        ("config_ex", (gi.OUTPUT_STATIONARY, 0, 0, 1.0, 1, 1, 0, 0, 0)),
        ("config_ld", (DIM, 1.0, 0, 3)),
    ],
)
def test_misuse_raises_in_python_and_flags_in_c(lib: ctypes.CDLL, name: str, args: tuple) -> None:
    twin = Twin(lib)
    with pytest.raises(ValueError):
        gi.INTRINSICS[name].meaning(twin.state, *args)
    twin.call_c(name, list(args))
    assert lib.nnmap_gemmini_error() is not None
    lib.nnmap_gemmini_reset()
    assert lib.nnmap_gemmini_error() is None


def _local(draw: st.DrawFn, *, acc_ok: bool, garbage_ok: bool = True) -> int:
    kinds = ["spad"] + (["acc", "acc+"] if acc_ok else []) + (["garbage"] if garbage_ok else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "garbage":
        return GARBAGE
    if kind == "spad":
        return draw(st.integers(0, 3 * DIM))
    return ACC | (gi.ACCUMULATE_BIT if kind == "acc+" else 0) | draw(st.integers(0, 2 * DIM))


@st.composite
def _instruction(draw: st.DrawFn) -> tuple[str, tuple]:
    name = draw(st.sampled_from(sorted(set(gi.INTRINSICS) - {"config_ex"})))
    size = st.integers(1, DIM)
    if name.startswith("mvin"):
        local = _local(draw, acc_ok=True)
        return name, (draw(st.integers(0, 1024)), local, draw(size), draw(size))
    if name == "mvout":
        local = _local(draw, acc_ok=True)
        if local != GARBAGE and local & ACC:
            local = ACC | (gi.READ_FULL_BIT if draw(st.booleans()) else 0) | (local & gi.ROW_MASK)
        return name, (draw(st.integers(4096, 5120)), local, draw(size), draw(size))
    if name == "config_ld":
        scale = draw(st.sampled_from([1.0, 0.5, 0.25, 3.0]))
        shrunk, load_id = draw(st.integers(0, 1)), draw(st.integers(0, 2))
        return name, (draw(st.sampled_from([16, 17, 64])), scale, shrunk, load_id)
    if name == "config_st":
        scale = draw(st.sampled_from([1.0, 0.5, 1.0 / 3.0, 0.01]))
        return name, (draw(st.sampled_from([16, 64, 70])), draw(st.integers(0, 1)), scale)
    if name == "fence":
        return name, ()
    first = _local(draw, acc_ok=False)
    second = _local(draw, acc_ok=name == "preload")
    return name, (first, second, draw(size), draw(size), draw(size), draw(size))


@settings(max_examples=100, deadline=None)
@given(program=st.lists(_instruction(), min_size=4, max_size=30), seed=st.integers(0, 2**16))
def test_random_programs_match_the_numpy_meanings(
    lib: ctypes.CDLL, program: list[tuple[str, tuple]], seed: int
) -> None:
    twin = Twin(lib, seed)
    twin.run("config_ld", 4 * DIM, 1.0, 0, 0)
    for tile in range(4):
        twin.run("mvin", tile * DIM * DIM, tile * DIM, DIM, DIM)
        twin.run("mvin", tile * DIM * DIM, ACC | (tile * DIM), DIM, DIM)
    for name, args in program:
        twin.run(name, *args)
    twin.assert_same()


# Timing: hand-computed from the target's parameters.
ARRAY = MODULE.array
DRAM = MODULE.levels[-1][0]
TIMING = MODULE.timing
DISPATCH = TIMING["frontend_latency"] + TIMING["issue_latency"]
STEP = TIMING["issue_interval"]
MVIN_TILE = math.ceil(DIM * DIM / DRAM.read_bw)  # a DIM x DIM int8 tile through DRAM
LATENCY = ARRAY.fill_cycles + ARRAY.drain_cycles


def _cycles(lib: ctypes.CDLL) -> int:
    return int(lib.nnmap_gemmini_cycles())


def _counters(lib: ctypes.CDLL) -> tuple[int, int, int]:
    values = [ctypes.c_uint64() for _ in range(3)]
    lib.nnmap_gemmini_counters(*(ctypes.byref(value) for value in values))
    return tuple(int(value.value) for value in values)  # type: ignore[return-value]


def test_one_mvin_costs_latency_plus_bytes_over_bandwidth(lib: ctypes.CDLL) -> None:
    twin = Twin(lib)
    twin.run("mvin", 0, 0, DIM, DIM)
    assert _cycles(lib) == DISPATCH + DRAM.latency + MVIN_TILE
    assert _counters(lib) == (MVIN_TILE, 0, 0)
    twin.run("fence")
    assert _cycles(lib) == DISPATCH + DRAM.latency + MVIN_TILE + TIMING["fence"]


def test_preload_and_compute_cost_rows_plus_fill_and_drain(lib: ctypes.CDLL) -> None:
    twin = Twin(lib)
    twin.run("preload", 0, ACC, DIM, DIM, DIM, DIM)
    twin.run("compute_preloaded", DIM, GARBAGE, DIM, 10, DIM, DIM)
    assert _cycles(lib) == DISPATCH + STEP + ARRAY.reload_cycles + LATENCY
    twin.run("preload", GARBAGE, ACC | DIM, DIM, DIM, DIM, DIM)
    twin.run("compute_accumulated", DIM, GARBAGE, DIM, 10, DIM, DIM)
    assert _cycles(lib) == DISPATCH + STEP + ARRAY.reload_cycles + 10 + LATENCY
    assert _counters(lib) == (0, ARRAY.reload_cycles + 10, 0)


def test_compute_waits_for_its_mvin_and_mvout_for_its_compute(lib: ctypes.CDLL) -> None:
    twin = Twin(lib)
    twin.run("mvin", 0, 0, DIM, DIM)
    twin.run("mvin", 0, DIM, DIM, DIM)
    twin.run("preload", 0, ACC, DIM, DIM, DIM, DIM)
    twin.run("compute_preloaded", DIM, GARBAGE, DIM, DIM, DIM, DIM)
    second_mvin_done = DISPATCH + 2 * MVIN_TILE + DRAM.latency
    compute_done = second_mvin_done + DIM + LATENCY
    assert _cycles(lib) == compute_done
    twin.run("mvout", 0, ACC, DIM, DIM)
    acc_row_reads = DIM * math.ceil(4 * DIM / MODULE.levels[0][1].read_bw)
    assert _cycles(lib) == compute_done + acc_row_reads + TIMING["store_latency"]


def test_independent_load_overlaps_compute(lib: ctypes.CDLL) -> None:
    twin = Twin(lib)
    twin.run("preload", 0, ACC, DIM, DIM, DIM, DIM)
    twin.run("compute_preloaded", DIM, GARBAGE, DIM, DIM, DIM, DIM)
    compute_done = DISPATCH + STEP + DIM + LATENCY
    twin.run("mvin", 0, 4 * DIM, DIM, DIM)
    mvin_alone = DRAM.latency + MVIN_TILE
    assert _cycles(lib) == compute_done < compute_done + mvin_alone


def test_mvin_waits_until_earlier_reads_of_its_rows(lib: ctypes.CDLL) -> None:
    twin = Twin(lib)
    twin.run("mvout", 0, 0, DIM, DIM)
    store_reads_done = DISPATCH + math.ceil(DIM * DIM / DRAM.write_bw)
    twin.run("mvin", 0, 0, DIM, DIM)
    assert _cycles(lib) == store_reads_done + MVIN_TILE + DRAM.latency


def test_full_store_queue_stalls_the_host(lib: ctypes.CDLL) -> None:
    twin = Twin(lib)
    depth = int(TIMING["store_queue"])
    for _ in range(depth + 1):
        twin.run("mvout", 0, 0, DIM, 1)
    twin.run("fence")
    store_one = math.ceil(DIM / DRAM.write_bw) + TIMING["store_latency"]
    first_done = DISPATCH + store_one  # the host waits for it to free a queue entry
    assert _cycles(lib) == first_done + DISPATCH + store_one + TIMING["fence"]


def test_layer_markers_record_cycles_per_layer(lib: ctypes.CDLL) -> None:
    twin = Twin(lib)
    lib.nnmap_gemmini_layer_begin(b"conv0")
    twin.run("mvin", 0, 0, DIM, DIM)
    twin.run("fence")
    lib.nnmap_gemmini_layer_end()
    lib.nnmap_gemmini_layer_begin(b"dense1")
    twin.run("mvout", 0, 0, DIM, DIM)
    lib.nnmap_gemmini_layer_end()
    assert lib.nnmap_gemmini_layer_count() == 2
    assert lib.nnmap_gemmini_layer_name(1) == b"dense1"
    first = DISPATCH + DRAM.latency + MVIN_TILE + TIMING["fence"]
    assert lib.nnmap_gemmini_layer_cycles(0) == first
    store = DISPATCH + math.ceil(DIM * DIM / DRAM.write_bw) + TIMING["store_latency"]
    assert lib.nnmap_gemmini_layer_cycles(1) == store
    assert _cycles(lib) == first + store


MACRO_PROGRAM = r"""
#include <stdio.h>
#include "gemmini.h"

static elem_t a[DIM][DIM], b[DIM][DIM];
static elem_t c[DIM][DIM];
static acc_t full[4][DIM];

int main(void) {
    for (int i = 0; i < DIM; ++i) {
        for (int j = 0; j < DIM; ++j) {
            a[i][j] = (elem_t)(i - j);
            b[i][j] = (elem_t)((i * j) % 7 - 3);
        }
    }
    nnmap_gemmini_reset();
    nnmap_gemmini_layer_begin("matmul");
    gemmini_config_ex(WEIGHT_STATIONARY, NO_ACTIVATION, 0);
    gemmini_config_ld(DIM * sizeof(elem_t));
    gemmini_mvin(a, 0);
    gemmini_extended_mvin2(b, DIM, DIM, DIM);
    gemmini_preload(DIM, (uint32_t)1 << 31);
    gemmini_compute_preloaded(0, GARBAGE_ADDR);
    gemmini_extended_config_st(DIM * sizeof(elem_t), RELU, ACC_SCALE_IDENTITY);
    gemmini_mvout(c, (uint32_t)1 << 31);
    gemmini_config_st(DIM * sizeof(acc_t));
    gemmini_extended_mvout(full, (uint32_t)7 << 29, DIM, 4);
    gemmini_fence();
    nnmap_gemmini_layer_end();
    if (nnmap_gemmini_error() != NULL) {
        return 1;
    }
    for (int i = 0; i < DIM; ++i) {
        for (int j = 0; j < DIM; ++j) {
            printf("%d ", c[i][j]);
        }
    }
    printf("\n%d %llu\n", (int)full[3][5], (unsigned long long)nnmap_gemmini_layer_cycles(0));
    return 0;
}
"""


def test_generated_style_c_builds_against_the_macros(tmp_path: Path) -> None:
    emulator(GEMMINI).build_library(tmp_path)  # renders gemmini_params.h into tmp_path
    source = tmp_path / "program.c"
    source.write_text(MACRO_PROGRAM)
    program = tmp_path / "program"
    includes = [f"-I{path}" for path in emulator(GEMMINI).include_dirs(tmp_path)]
    command = ["gcc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", *includes, str(source)]
    subprocess.run([*command, *map(str, SOURCES), "-lm", "-o", str(program)], check=True)
    out = subprocess.run([str(program)], check=True, capture_output=True, text=True).stdout
    lines = out.splitlines()
    i, j = np.indices((DIM, DIM))
    a, b = i - j, (i * j) % 7 - 3
    product = a @ b
    np.testing.assert_array_equal(np.array(lines[0].split(), int), np.clip(product, 0, 127).ravel())
    full, cycles = map(int, lines[1].split())
    assert full == product[3, 5]
    assert cycles > DIM + LATENCY
