"""The static memory plan: lifetimes, first-fit offsets, aliasing, and TFLite Micro's arena."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import MLPERF_MODELS, mlperf_model

import nnmap
from nnmap.codegen.compare import tflite_micro_arena_head
from nnmap.errors import UnsupportedOperatorError
from nnmap.ir import Clamp, Graph, Layer, MaxPool, Reshape, Tensor
from nnmap.plan.memory import ARENA, INPUT, OUTPUT, Buffer, first_fit, plan_memory


def _pool(name: str, src: str, dst: str) -> MaxPool:
    return MaxPool(name=name, inputs=(src,), output=dst, kernel=(1, 1), stride=(1, 1),
                   padding=(0, 0, 0, 0), clamp=Clamp.int8())


def chain(sizes: list[int], reshape_at: int | None = None) -> Graph:
    """x -> t1 -> ... -> y of 1x1xC tensors, optionally with a Reshape after layer ``reshape_at``.
    """
    names = ["x", *[f"t{i}" for i in range(1, len(sizes) - 1)], "y"]
    tensors = {n: Tensor(n, (1, 1, 1, c), "int8", 0.1, 0) for n, c in zip(names, sizes,
                                                                           strict=True)}
    layers: list[Layer] = [_pool(f"l{i}", names[i], names[i + 1]) for i in range(len(sizes) - 1)]
    if reshape_at is not None:
        src = names[reshape_at]
        tensors["r"] = Tensor("r", (1, sizes[reshape_at]), "int8", 0.1, 0)
        layers.insert(reshape_at, Reshape(name="reshape", inputs=(src,), output="r"))
        consumer = layers[reshape_at + 1]
        layers[reshape_at + 1] = _pool(consumer.name, "r", consumer.output)
    return Graph("chain", tensors, tuple(layers), ("x",), ("y",))


def test_first_fit_reuses_memory_of_dead_buffers() -> None:
    buffers = [Buffer("a", 100, 0, 1), Buffer("b", 50, 1, 2), Buffer("c", 100, 2, 3)]
    offsets, arena = first_fit(buffers)
    assert offsets["a"] == offsets["c"] == 0
    assert offsets["b"] == 112  # after a, 16-byte aligned
    assert arena == 176


def test_first_fit_fills_gaps_first() -> None:
    buffers = [Buffer("big", 64, 0, 0), Buffer("mid", 32, 0, 2), Buffer("late", 48, 1, 2),
               Buffer("small", 16, 2, 2)]
    offsets, _ = first_fit(buffers)
    assert offsets == {"big": 0, "mid": 64, "late": 0, "small": 48}


def test_chain_ping_pongs_and_keeps_model_io_outside_the_arena() -> None:
    plan = plan_memory(chain([32, 64, 48, 64, 16]))
    assert plan.placement("x").region == INPUT
    assert plan.placement("y").region == OUTPUT
    assert {plan.placement(n).region for n in ("t1", "t2", "t3")} == {ARENA}
    assert plan.placement("t1").offset == plan.placement("t3").offset == 0
    assert plan.arena_bytes == 64 + 48


def test_reshape_aliases_its_input() -> None:
    plan = plan_memory(chain([32, 64, 48, 16], reshape_at=2))
    assert plan.placement("r") == plan.placement("t2")


def test_scratch_lives_only_during_its_layer() -> None:
    plan = plan_memory(chain([32, 64, 48, 64, 16]), {"l0": 200, "l3": 8})
    scratch, t1 = plan.scratch_offsets["l0"], plan.placement("t1").offset
    assert scratch + 200 <= t1 or t1 + 64 <= scratch  # both live while layer 0 runs
    assert plan.arena_bytes == 208 + 64  # the 8-byte scratch of l3 fits in a dead slot


def test_output_that_is_an_input_is_rejected() -> None:
    tensors = {"x": Tensor("x", (1, 4), "int8", 0.1, 0), "y": Tensor("y", (4,), "int8", 0.1, 0)}
    graph = Graph("alias", tensors, (Reshape(name="r", inputs=("x",), output="y"),), ("x",),
                  ("y",))
    with pytest.raises(UnsupportedOperatorError, match="model output y"):
        plan_memory(graph)


@pytest.mark.parametrize("name", MLPERF_MODELS)
def test_plan_is_no_larger_than_tflite_micro(name: str) -> None:
    path = mlperf_model(name)
    ours = plan_memory(nnmap.load_model(path)).arena_bytes
    theirs = tflite_micro_arena_head(path)
    print(f"{name}: nnmap plan {ours} B, TFLite Micro arena head {theirs} B")  # noqa: T201
    assert ours <= theirs
    assert np.iinfo(np.int32).max > ours > 0
