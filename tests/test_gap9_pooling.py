"""Pooling on the GAP9 cluster: max and average pools (strides, padding, windows clipped at the
edges, a fused clamp, several row tiles) bit-exact against the reference, their cycles modelled
as emulated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import nnmap
from nnmap.ir import Clamp, Graph, Tensor
from nnmap.ir.layers import AveragePool, MaxPool
from nnmap.mapping.graph import map_graph
from nnmap.reference.run import run_batch
from nnmap.targets import get_target
from nnmap.verify import random_inputs


def pool_graph(kind: type[MaxPool] | type[AveragePool], size: int, channels: int, kernel: int,
               stride: int, padding: int, clamp: Clamp) -> Graph:
    out = (size + 2 * padding - kernel) // stride + 1
    tensors = {
        "x": Tensor("x", (1, size, size, channels), "int8", 0.05, -3),
        "y": Tensor("y", (1, out, out, channels), "int8", 0.05, -3),
    }
    layer = kind(name="pool", inputs=("x",), output="y", kernel=(kernel, kernel),
                 stride=(stride, stride), padding=(padding,) * 4, clamp=clamp)
    return Graph("pool", tensors, (layer,), ("x",), ("y",))


@pytest.mark.parametrize(
    ("kind", "size", "channels", "kernel", "stride", "padding", "clamp"),
    [(MaxPool, 16, 32, 2, 2, 0, Clamp(-128, 127)),
     (MaxPool, 13, 8, 3, 2, 1, Clamp(-5, 100)),
     (AveragePool, 12, 24, 3, 1, 1, Clamp(-128, 127))],
    ids=["max-2x2s2", "max-3x3s2-padded-relu", "average-3x3s1-padded"],
)
def test_pooling_on_the_cluster_is_bit_exact_and_timed_as_emulated(
    kind: type[MaxPool] | type[AveragePool], size: int, channels: int, kernel: int,
    stride: int, padding: int, clamp: Clamp, tmp_path: Path,
) -> None:
    graph = pool_graph(kind, size, channels, kernel, stride, padding, clamp)
    (mapped,) = map_graph(graph, get_target("gap9"))
    assert mapped.module == "cluster"
    artifact = nnmap.compile(graph, target="gap9", out_dir=tmp_path / "a")
    inputs = random_inputs(graph, 3, seed=5)
    for actual, expected in zip(artifact.run_batch(inputs), run_batch(graph, inputs), strict=True):
        np.testing.assert_array_equal(actual, expected)
    artifact.measure_cycles([x[:1] for x in inputs])
    (entry,) = artifact.report["layers"]
    assert entry["modelled_cycles"] == entry["emulated_cycles"]
