"""Depthwise convolutions on VTA's GEMM core, lowered from the embedding solver's results.

The solver (``nnmap.embedding.search_embeddings``) embeds the layer into VTA's GEMM
instruction (BATCH x BLOCK_IN x BLOCK_OUT); the embeddings of the block-diagonal form
(``nnmap.embedding.grouped``: channels on the diagonal of BLOCK_IN and BLOCK_OUT, window
positions packed beside them or around the calls, pixels on the batch rows) are the ones the
code generator lowers, as a blocked GEMM whose tiles are one channel block each, reading that
block's own reduction blocks of the host-gathered input (``VtaTile.input_blocks``). Its
commands are the dense GEMM's, so the same stream model times it; of the solver's layouts the
one whose stream (at its best tiling) is fastest is planned and emitted.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import product
from math import prod

from nnmap.embedding.dataflow import instruction_of
from nnmap.embedding.grouped import (
    BlockDiagonal,
    WorkloadKey,
    solver_layouts,
    workload_key,
    workload_of_key,
)
from nnmap.hw import ExecModule
from nnmap.ir.workload import LOOPS, Workload
from nnmap.mapping.model import Cost, Mapping
from nnmap.mapping.space import tile_candidates
from nnmap.mapping.stream_search import StreamModel
from nnmap.targets.vta.cost import ALL_BUFFERED, M_FIRST, stream_shape, tile_cost
from nnmap.targets.vta.stream import stream_bound, stream_cycles
from nnmap.targets.vta.tiling import M_LOOPS, VtaBuffers, VtaTile, depthwise_tile
from nnmap.targets.vta.timing_engine import VtaEngine


def runs_as_depthwise(workload: Workload, module: ExecModule) -> bool:
    """Whether the solver found ``workload`` (a depthwise layer) a block-diagonal embedding."""
    return bool(solver_layouts(workload, instruction_of(module.array)))


def _rows(workload: Workload) -> int:
    return prod(workload[loop] for loop in M_LOOPS)


def _candidates(
    workload: Workload, layout: BlockDiagonal, buffers: VtaBuffers
) -> list[Mapping]:
    """One mapping per distinct tile: pixel tiles times window tiles (reduction blocks)."""
    spatial = (("batch", "B", 1), ("block_in", "C", 1), ("block_out", "K", 1))
    pixel_tiles = product(*(tile_candidates(workload[loop], 1) for loop in M_LOOPS))
    window_tiles = list(product(tile_candidates(workload["FY"], 1),
                                tile_candidates(workload["FX"], 1)))
    seen: set[VtaTile] = set()
    found = []
    for pixels, (fy, fx) in product(pixel_tiles, window_tiles):
        sizes = {**workload.loops, **dict(zip(M_LOOPS, pixels, strict=True)), "FY": fy, "FX": fx}
        mapping = Mapping(spatial, (tuple(sizes[loop] for loop in LOOPS),), (M_FIRST,),
                          (ALL_BUFFERED,))
        tile = depthwise_tile(layout, _rows(workload), mapping, buffers)
        if tile not in seen:
            seen.add(tile)
            found.append(mapping)
    return found


@lru_cache(maxsize=256)
def _fastest(
    key: WorkloadKey, bound: int | None, layouts: tuple[BlockDiagonal, ...], buffers: VtaBuffers,
    engine: VtaEngine,
) -> BlockDiagonal:
    workload = workload_of_key(key)
    workload = Workload(workload.name, workload.kind, workload.loops, workload.groups,
                        workload.stride, workload.dilation, workload.padding, result_bound=bound)

    def best_cycles(layout: BlockDiagonal) -> float:
        return min(
            stream_cycles(engine, stream_shape(
                workload, depthwise_tile(layout, _rows(workload), mapping, buffers)
            )).total
            for mapping in _candidates(workload, layout, buffers)
        )

    return min(layouts, key=best_cycles)


def chosen_layout(workload: Workload, module: ExecModule) -> BlockDiagonal:
    """Of the solver's block-diagonal layouts of ``workload``, the one whose stream at its best
    tiling takes the fewest cycles (the first on a tie)."""
    layouts = solver_layouts(workload, instruction_of(module.array))
    return _fastest(workload_key(workload), workload.result_bound, layouts,
                    VtaBuffers.of(module), VtaEngine.of(module))


def layer_tile(workload: Workload, mapping: Mapping, module: ExecModule) -> VtaTile:
    """The tile the code generator emits for the depthwise ``workload`` under ``mapping``."""
    layout = chosen_layout(workload, module)
    return depthwise_tile(layout, _rows(workload), mapping, VtaBuffers.of(module))


def candidate_mappings(workload: Workload, module: ExecModule) -> list[Mapping]:
    return _candidates(workload, chosen_layout(workload, module), VtaBuffers.of(module))


def depthwise_cost(workload: Workload, mapping: Mapping, module: ExecModule) -> Cost:
    return tile_cost(workload, layer_tile(workload, mapping, module), module)


def depthwise_bound(workload: Workload, mapping: Mapping, module: ExecModule) -> float:
    shape = stream_shape(workload, layer_tile(workload, mapping, module))
    return stream_bound(VtaEngine.of(module), shape)


DEPTHWISE = StreamModel(candidate_mappings, depthwise_bound, depthwise_cost)
