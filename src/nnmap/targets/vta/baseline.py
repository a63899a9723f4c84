"""TVM's reference VTA schedule (the tutorials' fixed embedding and tile) as a Mapping costed by
the same model: the baseline nnmap's search must beat.

Our own rendering of the published behaviour in shared/reference/vta.md.
"""

from __future__ import annotations

from nnmap.errors import MappingError
from nnmap.hw import ExecModule
from nnmap.ir.workload import LOOPS, Workload
from nnmap.mapping.cost import evaluate
from nnmap.mapping.model import Mapping
from nnmap.mapping.problem import problem_of
from nnmap.mapping.search import check_runnable

ALL = frozenset({"I", "W", "O"})

# TVM's VTA tutorials (vta/tutorials/optimize): convolution_opt tiles a conv by batch 1, 128 output
# channels, 16 input channels and a 7 x 14 output window. matrix_multiply_opt tiles a batch-1
# GEMM by 1 row x 256 x 256; for GEMMs with many rows we give the reference as many rows as the
# conv tile has pixels (our choice: one row per tile would make the baseline needlessly weak).
VTA_TUTORIAL_TILE = {"B": 1, "OY": 7, "OX": 14, "K": 128, "C": 16}
VTA_DENSE_ROWS = 7 * 14


def vta_reference(workload: Workload, module: ExecModule) -> Mapping:
    """TVM's reference VTA schedule: fixed embedding (batch 1, in/out channels by 16) and the
    tutorial's fixed tile, halved until it fits with double buffering."""
    problem = problem_of(workload, module)
    check_runnable(problem)
    spatial = tuple(
        (axis.name, axis.loops[0], min(axis.size, workload[axis.loops[0]]))
        for axis in module.array.axes
    )
    tile = {
        **dict.fromkeys(LOOPS, 1),
        **VTA_TUTORIAL_TILE,
        "FY": workload["FY"],
        "FX": workload["FX"],
    }
    if workload.kind == "dense":
        tile["B"] = VTA_DENSE_ROWS
    tile = {loop: min(size, workload[loop]) for loop, size in tile.items()}
    order = ("FY", "FX", "B", "K", "OY", "OX", "C")
    while True:
        tiles = (tuple(tile[loop] for loop in LOOPS),)
        mapping = Mapping(spatial, tiles, (order,), (ALL,))
        if evaluate(problem, mapping).fits:
            return mapping
        shrink = max(("OY", "OX", "B", "K"), key=lambda loop: tile[loop])
        if tile[shrink] == 1:
            raise MappingError(f"layer {workload.name}: the VTA reference tile does not fit")
        tile[shrink] = -(-tile[shrink] // 2)
