"""Today's fixed embedding, the baseline the solver is measured against (TVM's and nnmap's
code generators use it): output pixels on the rows, channels then the window's x and y (each
whole, while they fit) on the reduction, output channels on the columns. Grouped layers have
none."""

from __future__ import annotations

from nnmap.embedding.dataflow import InstructionDataflow, loop_extents
from nnmap.embedding.embedding import Embedding, Placement
from nnmap.ir.workload import Workload

FIXED_SCHEME = (("rows", ("OX", "OY", "B")), ("reduction", ("C", "FX", "FY")),
                ("columns", ("K",)))


def fixed_embedding(workload: Workload, instruction: InstructionDataflow) -> Embedding | None:
    """The fixed embedding of ``workload`` on ``instruction`` (None for a grouped layer)."""
    if workload.groups > 1:
        return None
    sizes = {axis.name: axis.size for axis in instruction.axes}
    extents = loop_extents(workload)
    placements = []
    for axis, loops in FIXED_SCHEME:
        room = sizes[axis]
        for loop in loops:
            factor = min(extents[loop], room)
            if loop in ("FX", "FY") and factor < extents[loop]:
                break  # the window packs whole or not at all
            if factor > 1:
                placements.append(Placement(loop, (axis,), factor))
                room //= factor
            if factor < extents[loop] or room == 1:
                break
    return Embedding(instruction, tuple(extents.items()), tuple(placements))
