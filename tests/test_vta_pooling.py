"""Max pooling on VTA (``nnmap.targets.vta.pooling``): layers compiled for VTA run bit-exact
against the reference with their cycles modelled exactly as emulated, the input tile read by
address offsets (strides, windows, columns the windows never reach); pools VTA cannot run stay
on the host with the reason."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import nnmap
from nnmap.ir import Clamp, Graph, Tensor
from nnmap.ir.layers import MaxPool
from nnmap.mapping.graph import map_graph
from nnmap.reference.run import run_batch
from nnmap.targets import get_target
from nnmap.verify import random_inputs


def pool_graph(size: int, channels: int, kernel: int, stride: int, clamp: Clamp,
               padding: int = 0) -> Graph:
    out = (size + 2 * padding - kernel) // stride + 1
    tensors = {
        "x": Tensor("x", (1, size, size, channels), "int8", 0.05, -3),
        "y": Tensor("y", (1, out, out, channels), "int8", 0.05, -3),
    }
    layer = MaxPool(name="pool", inputs=("x",), output="y", kernel=(kernel, kernel),
                    stride=(stride, stride), padding=(padding,) * 4, clamp=clamp)
    return Graph("pool", tensors, (layer,), ("x",), ("y",))


@pytest.mark.parametrize(
    ("size", "channels", "kernel", "stride", "clamp"),
    [(16, 32, 2, 2, Clamp(-128, 127)), (14, 16, 3, 2, Clamp(-5, 100)),
     (9, 48, 3, 1, Clamp(-128, 127))],
    ids=["2x2s2", "3x3s2-relu-unread-column", "3x3s1"],
)
def test_max_pool_on_vta_is_bit_exact_and_timed_as_emulated(
    size: int, channels: int, kernel: int, stride: int, clamp: Clamp, tmp_path: Path,
    record_line: Callable[[str], None],
) -> None:
    graph = pool_graph(size, channels, kernel, stride, clamp)
    (mapped,) = map_graph(graph, get_target("vta"))
    assert mapped.module == "vta" and "ALU MAX" in mapped.reason
    artifact = nnmap.compile(graph, target="vta", out_dir=tmp_path / "a")
    inputs = random_inputs(graph, 3, seed=11)
    for actual, expected in zip(artifact.run_batch(inputs), run_batch(graph, inputs), strict=True):
        np.testing.assert_array_equal(actual, expected)
    artifact.measure_cycles([x[:1] for x in inputs])
    (entry,) = artifact.report["layers"]
    record_line(f"vta max pool {size}x{size}x{channels} k{kernel}s{stride}: emulated "
                f"{entry['emulated_cycles']} modelled {entry['modelled_cycles']:.0f}")
    assert entry["modelled_cycles"] == entry["emulated_cycles"]


@pytest.mark.parametrize(
    ("graph", "reason"),
    [(pool_graph(8, 24, 2, 2, Clamp(-128, 127)), "C=24 are not a multiple of BLOCK_IN=16"),
     (pool_graph(8, 16, 3, 1, Clamp(-128, 127), padding=1), "padded max pool")],
    ids=["channels", "padding"],
)
def test_pools_vta_cannot_run_stay_on_the_host_with_the_reason(graph: Graph, reason: str) -> None:
    on_host: dict[str, str] = {}
    assert map_graph(graph, get_target("vta"), host_reasons=on_host) == []
    assert reason in on_host["pool"]
