"""The report's data: enrichment from the graph and target, defensive rendering of old reports."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

import nnmap
from nnmap.errors import NnmapError
from nnmap.report import deviation_entries, enriched, read_artifact_report, render
from nnmap.report.usage import arena_in_use
from nnmap.targets import get_target

LAYER = {
    "index": 1, "name": "dense_0", "kind": "FullyConnected", "macs": 640, "module": "gemmini",
    "placement": "cost model: gemmini cheapest (90 cycles)", "emulated_cycles": 120,
    "modelled_cycles": 90, "host_cycles": 50.0, "host_stages": {"requantization": 50.0},
    "peak_macs_per_cycle": 256.0, "total_cycles": 170.0,
    "output": {"tensor": "y", "region": "arena", "index": 0, "offset": 0, "bytes": 10},
}
REPORT = {"model": "m", "target": "gemmini", "numerics": "exact", "arena_bytes": 64,
          "layers": [LAYER], "latency": {"total_cycles": 170.0}}


@pytest.fixture(scope="module")
def kws() -> nnmap.Graph:
    return nnmap.load_model("zoo:kws")


def test_compulsory_bytes_of_a_dense_layer_count_inputs_weights_bias_and_output(
        kws: nnmap.Graph) -> None:
    dense = next(layer for layer in kws.layers if layer.kind == "FullyConnected")
    (inputs,) = (kws.tensor(name) for name in dense.inputs)
    out_features, in_features = dense.weight.shape
    report = {"layers": [{"name": dense.name}]}
    facts = enriched(report, kws)["layers"][0]["graph"]
    int32 = 4
    expected = inputs.nbytes + out_features * in_features + int32 * out_features + out_features
    assert facts["compulsory_bytes"] == expected
    assert facts["inputs"] == list(dense.inputs)


def test_roofs_and_footprints_come_from_the_target_and_the_mapper(kws: nnmap.Graph) -> None:
    target = get_target("gemmini")
    report = {"layers": [{"name": layer.name} for layer in kws.layers]}
    result = enriched(report, kws, target)
    roof = result["roofs"]["gemmini"]
    assert roof["peak_macs_per_cycle"] == target.accelerators[0].peak_macs_per_cycle
    assert set(roof["on_chip_bytes"]) == {"scratchpad", "accumulator"}
    assert "host" in result["roofs"]
    costs = [layer["cost"] for layer in result["layers"] if "cost" in layer]
    assert costs and all(c["compute_cycles"] <= c["total_cycles"] for c in costs)
    assert report == {"layers": [{"name": layer.name} for layer in kws.layers]}  # a copy


def test_deviation_histogram_counts_every_value() -> None:
    rng = np.random.default_rng(3)
    expected = rng.integers(-128, 128, size=(4, 12), dtype=np.int8)
    actual = np.clip(expected.astype(int) + rng.integers(-2, 3, size=(4, 12)), -128, 127)
    (entry,) = deviation_entries(["out"], [expected], [actual.astype(np.int8)])
    difference = np.abs(expected.astype(int) - actual)
    assert sum(entry["histogram"]) == entry["values"] == expected.size
    assert entry["max_abs"] == difference.max() == len(entry["histogram"]) - 1
    assert entry["histogram"][0] == int((difference == 0).sum())


def test_arena_in_use_follows_tensor_lifetimes() -> None:
    def layer(name: str, inputs: list[str], offset: int, size: int) -> dict[str, object]:
        return {"name": name, "graph": {"inputs": inputs},
                "output": {"tensor": name, "region": "arena", "offset": offset, "bytes": size}}

    # a -> b -> c, and a is read again by c: a lives over all three layers
    layers = [layer("a", ["x"], 0, 100), layer("b", ["a"], 100, 20), layer("c", ["a", "b"],
                                                                           120, 8)]
    assert arena_in_use(layers) == [100, 120, 128]


@pytest.mark.parametrize("dropped", sorted(LAYER))
def test_a_report_missing_any_layer_field_still_renders(dropped: str) -> None:
    report = copy.deepcopy(REPORT)
    del report["layers"][0][dropped]
    page = render(enriched(report))
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>")


def test_an_empty_report_renders_notes_instead_of_figures() -> None:
    page = render({})
    assert "Not shown: the report has no layers" in page
    assert "plotly" not in page.lower()


def test_a_missing_or_broken_report_json_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(NnmapError, match="no report.json"):
        read_artifact_report(tmp_path)
    (tmp_path / "report.json").write_text("{broken")
    with pytest.raises(NnmapError, match="not valid JSON"):
        read_artifact_report(tmp_path)
    (tmp_path / "report.json").write_text(json.dumps(REPORT))
    assert read_artifact_report(tmp_path) == REPORT
