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

from nnmap.embedding.grouped import BlockDiagonal
from nnmap.ir.workload import Workload
from nnmap.targets.gemmini.tiling import M_LOOPS, GemmShape, pad_to


def depthwise_shape(workload: Workload, layout: BlockDiagonal, dim: int) -> GemmShape:
    """The block-diagonal GEMM of ``layout``: the output pixels on M, every block's columns on
    N, one block's reduction columns on R."""
    rows = 1
    for loop in M_LOOPS:
        rows *= workload[loop]
    return GemmShape(pad_to(rows, dim), layout.width, layout.depth, rows, layout.blocks)
