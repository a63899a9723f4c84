"""Every host kernel kind against nnmap's reference on a hand-built graph, the generated C against
a golden file, and the one-line errors (unsupported layer, oversized arena, failed build)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import tvm

import nnmap
from nnmap.codegen import emit_c
from nnmap.codegen import generate as generate_module
from nnmap.codegen.artifact import Artifact
from nnmap.codegen.generate import generate
from nnmap.codegen.kernels import lower_layer
from nnmap.errors import BuildError, MappingError, NnmapError, UnsupportedOperatorError
from nnmap.ir import (
    Add,
    AddRescale,
    AveragePool,
    Clamp,
    Concat,
    Conv2D,
    FixedPointMultiplier,
    FullyConnected,
    Graph,
    Layer,
    MaxPool,
    Pad,
    Requant,
    Reshape,
    Softmax,
    Tensor,
    quantize_multiplier,
)
from nnmap.reference.run import run_batch
from nnmap.reference.softmax import softmax_scaling

GOLDEN = Path(__file__).parent / "golden"
RNG = np.random.default_rng(2024)


def _t(name: str, shape: tuple[int, ...], scale: float, zp: int) -> Tensor:
    return Tensor(name, shape, "int8", scale, zp)


def _conv(name: str, src: Tensor, out: Tensor, kernel: tuple[int, int, int, int], **kw: object
          ) -> Conv2D:
    weight = RNG.integers(-127, 128, kernel).astype(np.int8)
    scales = RNG.uniform(0.002, 0.02, kernel[0])
    requant = Requant.from_scales(float(src.scale or 1), scales, float(out.scale or 1))
    params: dict[str, object] = {"stride": (1, 1), "dilation": (1, 1), "padding": (0, 0, 0, 0),
                                 "groups": 1, "clamp": Clamp.int8()}
    params.update(kw)
    return Conv2D(name=name, inputs=(src.name,), output=out.name, weight=weight,
                  bias=RNG.integers(-2000, 2000, kernel[0]).astype(np.int32),
                  requant=requant, **params)  # type: ignore[arg-type]


def _add_rescale(a: Tensor, b: Tensor, out: Tensor) -> AddRescale:
    twice = 2 * max(a.scale or 1, b.scale or 1)
    shift = 20
    return AddRescale(shift, quantize_multiplier((a.scale or 1) / twice),
                      quantize_multiplier((b.scale or 1) / twice),
                      quantize_multiplier(twice / ((1 << shift) * (out.scale or 1))))


def kitchen_sink() -> Graph:
    """A small graph with every kernel kind: grouped, dilated and depthwise convolutions with
    padding and strides, pools with padding, Pad, Concat with rescaling, Add, Reshape, FC and
    Softmax."""
    t = {"x": _t("x", (1, 9, 9, 4), 0.05, 3), "c1": _t("c1", (1, 5, 5, 8), 0.1, -5),
         "c2": _t("c2", (1, 5, 5, 16), 0.08, 2), "mp": _t("mp", (1, 3, 3, 16), 0.08, 2),
         "ap": _t("ap", (1, 3, 3, 16), 0.08, 2), "sum": _t("sum", (1, 3, 3, 16), 0.12, -1),
         "pd": _t("pd", (1, 4, 5, 16), 0.12, -1), "cat": _t("cat", (1, 4, 5, 32), 0.1, 0),
         "flat": _t("flat", (1, 640), 0.1, 0), "fc": _t("fc", (1, 10), 0.2, 7),
         "y": _t("y", (1, 10), 1 / 256, -128)}
    t["pd2"] = _t("pd2", (1, 4, 5, 16), 0.07, 4)
    layers: list[Layer] = [
        _conv("grouped", t["x"], t["c1"], (8, 3, 3, 2), stride=(2, 2), groups=2,
              padding=(1, 1, 1, 1), clamp=Clamp(0, 127)),
        _conv("depthwise", t["c1"], t["c2"], (16, 3, 3, 1), groups=8, dilation=(2, 2),
              padding=(2, 2, 2, 2)),
        MaxPool(name="max", inputs=("c2",), output="mp", kernel=(3, 3), stride=(2, 2),
                padding=(1, 1, 1, 1), clamp=Clamp.int8()),
        AveragePool(name="avg", inputs=("c2",), output="ap", kernel=(3, 3), stride=(2, 2),
                    padding=(1, 1, 1, 1), clamp=Clamp.int8()),
        Add(name="add", inputs=("mp", "ap"), output="sum",
            rescale=_add_rescale(t["mp"], t["ap"], t["sum"]), clamp=Clamp(-100, 127)),
        Pad(name="pad", inputs=("sum",), output="pd", pads=((0, 0), (1, 0), (1, 1), (0, 0))),
        _conv("pointwise", t["pd"], t["pd2"], (16, 1, 1, 16)),
        Concat(name="cat", inputs=("pd", "pd2"), output="cat", axis=3),
        Reshape(name="flatten", inputs=("cat",), output="flat"),
        FullyConnected(name="fc", inputs=("flat",), output="fc",
                       weight=RNG.integers(-127, 128, (10, 640)).astype(np.int8),
                       bias=RNG.integers(-500, 500, 10).astype(np.int32),
                       requant=Requant.from_scales(0.1, np.full(10, 0.004), 0.2),
                       clamp=Clamp.int8()),
        Softmax(name="softmax", inputs=("fc",), output="y", beta=1.0,
                scaling=softmax_scaling(1.0, 0.2)),
    ]
    return Graph("kitchen_sink", t, tuple(layers), ("x",), ("y",))


def tiny_conv() -> Graph:
    tensors = {"x": _t("x", (1, 4, 4, 2), 0.05, 1), "y": _t("y", (1, 4, 4, 4), 0.1, -3)}
    rng = np.random.default_rng(5)
    conv = Conv2D(name="conv", inputs=("x",), output="y",
                  weight=rng.integers(-127, 128, (4, 3, 3, 2)).astype(np.int8),
                  bias=np.arange(4, dtype=np.int32) * 100, stride=(1, 1), dilation=(1, 1),
                  padding=(1, 1, 1, 1), groups=1,
                  requant=Requant.from_scales(0.05, np.full(4, 0.01), 0.1), clamp=Clamp(0, 127))
    return Graph("tiny_conv", tensors, (conv,), ("x",), ("y",))


@pytest.fixture(scope="module")
def sink(tmp_path_factory: pytest.TempPathFactory) -> tuple[Graph, Artifact]:
    graph = kitchen_sink()
    return graph, nnmap.compile(graph, "host", tmp_path_factory.mktemp("sink") / "out")


def test_every_kernel_kind_bit_exact(sink: tuple[Graph, Artifact]) -> None:
    graph, artifact = sink
    inputs = [RNG.integers(-128, 128, (100, 9, 9, 4), dtype=np.int8)]
    np.testing.assert_array_equal(artifact.run_batch(inputs)[0], run_batch(graph, inputs)[0])


def test_reshape_is_in_place(sink: tuple[Graph, Artifact]) -> None:
    layers = {layer["name"]: layer for layer in sink[1].report["layers"]}
    assert layers["flatten"]["kernel"] is None
    assert layers["flatten"]["output"]["offset"] == layers["cat"]["output"]["offset"]


def test_wrong_input_shape_is_one_line(sink: tuple[Graph, Artifact]) -> None:
    with pytest.raises(NnmapError, match="expected shape") as info:
        sink[1].run([np.zeros((1, 3, 3, 4), np.int8)])
    assert "\n" not in str(info.value)


def test_generated_c_matches_golden(tmp_path: Path, update_golden: bool) -> None:
    artifact = nnmap.compile(tiny_conv(), "host", tmp_path / "tiny")
    for name, golden_name in (("layer_00_conv2d.c", "tiny_conv_kernel.c"),
                              ("network.c", "tiny_conv_network.c")):
        text = (artifact.path / name).read_text()
        golden = GOLDEN / golden_name
        if update_golden:
            golden.parent.mkdir(exist_ok=True)
            golden.write_text(text)
        assert text == golden.read_text(), f"{name} differs from {golden}: --update-golden"


def test_unsupported_layer_is_one_line(tmp_path: Path) -> None:
    graph = tiny_conv()
    add = Add(name="broadcast", inputs=("x", "y"), output="z", rescale=AddRescale(
        20, FixedPointMultiplier(1 << 30, 0), FixedPointMultiplier(1 << 30, 0),
        FixedPointMultiplier(1 << 30, 0)), clamp=Clamp.int8())
    tensors = {**graph.tensors, "z": _t("z", (1, 4, 4, 4), 0.1, 0)}
    bad = Graph("bad", tensors, (*graph.layers, add), ("x",), ("z",))
    with pytest.raises(UnsupportedOperatorError, match="broadcast") as info:
        nnmap.compile(bad, "host", tmp_path / "bad")
    assert "\n" not in str(info.value) and not (tmp_path / "bad").exists()


def test_oversized_arena_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="arena needs") as info:
        generate(nnmap.plan(kitchen_sink()), tmp_path / "big", max_arena_bytes=64)
    assert "\n" not in str(info.value)


def test_failed_build_names_first_error_and_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: object) -> str:
        return "int nnmap_run(void) { return undeclared_symbol; }\n"

    monkeypatch.setattr(generate_module.driver, "network_source", broken)
    out = tmp_path / "broken"
    with pytest.raises(BuildError, match="undeclared_symbol") as info:
        nnmap.compile(tiny_conv(), "host", out)
    assert str(out) in str(info.value) and "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_unbound_requantization_fallback_is_bit_exact(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When TVM rejects the Let-bound form, the kernel is regenerated without Let bindings."""
    from nnmap.codegen import layers

    original = layers.lower_layer

    def rejecting(layer: Layer, graph: Graph, bind: bool = True) -> object:
        if bind:
            raise tvm.error.InternalError("Detected bound for value conflicts with memorization")
        return original(layer, graph, bind=False)

    monkeypatch.setattr(layers, "lower_layer", rejecting)
    graph = tiny_conv()
    artifact = nnmap.compile(graph, "host", tmp_path / "unbound")
    inputs = [RNG.integers(-128, 128, (20, 4, 4, 2), dtype=np.int8)]
    np.testing.assert_array_equal(artifact.run_batch(inputs)[0], run_batch(graph, inputs)[0])


def test_kernel_c_is_cached_by_the_scheduled_module(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second compile of the same kernels reads TVM's C from the cache, TVM not called; a
    kernel whose module differs (another symbol, another schedule) is a different entry."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first = nnmap.compile(tiny_conv(), "host", tmp_path / "first")
    entries = sorted((tmp_path / "cache" / "nnmap" / "kernels").iterdir())
    assert entries and all(entry.suffix == ".c" for entry in entries)

    def no_tvm(*_: object, **__: object) -> None:
        raise AssertionError("TVM compiled a kernel that is in the cache")

    monkeypatch.setattr(emit_c.tvm, "compile", no_tvm)
    second = nnmap.compile(tiny_conv(), "host", tmp_path / "second")
    for name in ("layer_00_conv2d.c", "network.c"):
        assert (first.path / name).read_text() == (second.path / name).read_text()
    monkeypatch.undo()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    kernel = lower_layer(tiny_conv().layers[0], tiny_conv())
    for symbol, schedule in (("k", "reduce_inner"), ("k", "stages"), ("k2", "stages"),
                             ("k", "reduce_inner")):
        emit_c.plain_kernel_source(replace(kernel, schedule=schedule), symbol, "conv")
    assert len(list((tmp_path / "cache" / "nnmap" / "kernels").iterdir())) == len(entries) + 3
