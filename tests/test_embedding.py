"""The embedding search: legal embeddings compute the layer, the solver's space holds today's
fixed scheme and window packing, depthwise layers get diagonal embeddings, counts are exact."""

from __future__ import annotations

import numpy as np
import pytest

from nnmap.embedding import (
    Embedding,
    Placement,
    execute,
    fixed_embedding,
    gemm_instruction,
    reference,
)
from nnmap.embedding.dataflow import loop_extents
from nnmap.embedding.rules import factor_candidates, legal_axis_sets
from nnmap.embedding.solver import _enumerate, _Model, search_embeddings
from nnmap.ir.workload import Workload, conv_workload, gemm_workload

ARRAY = gemm_instruction("array16", rows=16, reduction=16, columns=16)
SMALL = gemm_instruction("array4", rows=4, reduction=4, columns=4)
RNG = np.random.default_rng(5)


def _tensors(workload: Workload) -> tuple[np.ndarray, np.ndarray]:
    e = loop_extents(workload)
    height = workload.input_extent("Y", e["OY"], e["FY"]) - sum(workload.padding[:2])
    width = workload.input_extent("X", e["OX"], e["FX"]) - sum(workload.padding[2:])
    inputs = RNG.integers(-128, 128, (e["G"], e["B"], e["C"], height, width))
    weights = RNG.integers(-128, 128, (e["G"], e["K"], e["C"], e["FY"], e["FX"]))
    return inputs, weights


def test_only_the_operand_sets_decide_where_a_loop_may_sit() -> None:
    assert legal_axis_sets("C", ARRAY) == [("reduction",)]
    assert legal_axis_sets("OX", ARRAY) == [("rows",)]
    assert legal_axis_sets("K", ARRAY) == [("columns",)]
    assert sorted(legal_axis_sets("G", ARRAY)) == [
        ("reduction", "columns"), ("rows", "columns"), ("rows", "reduction"),
    ]
    assert factor_candidates(10, 16) == [1, 2, 3, 4, 5, 10]
    assert factor_candidates(40, 16) == [1, 2, 3, 4, 5, 6, 7, 8, 10, 14]


def test_fixed_scheme_and_window_packing_are_legal_solutions() -> None:
    conv = conv_workload("c3", batch=1, in_channels=3, out_channels=16, out_height=8,
                         out_width=8, kernel=(3, 3), padding=(1, 1, 1, 1))
    model = _Model(loop_extents(conv), ARRAY)
    solutions = {frozenset(e.placements) for e in _enumerate(model, 100_000)}
    assert len(solutions) == model.count_legal()
    fixed = frozenset({Placement("OX", ("rows",), 8), Placement("C", ("reduction",), 3),
                       Placement("K", ("columns",), 16)})
    packed = fixed | {Placement("FX", ("reduction",), 3)}
    assert fixed in solutions and packed in solutions
    baseline = fixed_embedding(conv, ARRAY)
    assert baseline is not None and frozenset(baseline.placements) in solutions
    assert baseline.axis_usage("reduction") == 9  # today's scheme packs the window's x
    best = search_embeddings(conv, ARRAY, host_cycles_per_element=4.0).best
    assert best is not None and best.embedding.axis_usage("reduction") == 9
    assert all(layout.reached for layout in best.layouts)


def test_depthwise_gets_a_diagonal_embedding_that_computes_it() -> None:
    depthwise = Workload("dw", "depthwise", {"B": 1, "K": 1, "C": 1, "OY": 4, "OX": 4,
                                             "FY": 3, "FX": 3}, groups=8, padding=(1, 1, 1, 1))
    search = search_embeddings(depthwise, ARRAY, host_cycles_per_element=4.0)
    assert search.best is not None
    assert any(p.loop == "G" and p.diagonal for p in search.best.embedding.placements)
    inputs, weights = _tensors(depthwise)
    expected = reference(depthwise, inputs, weights)
    for ranked in search.ranked:
        np.testing.assert_array_equal(execute(ranked.embedding, depthwise, inputs, weights),
                                      expected, err_msg=ranked.embedding.describe())


WORKLOADS = [
    conv_workload("strided", batch=1, in_channels=3, out_channels=5, out_height=3, out_width=3,
                  kernel=(3, 3), stride=(2, 2), padding=(1, 0, 1, 0)),
    Workload("dilated", "conv", {"B": 1, "K": 3, "C": 2, "OY": 3, "OX": 3, "FY": 2, "FX": 2},
             dilation=(2, 2)),
    Workload("grouped", "conv", {"B": 1, "K": 2, "C": 3, "OY": 2, "OX": 3, "FY": 1, "FX": 2},
             groups=3),
    Workload("depthwise", "depthwise", {"B": 1, "K": 1, "C": 1, "OY": 3, "OX": 2, "FY": 3,
                                        "FX": 3}, groups=6, padding=(1, 1, 1, 1)),
    gemm_workload("matrix_vector", 1, 9, 7),
    gemm_workload("batched", 5, 6, 3),
]


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda w: w.name)
def test_every_enumerated_embedding_computes_the_layer(workload: Workload) -> None:
    inputs, weights = _tensors(workload)
    expected = reference(workload, inputs, weights)
    embeddings = _enumerate(_Model(loop_extents(workload), SMALL), 30)
    assert embeddings
    for embedding in embeddings:
        np.testing.assert_array_equal(execute(embedding, workload, inputs, weights), expected,
                                      err_msg=embedding.describe())


def test_an_illegal_placement_computes_something_else() -> None:
    """The executor is a real check: the output channels on the reduction axis sum them up."""
    workload = gemm_workload("wrong", 2, 3, 2)
    inputs, weights = _tensors(workload)
    wrong = Embedding(SMALL, tuple(loop_extents(workload).items()),
                      (Placement("K", ("reduction",), 3),))
    assert ("reduction",) not in legal_axis_sets("K", SMALL)
    assert not np.array_equal(execute(wrong, workload, inputs, weights),
                              reference(workload, inputs, weights))


def test_layers_without_weights_come_back_with_a_reason() -> None:
    pool = Workload("pool", "pool", {"B": 1, "K": 1, "C": 1, "OY": 4, "OX": 4, "FY": 2, "FX": 2},
                    groups=8, has_weights=False)
    search = search_embeddings(pool, ARRAY, host_cycles_per_element=4.0)
    assert search.best is None and search.reason and "no weights" in search.reason
