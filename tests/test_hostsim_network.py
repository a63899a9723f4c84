"""A real nnmap host artifact (zoo:kws) cross-compiled for RV64, RV32 and ARMv7-A and run on
the emulator gives the x86 build's output bytes, bit for bit, with its cycles split per layer;
host kernels' workspaces have their own arena slots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import nnmap
from nnmap.hostsim import cross_compile_artifact, emulate
from nnmap.ir import Clamp, Conv2D, Graph, Requant, Tensor
from nnmap.reference.run import run_batch
from nnmap.targets.host_cores import BUILTIN_CORES, ROCKET


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


def pointwise_chain(rng: np.random.Generator) -> Graph:
    """Three 1x1 convolutions over a 3x3 image, 16 -> 256 -> 256 -> 8 channels: the two
    2304-byte activations fill the arena from offset 0, and the first two kernels accumulate a
    pixel's 256 channels in a TVM workspace (1 KiB: too large for TVM's stack arrays)."""
    depths = {"x": 16, "t": 256, "u": 256, "y": 8}
    tensors = {name: Tensor(name, (1, 3, 3, depth), "int8", 0.05, 1)
               for name, depth in depths.items()}
    layers = tuple(
        Conv2D(name=f"conv_{source}", inputs=(source,), output=output,
               weight=rng.integers(-127, 128, (depths[output], 1, 1, depths[source]),
                                   dtype=np.int8),
               bias=rng.integers(-2000, 2000, depths[output], dtype=np.int32),
               stride=(1, 1), dilation=(1, 1), padding=(0, 0, 0, 0), groups=1,
               requant=Requant.from_scales(0.05, np.full(depths[output], 0.004), 0.05),
               clamp=Clamp.int8())
        for source, output in (("x", "t"), ("t", "u"), ("u", "y"))
    )
    return Graph("pointwise_chain", tensors, layers, ("x",), ("y",))


def test_host_kernel_workspace_has_its_own_arena_slot(tmp_path: Path) -> None:
    """A host kernel's TVM workspace is planned like a tensor, apart from what its layer reads
    and writes (it used to start wherever the driver's workspace pointer was, here on top of the
    layer's own input or output), so the Rocket build computes the reference's bytes."""
    graph = pointwise_chain(np.random.default_rng(23))
    artifact = nnmap.compile(graph, "host", tmp_path / "chain")
    workspaces = [layer for layer in artifact.report["layers"]
                  if "TVMBackendAllocWorkspace" in (artifact.path / layer["file"]).read_text()]
    assert [layer["name"] for layer in workspaces] == ["conv_x", "conv_t"]
    for layer in workspaces:
        scratch, output = layer["scratch_offset"], layer["output"]
        assert scratch is not None, layer["name"]
        if output["region"] == "arena":
            apart = scratch >= output["offset"] + output["bytes"] or output["offset"] >= scratch
            assert apart, layer["name"]
    sample = np.random.default_rng(5).integers(-128, 128, size=(1, 3, 3, 16), dtype=np.int8)
    expected = run_batch(graph, [sample])[0]
    image = cross_compile_artifact(ROCKET, artifact.path, tmp_path / "rocket")
    run = emulate(image, ROCKET, "nnmap_run", [sample.tobytes()], [expected.nbytes])
    assert run.outputs[0] == expected.tobytes()
