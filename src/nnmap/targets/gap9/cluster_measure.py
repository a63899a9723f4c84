"""The cluster cores' cycles measured: the cluster kernel's C (``cluster_kernel.c.in``) of small
calibration layers, cross-compiled for RV32IMC with the emulator (``zig cc``) and run on the
instruction-set emulation of ``nnmap.hostsim`` with the CV32E40P costs (GAP9's cluster cores are
RI5CY-class cores, as the fabric controller). The per-core functions' cycles over a layer's
outputs give the cycles per output (loop, requantization, store) and per scalar
multiply-accumulate. Scalar: RV32IMC has no Xpulp SIMD, hardware loops or post-increment loads,
so the conv kernel's sdotusp4 rate stays modelled (target.py); the depthwise taps, which the
4-way dot product does not serve, and the output stage run as measured here."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnmap.hostsim import HostMachine, cross_compile
from nnmap.hw import ExecModule
from nnmap.hw.host_core import HostCore
from nnmap.targets.gap9.build import emulator_files
from nnmap.targets.gap9.cluster_code import TEMPLATE, render
from nnmap.targets.gap9.cluster_tiles import BufferSizes, ClusterLayer, ClusterTiling

# Runs one fork of the kernel's per-core function over the whole (single) tile, its operands
# where the arguments are: the cycles of the 8 cores' work, one after the other.
HARNESS = """
int32_t nnmap_gap9_measure(const int8_t *input, const int8_t *weights, const int32_t *params,
                           int8_t *output) {
    work_t work;
    work.tile = gap9_tile_of(0);
    work.input = input;
    work.weights = weights;
    work.params = params;
    work.output = output;
    pi_cl_team_fork(pi_cl_cluster_nb_cores(), gap9_compute_tile, &work);
    return 0;
}
"""
SIDE = 8  # calibration layers: 8 x 8 outputs, 8 channels, one tile


@dataclass(frozen=True)
class CoreCosts:
    """Measured cycles of one core: per output, per scalar MAC (dense taps and depthwise)."""

    per_output: float
    per_mac: float
    per_depthwise_mac: float


def _layer(channels: int, kernel: int, depthwise: bool) -> ClusterLayer:
    out_channels = channels if depthwise else 8
    padding = kernel // 2
    return ClusterLayer(depthwise, SIDE, SIDE, channels, SIDE, SIDE, out_channels,
                        (kernel, kernel), (1, 1), (padding, padding))


def _values(layer: ClusterLayer) -> dict[str, int]:
    tiling = ClusterTiling(layer.out_height, layer.out_channels, True)
    buffers = BufferSizes.of(layer, tiling)
    return {
        "IN_H": layer.height, "IN_W": layer.width, "IN_C": layer.channels,
        "OUT_H": layer.out_height, "OUT_W": layer.out_width, "OUT_C": layer.out_channels,
        "K_H": layer.kernel[0], "K_W": layer.kernel[1], "STRIDE_Y": 1, "STRIDE_X": 1,
        "PAD_TOP": layer.padding[0], "PAD_LEFT": layer.padding[1],
        "DEPTHWISE": int(layer.depthwise), "ZP_IN": -3, "ZP_OUT": 5,
        "CLAMP_LOW": -128, "CLAMP_HIGH": 127, "TILE_ROWS": tiling.rows,
        "TILE_CHANNELS": tiling.channels, "ROWS_OUTER": 1, "IN_BUFFER": buffers.input,
        "WEIGHT_BUFFER": buffers.weights, "PARAM_BUFFER": buffers.params,
        "OUT_BUFFER": buffers.output,
    }


def core_cycles(core: HostCore, module: ExecModule, layer: ClusterLayer, work_dir: Path) -> float:
    """Cycles of the per-core functions over every core of one run of ``layer``'s kernel."""
    folder = work_dir / f"c{layer.channels}k{layer.kernel[0]}d{int(layer.depthwise)}"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in emulator_files(module).items():
        (folder / name).write_text(text)
    kernel = render(TEMPLATE, "nnmap_gap9_calibration", "calibration", _values(layer))
    (folder / "kernel.c").write_text(kernel + HARNESS)
    sources = [folder / name for name in ("kernel.c", "gap9_emulator.c", "gap9_cluster.c")]
    image = cross_compile(core, sources, folder, (folder,), ("NNMAP_EMULATOR",))
    rng = np.random.default_rng(0)
    depth = 1 if layer.depthwise else layer.channels
    data = rng.integers(-128, 128, layer.height * layer.width * layer.channels, dtype=np.int8)
    weights = rng.integers(-128, 128, layer.out_channels * layer.taps * depth, dtype=np.int8)
    params = np.tile(np.array([100, 1 << 30, -8], dtype=np.int32), layer.out_channels)
    outputs = layer.out_height * layer.out_width * layer.out_channels
    with HostMachine(image, core, ("nnmap_gap9_", "nnmap_cluster_", "pi_cl_")) as machine:
        run = machine.call("nnmap_gap9_measure",
                           [data.tobytes(), weights.tobytes(), params.tobytes()], [outputs])
    return run.cycles.of("nnmap_gap9_measure").cycles


def measure_core_costs(core: HostCore, module: ExecModule, work_dir: Path | None = None
                       ) -> CoreCosts:
    """Per output and per MAC cycles of the cluster kernel's cores, from three layers: 1x1
    convolutions over 16 and 64 channels, and a 3x3 depthwise convolution."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(work_dir or scratch)
        outputs = SIDE * SIDE * 8
        narrow = core_cycles(core, module, _layer(16, 1, False), folder) / outputs
        wide = core_cycles(core, module, _layer(64, 1, False), folder) / outputs
        depthwise_layer = _layer(8, 3, True)
        depthwise = core_cycles(core, module, depthwise_layer, folder) / outputs
    per_mac = (wide - narrow) / (64 - 16)
    per_output = narrow - 16 * per_mac
    return CoreCosts(per_output, per_mac, (depthwise - per_output) / depthwise_layer.taps)

