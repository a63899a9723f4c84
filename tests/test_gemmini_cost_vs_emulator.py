"""The Gemmini cost model against the emulator: small layers (edge tiles, strides, padding,
several output tiles and reduction columns) compiled with nnmap's mapping and with Gemmini's
default tiling, each layer's modelled cycles within 10% of its emulated cycles; each kind of
stream (input or weight panel resident, or both streamed, M padded to the m tile or not, one or
two accumulator halves) bit-exact with modelled cycles equal to emulated; the stream model's
extrapolation against timing every command, its closed-form busy cycles against the timing
engine's counters, and its search bound never above the timed stream, on the default and a
non-default configuration."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import layer_graphs
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import nnmap
from nnmap.codegen.artifact import Artifact
from nnmap.hw import ExecModule
from nnmap.ir import Graph, Requant
from nnmap.mapping.cost import cost
from nnmap.mapping.graph import LayerMapping, map_graph, with_baseline
from nnmap.mapping.search import search_result
from nnmap.reference.run import run_batch
from nnmap.targets import get_target
from nnmap.targets.gemmini.baseline import gemmini_default
from nnmap.targets.gemmini.cost import candidate_mappings
from nnmap.targets.gemmini.stream import (
    StreamShape,
    extrapolated,
    simulate,
    stream_bound,
    stream_busy,
)
from nnmap.targets.gemmini.stream_commands import stream_commands
from nnmap.targets.gemmini.tiling import GemminiGeometry, GemmTiles, gemm_shape, gemm_tiles
from nnmap.targets.gemmini.timing_engine import GemminiEngine

GEMMINI = get_target("gemmini").module("gemmini")
SMALL = get_target("gemmini:dim=8,scratchpad_kib=64,accumulator_kib=16").module("gemmini")

RNG = np.random.default_rng(23)
BOUND = 0.10  # the goal: modelled within 10% of emulated


def _requant(channels: int) -> Requant:
    return Requant.from_scales(0.05, RNG.uniform(0.002, 0.01, channels), 0.3)


def fc_graph(rows: int, out: int, depth: int) -> Graph:
    return layer_graphs.fc_graph(RNG, _requant, (rows, out, depth), input_zero_point=3)


def conv_graph(size: int, channels: int, out: int, kernel: int, stride: int) -> Graph:
    return layer_graphs.conv_graph(RNG, _requant, (size, channels, out, kernel, stride))


def _baseline(graph: Graph) -> list[LayerMapping]:
    target = get_target("gemmini")
    return with_baseline(
        map_graph(graph, target, place="gemmini"), target, "gemmini", gemmini_default
    )


@pytest.mark.parametrize(
    "build",
    [
        lambda: fc_graph(3, 20, 37),
        lambda: fc_graph(96, 200, 150),
        lambda: conv_graph(9, 20, 24, 3, 2),
        lambda: conv_graph(12, 48, 40, 3, 1),
    ],
    ids=["fc-edges", "fc-tiles", "conv-stride2", "conv-3x3"],
)
@pytest.mark.parametrize("which", ["nnmap", "default"])
def test_modelled_within_bound_of_emulated(
    build: Callable[[], Graph], which: str, tmp_path: Path, record_line: Callable[[str], None]
) -> None:
    graph = build()
    mappings = _baseline(graph) if which == "default" else None
    artifact = nnmap.compile(
        graph, target="gemmini", out_dir=tmp_path / "a", layer_mappings=mappings, place="gemmini"
    )
    shape = graph.tensor(graph.inputs[0]).shape
    artifact.measure_cycles([RNG.integers(-128, 128, shape).astype(np.int8)])
    for entry in artifact.report["layers"]:
        emulated, modelled = entry["emulated_cycles"], entry["modelled_cycles"]
        deviation = abs(modelled - emulated) / emulated
        record_line(
            f"gemmini {which} {graph.name} {entry['name']}: emulated {emulated} "
            f"modelled {modelled:.0f} |dev| {deviation:.1%}"
        )
        assert deviation <= BOUND


def _forced(graph: Graph, tiles: GemmTiles) -> list[LayerMapping]:
    """The candidate mapping of the (one) layer of ``graph`` whose stream has ``tiles``."""
    geometry = GemminiGeometry.of(GEMMINI)
    result = []
    for mapped in map_graph(graph, get_target("gemmini"), place="gemmini"):
        shape = gemm_shape(mapped.workload, geometry.dim)
        mapping = next(
            m
            for m in candidate_mappings(mapped.workload, GEMMINI)
            if gemm_tiles(shape, m, geometry) == tiles
        )
        cycles = cost(mapped.workload, mapping, GEMMINI)
        layer, module, workload = mapped.layer, mapped.module, mapped.workload
        result.append(LayerMapping(layer, module, workload, mapping, cycles, 0))
    return result


def assert_timed_exactly(artifact: Artifact, sample: np.ndarray) -> None:
    """The one layer of ``artifact``, emulated on ``sample``, took the modelled cycles."""
    artifact.measure_cycles([sample])
    (entry,) = artifact.report["layers"]
    assert entry["modelled_cycles"] == entry["emulated_cycles"]


@pytest.mark.parametrize(
    "tiles",
    [
        GemmTiles(48, 16, "m", True, resident_panel=True),  # 11 m blocks padded to 12
        GemmTiles(32, 16, "m", False, resident_panel=True),
        GemmTiles(176, 16, "m", True, resident_panel=False, last_rows=10),  # 170 rows
        GemmTiles(48, 48, "m", False, resident_panel=False),
        GemmTiles(48, 16, "n", True, resident_panel=True),  # weight panel, M padded
        GemmTiles(16, 16, "n", False, resident_panel=True),
    ],
    ids=[
        "resident-padded",
        "resident",
        "streamed",
        "streamed-padded",
        "weights-resident-padded",
        "weights-resident",
    ],
)
def test_stream_kinds_bit_exact_and_modelled_exactly(tiles: GemmTiles, tmp_path: Path) -> None:
    graph = fc_graph(170, 40, 150)
    artifact = nnmap.compile(
        graph, target="gemmini", out_dir=tmp_path / "a", layer_mappings=_forced(graph, tiles)
    )
    inputs = [RNG.integers(-128, 128, (2, 170, 150)).astype(np.int8)]
    for actual, expected in zip(artifact.run_batch(inputs), run_batch(graph, inputs), strict=True):
        np.testing.assert_array_equal(actual, expected)
    assert_timed_exactly(artifact, inputs[0][:1])


@pytest.mark.parametrize(
    "tiles",
    [
        GemmTiles(48, 16, "m", True, resident_panel=True),
        GemmTiles(48, 48, "m", False, resident_panel=False),
        GemmTiles(16, 16, "n", True, resident_panel=True),
    ],
    ids=["resident", "streamed-single", "weights-resident"],
)
def test_hardware_stream_kinds_agree_and_are_modelled_exactly(
    tiles: GemmTiles, tmp_path: Path
) -> None:
    """Hardware numerics through each kind of stream: the int8 outputs do not depend on the
    tiling (the same int32 sums, scaled by the same mvouts), and the model times the stream
    with its bias loads and scaled stores exactly."""
    graph = fc_graph(170, 40, 150)
    forced = nnmap.compile(
        graph,
        target="gemmini",
        out_dir=tmp_path / "forced",
        layer_mappings=_forced(graph, tiles),
        numerics="hardware",
    )
    chosen = nnmap.compile(
        graph, target="gemmini", out_dir=tmp_path / "b", numerics="hardware", place="gemmini"
    )
    inputs = [RNG.integers(-128, 128, (2, 170, 150)).astype(np.int8)]
    (actual,), (expected,) = forced.run_batch(inputs), chosen.run_batch(inputs)
    np.testing.assert_array_equal(actual, expected)
    assert_timed_exactly(forced, inputs[0][:1])


@pytest.mark.parametrize(
    "shape",
    [
        StreamShape(1, 1, 1, 1, 1, False),
        StreamShape(2, 3, 9, 1, 5, True),
        StreamShape(4, 8, 7, 1, 6, False),
        StreamShape(1, 16, 12, 1, 4, False),
        StreamShape(1, 1, 2, 1, 36, True),  # tiles fall into step with the stores every 3
        StreamShape(2, 4, 9, 3, 5, True, resident="input"),
        StreamShape(3, 1, 6, 4, 4, True, resident="input"),
        StreamShape(2, 2, 1, 3, 5, False, resident="input"),
        StreamShape(1, 2, 7, 3, 6, True, resident="weight"),
        StreamShape(3, 1, 13, 2, 4, False, resident="weight"),
        StreamShape(2, 3, 5, 1, 8, True, scaled=True),
        StreamShape(4, 1, 9, 3, 7, False, resident="input", scaled=True),
        StreamShape(3, 2, 14, 1, 9, True, last_rows=3),
        StreamShape(1, 4, 5, 3, 4, True, resident="weight", last_rows=9),
        StreamShape(4, 4, 40, 3, 7, True, resident="input"),
        StreamShape(2, 4, 33, 1, 13, False, last_rows=7),
    ],
)
def test_extrapolated_stream_equals_the_full_simulation(shape: StreamShape) -> None:
    engine = GemminiEngine.of(GEMMINI)
    assert extrapolated(engine, shape) == simulate(engine, shape)


@pytest.mark.parametrize(
    "shape",
    [
        StreamShape(3, 2, 5, 1, 4, True, last_rows=6),
        StreamShape(2, 4, 9, 3, 5, True, resident="input", scaled=True),
        StreamShape(4, 1, 6, 2, 3, False, resident="weight"),
    ],
)
@pytest.mark.parametrize("module", [GEMMINI, SMALL], ids=["default", "dim8"])
def test_closed_form_busy_cycles_are_the_engines(shape: StreamShape, module: ExecModule) -> None:
    """Counting the stream's commands times each kind's cycles gives the busy cycles the timing
    engine counts over the whole stream."""
    engine = GemminiEngine.of(module)
    timed = engine.time(stream_commands(shape, engine.dim, engine.acc_bytes))
    assert stream_busy(engine, shape) == timed.busy
    assert len(stream_commands(shape, engine.dim, engine.acc_bytes)) == shape.commands()


@settings(max_examples=60, deadline=None)
@given(
    a=st.integers(1, 12),
    b=st.integers(1, 12),
    columns=st.integers(1, 6),
    outer=st.integers(1, 3),
    inner=st.integers(1, 4),
    double_acc=st.booleans(),
    resident=st.sampled_from(["", "input", "weight"]),
    scaled=st.booleans(),
    last_rows=st.sampled_from([None, 1, 5, 7]),
    module=st.sampled_from([GEMMINI, SMALL]),
)
def test_the_search_bound_never_exceeds_the_stream(
    a: int,
    b: int,
    columns: int,
    outer: int,
    inner: int,
    double_acc: bool,
    resident: str,
    scaled: bool,
    last_rows: int | None,
    module: ExecModule,
) -> None:
    engine = GemminiEngine.of(module)
    acc_blocks = module.memory_for(0, "O").size // (engine.dim * engine.dim * engine.acc_bytes)
    assume(a * b * (2 if double_acc else 1) <= acc_blocks)  # the tile rule's accumulator limit
    outer = outer if resident else 1
    shape = StreamShape(a, b, columns, outer, inner, double_acc, resident, scaled, last_rows)
    assert stream_bound(engine, shape) <= simulate(engine, shape)


@pytest.mark.parametrize(
    "build", [lambda: fc_graph(300, 1, 512), lambda: fc_graph(96, 200, 150)], ids=["mv", "fc"]
)
def test_the_pruned_search_finds_the_best_candidate(build: Callable[[], Graph]) -> None:
    (mapped,) = map_graph(build(), get_target("gemmini"), place="gemmini")
    workload = mapped.workload
    candidates = candidate_mappings(workload, GEMMINI)
    best = min(cost(workload, mapping, GEMMINI).total_cycles for mapping in candidates)
    assert search_result(workload, GEMMINI).cost.total_cycles == best
