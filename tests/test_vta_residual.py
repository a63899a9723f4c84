"""Residual Adds on VTA (``nnmap.targets.vta.residual``): the program found for a layer equals
TFLite's Add on every int8 input pair, its digit GEMMs and ALU steps run through the
instructions' numpy meanings give the same, a layer with no exact program stays on the host
with the reason, and an Add compiled for VTA runs bit-exact with its cycles modelled exactly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import nnmap
from nnmap.frontend.tflite_ops import add_rescale
from nnmap.ir import Clamp, Graph, Tensor
from nnmap.ir.layers import Add
from nnmap.mapping.graph import map_graph
from nnmap.reference.kernels import add as tflite_add
from nnmap.reference.run import run_batch
from nnmap.targets import get_target
from nnmap.targets.vta import instructions as vi
from nnmap.targets.vta.instructions import UopKernel, UopLoop, VtaConfig, VtaState
from nnmap.targets.vta.residual import DIGIT_SHIFT, AluAdd, alu_add, digits
from nnmap.targets.vta.residual_kernel import add_bias, add_weights
from nnmap.verify import random_inputs

CONFIG = VtaConfig.from_module(get_target("vta").module("vta"))
VALUES = np.arange(-128, 128)
PAIRS = tuple(v.ravel() for v in np.meshgrid(VALUES, VALUES, indexing="ij"))


def add_graph(scales: tuple[float, float, float], zero_points: tuple[int, int, int],
              clamp: Clamp, shape: tuple[int, ...] = (1, 8, 8, 32)) -> Graph:
    names = ("x", "y", "z")
    tensors = {n: Tensor(n, shape, "int8", s, z) for n, s, z in zip(names, scales, zero_points,
                                                                     strict=True)}
    layer = Add(name="add", inputs=("x", "y"), output="z",
                rescale=add_rescale(*scales, False), clamp=clamp)
    return Graph("add", tensors, (layer,), ("x", "y"), ("z",))


def _tflite(graph: Graph) -> np.ndarray:
    (layer,) = graph.layers
    assert isinstance(layer, Add)
    x, y, z = (graph.tensor(n) for n in ("x", "y", "z"))
    return tflite_add(layer, PAIRS[0][None], PAIRS[1][None], x, y, z)[0]


CASES = [
    ((0.0394, 0.1042, 0.0509), (-128, 4, -128), Clamp(-128, 127)),
    ((0.05, 0.05, 0.08), (3, -7, 10), Clamp(-128, 127)),
    ((0.02, 0.11, 0.07), (-128, -128, -128), Clamp(-128, 127)),
    ((0.3, 0.01, 0.2), (0, 5, -3), Clamp(-3, 127)),  # a fused ReLU
]


@pytest.mark.parametrize(("scales", "zero_points", "clamp"), CASES)
def test_the_program_found_is_tflites_add_on_every_pair(
    scales: tuple[float, float, float], zero_points: tuple[int, int, int], clamp: Clamp
) -> None:
    graph = add_graph(scales, zero_points, clamp)
    (layer,) = graph.layers
    assert isinstance(layer, Add)
    program = alu_add(layer, graph)
    assert isinstance(program, AluAdd), program
    np.testing.assert_array_equal(program.apply(*PAIRS), _tflite(graph))
    assert program.fits(*PAIRS)


def test_digits_recombine_to_the_multiplier() -> None:
    for value in np.random.default_rng(3).integers(-(1 << 23), 1 << 23, 200):
        parts = digits(int(value))
        assert all(-128 <= d <= 127 for d in parts)
        total = 0
        for d in parts:
            total = (total << DIGIT_SHIFT) + d
        assert total == value


def test_the_instructions_meanings_compute_the_program() -> None:
    """Both inputs loaded as input entries, the bias as accumulator entries, the three digit
    GEMMs against the identity weights with a SHR by -8 between them, then the ALU steps: the
    output buffer holds ``AluAdd.apply`` for every pair."""
    graph = add_graph(*CASES[0])
    (layer,) = graph.layers
    assert isinstance(layer, Add)
    program = alu_add(layer, graph)
    assert isinstance(program, AluAdd)
    entries = PAIRS[0].size // CONFIG.block_in
    tile = 512
    weights = add_weights(program, CONFIG)
    out = np.zeros(PAIRS[0].size, np.int8)
    for first in range(0, entries, tile):
        state = VtaState.empty(CONFIG)
        state.wgt[: len(weights)] = weights
        a = PAIRS[0].astype(np.int8).reshape(entries, 1, CONFIG.block_in)
        b = PAIRS[1].astype(np.int8).reshape(entries, 1, CONFIG.block_in)
        vi.load_2d(state, None, a, first, tile, 1, tile, 0, 0, 0, 0, 0, vi.MEM_INP)
        vi.load_2d(state, None, b, first, tile, 1, tile, 0, 0, 0, 0, tile, vi.MEM_INP)
        bias = add_bias(program, CONFIG).reshape(1, 1, -1)
        vi.load_2d(state, None, bias, 0, 1, tile, 0, 0, 0, 0, 0, 0, vi.MEM_ACC)
        loop = (UopLoop(tile, 1, 1, 0),)
        imm_loop = (UopLoop(tile, 1, 0, 0),)
        for digit in range(3):
            if digit:
                shift = UopKernel(vi.MODE_ALU, (vi.Uop(0, 0),), imm_loop, opcode=vi.ALU_SHR,
                                  use_imm=True, imm=-DIGIT_SHIFT)
                vi.push_alu(state, shift)
            uops = (vi.Uop(0, 0, 2 * digit), vi.Uop(0, tile, 2 * digit + 1))
            vi.push_gemm(state, UopKernel(vi.MODE_GEMM, uops, loop))
        for opcode, imm in ((vi.ALU_ADD, program.bias_parts[1]), (vi.ALU_SHR, program.shift),
                            (vi.ALU_ADD, program.zero_point), (vi.ALU_MIN, program.high),
                            (vi.ALU_MAX, program.low)):
            vi.push_alu(state, UopKernel(vi.MODE_ALU, (vi.Uop(0, 0),), imm_loop, opcode=opcode,
                                         use_imm=True, imm=imm))
        out[first * CONFIG.block_in : (first + tile) * CONFIG.block_in] = state.out[:tile].ravel()
    np.testing.assert_array_equal(out, program.apply(*PAIRS))


def test_an_add_without_an_exact_program_stays_on_the_host_with_the_reason() -> None:
    """An input 2^17 times the output's scale needs a multiplier past three digits at every
    shift: no program, the layer runs on the host and the plan says why."""
    graph = add_graph((1.0, 0.05, 2.0**-17), (0, 0, 0), Clamp(-128, 127))
    (layer,) = graph.layers
    assert isinstance(layer, Add)
    reason = alu_add(layer, graph)
    assert isinstance(reason, str) and "exhaustive check" in reason
    on_host: dict[str, str] = {}
    assert map_graph(graph, get_target("vta"), host_reasons=on_host) == []
    assert "vta cannot run it: no VTA multiply/shift program" in on_host["add"]
    plan = nnmap.plan(graph, "vta")
    assert not plan.layers[0].on_accelerator
    assert "exhaustive check" in plan.layers[0].reason


def test_an_add_on_vta_is_bit_exact_and_timed_as_emulated(
    tmp_path: Path, record_line: Callable[[str], None]
) -> None:
    graph = add_graph(*CASES[0], shape=(1, 16, 16, 32))
    (mapped,) = map_graph(graph, get_target("vta"))
    assert mapped.module == "vta" and "TFLite's Add exactly" in mapped.reason
    artifact = nnmap.compile(graph, target="vta", out_dir=tmp_path / "a")
    inputs = random_inputs(graph, 3, seed=7)
    for actual, expected in zip(artifact.run_batch(inputs), run_batch(graph, inputs), strict=True):
        np.testing.assert_array_equal(actual, expected)
    artifact.measure_cycles([x[:1] for x in inputs])
    (entry,) = artifact.report["layers"]
    record_line(f"vta add 16x16x32: emulated {entry['emulated_cycles']} "
                f"modelled {entry['modelled_cycles']:.0f}")
    assert entry["module"] == "vta"
    assert entry["modelled_cycles"] == entry["emulated_cycles"]
