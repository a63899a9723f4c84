"""Requantization on Gemmini's mvout in exact numerics: the equality check (thresholds of two
non-decreasing functions) against brute force over every accumulator, the scales it claims
checked value by value, and a claimed layer bit-exact with TFLite Micro end to end."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pytest
from tflite_files import INT32, BufferSpec, ModelSpec, TensorSpec, write_model

import nnmap
from nnmap.ir.quant import Requant, quantize_multiplier
from nnmap.targets.gemmini.exact_requant import (
    ExactScaling,
    accumulator_ranges,
    exact_scaling,
    first_difference,
    gemmini_requantized,
    identical_on_ranges,
    tflite_requantized,
)
from nnmap.verify import random_inputs, tflite_micro_outputs

# (output zero point, clamp low, clamp high): int8, ReLU at the zero point, a narrower clamp
OUTPUT_RANGES = [(0, -128, 127), (-128, -128, 127), (7, 7, 127), (-20, -20, 60)]


def _nudged(real: float, steps: int) -> np.float32:
    scale = np.float32(real)
    direction = np.float32(np.inf if steps > 0 else -np.inf)
    for _ in range(abs(steps)):
        scale = np.nextafter(scale, direction)
    return scale


def _row_hardware(offset: int, scale: np.float32, low: int, high: int,
                  acc: np.ndarray) -> np.ndarray:
    return gemmini_requantized(acc + offset, scale, low >= 0, low, high)


def _row_tflite(multiplier: int, shift: int, zero_point: int, low: int, high: int,
                acc: np.ndarray) -> np.ndarray:
    return tflite_requantized(acc, multiplier, shift, zero_point, low, high)


@pytest.mark.parametrize(("zero_point", "low", "high"), OUTPUT_RANGES)
def test_equality_check_agrees_with_brute_force(zero_point: int, low: int, high: int) -> None:
    """Random multipliers (some shifting left), scales a few float32 steps off, zero-point
    offsets and accumulator ranges from 3 to 60,000 values: the threshold check says equal
    exactly where every accumulator of the range gives the same output, and the first
    difference it names is brute force's."""
    rng = np.random.default_rng(abs(zero_point) + high)
    rows = 40
    reals = np.concatenate([rng.uniform(5e-4, 0.2, rows - 4), rng.uniform(1.0, 3.0, 4)])
    fixed = [quantize_multiplier(float(real)) for real in reals]
    multiplier = np.array([[f.multiplier] for f in fixed], dtype=np.int64)
    shift = np.array([[f.shift] for f in fixed], dtype=np.int64)
    widths = rng.choice([2, 40, 900, 60_000], rows)
    start = rng.integers(-40_000, 20_000, rows)[:, None]
    stop = start + widths[:, None]
    scales = np.array([_nudged(real, int(rng.integers(-2, 3))) for real in reals],
                      dtype=np.float32)[:, None]
    offsets = (np.rint(zero_point / scales) + rng.integers(-1, 2, (rows, 1))).astype(np.int64)

    def hardware(acc: np.ndarray) -> np.ndarray:
        return gemmini_requantized(acc + offsets, scales, low >= 0, low, high)

    def expected(acc: np.ndarray) -> np.ndarray:
        return tflite_requantized(acc, multiplier, shift, zero_point, low, high)

    checked = identical_on_ranges(hardware, expected, start, stop, low, high)
    for row in range(rows):
        acc = np.arange(start[row, 0], stop[row, 0] + 1)
        mine = gemmini_requantized(acc + offsets[row, 0], scales[row, 0], low >= 0, low, high)
        theirs = tflite_requantized(acc, multiplier[row, 0], shift[row, 0], zero_point, low,
                                    high)
        differing = np.flatnonzero(mine != theirs)
        assert checked[row] == (differing.size == 0), row
        first = first_difference(
            partial(_row_hardware, offsets[row, 0], scales[row, 0], low, high),
            partial(_row_tflite, multiplier[row, 0], shift[row, 0], zero_point, low, high),
            int(start[row, 0]), int(stop[row, 0]), low, high)
        assert first == (int(acc[differing[0]]) if differing.size else None)
    assert checked.any() and not checked.all()


def test_claimed_scalings_hold_on_every_accumulator() -> None:
    """Small random layers (per-tensor and per-channel multipliers, output zero points 0 and
    not, a few outputs or many): every scaling ``exact_scaling`` claims gives TFLite's output on
    every accumulator of every channel's range; some layers are claimed, some refused with a
    reason."""
    rng = np.random.default_rng(8)
    claimed = refused = 0
    for trial in range(24):
        channels, depth = 8, int(rng.integers(2, 12))
        largest = 2 if trial % 3 == 0 else 40
        weights = rng.integers(-largest, largest + 1, (channels, depth))
        bias = rng.integers(-10 * largest, 10 * largest, channels)
        per_channel = trial % 2 == 1
        reals = rng.uniform(0.002, 0.05, channels if per_channel else 1)
        requant = Requant.from_scales(1.0, reals, 1.0)
        zero_point, low, high = OUTPUT_RANGES[trial % len(OUTPUT_RANGES)]
        found = exact_scaling(requant, weights, bias, zero_point, low, high, dim=4)
        if isinstance(found, str):
            refused += 1
            assert "accumulator" in found or "scales" in found
            continue
        claimed += 1
        assert isinstance(found, ExactScaling)
        starts, stops = accumulator_ranges(weights, bias)
        for k in range(channels):
            assert found.scales[k] == found.scales[k - k % 4]  # one scale per mvout block
            acc = np.arange(starts[k], stops[k] + 1)
            index = k if per_channel else 0
            expected = tflite_requantized(acc, int(requant.multiplier[index]),
                                          int(requant.shift[index]), zero_point, low, high)
            actual = gemmini_requantized(acc + found.offsets[k], found.scales[k], low >= 0,
                                         low, high)
            np.testing.assert_array_equal(actual, expected)
    assert claimed and refused


def _fc_model(path: Path) -> Path:
    """x (16) -> FC -> h (32, zero point 0: its requantization is provably Gemmini's) -> FC ->
    y (20, zero point -128: no float32 scale gives TFLite's)."""
    rng = np.random.default_rng(3)
    tensors = [TensorSpec("x", (1, 16), scales=(0.05,), zero_points=(3,))]
    buffers = [BufferSpec()]
    operators: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
    for name, (n_out, n_in), zero_point in (("h", (32, 16), 0), ("y", (20, 32), -128)):
        weight = rng.integers(-100, 100, (n_out, n_in)).astype(np.int8)
        buffers.append(BufferSpec(weight.tobytes()))
        tensors.append(TensorSpec(f"w_{name}", (n_out, n_in), buffer=len(buffers) - 1,
                                  scales=(0.01,), zero_points=(0,)))
        bias = rng.integers(-300, 300, n_out).astype(np.int32)
        buffers.append(BufferSpec(bias.tobytes()))
        tensors.append(TensorSpec(f"b_{name}", (n_out,), INT32, len(buffers) - 1,
                                  (0.0005,), (0,)))
        tensors.append(TensorSpec(name, (1, n_out), scales=(0.1,), zero_points=(zero_point,)))
        source = 0 if name == "h" else 3
        operators.append(((source, len(tensors) - 3, len(tensors) - 2), (len(tensors) - 1,)))
    spec = ModelSpec(tensors, buffers, operators, (0,), (len(tensors) - 1,))
    return write_model(spec, path)


def test_claimed_layer_bit_exact_with_tflite_micro(tmp_path: Path) -> None:
    """In exact numerics the layer whose mvout scaling is proven moves int8 out of Gemmini (no
    host requantization) and says so; the other keeps host requantization with the reason;
    both bit-exact with TFLite Micro, modelled cycles = emulated."""
    path = _fc_model(tmp_path / "fc.tflite")
    artifact = nnmap.compile(path, "gemmini", tmp_path / "out", place="gemmini")
    rows = {entry["name"]: entry for entry in artifact.report["layers"] if entry["kernel"]}
    first, second = rows.values()
    assert "requantized on Gemmini's mvout" in first["placement"]
    assert "requantized on the host" in second["placement"]
    assert "accumulator" in second["placement"]
    stages = [dict(entry["host_stages"]) for entry in (first, second)]
    assert "output copy and clamp" in stages[0] and "bias add and requantization" in stages[1]
    graph = nnmap.load_model(path)
    inputs = random_inputs(graph, 30, seed=4)
    expected = tflite_micro_outputs(path, inputs, 1)
    for actual, wanted in zip(artifact.run_batch(inputs), expected, strict=True):
        np.testing.assert_array_equal(actual, wanted)
    emulated = artifact.measure_cycles([x[:1] for x in inputs])
    for entry in (first, second):
        assert emulated[entry["name"]] == entry["modelled_cycles"]


@pytest.mark.parametrize("real", [0.0, 1e-9])
def test_vanishing_multipliers_are_checked_too(real: float) -> None:
    """A channel whose multiplier is zero or so small that its zero-point offset is beyond int32
    (dead channels of trained models) gets an answer, and a claim only where it holds."""
    weights = np.array([[3, -2, 5]])
    bias = np.array([40])
    requant = Requant.from_scales(1.0, np.array([real]), 1.0)
    for zero_point, low, high in OUTPUT_RANGES:
        found = exact_scaling(requant, weights, bias, zero_point, low, high, dim=1)
        if isinstance(found, str):
            continue
        start, stop = accumulator_ranges(weights, bias)
        acc = np.arange(start[0], stop[0] + 1)
        expected = tflite_requantized(acc, int(requant.multiplier[0]), int(requant.shift[0]),
                                      zero_point, low, high)
        actual = gemmini_requantized(acc + found.offsets[0], found.scales[0], low >= 0, low,
                                     high)
        np.testing.assert_array_equal(actual, expected)
