"""nnmap's reference on the zoo models against onnxruntime, and the fixed-point helpers."""

from __future__ import annotations

import math

import numpy as np
import pytest

import nnmap
from nnmap import reference, verify, zoo
from nnmap.ir.quant import multiply_by_quantized_multiplier, quantize_multiplier

QUANTIZED = [name for name in zoo.names() if name != "cnn_fp32"]

# onnxruntime requantizes through float (with or without its QDQ fusions: measured the same),
# TFLite and nnmap in fixed point, so each layer may round a tie or a near-tie the other way.
# Shallow models stay within 1 LSB at the output; in deeper ones a 1-LSB change propagates
# (10 dense layers of the autoencoder, ResNet-8's residual adds before a softmax). The bounds
# are the measured worst cases on these inputs; every run reports its figures, and
# test_reference_layers.py checks every layer alone is within 1 LSB of onnxruntime.
ONNXRUNTIME_BOUND_LSB = {"kws": 1, "vww": 1, "autoencoder": 2, "resnet8": 3}


@pytest.mark.parametrize("name", QUANTIZED)
def test_zoo_reference_close_to_onnxruntime(name: str, record_line) -> None:
    path = zoo.materialize(name)
    graph = nnmap.load_model(f"zoo:{name}")
    inputs = verify.random_inputs(graph, 50, 3)
    ours = reference.run_batch(graph, inputs)[0]
    theirs = verify.onnxruntime_outputs(path, inputs)[0].reshape(ours.shape)
    difference = verify.Difference.between(theirs, ours)
    record_line(
        f"zoo:{name} vs onnxruntime: max {difference.max_abs:g} LSB, "
        f"{100 * difference.share_differing:.1f}% of values differ (50 inputs)"
    )
    assert difference.max_abs <= ONNXRUNTIME_BOUND_LSB[name]
    assert difference.share_differing < 0.3


def test_fp32_cnn_matches_onnxruntime() -> None:
    path = zoo.materialize("cnn_fp32")
    graph = nnmap.load_model(path)
    assert not graph.is_quantized
    inputs = verify.random_inputs(graph, 8, 5)
    ours = reference.run_batch(graph, inputs)[0]
    theirs = verify.onnxruntime_outputs(path, inputs)[0].reshape(ours.shape)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


def test_zoo_graph_matches_architecture() -> None:
    graph = nnmap.load_model("zoo:resnet8")
    kinds = [layer.kind for layer in graph]
    assert kinds.count("Conv2D") == 9
    assert kinds.count("Add") == 3
    assert sum(graph.macs(layer) for layer in graph) == 12_501_632


@pytest.mark.parametrize("real", [1e-9, 0.000123, 0.25, 0.5, 0.7071, 0.99999999999, 1.5, 1e6])
def test_quantize_multiplier_reconstructs_the_real_factor(real: float) -> None:
    fixed = quantize_multiplier(real)
    assert 2**30 <= fixed.multiplier < 2**31
    assert math.isclose(fixed.multiplier * 2.0 ** (fixed.shift - 31), real, rel_tol=2**-30)


def test_quantize_multiplier_clamps_at_the_ends() -> None:
    assert quantize_multiplier(0.0) == quantize_multiplier(1e-12)
    assert quantize_multiplier(1e-12).multiplier == 0
    huge = quantize_multiplier(3e9)
    assert (huge.multiplier, huge.shift) == (2**31 - 1, 30)


def test_multiply_by_quantized_multiplier_follows_gemmlowp_rounding() -> None:
    # x * 0.5 is one doubling high multiply: its nudge of 1 - 2**30 rounds negative ties up.
    half = quantize_multiplier(0.5)
    values = np.array([3, -3, 5, -5, 1, -1, 0], dtype=np.int64)
    assert multiply_by_quantized_multiplier(values, half.multiplier, half.shift).tolist() == [
        2,
        -1,
        3,
        -2,
        1,
        0,
        0,
    ]
    # x * 0.25 adds a rounding shift by one, which rounds ties away from zero.
    quarter = quantize_multiplier(0.25)
    assert quarter.shift == -1
    values = np.array([6, -6, 2, -2], dtype=np.int64)
    assert multiply_by_quantized_multiplier(values, quarter.multiplier, quarter.shift).tolist() == [
        2,
        -2,
        1,
        -1,
    ]
