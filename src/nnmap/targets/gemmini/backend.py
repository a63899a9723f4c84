"""Gemmini's ``Backend``: the layers it lowers, its stream model, its kernels and its emulator.

Lowering imports TVM, so the kernel generators are imported when a kernel is generated, not when
a target is built: listing or planning a target stays light.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from nnmap.hw import Backend, DeviceBuild, ExecModule
from nnmap.ir import Conv2D, FullyConnected, Graph, Layer
from nnmap.ir.workload import Workload
from nnmap.mapping.graph import LayerMapping
from nnmap.mapping.host_model import OPS_PER_ELEMENT, HostWork, requantize_work
from nnmap.mapping.model import Mapping
from nnmap.mapping.stream_search import StreamModel
from nnmap.plan.memory import aligned
from nnmap.targets.gemmini import cost
from nnmap.targets.gemmini.tiling import GemminiGeometry, gemm_shape, gemm_tiles, tiled_shape

if TYPE_CHECKING:  # code generation loads TVM: imported when a kernel is lowered
    from nnmap.codegen.layers import LayerCode

STREAM = StreamModel(cost.candidate_mappings, cost.gemm_stream_bound, cost.gemm_stream_cost)


def gemmini_refusal(layer: Layer) -> str | None:
    """Why nnmap's Gemmini code generator does not lower ``layer`` (None: it does)."""
    if isinstance(layer, Conv2D) and layer.groups != 1:
        kind = "depthwise conv" if layer.is_depthwise else "grouped conv"
        return f"{kind} (groups={layer.groups}): the Gemmini code generator lowers groups=1 only"
    if not isinstance(layer, Conv2D | FullyConnected):
        return f"{layer.kind}: the Gemmini code generator lowers Conv2D and FullyConnected only"
    if layer.requant is None:
        return f"float {layer.kind}: the Gemmini code generator lowers int8 layers only"
    return None


class GemminiBackend(Backend):
    """Dense convolutions and fully connected layers as an im2col GEMM on the systolic array."""

    emulator_prefix = "nnmap_gemmini"
    emulator_functions = ("nnmap_gemmini_", "gemmini_")

    def refusal(self, layer: Layer, graph: Graph, module: ExecModule) -> str | None:
        return gemmini_refusal(layer)

    def stream_model(self, workload: Workload, module: ExecModule) -> StreamModel | None:
        return STREAM if cost.runs_as_gemm_stream(workload) else None

    def kernel_cycles(
        self, workload: Workload, mapping: Mapping, module: ExecModule, numerics: str
    ) -> float | None:
        if numerics != "hardware":
            return None
        return cost.scaled_stream_cycles(workload, mapping, module)

    def host_work(
        self, workload: Workload, module: ExecModule, numerics: str
    ) -> tuple[HostWork, ...]:
        """The im2col gather into whole DIM x DIM tiles, then the bias add and TFLite's
        requantization (exact) or only the copy into the output tensor with its clamp
        (hardware: Gemmini added the bias and scaled on mvout)."""
        shape = gemm_shape(workload, GemminiGeometry.of(module).dim)
        outputs = shape.rows * workload["K"]
        ops = OPS_PER_ELEMENT["gather" if workload.kind == "conv" else "copy"]
        gather = HostWork("im2col gather", shape.m * shape.r, ops, 1, 1)
        if numerics == "hardware":
            copy = HostWork("output copy and clamp", outputs, OPS_PER_ELEMENT["copy"], 1, 1)
            return (gather, copy)
        requantize = requantize_work(outputs)
        # assumed: one int32 add per element for the bias (its row stays cached)
        stage, ops = "bias add and requantization", requantize.ops + 1
        return (gather, replace(requantize, stage=stage, ops=ops))

    def scratch_bytes(
        self, workload: Workload, mapping: Mapping, module: ExecModule, numerics: str
    ) -> int:
        """The kernel's two host buffers: the gathered input (m x r int8) and the results
        moved out (m x n: int32 in exact numerics, int8 scaled by mvout in hardware)."""
        geometry = GemminiGeometry.of(module)
        shape = gemm_shape(workload, geometry.dim)
        tiled = tiled_shape(shape, gemm_tiles(shape, mapping, geometry))
        result_bytes = 1 if numerics == "hardware" else 4
        return aligned(tiled.m * tiled.r) + aligned(tiled.m * tiled.n * result_bytes)

    def lower(
        self, layer: Layer, graph: Graph, index: int, mapped: LayerMapping, module: ExecModule,
        numerics: str,
    ) -> LayerCode:
        from nnmap.targets.gemmini.layer import gemmini_layer_code

        assert isinstance(layer, Conv2D | FullyConnected), gemmini_refusal(layer)
        return gemmini_layer_code(layer, graph, index, mapped, module, numerics)

    def emulator_files(self, module: ExecModule) -> dict[str, str]:
        from nnmap.targets.gemmini.build import emulator

        return emulator(module).files()

    def device_build(self, module: ExecModule) -> DeviceBuild:
        from nnmap.targets.gemmini.build import device_build

        return device_build(module)
