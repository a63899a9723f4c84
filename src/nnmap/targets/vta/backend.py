"""VTA's ``Backend``: the layers it lowers, its stream model, its kernels and its emulator.

Lowering imports TVM, so the kernel generators are imported when a kernel is generated, not when
a target is built: listing or planning a target stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nnmap.hw import Backend, DeviceBuild, ExecModule
from nnmap.ir import Conv2D, FullyConnected, Graph, Layer
from nnmap.ir.workload import Workload
from nnmap.mapping.gemm_tiling import ceil_div
from nnmap.mapping.graph import LayerMapping
from nnmap.mapping.host_model import OPS_PER_ELEMENT, HostWork, requantize_work
from nnmap.mapping.model import Mapping
from nnmap.mapping.stream_search import StreamModel
from nnmap.plan.memory import aligned
from nnmap.targets.vta import cost
from nnmap.targets.vta.instructions import VtaConfig
from nnmap.targets.vta.tiling import VtaBuffers, planes_for_bound, vta_tile

if TYPE_CHECKING:  # code generation loads TVM: imported when a kernel is lowered
    from nnmap.codegen.layers import LayerCode

STREAM = StreamModel(cost.candidate_mappings, cost.vta_stream_bound, cost.vta_stream_cost)


def vta_refusal(layer: Layer) -> str | None:
    """Why nnmap's VTA code generator does not lower ``layer`` (None: it does)."""
    if isinstance(layer, Conv2D) and layer.groups != 1:
        kind = "depthwise conv" if layer.is_depthwise else "grouped conv"
        return f"{kind} (groups={layer.groups}): the VTA code generator lowers groups=1 only"
    if not isinstance(layer, Conv2D | FullyConnected):
        return f"{layer.kind}: the VTA code generator lowers Conv2D and FullyConnected only"
    if layer.requant is None:
        return f"float {layer.kind}: the VTA code generator lowers int8 layers only"
    return None


class VtaBackend(Backend):
    """Dense convolutions and fully connected layers as a tiled GEMM on VTA's core."""

    emulator_prefix = "nnmap_vta"
    emulator_functions = ("nnmap_vta_", "VTA")

    def refusal(self, layer: Layer, graph: Graph, module: ExecModule) -> str | None:
        return vta_refusal(layer)

    def stream_model(self, workload: Workload, module: ExecModule) -> StreamModel | None:
        return STREAM if cost.runs_as_vta_stream(workload) else None

    def host_work(
        self, workload: Workload, module: ExecModule, numerics: str
    ) -> tuple[HostWork, ...]:
        """The im2col gather into whole BLOCK_IN-wide input entries; with exact numerics the
        int32 results put together from their byte planes (one shift-and-add per plane,
        assumed), then TFLite's requantization; with hardware numerics (VTA's ALU requantizes)
        only the copy into the output where the channels do not fill whole BLOCK_OUT entries."""
        config = VtaConfig.from_module(module)
        loops = workload.loops
        rows, channels = loops["B"] * loops["OY"] * loops["OX"], loops["K"]
        depth = loops["C"] * loops["FY"] * loops["FX"]
        ops = OPS_PER_ELEMENT["gather" if workload.kind == "conv" else "copy"]
        padded_depth = ceil_div(depth, config.block_in) * config.block_in
        gather = HostWork("im2col gather", rows * padded_depth, ops, 1, 1)
        if numerics == "hardware":
            if channels % config.block_out == 0:
                return (gather,)
            copy = HostWork("output copy", rows * channels, OPS_PER_ELEMENT["copy"], 1, 1)
            return (gather, copy)
        planes = planes_for_bound(workload.result_bound)
        reassemble = HostWork("byte planes to int32", rows * channels, 2.0 * planes, planes, 4)
        return (gather, reassemble, requantize_work(rows * channels))

    def scratch_bytes(
        self, workload: Workload, mapping: Mapping, module: ExecModule, numerics: str
    ) -> int:
        """The kernel's host buffers: the gathered input, the SRAM tiles TVM lays out (input,
        weight, accumulator), and in exact numerics the byte planes and their int32 sum."""
        loops = workload.loops
        rows, channels = loops["B"] * loops["OY"] * loops["OX"], loops["K"]
        depth = loops["C"] * loops["FY"] * loops["FX"]
        sram = VtaBuffers.of(module)
        tile = vta_tile(rows, depth, channels, mapping, sram)
        block_in, block_out = sram.block_in, sram.block_out
        buffers = [
            tile.rows_padded * tile.r_blocks * block_in,  # the gathered input
            tile.m * tile.r * block_in,  # the input tile
            tile.n * tile.r * block_out * block_in,  # the weight tile
            tile.m * tile.n * block_out * 4,  # the accumulator tile
        ]
        if numerics == "hardware" and channels % block_out:  # int8 results, then copied out
            buffers.append(tile.rows_padded * tile.n_blocks * block_out)
        if numerics != "hardware":
            planes = planes_for_bound(workload.result_bound)
            buffers.append(planes * tile.rows_padded * tile.n_blocks * block_out)
            buffers.append(rows * channels * 4)
        return sum(aligned(size) for size in buffers)

    def lower(
        self, layer: Layer, graph: Graph, index: int, mapped: LayerMapping, module: ExecModule,
        numerics: str,
    ) -> LayerCode:
        from nnmap.targets.vta.layer import vta_layer_code

        assert isinstance(layer, Conv2D | FullyConnected), vta_refusal(layer)
        return vta_layer_code(layer, graph, index, mapped, module, numerics)

    def emulator_files(self, module: ExecModule) -> dict[str, str]:
        from nnmap.targets.vta.build import emulator

        return emulator(module).files()

    def device_build(self, module: ExecModule) -> DeviceBuild:
        from nnmap.targets.vta.build import device_build

        return device_build(module)
