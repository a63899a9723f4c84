"""Residual adds on Gemmini: the int8 mvin scaler into the accumulator (C emulator against the
numpy meaning), the resadd sequence against its numpy meaning, its timing by hand, the exhaustive
exactness check against what the emulated hardware computes on every input pair, and the mapper's
choice per numerics (exact layers on Gemmini bit-exact, the others on the host with the reason)."""

from __future__ import annotations

import ctypes
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_device_build import (
    BARE_METAL,
    GEMMINI_INCLUDE,
    ZIG_AR,
    ZIG_CC,
    _link,
    _make_device,
    _vendor,
)
from test_runtime_gemmini import C_SIGNATURES, DIM, MODULE, Twin

import nnmap
from nnmap.codegen.artifact import Artifact
from nnmap.frontend.tflite_ops import add_rescale
from nnmap.ir import Clamp, Graph, Tensor
from nnmap.ir.layers import Add
from nnmap.reference.run import run_batch
from nnmap.targets.gemmini import instructions as gi
from nnmap.targets.gemmini.build import emulator
from nnmap.targets.gemmini.resadd import ResaddScales, choose_scales, resadd
from nnmap.targets.gemmini.resadd_stream import pieces, resadd_commands
from nnmap.targets.gemmini.timing_engine import GemminiEngine

ACC, ACCUMULATE = gi.ACC_BIT, gi.ACCUMULATE_BIT
SHAPE = (1, 64, 64, 16)  # 65,536 elements: every pair of int8 inputs once


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    """The C emulator, its functions typed as ``test_runtime_gemmini``'s ``Twin`` calls them."""
    library = ctypes.CDLL(str(emulator(MODULE).build_library(tmp_path_factory.mktemp("emu"))))
    for name, argtypes in C_SIGNATURES.items():
        getattr(library, name).argtypes = argtypes
    library.nnmap_gemmini_error.restype = ctypes.c_char_p
    library.nnmap_gemmini_test_scratchpad.restype = ctypes.POINTER(ctypes.c_int8)
    library.nnmap_gemmini_test_accumulator.restype = ctypes.POINTER(ctypes.c_int32)
    return library


def test_shrunk_accumulator_mvin_scales_saturates_and_accumulates(lib: ctypes.CDLL) -> None:
    twin = Twin(lib)
    twin.put(0, np.array([[3, 5, -3, -5, 127, -128, 1, 0] * 2], dtype=np.int8))
    twin.run("config_ld", DIM, 0.5, 1, 0)
    twin.run("mvin", 0, ACC, DIM, 1)
    twin.run("config_ld", DIM, 3.0, 1, 1)
    twin.run("mvin2", 0, ACC | ACCUMULATE, DIM, 1)
    twin.assert_same()
    # 0.5 rounds half to even (2, 2, -2, -2, 64, -64); 3.0 saturates to int8 before the add
    assert list(twin.acc()[0, :8]) == [2 + 9, 2 + 15, -2 - 9, -2 - 15, 64 + 127, -64 - 128, 3, 0]


@pytest.mark.parametrize(
    "scales",
    [
        ResaddScales(0.37807539, 1.0, -18, 2.0452170, gi.NO_ACTIVATION),
        ResaddScales(1.0, 0.71, 100, 0.33, gi.RELU),
        ResaddScales(1.0, 1.0, -128, 1.0, gi.NO_ACTIVATION),
    ],
    ids=["resnet-like", "relu", "identity-saturating"],
)
def test_resadd_sequence_matches_its_numpy_meaning(lib: ctypes.CDLL, scales: ResaddScales) -> None:
    """bias row (stride 0), mvin a, mvin2 b accumulating, mvout scaled: the C emulator, the
    instructions' numpy meanings and ``resadd`` agree element for element."""
    twin = Twin(lib, seed=4)
    rng = np.random.default_rng(9)
    a, b = (rng.integers(-128, 128, (DIM, DIM), dtype=np.int8) for _ in range(2))
    twin.put(0, a)
    twin.put(DIM * DIM, b)
    twin.put(2 * DIM * DIM, np.full(DIM, scales.bias, np.int8))
    twin.run("config_ld", DIM, scales.a_scale, 1, 0)
    twin.run("config_ld", DIM, scales.b_scale, 1, 1)
    twin.run("config_ld", 0, 1.0, 1, 2)
    twin.run("config_st", DIM, scales.activation, scales.out_scale)
    twin.run("mvin3", 2 * DIM * DIM, ACC | DIM, DIM, DIM)
    twin.run("mvin", 0, ACC | ACCUMULATE | DIM, DIM, DIM)
    twin.run("mvin2", DIM * DIM, ACC | ACCUMULATE | DIM, DIM, DIM)
    twin.run("mvout", 3 * DIM * DIM, ACC | DIM, DIM, DIM)
    twin.assert_same()
    out = twin.dram[3 * DIM * DIM : 4 * DIM * DIM].view(np.int8).reshape(DIM, DIM)
    np.testing.assert_array_equal(out, resadd(a, b, scales))


def test_pieces_cover_partial_blocks_and_rows() -> None:
    found = pieces(5 * 7 * 9, DIM)  # 315 = 19 rows of 16 + 11
    assert [(p.offset, p.rows, p.cols) for p in found] == [(0, 16, 16), (256, 3, 16), (304, 1, 11)]


def test_resadd_stream_costs_three_tile_loads_per_piece() -> None:
    """The load unit is the bottleneck: each piece moves three DIM x DIM int8 tiles in (bias,
    a, b) at the DRAM's bytes per cycle; its mvout (DIM accumulator rows read at the
    accumulator's bytes per cycle) overlaps on the store unit."""
    engine = GemminiEngine.of(MODULE)
    dram, accumulator = MODULE.levels[-1][0], MODULE.memory_for(0, "O")
    tile = math.ceil(DIM * DIM / dram.read_bw)
    store = DIM * math.ceil(4 * DIM / accumulator.read_bw)
    assert store < 3 * tile
    cycles = [engine.time(resadd_commands(n * DIM * DIM, 8, DIM)).cycles for n in (20, 21, 22)]
    assert cycles[1] - cycles[0] == cycles[2] - cycles[1] == 3 * tile
    busy = engine.time(resadd_commands(20 * DIM * DIM, 8, DIM)).busy
    assert busy == (20 * 3 * tile, 0, 20 * store)


def _tensor(name: str, scale: float, zero_point: int) -> Tensor:
    return Tensor(name, SHAPE, "int8", scale, zero_point)


def _add(name: str, output: Tensor, tensors: dict[str, Tensor], clamp: Clamp) -> Add:
    a, b = tensors["a"], tensors["b"]
    rescale = add_rescale(float(a.scale or 1), float(b.scale or 1), float(output.scale or 1),
                          False)
    return Add(name=name, inputs=("a", "b"), output=output.name, rescale=rescale, clamp=clamp)


def two_adds() -> Graph:
    """Two adds of the same inputs: one whose scales make Gemmini's float arithmetic exact
    (input and output scales equal, an integer zero-point offset), one whose output scale is
    not (a real factor of 0.98: TFLite rounds once in fixed point, Gemmini twice in float)."""
    tensors = {"a": _tensor("a", 0.05, 5), "b": _tensor("b", 0.05, -7)}
    tensors["exact"] = _tensor("exact", 0.05, -2)
    tensors["inexact"] = _tensor("inexact", 0.0509, -128)
    layers = (
        _add("add_exact", tensors["exact"], tensors, Clamp.int8()),
        _add("add_inexact", tensors["inexact"], tensors, Clamp.int8()),
    )
    return Graph("two_adds", tensors, layers, ("a", "b"), ("exact", "inexact"))


def _all_pairs() -> list[np.ndarray]:
    values = np.arange(-128, 128, dtype=np.int8)
    a, b = np.meshgrid(values, values, indexing="ij")
    return [a.reshape((1, *SHAPE[1:])), b.reshape((1, *SHAPE[1:]))]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Artifact]:
    out = tmp_path_factory.mktemp("resadd")
    return {
        numerics: nnmap.compile(two_adds(), "gemmini", out / numerics, numerics=numerics)
        for numerics in ("exact", "hardware")
    }


def test_exact_numerics_place_only_the_proven_add_on_gemmini(
    compiled: dict[str, Artifact],
) -> None:
    layers = {e["name"]: e for e in compiled["exact"].report["layers"]}
    assert layers["add_exact"]["module"] == "gemmini"
    assert layers["add_exact"]["placement"].startswith("cost model: gemmini cheapest")
    inexact = layers["add_inexact"]
    assert inexact["module"] == "host"
    assert inexact["placement"].startswith(
        "Add on the host: gemmini cannot run it: exact numerics: Gemmini's float"
    )
    graph = two_adds()
    checked = choose_scales(graph.layers[1], graph)
    assert checked is not None and f"{checked.differing:,} of 65,536" in inexact["placement"]
    inputs = _all_pairs()
    for actual, expected in zip(compiled["exact"].run_batch(inputs), run_batch(graph, inputs),
                                strict=True):
        np.testing.assert_array_equal(actual, expected)


def test_exhaustive_check_is_what_the_emulated_hardware_computes(
    compiled: dict[str, Artifact],
) -> None:
    """In hardware numerics both adds run on Gemmini: on every input pair the emulator differs
    from TFLite exactly where (and as often as) the exhaustive check says; modelled cycles are
    the emulated ones."""
    artifact = compiled["hardware"]
    assert {e["name"]: e["module"] for e in artifact.report["layers"]} == {
        "add_exact": "gemmini", "add_inexact": "gemmini"
    }
    graph = two_adds()
    inputs = _all_pairs()
    hardware = artifact.run_batch(inputs)
    reference = run_batch(graph, inputs)
    for layer, got, want in zip(graph.layers, hardware, reference, strict=True):
        checked = choose_scales(layer, graph)
        assert checked is not None
        np.testing.assert_array_equal(got.reshape(-1), resadd(*_flat(inputs), checked.scales))
        assert int(np.count_nonzero(got != want)) == checked.differing
    assert choose_scales(graph.layers[0], graph).differing == 0  # type: ignore[union-attr]
    emulated = artifact.measure_cycles([x[:1] for x in inputs])
    for entry in artifact.report["layers"]:
        assert entry["modelled_cycles"] == emulated[entry["name"]] > 0


def _flat(inputs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    return inputs[0].reshape(-1), inputs[1].reshape(-1)


def test_generated_resadd_kernel_uses_the_public_macros(
    compiled: dict[str, Artifact],
) -> None:
    source = next(Path(compiled["hardware"].path).glob("layer_00_add.c")).read_text()
    for call in ("gemmini_extended3_config_ld(0, 1.0f, 1, 2)", "gemmini_extended_mvin3(bias",
                 "gemmini_extended_mvin2(b + offset", "gemmini_extended_config_st(16, 0,",
                 "gemmini_fence();"):
        assert call in source


TWO_INPUTS_MAIN = """
#include <stdint.h>
#include "network.h"
static int8_t a[NNMAP_INPUT0_BYTES], b[NNMAP_INPUT1_BYTES];
static int8_t exact[NNMAP_OUTPUT0_BYTES], inexact[NNMAP_OUTPUT1_BYTES];
int main(void) { return nnmap_run(a, b, exact, inexact); }
"""


def test_resadd_kernel_builds_against_the_vendor_gemmini_h(
    compiled: dict[str, Artifact],
) -> None:
    """The device flavour of the resadd kernels compiles against gemmini-rocc-tests' own header
    with the RISC-V cross compiler, and links."""
    vendor = _vendor(GEMMINI_INCLUDE)
    artifact = compiled["hardware"]
    _make_device(artifact, {"GEMMINI_INCLUDE": str(vendor), "CC": ZIG_CC, "AR": ZIG_AR})
    _link(artifact, ZIG_CC, ["-O2", "-nostdlib"], TWO_INPUTS_MAIN + BARE_METAL)


def _instruction_level(a: np.ndarray, b: np.ndarray, scales: ResaddScales) -> np.ndarray:
    """``a`` + ``b`` (65,536 int8 each) through the instructions' numpy meanings, piece by piece
    as the generated kernel issues them."""
    size = a.size
    dram = np.zeros(3 * size + DIM, np.uint8)
    dram[:size], dram[size : 2 * size] = a.view(np.uint8), b.view(np.uint8)
    dram[3 * size :] = np.full(DIM, scales.bias, np.int8).view(np.uint8)
    state = gi.GemminiState.empty(dram, DIM, 4 * DIM, 4 * DIM)
    gi.config_ld(state, DIM, scales.a_scale, 1, 0)
    gi.config_ld(state, DIM, scales.b_scale, 1, 1)
    gi.config_ld(state, 0, 1.0, 1, 2)
    gi.config_st(state, DIM, scales.activation, scales.out_scale)
    for index, piece in enumerate(pieces(size, DIM)):
        row = ACC | (index % 4) * DIM
        gi.mvin3(state, 3 * size, row, piece.cols, piece.rows)
        gi.mvin(state, piece.offset, row | ACCUMULATE, piece.cols, piece.rows)
        gi.mvin2(state, size + piece.offset, row | ACCUMULATE, piece.cols, piece.rows)
        gi.mvout(state, 2 * size + piece.offset, row, piece.cols, piece.rows)
    return state.dram[2 * size : 3 * size].view(np.int8)


@settings(max_examples=6, deadline=None)
@given(
    scales=st.tuples(st.floats(0.01, 0.2), st.floats(0.01, 0.2), st.floats(0.01, 0.4)),
    zero_points=st.tuples(*(st.integers(-128, 127) for _ in range(3))),
    relu=st.booleans(),
)
def test_exactness_check_counts_what_the_instructions_compute(
    scales: tuple[float, float, float], zero_points: tuple[int, int, int], relu: bool
) -> None:
    """For random scales and zero points, the check's count of differing pairs is the count of
    pairs where the instruction sequence (numpy meanings, instruction by instruction) and
    TFLite's Add differ: the check proves what the hardware does."""
    tensors = {name: Tensor(name, SHAPE, "int8", scale, zero_point)
               for name, scale, zero_point in zip("abc", scales, zero_points, strict=True)}
    clamp = Clamp(0, 127) if relu else Clamp.int8()
    graph = Graph("add", tensors, (_add("add", tensors["c"], tensors, clamp),), ("a", "b"),
                  ("c",))
    checked = choose_scales(graph.layers[0], graph)
    assume(checked is not None)  # else the zero-point offset exceeds one int8 bias row
    assert checked is not None
    a, b = _flat(_all_pairs())
    hardware = _instruction_level(a, b, checked.scales)
    tflite = run_batch(graph, [a.reshape(SHAPE), b.reshape(SHAPE)])[0].reshape(-1)
    assert int(np.count_nonzero(hardware != tflite)) == checked.differing
