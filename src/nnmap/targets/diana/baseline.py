"""The DORY / HTVM way of running a network on DIANA, costed by the same model: every layer the
digital array can run goes there (HTVM offloads every pattern its checks accept: in hardware
numerics the element-wise adds too), tiled by
DORY's heuristic — our rendering of it: the largest tile that fits L1, the output channels
first (the whole layer's weights when they fit the weight memory), then the most output rows,
channel tiles as the outer loop. Between two layers on the array the activations stay channels
first and dense, as DORY keeps its tensors in L2 (HTVM hands DORY NCHW layers); DORY pads in L1
with zeros, which is not TFLite's zero point, so each reader pads its input on the host (a
row-by-row copy, ``layout.DENSE``). The baseline nnmap's placement, tiles and layouts must beat."""

from __future__ import annotations

from nnmap.errors import MappingError
from nnmap.hw import Target
from nnmap.hw.backend import TensorLayout
from nnmap.ir import Graph
from nnmap.ir.layers import COMPUTE_KINDS, Add
from nnmap.ir.workload import workload_of
from nnmap.mapping.graph import LayerMapping, host_stages, map_layer
from nnmap.targets.diana import timing
from nnmap.targets.diana.add import add_candidates, add_cost
from nnmap.targets.diana.backend import ACCUMULATOR_BYTES
from nnmap.targets.diana.layout import DENSE
from nnmap.targets.diana.timing import DianaShape, DianaTile


def dory_tile(shape: DianaShape, module_target: Target, module_name: str) -> DianaTile:
    """DORY's tile of ``shape`` on the digital array (MappingError when none fits)."""
    module = module_target.module(module_name)
    tiles = [tile for tile in timing.candidate_tiles(shape, module, ACCUMULATOR_BYTES)
             if tile.channels_outer]
    if not tiles:
        raise MappingError(f"no tile of a {shape.kind} layer fits {module_name}'s L1")
    return max(tiles, key=lambda tile: (tile.k_tile, tile.rows))


def dory_mappings(graph: Graph, target: Target, numerics: str,
                  module_name: str = "digital") -> list[LayerMapping]:
    """Every layer the digital array can lower, placed there with DORY's tile; the other
    convolutions and dense layers on the host core (mapped there as nnmap maps host layers)."""
    module = target.module(module_name)
    assert module.backend is not None
    mappings = []
    for layer in graph.layers:
        workload = workload_of(graph, layer)
        if workload is None:
            continue
        if isinstance(layer, Add):
            refused = module.backend.refusal(layer, graph, module) or (
                module.backend.numerics_refusal(layer, graph, module, numerics))
            if refused is None:
                (chunked,) = add_candidates(workload, module)
                whole = add_cost(workload, chunked, module)
                mappings.append(LayerMapping(layer.name, module_name, workload, chunked, whole,
                                             0.0, whole.total_cycles, (), "HTVM-style add"))
            continue
        if not isinstance(layer, COMPUTE_KINDS):
            continue
        refused = module.backend.refusal(layer, graph, module) or module.supports(workload)
        if refused is not None:
            mappings.append(map_layer(workload, target, numerics=numerics, layer=layer,
                                      graph=graph, place=target.host.name))
            continue
        shape = DianaShape.of(workload)
        tile = dory_tile(shape, target, module_name)
        mapping = timing.mapping_of(shape, tile, workload)
        cost = timing.layer_cost(workload, tile, module, ACCUMULATOR_BYTES)
        kernel = module.backend.kernel_cycles(workload, mapping, module, numerics)
        stages = host_stages(module, workload, target, numerics, layer, graph)
        kept = TensorLayout("output", layer.output, DENSE, graph.tensor(layer.output).nbytes)
        mappings.append(LayerMapping(
            layer.name, module_name, workload, mapping, cost, 0.0,
            cost.total_cycles if kernel is None else kernel, stages,
            "DORY/HTVM-style: every layer the array accepts, DORY's largest tile", (kept,),
        ))
    return mappings
