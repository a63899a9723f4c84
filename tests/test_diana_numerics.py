"""DIANA's power-of-two requantization against TFLite's: the per-layer proof over a layer's whole
accumulator range, its counterexamples, and a proven layer compiled with the array's own shift
(bit-identical with the reference, no host requantization)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

import nnmap
from nnmap.ir import Clamp, Conv2D, Graph, Requant, Tensor
from nnmap.reference.run import run_batch
from nnmap.targets.diana.numerics import ShiftRequant, exact_shift, folded_bias, hardware_shift
from nnmap.verify import random_inputs


def _conv(output_zero_point: int, weight_scale: float, seed: int = 0) -> Graph:
    """A 3x3 "same" convolution, 8 -> 16 channels over 6 x 20, scales 0.5 (input), 1.0
    (output) and ``weight_scale``: the real scale is ``weight_scale / 2``."""
    rng = np.random.default_rng(seed)
    tensors = {
        "x": Tensor("x", (1, 6, 20, 8), "int8", 0.5, -3),
        "y": Tensor("y", (1, 6, 20, 16), "int8", 1.0, output_zero_point),
    }
    layer = Conv2D(
        name="conv", inputs=("x",), output="y",
        weight=rng.integers(-127, 128, (16, 3, 3, 8)).astype(np.int8),
        bias=rng.integers(-4000, 4000, 16).astype(np.int32),
        stride=(1, 1), dilation=(1, 1), padding=(1, 1, 1, 1), groups=1,
        requant=Requant.from_scales(0.5, np.full(16, weight_scale), 1.0),
        clamp=Clamp.int8(),
    )
    return Graph("conv", tensors, (layer,), ("x",), ("y",))


def _tflite_and_array(graph: Graph, requant: ShiftRequant, acc: np.ndarray, k: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    layer = graph.layers[0]
    assert isinstance(layer, Conv2D) and isinstance(layer.requant, Requant)
    from nnmap.ir.quant import multiply_by_quantized_multiplier

    fixed = layer.requant.channel(k)
    zero_point = graph.tensor("y").zero_point or 0
    tflite = np.clip(multiply_by_quantized_multiplier(acc, fixed.multiplier, fixed.shift)
                     + zero_point, -128, 127)
    raw = acc - int(folded_bias(layer, graph)[k])
    array = np.clip((raw + int(requant.bias[k])) >> requant.shift, -128, 127)
    return tflite, array


def test_a_power_of_two_scale_with_the_zero_point_at_the_clip_is_proven_exact() -> None:
    graph = _conv(output_zero_point=-128, weight_scale=2.0**-6)
    found = exact_shift(graph.layers[0], graph)
    assert isinstance(found, ShiftRequant) and found.shift == 7
    acc = np.arange(-100_000, 100_000)
    tflite, array = _tflite_and_array(graph, found, acc, 3)
    np.testing.assert_array_equal(tflite, array)


def test_a_power_of_two_scale_elsewhere_differs_on_negative_ties() -> None:
    graph = _conv(output_zero_point=0, weight_scale=2.0**-6)
    found = exact_shift(graph.layers[0], graph)
    assert isinstance(found, str) and "accumulator -64" in found  # -0.5 rounds away from zero
    requant = hardware_shift(graph.layers[0], graph)
    tflite, array = _tflite_and_array(graph, requant, np.array([-64]), 0)
    assert tflite[0] != array[0]


def test_a_scale_that_is_not_a_power_of_two_is_refused_with_a_true_counterexample() -> None:
    graph = _conv(output_zero_point=-128, weight_scale=0.011)
    found = exact_shift(graph.layers[0], graph)
    assert isinstance(found, str)
    accumulator = int(found.rsplit("accumulator ", 1)[1])
    channel = int(found.split("channel ")[1].split(",")[0])
    requant = hardware_shift(graph.layers[0], graph)
    tflite, array = _tflite_and_array(graph, requant, np.array([accumulator]), channel)
    assert tflite[0] != array[0]


def test_a_clamp_the_array_cannot_clip_is_refused() -> None:
    graph = _conv(output_zero_point=-128, weight_scale=2.0**-6)
    layer = replace(graph.layers[0], clamp=Clamp(-100, 127))
    found = exact_shift(layer, replace(graph, layers=(layer,)))
    assert isinstance(found, str) and "clamp" in found


def test_a_proven_layer_runs_with_the_arrays_shift_bit_exactly(tmp_path: Path) -> None:
    graph = _conv(output_zero_point=-128, weight_scale=2.0**-6, seed=2)
    plan = nnmap.plan(graph, "diana", "exact")
    (layer,) = plan.layers
    assert layer.module == "digital" and "exact on the array" in layer.reason
    assert set(layer.host_stages) == {"input staging", "output copy", "call overhead"}
    artifact = nnmap.compile(plan, out_dir=tmp_path / "out")
    assert "the array's shift by 7" in (tmp_path / "out" / "layer_00_conv2d.c").read_text()
    inputs = random_inputs(graph, 10, seed=1)
    np.testing.assert_array_equal(artifact.run_batch(inputs)[0], run_batch(graph, inputs)[0])


def test_hardware_numerics_move_the_array_shift_nearest_the_scale() -> None:
    graph = _conv(output_zero_point=5, weight_scale=0.011)
    found = hardware_shift(graph.layers[0], graph)
    assert found.shift == 8  # 0.0055 is nearest 2**-8 in log2
    assert not found.relu
