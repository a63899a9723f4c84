"""NE16's ``Backend``: 3x3 and 1x1 convolutions, 3x3 depthwise convolutions and dense layers
(as 1x1 convolutions), one NE16 job per L1 tile. Exact numerics: the accumulators come out and
the cluster's cores requantize them as TFLite does (or NE16's normquant where it is proven
identical over the layer's accumulator range); hardware numerics: NE16's normquant."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nnmap.hw import ExecModule
from nnmap.ir import Conv2D, FullyConnected, Graph, Layer
from nnmap.ir.workload import Workload
from nnmap.mapping.graph import LayerMapping
from nnmap.mapping.model import Mapping
from nnmap.mapping.stream_search import StreamModel
from nnmap.targets.gap9 import ne16_cost
from nnmap.targets.gap9.cluster_backend import ClusterL1Backend, kernel_refusal

if TYPE_CHECKING:
    from nnmap.codegen.layers import LayerCode

STREAM = StreamModel(ne16_cost.candidate_mappings, ne16_cost.ne16_bound, ne16_cost.ne16_cost)


def ne16_refusal(layer: Layer) -> str | None:
    """Why NE16 does not take ``layer`` beyond its support rule (None: it does)."""
    reason = kernel_refusal(layer)
    if reason is not None or not isinstance(layer, Conv2D):
        return reason
    if layer.stride[0] != layer.stride[1]:
        return f"stride {layer.stride}: NE16 strides both axes alike"
    if layer.is_depthwise and layer.weight.shape[1:3] != (3, 3):
        return "depthwise: NE16 takes 3x3 depthwise convolutions only"
    return None


class Ne16Backend(ClusterL1Backend):
    """Layers as NE16 jobs (pulp-nnx task fields), tiles moved by the cluster DMA."""

    def refusal(self, layer: Layer, graph: Graph, module: ExecModule) -> str | None:
        return ne16_refusal(layer)

    def stream_model(self, workload: Workload, module: ExecModule) -> StreamModel | None:
        return STREAM

    def kernel_cycles(
        self, workload: Workload, mapping: Mapping, module: ExecModule, numerics: str
    ) -> float | None:
        """Hardware numerics: normquant on NE16, no requantization on the cores."""
        if numerics != "hardware":
            return None
        return ne16_cost.ne16_cost_in(workload, mapping, module, normquant=True).total_cycles

    def kernel_note(self, workload: Workload, module: ExecModule) -> str:
        return ("exact numerics: NE16's accumulators requantized by the cluster (TFLite's "
                "arithmetic) unless its normquant is proven identical; hardware: normquant")

    def lower(
        self, layer: Layer, graph: Graph, index: int, mapped: LayerMapping, module: ExecModule,
        numerics: str,
    ) -> LayerCode:
        from nnmap.targets.gap9.ne16_code import ne16_layer_code

        assert isinstance(layer, Conv2D | FullyConnected), ne16_refusal(layer)
        return ne16_layer_code(layer, graph, index, mapped, module.name, numerics)
