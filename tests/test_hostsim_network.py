"""A real nnmap host artifact (zoo:kws) cross-compiled for RV64, RV32 and ARMv7-A and run on
the emulator gives the x86 build's output bytes, bit for bit, with its cycles split per layer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import nnmap
from nnmap.hostsim import cross_compile_artifact, emulate
from nnmap.targets.host_cores import BUILTIN_CORES


@pytest.fixture(scope="module")
def kws(tmp_path_factory: pytest.TempPathFactory):
    out_dir = tmp_path_factory.mktemp("kws")
    artifact = nnmap.compile("zoo:kws", "host", out_dir)
    sample = np.random.default_rng(23).integers(-128, 128, size=(1, 1, 49, 10), dtype=np.int8)
    expected = artifact.run([sample])[0]
    return out_dir, sample, expected


@pytest.mark.parametrize("core_name", sorted(BUILTIN_CORES))
def test_kws_on_the_emulated_core_is_bit_exact(core_name: str, kws, tmp_path: Path) -> None:
    out_dir, sample, expected = kws
    core = BUILTIN_CORES[core_name]
    image = cross_compile_artifact(core, out_dir, tmp_path)
    run = emulate(image, core, "nnmap_run", [sample.tobytes()], [expected.nbytes])
    assert run.return_value == 0
    assert run.outputs[0] == expected.tobytes()
    layers = [f for f in run.cycles.functions if f.name.startswith("nnmap_layer_")]
    kernels = sorted(path.stem for path in out_dir.glob("layer_*.c"))
    assert [f"nnmap_{name}" for name in kernels] == sorted(f.name for f in layers)
    assert all(layer.cycles >= layer.instructions > 0 for layer in layers)
    assert run.cycles.total == pytest.approx(sum(f.cycles for f in run.cycles.functions))
    assert not any(f.excluded for f in run.cycles.functions)

    skipped = emulate(
        image, core, "nnmap_run", [sample.tobytes()], [expected.nbytes], ("nnmap_layer_03",)
    )
    layer_3 = skipped.cycles.of("nnmap_layer_03_conv2d")
    assert layer_3.excluded
    assert layer_3.classes == run.cycles.of("nnmap_layer_03_conv2d").classes
    assert layer_3.events["cache_accesses"] == 0  # excluded code bypasses the host's cache
    assert skipped.cycles.instructions == run.cycles.instructions - layer_3.instructions
    others = [f.cycles for f in skipped.cycles.functions if f.name != layer_3.name]
    assert skipped.cycles.total == pytest.approx(sum(others))
