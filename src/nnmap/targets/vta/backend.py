"""VTA's ``Backend``: the layers it lowers, its stream model, its kernels and its emulator.

Lowering imports TVM, so the kernel generators are imported when a kernel is generated, not when
a target is built: listing or planning a target stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nnmap.hw import Backend, DeviceBuild, ExecModule
from nnmap.ir import Conv2D, FullyConnected, Graph, Layer
from nnmap.ir.layers import Add, MaxPool
from nnmap.ir.workload import Workload, workload_of
from nnmap.mapping.graph import LayerMapping
from nnmap.mapping.host_model import OPS_PER_ELEMENT, HostWork, requantize_work
from nnmap.mapping.model import Mapping
from nnmap.mapping.stream_search import StreamModel
from nnmap.plan.memory import aligned
from nnmap.targets.vta import cost
from nnmap.targets.vta.depthwise import DEPTHWISE, chosen_layout, layer_tile, runs_as_depthwise
from nnmap.targets.vta.direct_cost import (
    DIRECT,
    GATHER_STAGE,
    GATHERED,
    ConvChoice,
    conv_choice,
    direct_workload_tile,
    gather_work,
)
from nnmap.targets.vta.instructions import VtaConfig
from nnmap.targets.vta.pooling import POOL_STREAM, pool_layer_code, pool_refusal
from nnmap.targets.vta.residual import AluAdd, alu_add
from nnmap.targets.vta.residual_kernel import ADD_STREAM
from nnmap.targets.vta.tiling import VtaBuffers, planes_for_bound, workload_tile

if TYPE_CHECKING:  # code generation loads TVM: imported when a kernel is lowered
    from nnmap.codegen.layers import LayerCode


def vta_refusal(layer: Layer) -> str | None:
    """Why nnmap's VTA code generator does not lower ``layer`` as a GEMM (None: it does)."""
    one_per_group = isinstance(layer, Conv2D) and layer.is_depthwise and (
        int(layer.weight.shape[0]) == layer.groups
    )
    if isinstance(layer, Conv2D) and layer.groups != 1 and not one_per_group:
        kind = "depthwise conv" if layer.is_depthwise else "grouped conv"
        return (f"{kind} (groups={layer.groups}): the VTA code generator lowers groups=1 and "
                "depthwise with one output channel per group only")
    if not isinstance(layer, Conv2D | FullyConnected):
        return f"{layer.kind}: the VTA code generator lowers Conv2D and FullyConnected only"
    if layer.requant is None:
        return f"float {layer.kind}: the VTA code generator lowers int8 layers only"
    return None


class VtaBackend(Backend):
    """Dense convolutions and fully connected layers as a tiled GEMM on VTA's core, the
    convolutions reading their input directly or gathered by the ``host`` (the cheaper)."""

    emulator_prefix = "nnmap_vta"
    emulator_functions = ("nnmap_vta_", "VTA")

    def __init__(self, host: ExecModule) -> None:
        self.host = host
        self._choices: dict[str, ConvChoice] = {}
        self._adds: dict[int, AluAdd | str] = {}

    def add_program(self, layer: Add, graph: Graph) -> AluAdd | str:
        """VTA's exact program for the Add ``layer``, or why there is none (found once)."""
        if id(layer) not in self._adds:
            self._adds[id(layer)] = alu_add(layer, graph)
        return self._adds[id(layer)]

    def conv_choice(self, workload: Workload, module: ExecModule) -> ConvChoice:
        """Whether ``workload`` reads its input directly (made once per workload)."""
        key = f"{module.name}:{workload!r}"
        if key not in self._choices:
            self._choices[key] = conv_choice(workload, module, self.host)
        return self._choices[key]

    def reads_directly(self, workload: Workload, module: ExecModule) -> bool:
        return workload.kind == "conv" and self.conv_choice(workload, module).direct

    def refusal(self, layer: Layer, graph: Graph, module: ExecModule) -> str | None:
        if isinstance(layer, Add):
            block = VtaConfig.from_module(module).block_in
            if graph.tensor(layer.output).size % block:
                return f"the tensors do not fill whole {block}-byte entries"
            found = self.add_program(layer, graph)
            return found if isinstance(found, str) else None
        if isinstance(layer, MaxPool):
            return pool_refusal(layer, graph, VtaConfig.from_module(module).block_in)
        reason = vta_refusal(layer)
        workload = workload_of(graph, layer)
        if reason is None and workload is not None and workload.kind == "depthwise" and not (
            runs_as_depthwise(workload, module)
        ):
            return ("depthwise conv: the embedding solver found no block-diagonal embedding "
                    "into VTA's GEMM core")
        return reason

    def numerics_refusal(
        self, layer: Layer, graph: Graph, module: ExecModule, numerics: str
    ) -> str | None:
        """A depthwise layer's block-diagonal GEMM is lowered in exact numerics only."""
        if isinstance(layer, Conv2D) and layer.groups > 1 and numerics != "exact":
            return ("depthwise conv: its block-diagonal GEMM is lowered in exact numerics only "
                    "(host requantization)")
        return None

    def stream_model(self, workload: Workload, module: ExecModule) -> StreamModel | None:
        if workload.kind == "add":
            return ADD_STREAM
        if workload.kind == "pool":
            return POOL_STREAM
        if workload.kind == "depthwise":
            return DEPTHWISE if runs_as_depthwise(workload, module) else None
        if not cost.runs_as_vta_stream(workload):
            return None
        return DIRECT if self.reads_directly(workload, module) else GATHERED

    def kernel_note(self, workload: Workload, module: ExecModule) -> str:
        if workload.kind == "add":
            return "TFLite's Add exactly on VTA's GEMM and ALU (all 65,536 input pairs checked)"
        if workload.kind == "pool":
            return "window maxima by VTA's ALU MAX"
        if workload.kind == "depthwise":
            return chosen_layout(workload, module).describe()
        return self.conv_choice(workload, module).reason if workload.kind == "conv" else ""

    def host_work(
        self, workload: Workload, module: ExecModule, numerics: str
    ) -> tuple[HostWork, ...]:
        """The im2col gather into whole BLOCK_IN-wide input entries (not for a convolution that
        reads its input directly); with exact numerics the int32 results put together from
        their byte planes (one shift-and-add per plane, assumed), then TFLite's
        requantization; with hardware numerics (VTA's ALU requantizes) only the copy into the
        output where the channels do not fill whole BLOCK_OUT entries."""
        if workload.kind in ("add", "pool"):
            return ()
        config = VtaConfig.from_module(module)
        loops = workload.loops
        rows, channels = loops["B"] * loops["OY"] * loops["OX"], loops["K"] * workload.groups
        direct = self.reads_directly(workload, module)
        works = [] if direct else [gather_work(workload, config.block_in)]
        if workload.kind == "depthwise":
            layout = chosen_layout(workload, module)
            gathered = rows * layout.blocks * layout.depth
            works = [HostWork(GATHER_STAGE, gathered, OPS_PER_ELEMENT["gather"], 1, 1)]
        if numerics == "hardware":
            if channels % config.block_out:
                copy = OPS_PER_ELEMENT["copy"]
                works.append(HostWork("output copy", rows * channels, copy, 1, 1))
            return tuple(works)
        planes = planes_for_bound(workload.result_bound)
        reassemble = HostWork("byte planes to int32", rows * channels, 2.0 * planes, planes, 4)
        return (*works, reassemble, requantize_work(rows * channels))

    def scratch_bytes(
        self, workload: Workload, mapping: Mapping, module: ExecModule, numerics: str
    ) -> int:
        """The kernel's host buffers: the gathered input, the SRAM tiles TVM lays out (input,
        weight, accumulator), and in exact numerics the byte planes (put together where the
        requantization reads them)."""
        if workload.kind in ("add", "pool"):
            return 0
        loops = workload.loops
        rows, channels = loops["B"] * loops["OY"] * loops["OX"], loops["K"] * workload.groups
        sram = VtaBuffers.of(module)
        direct = self.reads_directly(workload, module)
        if direct:
            tile = direct_workload_tile(workload, mapping, module)
        elif workload.kind == "depthwise":
            tile = layer_tile(workload, mapping, module)
        else:
            tile = workload_tile(workload, mapping, sram)
        block_in, block_out = sram.block_in, sram.block_out
        gathered = tile.rows_padded * tile.input_blocks * tile.r_blocks * block_in
        buffers = [
            0 if direct else gathered,  # the gathered input
            tile.m * tile.r * block_in,  # the input tile
            tile.n * tile.r * block_out * block_in,  # the weight tile
            tile.m * tile.n * block_out * 4,  # the accumulator tile
        ]
        if numerics == "hardware" and channels % block_out:  # int8 results, then copied out
            buffers.append(tile.rows_padded * tile.n_blocks * block_out)
        if numerics != "hardware":
            planes = planes_for_bound(workload.result_bound)
            buffers.append(planes * tile.rows_padded * tile.n_blocks * block_out)
        elif channels % block_out:
            # the ALU's int8 results before the copy drops the padded channels (rows padded to
            # the hardware tile, at most one tile more than the real rows)
            buffers.append((rows + tile.m) * tile.n_blocks * block_out)
        return sum(aligned(size) for size in buffers)

    def lower(
        self, layer: Layer, graph: Graph, index: int, mapped: LayerMapping, module: ExecModule,
        numerics: str,
    ) -> LayerCode:
        from nnmap.targets.vta.layer import vta_layer_code

        if isinstance(layer, MaxPool):
            return pool_layer_code(layer, graph, index, mapped.mapping, mapped.workload, module)
        if isinstance(layer, Add):
            from nnmap.targets.vta.residual_layer import add_layer_code

            program = self.add_program(layer, graph)
            assert not isinstance(program, str), program
            return add_layer_code(layer, graph, index, program, module)
        assert isinstance(layer, Conv2D | FullyConnected), vta_refusal(layer)
        if isinstance(layer, Conv2D) and layer.groups > 1:
            from nnmap.targets.vta.layer import depthwise_layer_code

            return depthwise_layer_code(layer, graph, index, mapped, module)
        direct = self.reads_directly(mapped.workload, module)
        return vta_layer_code(layer, graph, index, mapped, module, numerics, direct)

    def emulator_files(self, module: ExecModule) -> dict[str, str]:
        from nnmap.targets.vta.build import emulator

        return emulator(module).files()

    def device_build(self, module: ExecModule) -> DeviceBuild:
        from nnmap.targets.vta.build import device_build

        return device_build(module)
