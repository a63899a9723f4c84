"""The host micro-kernel (``nnmap.codegen.host_microkernel``) is bit-exact with the reference in
both of its forms: the AVX2 one (a build for this CPU) and the portable C (the default build)."""

from __future__ import annotations

from pathlib import Path

import layer_graphs
import numpy as np
import pytest

import nnmap
from nnmap.codegen.driver import CFLAGS
from nnmap.ir import Requant
from nnmap.reference.run import run_batch
from nnmap.tuning.database import cpu_features, using_database
from nnmap.verify import random_inputs

RNG = np.random.default_rng(7)
NATIVE = f"{CFLAGS} -O3 -march=native"


def _requant(channels: int) -> Requant:
    return Requant.from_scales(0.05, RNG.uniform(0.002, 0.01, channels), 0.2)


# (size, input channels, output channels, kernel, stride): odd channel counts take the
# micro-kernel's single-row and scalar tails, 40 outputs one 16-wide block and a tail.
SHAPES = [(5, 7, 40, 3, 1), (6, 16, 32, 1, 2), (7, 3, 17, 3, 2)]


@pytest.mark.parametrize("shape", SHAPES)
def test_micro_kernel_convolution_is_bit_exact_in_every_build(shape: tuple[int, ...],
                                                              tmp_path: Path) -> None:
    graph = layer_graphs.conv_graph(RNG, _requant, shape)
    with using_database(None, enabled=False):
        artifact = nnmap.compile(graph, "host", tmp_path / "conv")
    assert "nnmap_mac_rows_i8(" in (artifact.path / "layer_00_conv2d.c").read_text()
    inputs = random_inputs(graph, 8, seed=3)
    expected = run_batch(graph, inputs)[0]
    np.testing.assert_array_equal(artifact.run_batch(inputs)[0], expected)
    if "avx2" in cpu_features():
        np.testing.assert_array_equal(artifact.run_batch(inputs, cflags=NATIVE)[0], expected)


@pytest.mark.parametrize("shape", [(1, 40, 24), (3, 1, 16)])
def test_micro_kernel_fully_connected_is_bit_exact(shape: tuple[int, int, int],
                                                   tmp_path: Path) -> None:
    """A fully connected layer through the micro-kernel, and one with a single output (the
    plain dot product), in both builds."""
    graph = layer_graphs.fc_graph(RNG, _requant, shape, input_zero_point=-7)
    with using_database(None, enabled=False):
        artifact = nnmap.compile(graph, "host", tmp_path / "fc")
    inputs = random_inputs(graph, 8, seed=4)
    expected = run_batch(graph, inputs)[0]
    np.testing.assert_array_equal(artifact.run_batch(inputs)[0], expected)
    if "avx2" in cpu_features():
        np.testing.assert_array_equal(artifact.run_batch(inputs, cflags=NATIVE)[0], expected)
