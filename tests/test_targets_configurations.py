"""Hardware generators as parameters: non-default Gemmini and VTA configurations compile and run
MLPerf Tiny models bit-exact with TFLite Micro, modelled cycles equal to emulated ones, the
shipped parameter header carries the configuration, and the emulators refuse local addresses
outside the configured memories.

Each configuration runs two of the four models here (the others run on the default
configurations in their own files): ResNet-8 on both (residual adds, direct convolutions; where a
configuration once broke the model's timing), AD's matrix-vector layers on Gemmini, KWS on VTA."""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import compiled_models, mlperf_model

import nnmap
from nnmap.codegen.artifact import Artifact
from nnmap.targets import resolve_target
from nnmap.targets.gemmini.build import emulator as gemmini_emulator
from nnmap.targets.gemmini.tiling import GemminiGeometry
from nnmap.targets.vta.build import emulator as vta_emulator
from nnmap.targets.vta.instructions import VtaConfig
from nnmap.verify import random_inputs, tflite_micro_outputs

SAMPLES = 20
CONFIGURATIONS = {
    "gemmini:dim=8,scratchpad_kib=64": ("gemmini", "NNMAP_GEMMINI_DIM 8\n"),
    "vta:log_block=5": ("vta", "NNMAP_VTA_BLOCK_IN 32u\n"),
}
Compiled = Callable[[str], Artifact]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], Artifact]:
    per_target: dict[str, Compiled] = {}

    def get(target: str, model: str) -> Artifact:
        if target not in per_target:
            per_target[target] = compiled_models(tmp_path_factory, target)
        return per_target[target](model)

    return get


@pytest.mark.parametrize(("target", "name"), [
    ("gemmini:dim=8,scratchpad_kib=64", "pretrainedResnet_quant"),
    ("gemmini:dim=8,scratchpad_kib=64", "ad01_int8"),
    ("vta:log_block=5", "pretrainedResnet_quant"),
    ("vta:log_block=5", "kws_ref_model"),
])
def test_configuration_runs_mlperf_bit_exact_and_timed_exactly(
    target: str, name: str, compiled: Callable[[str, str], Artifact],
    record_line: Callable[[str], None],
) -> None:
    path = mlperf_model(name)
    module, define = CONFIGURATIONS[target]
    artifact = compiled(target, name)
    assert artifact.report["target"] == target
    assert define in (artifact.path / "emulator" / f"{module}_params.h").read_text()
    graph = nnmap.load_model(path)
    inputs = random_inputs(graph, SAMPLES, seed=11)
    expected = tflite_micro_outputs(path, inputs, len(graph.outputs))
    for actual, wanted in zip(artifact.run_batch(inputs), expected, strict=True):
        np.testing.assert_array_equal(actual, wanted)
    emulated = artifact.measure_cycles([x[:1] for x in inputs])
    assert emulated, f"no layer of {name} runs on {module}"
    for entry in artifact.report["layers"]:
        if entry["module"] == module:
            assert entry["modelled_cycles"] == entry["emulated_cycles"], entry["name"]
    ours = artifact.report["latency"]["accelerator_cycles"]
    theirs = sum(layer.accelerator_cycles or 0 for layer in nnmap.plan(graph, module).layers)
    record_line(f"{name} on {target}: {ours:,.0f} accelerator cycles ({module}: {theirs:,.0f})")
    assert ours != theirs


@pytest.mark.parametrize("name", ["vww_96_int8", "ad01_int8"])
def test_small_scratchpad_gemmini_compiles_the_largest_models(name: str, tmp_path: Path) -> None:
    path = mlperf_model(name)
    artifact = nnmap.compile(path, "gemmini:scratchpad_kib=16", tmp_path / "out")
    assert any(entry["module"] == "gemmini" for entry in artifact.report["layers"])
    graph = nnmap.load_model(path)
    inputs = random_inputs(graph, 2, seed=3)
    expected = tflite_micro_outputs(path, inputs, len(graph.outputs))
    for actual, wanted in zip(artifact.run_batch(inputs), expected, strict=True):
        np.testing.assert_array_equal(actual, wanted)


def test_gemmini_emulator_refuses_rows_past_the_configured_scratchpad(tmp_path: Path) -> None:
    module = resolve_target("gemmini:dim=8,scratchpad_kib=16").module("gemmini")
    rows = GemminiGeometry.of(module).spad_rows
    library = ctypes.CDLL(str(gemmini_emulator(module).build_library(tmp_path)))
    library.nnmap_gemmini_error.restype = ctypes.c_char_p
    library.nnmap_gemmini_mvin.argtypes = (ctypes.c_uint64, *(ctypes.c_uint32,) * 4)
    buffer = (ctypes.c_int8 * 64)()
    library.nnmap_gemmini_reset()
    library.nnmap_gemmini_mvin(ctypes.addressof(buffer), rows - 8, 8, 8, 0)
    assert library.nnmap_gemmini_error() is None
    library.nnmap_gemmini_mvin(ctypes.addressof(buffer), rows - 4, 8, 8, 0)
    assert b"out of range" in library.nnmap_gemmini_error()


def test_vta_emulator_is_built_for_the_configured_buffers(tmp_path: Path) -> None:
    module = resolve_target("vta:log_block=5,log_inp_buff_size=12").module("vta")
    config = VtaConfig.from_module(module)
    assert (config.block_in, config.inp_entries) == (32, 4096 // 32)
    header = vta_emulator(module).files()["vta_params.h"]
    assert f"#define NNMAP_VTA_INP_ENTRIES {config.inp_entries}u\n" in header
