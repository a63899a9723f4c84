"""Depthwise convolutions on Gemmini's array, lowered from the embedding solver's results.

The solver (``nnmap.embedding.search_embeddings``) is asked for the layer's embeddings into the
array's DIM x DIM x DIM instruction; those of the block-diagonal form
(``nnmap.embedding.grouped``: the channels on the reduction/column diagonal, window positions
packed beside them or left around the calls, output pixels on the rows) are the ones the code
generator lowers. Each gives a block-diagonal GEMM (``GemmShape.blocks`` column blocks of DIM,
each with its own reduction columns of the host-gathered input) whose commands are the dense
GEMM's, so the same stream model times it; the cost model plans the layout with the fewest
stream cycles (``cost.chosen_layout``) and the code generator emits that one.
"""

from __future__ import annotations

from functools import lru_cache

from nnmap.embedding import search_embeddings
from nnmap.embedding.dataflow import InstructionDataflow
from nnmap.embedding.grouped import BlockDiagonal, block_diagonal
from nnmap.ir.workload import Workload
from nnmap.targets.gemmini.tiling import M_LOOPS, GemmShape, pad_to

# Host cycles per element the solver charges a gather when it ranks embeddings (assumed: a
# load, a store and index arithmetic); the mapper times the kernel's own gather (host_work).
GATHER_CYCLES = 4.0
LAYOUTS_KEPT = 4  # block-diagonal layouts of the solver's best embeddings timed as streams

WorkloadKey = tuple[tuple[tuple[str, int], ...], int, tuple[int, int], tuple[int, int],
                    tuple[int, int, int, int]]


def workload_key(workload: Workload) -> WorkloadKey:
    """What a depthwise layout depends on, hashable (loops, groups, stride, dilation, padding)."""
    return (tuple(workload.loops.items()), workload.groups, workload.stride, workload.dilation,
            workload.padding)


def workload_of_key(key: WorkloadKey) -> Workload:
    loops, groups, stride, dilation, padding = key
    return Workload("depthwise", "depthwise", dict(loops), groups, stride, dilation, padding)


@lru_cache(maxsize=256)
def _solved(key: WorkloadKey, instruction: InstructionDataflow) -> tuple[BlockDiagonal, ...]:
    search = search_embeddings(
        workload_of_key(key), instruction, host_cycles_per_element=GATHER_CYCLES
    )
    found: list[BlockDiagonal] = []
    for ranked in search.ranked:
        layout = block_diagonal(ranked.embedding)
        if layout is not None and layout not in found:
            found.append(layout)
    return tuple(found[:LAYOUTS_KEPT])


def solver_layouts(
    workload: Workload, instruction: InstructionDataflow
) -> tuple[BlockDiagonal, ...]:
    """The block-diagonal layouts of the solver's best embeddings of a depthwise ``workload``
    into ``instruction``, best first (empty: none of that form, or a channel multiplier)."""
    if workload.kind != "depthwise" or workload["K"] != 1 or workload["C"] != 1:
        return ()
    return _solved(workload_key(workload), instruction)


def depthwise_shape(workload: Workload, layout: BlockDiagonal, dim: int) -> GemmShape:
    """The block-diagonal GEMM of ``layout``: the output pixels on M, every block's columns on
    N, one block's reduction columns on R."""
    rows = 1
    for loop in M_LOOPS:
        rows *= workload[loop]
    return GemmShape(pad_to(rows, dim), layout.width, layout.depth, rows, layout.blocks)
