"""The cluster's ``Backend``: convolutions, depthwise convolutions, dense layers, residual adds
and pooling as C split over the 8 cores by core id, tiles moved by the cluster DMA into double L1
buffers, the requantization TFLite's (every numerics: the cores compute it in 32-bit
integers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nnmap.hw import Backend, ExecModule
from nnmap.ir import Add, Conv2D, FullyConnected, Graph, Layer, Requant
from nnmap.ir.layers import Pool2D
from nnmap.ir.workload import Workload
from nnmap.mapping.graph import LayerMapping
from nnmap.mapping.host_model import HostWork
from nnmap.mapping.model import Mapping
from nnmap.mapping.stream_search import StreamModel
from nnmap.targets.gap9 import cluster_add, cluster_cost, cluster_pool
from nnmap.targets.gap9.build import emulator_files

if TYPE_CHECKING:
    from nnmap.codegen.layers import LayerCode

STREAM = StreamModel(cluster_cost.candidate_mappings, cluster_cost.cluster_bound,
                     cluster_cost.cluster_cost)
ADD = StreamModel(cluster_add.add_mappings, cluster_add.add_bound, cluster_add.add_cost)
POOL = StreamModel(cluster_pool.pool_mappings, cluster_pool.pool_bound, cluster_pool.pool_cost)
EMULATOR_PREFIX = "nnmap_gap9"
# The emulation's functions, and the kernels themselves: they run on the cluster, not on the
# fabric controller (its measured host cycles keep only the driver's call).
EMULATOR_FUNCTIONS = ("nnmap_gap9_", "gap9_", "nnmap_cluster_", "nnmap_ne16_", "pi_cl_",
                      "pi_core_id", "ne16_")


def kernel_refusal(layer: Layer, kinds: str = "Conv2D and FullyConnected") -> str | None:
    """Why nnmap's GAP9 convolution kernels (cluster and NE16) do not take ``layer`` (None: they
    do); ``kinds`` names the layer kinds the module takes."""
    if not isinstance(layer, Conv2D | FullyConnected):
        return f"{layer.kind}: it takes {kinds} only"
    if not isinstance(layer.requant, Requant):
        return f"{layer.kind}: it takes int8 layers with TFLite requantization only"
    if isinstance(layer, Conv2D):
        if layer.dilation != (1, 1):
            return f"dilation {layer.dilation}: it takes dilation 1 only"
        if layer.groups != 1 and not (layer.is_depthwise
                                      and layer.weight.shape[0] == layer.groups):
            return f"grouped conv (groups={layer.groups}): only depthwise with multiplier 1"
    return None


class ClusterL1Backend(Backend):
    """What the cluster's modules (its cores, NE16) share: one emulation, and kernels whose
    buffers live in the cluster's L1 and whose input conversion and requantization run on the
    cores, inside the kernel, so they leave the fabric controller no host work."""

    emulator_prefix = EMULATOR_PREFIX
    emulator_functions = EMULATOR_FUNCTIONS

    def host_work(
        self, workload: Workload, module: ExecModule, numerics: str
    ) -> tuple[HostWork, ...]:
        return ()

    def scratch_bytes(
        self, workload: Workload, mapping: Mapping, module: ExecModule, numerics: str
    ) -> int:
        return 0

    def emulator_files(self, module: ExecModule) -> dict[str, str]:
        return emulator_files(module)


class ClusterBackend(ClusterL1Backend):
    """Layers on the cluster's 8 cores (PMSIS team fork, cluster DMA)."""

    def refusal(self, layer: Layer, graph: Graph, module: ExecModule) -> str | None:
        if isinstance(layer, Add):
            return cluster_add.add_refusal(layer, graph)
        if isinstance(layer, Pool2D):
            return cluster_pool.pool_refusal(layer, graph)
        return kernel_refusal(layer, "Conv2D, FullyConnected, Add and pooling")

    def stream_model(self, workload: Workload, module: ExecModule) -> StreamModel | None:
        return {"add": ADD, "pool": POOL}.get(workload.kind, STREAM)

    def lower(
        self, layer: Layer, graph: Graph, index: int, mapped: LayerMapping, module: ExecModule,
        numerics: str,
    ) -> LayerCode:
        from nnmap.targets.gap9.cluster_code import cluster_layer_code

        if isinstance(layer, Add):
            return cluster_add.add_layer_code(layer, graph, index, mapped, module.name)
        if isinstance(layer, Pool2D):
            return cluster_pool.pool_layer_code(layer, graph, index, mapped, module.name)
        assert isinstance(layer, Conv2D | FullyConnected), kernel_refusal(layer)
        return cluster_layer_code(layer, graph, index, mapped, module.name)
