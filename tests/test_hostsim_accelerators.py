"""One emulated run gives both: an accelerator artifact (zoo:kws on Gemmini, on VTA) with its
accelerator emulator C cross-compiled for the SoC's host core runs on the instruction-set
emulator bit-exact with the x86 build, the accelerator emulator counts the same cycles per layer
as on x86, and its functions are left out of the host cycles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import nnmap
from nnmap.hostsim import HostMachine, cross_compile_artifact
from nnmap.hw.host_core import HostCore
from nnmap.targets import resolve_target
from nnmap.targets.host_cores import CORTEX_A9, ROCKET

SOCS = {"gemmini": (ROCKET, "nnmap_gemmini"), "vta": (CORTEX_A9, "nnmap_vta")}


@pytest.mark.slow
@pytest.mark.parametrize("target", sorted(SOCS))
def test_accelerator_artifact_runs_on_its_host_core(target: str, tmp_path: Path) -> None:
    core: HostCore
    core, prefix = SOCS[target]
    artifact = nnmap.compile("zoo:kws", target, tmp_path / "artifact")
    sample = np.random.default_rng(5).integers(-128, 128, size=(1, 1, 49, 10), dtype=np.int8)
    expected = artifact.run([sample])[0]
    accelerator_cycles = list(artifact.measure_cycles([sample]).values())

    image = cross_compile_artifact(core, artifact.path, tmp_path / "image")
    backend = resolve_target(target).module(target).backend
    assert backend is not None
    excluded = backend.emulator_functions
    with HostMachine(image, core, excluded) as machine:
        machine.call(f"{prefix}_reset")
        run = machine.call("nnmap_run", [sample.tobytes()], [expected.nbytes])
        layers = machine.call(f"{prefix}_layer_count").return_word
        emulated = [machine.call(f"{prefix}_layer_cycles", [i]).return_u64 for i in range(layers)]

    assert run.return_value == 0
    assert run.outputs[0] == expected.tobytes()
    assert emulated == accelerator_cycles
    left_out = [f for f in run.cycles.functions if f.excluded]
    assert any(f.name.startswith(prefix) for f in left_out)
    assert all(f.name.startswith(excluded) for f in left_out)
    assert all(f.events["cache_accesses"] == 0 for f in left_out)
    host = run.cycles.host_functions
    assert run.cycles.total == pytest.approx(sum(f.cycles for f in host))
    assert any(f.name.startswith("nnmap_layer_") for f in host)
