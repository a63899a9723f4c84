"""Gemmini's ``Backend``: the layers it lowers, its stream model, its kernels and its emulator.

Lowering imports TVM, so the kernel generators are imported when a kernel is generated, not when
a target is built: listing or planning a target stays light.
"""

from __future__ import annotations

import weakref
from dataclasses import replace
from typing import TYPE_CHECKING

from nnmap.hw import Backend, DeviceBuild, ExecModule
from nnmap.ir import Conv2D, FullyConnected, Graph, Layer
from nnmap.ir.layers import Add
from nnmap.ir.workload import Workload, workload_of
from nnmap.mapping.graph import LayerMapping
from nnmap.mapping.host_model import OPS_PER_ELEMENT, HostWork, requantize_work
from nnmap.mapping.model import Mapping
from nnmap.mapping.stream_search import StreamModel
from nnmap.plan.memory import workspace_bytes
from nnmap.targets.gemmini import cost, resadd_stream
from nnmap.targets.gemmini.exact_requant import ExactScaling, layer_scaling
from nnmap.targets.gemmini.resadd import choose_scales, exactness_refusal, resadd_refusal
from nnmap.targets.gemmini.tiling import GemminiGeometry, gemm_tiles, tiled_shape

if TYPE_CHECKING:  # code generation loads TVM: imported when a kernel is lowered
    from nnmap.codegen.layers import LayerCode

STREAM = StreamModel(cost.candidate_mappings, cost.gemm_stream_bound, cost.gemm_stream_cost)
RESADD = StreamModel(
    resadd_stream.candidate_mappings, resadd_stream.resadd_bound, resadd_stream.resadd_cost
)


def gemmini_refusal(layer: Layer) -> str | None:
    """Why nnmap's Gemmini code generator does not lower ``layer`` as a GEMM (None: it does)."""
    if isinstance(layer, Conv2D) and layer.groups != 1 and not _one_channel_per_group(layer):
        kind = "depthwise conv" if layer.is_depthwise else "grouped conv"
        return (f"{kind} (groups={layer.groups}): the Gemmini code generator lowers groups=1 "
                "and depthwise with one output channel per group only")
    if not isinstance(layer, Conv2D | FullyConnected):
        return (
            f"{layer.kind}: the Gemmini code generator lowers Conv2D, FullyConnected and Add only"
        )
    if layer.requant is None:
        return f"float {layer.kind}: the Gemmini code generator lowers int8 layers only"
    return None


def _one_channel_per_group(layer: Conv2D) -> bool:
    """A depthwise layer without a channel multiplier (the block-diagonal GEMM's form)."""
    return layer.is_depthwise and int(layer.weight.shape[0]) == layer.groups


class GemminiBackend(Backend):
    """Dense convolutions and fully connected layers as an im2col GEMM on the systolic array;
    residual adds in the accumulator."""

    emulator_prefix = "nnmap_gemmini"
    emulator_functions = ("nnmap_gemmini_", "gemmini_")

    def __init__(self) -> None:
        # the mvout scaling proven TFLite's (or why none is) per layer object; per workload (by
        # its text) the numerics last asked and that answer, for the questions asked with a
        # workload only (host work, kernel cycles, notes)
        self._scaling: weakref.WeakKeyDictionary[Layer, ExactScaling | str] = (
            weakref.WeakKeyDictionary())
        self._by_workload: dict[str, tuple[str, ExactScaling | str | None]] = {}

    def mvout_scaling(self, layer: Conv2D | FullyConnected, graph: Graph, module: ExecModule
                      ) -> ExactScaling | str:
        """The mvout scales and zero-point offsets proven to give TFLite's requantization of
        ``layer`` (exact numerics), or why there are none; found once per layer."""
        if layer not in self._scaling:
            dim = GemminiGeometry.of(module).dim
            self._scaling[layer] = layer_scaling(layer, graph, dim)
        return self._scaling[layer]

    def _requantizes(self, workload: Workload, numerics: str) -> bool:
        """Whether Gemmini's mvout requantizes the layer (hardware numerics, or proven exact)."""
        if numerics == "hardware":
            return True
        _, found = self._by_workload.get(repr(workload), (numerics, None))
        return isinstance(found, ExactScaling)

    def refusal(self, layer: Layer, graph: Graph, module: ExecModule) -> str | None:
        if isinstance(layer, Add):
            return resadd_refusal(layer, graph)
        reason = gemmini_refusal(layer)
        workload = workload_of(graph, layer)
        if reason is None and workload is not None and workload.kind == "depthwise" and not (
            cost.runs_as_gemm_stream(workload, module)
        ):
            return ("depthwise conv: the embedding solver found no block-diagonal embedding "
                    "into Gemmini's array")
        return reason

    def numerics_refusal(
        self, layer: Layer, graph: Graph, module: ExecModule, numerics: str
    ) -> str | None:
        """Exact numerics take a residual add only where Gemmini's float scaling is proven
        identical to TFLite's Add on every input pair."""
        if isinstance(layer, Add) and numerics == "exact":
            return exactness_refusal(layer, graph)
        workload = workload_of(graph, layer)
        if workload is not None:
            found = None
            if numerics == "exact" and gemmini_refusal(layer) is None and (
                    workload.kind in ("conv", "dense")):
                assert isinstance(layer, Conv2D | FullyConnected)
                found = self.mvout_scaling(layer, graph, module)
            self._by_workload[repr(workload)] = (numerics, found)
        return None

    def stream_model(self, workload: Workload, module: ExecModule) -> StreamModel | None:
        if workload.kind == "add":
            return RESADD
        return STREAM if cost.runs_as_gemm_stream(workload, module) else None

    def kernel_note(self, workload: Workload, module: ExecModule) -> str:
        numerics, found = self._by_workload.get(repr(workload), ("hardware", None))
        if workload.kind == "depthwise":
            where = ("scaled on Gemmini's mvout" if numerics == "hardware"
                     else "requantized on the host (exact numerics)")
            return f"{cost.chosen_layout(workload, module).describe()}; {where}"
        if numerics != "exact" or found is None:
            return ""
        if isinstance(found, ExactScaling):
            return ("requantized on Gemmini's mvout (scales proven TFLite's on the whole "
                    "accumulator range)")
        return f"requantized on the host: {found}"

    def kernel_cycles(
        self, workload: Workload, mapping: Mapping, module: ExecModule, numerics: str
    ) -> float | None:
        if workload.kind == "add" or not self._requantizes(workload, numerics):
            return None
        return cost.scaled_stream_cycles(workload, mapping, module)

    def host_work(
        self, workload: Workload, module: ExecModule, numerics: str
    ) -> tuple[HostWork, ...]:
        """The im2col gather into whole DIM x DIM tiles (none where the input mvins read the
        input as it is: ``cost.reads_input_directly``), then the bias add and TFLite's
        requantization (exact) or only the copy into the output tensor with its clamp (hardware,
        or exact where Gemmini's scaling is proven TFLite's: Gemmini added the bias and scaled on
        mvout). A residual add leaves none."""
        if workload.kind == "add":
            return ()
        shape = cost.layer_shape(workload, module)
        outputs = shape.rows * workload["K"] * workload.groups
        ops = OPS_PER_ELEMENT["copy" if workload.kind == "dense" else "nested gather"]
        direct = cost.reads_input_directly(workload, shape, GemminiGeometry.of(module).dim)
        gather = () if direct else (
            HostWork("im2col gather", shape.m * shape.input_width, ops, 1, 1),)
        if self._requantizes(workload, numerics):
            copy = HostWork("output copy and clamp", outputs, OPS_PER_ELEMENT["copy"], 1, 1)
            return (*gather, copy)
        requantize = requantize_work(outputs)
        # assumed: one int32 add per element for the bias (its row stays cached)
        stage, ops = "bias add and requantization", requantize.ops + 1
        return (*gather, replace(requantize, stage=stage, ops=ops))

    def scratch_bytes(
        self, workload: Workload, mapping: Mapping, module: ExecModule, numerics: str
    ) -> int:
        """The kernel's two host buffers: the gathered input (m x r int8, unless the input is
        read as it is) and the results
        moved out (m x n: int32 requantized by the host, or int8 scaled by mvout), each unless
        TVM keeps it on the stack. A residual add needs none."""
        if workload.kind == "add":
            return 0
        geometry = GemminiGeometry.of(module)
        shape = cost.layer_shape(workload, module)
        tiled = tiled_shape(shape, gemm_tiles(shape, mapping, geometry))
        result_bytes = 1 if self._requantizes(workload, numerics) else 4
        direct = cost.reads_input_directly(workload, tiled, geometry.dim)
        gathered = 0 if direct else tiled.m * tiled.input_width
        results = tiled.m * tiled.n * result_bytes
        return workspace_bytes(gathered) + workspace_bytes(results)

    def lower(
        self, layer: Layer, graph: Graph, index: int, mapped: LayerMapping, module: ExecModule,
        numerics: str,
    ) -> LayerCode:
        from nnmap.targets.gemmini.layer import depthwise_layer_code, gemmini_layer_code

        if isinstance(layer, Add):
            return resadd_layer(layer, graph, index, mapped, module)
        assert isinstance(layer, Conv2D | FullyConnected), gemmini_refusal(layer)
        if isinstance(layer, Conv2D) and layer.groups > 1:
            return depthwise_layer_code(layer, graph, index, mapped, module, numerics)
        scaling = None
        if numerics == "exact":
            found = self.mvout_scaling(layer, graph, module)
            scaling = found if isinstance(found, ExactScaling) else None
        return gemmini_layer_code(layer, graph, index, mapped, module, numerics, scaling)

    def emulator_files(self, module: ExecModule) -> dict[str, str]:
        from nnmap.targets.gemmini.build import emulator

        return emulator(module).files()

    def device_build(self, module: ExecModule) -> DeviceBuild:
        from nnmap.targets.gemmini.build import device_build

        return device_build(module)


def resadd_layer(
    layer: Add, graph: Graph, index: int, mapped: LayerMapping, module: ExecModule
) -> LayerCode:
    """The C of a residual add planned on Gemmini: the parameters with the fewest differing
    input pairs (none, in exact numerics: the mapper checked), the mapping's accumulator
    blocks."""
    from nnmap.targets.gemmini.resadd_code import resadd_layer_code

    checked = choose_scales(layer, graph)
    assert checked is not None, resadd_refusal(layer, graph)
    dim = GemminiGeometry.of(module).dim
    elements = graph.tensor(layer.output).size
    slots = resadd_stream.slots_of(mapped.workload, mapped.mapping, dim)
    return resadd_layer_code(layer, index, elements, checked.scales, slots, dim, module.name)
