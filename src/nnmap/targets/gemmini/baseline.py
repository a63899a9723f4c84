"""Gemmini's default tiling heuristics (``tiled_matmul_auto``, ``tiled_conv_auto``) as Mappings
costed by the same model: the baseline nnmap's search must beat.

Our own rendering of the published behaviour in shared/reference/gemmini.md.
"""

from __future__ import annotations

from math import isqrt

from nnmap.errors import MappingError
from nnmap.hw import ExecModule
from nnmap.ir.workload import LOOPS, Workload
from nnmap.mapping.model import Mapping
from nnmap.mapping.problem import problem_of
from nnmap.mapping.search import check_runnable

REDUCTION_INSIDE = ("OY", "OX", "FY", "FX", "B", "K", "C")  # i, j outer; k (reduction) innermost
CONV_ORDER = ("B", "OY", "OX", "K", "FY", "FX", "C")  # batch, out rows/cols/chans, kernel, in chans
ALL = frozenset({"I", "W", "O"})


def _systolic_dim(module: ExecModule) -> int:
    return module.array.axes[0].size


def _spad_rows(module: ExecModule) -> tuple[int, int]:
    """Half the scratchpad and half the accumulator, in rows of DIM elements (WS halves both)."""
    dim = _systolic_dim(module)
    spad = module.memory_for(0, "I")
    acc = module.memory_for(0, "O")
    return spad.size // dim // 2, acc.size // (dim * module.array.acc_bytes) // 2


def gemmini_default(workload: Workload, module: ExecModule) -> Mapping:
    """Gemmini's ``tiled_matmul_auto`` (dense) or ``tiled_conv_auto`` (conv) tiling, WS."""
    check_runnable(problem_of(workload, module))
    dim = _systolic_dim(module)
    spatial = (("rows", "C", min(dim, workload["C"])), ("cols", "K", min(dim, workload["K"])))
    if workload.kind == "dense":
        tiles, order = _matmul_tiles(workload, module), REDUCTION_INSIDE
    elif workload.kind == "conv":
        tiles, order = _conv_tiles(workload, module), CONV_ORDER
    else:
        raise MappingError(
            f"layer {workload.name}: Gemmini's default heuristics cover dense and "
            f"conv layers, not {workload.kind}"
        )
    return Mapping(spatial, (tuple(tiles[loop] for loop in LOOPS),), (order,), (ALL,))


def _matmul_tiles(workload: Workload, module: ExecModule) -> dict[str, int]:
    dim = _systolic_dim(module)
    spad_rows, acc_rows = _spad_rows(module)
    blocks = {
        "I": -(-workload["B"] // dim),
        "J": -(-workload["K"] // dim),
        "K": -(-workload["C"] // dim),
    }
    side = isqrt(acc_rows // dim)
    tile = {"I": min(blocks["I"], side), "J": min(blocks["J"], side)}
    tile["K"] = min(blocks["K"], max(1, spad_rows // dim // (tile["I"] * tile["J"])))

    def fits(t: dict[str, int]) -> bool:
        return (t["I"] * t["K"] + t["K"] * t["J"]) * dim <= spad_rows and t["I"] * t[
            "J"
        ] * dim <= acc_rows

    while not fits(tile) and tile["K"] > 1:  # narrow matrices: the starting K may overflow
        tile["K"] -= 1
    for axis in ("J", "I", "K"):
        while tile[axis] < blocks[axis] and fits({**tile, axis: tile[axis] + 1}):
            tile[axis] += 1
    return {
        **dict.fromkeys(LOOPS, 1),
        "B": min(workload["B"], tile["I"] * dim),
        "K": min(workload["K"], tile["J"] * dim),
        "C": min(workload["C"], tile["K"] * dim),
    }


def _conv_tiles(workload: Workload, module: ExecModule) -> dict[str, int]:
    dim = _systolic_dim(module)
    spad_rows, acc_rows = _spad_rows(module)
    sy, sx = workload.stride
    args = {loop: workload[loop] for loop in LOOPS}
    channels = ("K", "C")

    def rows(a: dict[str, int]) -> tuple[int, int]:
        in_rows = (a["OY"] - 1) * sy + a["FY"]
        in_cols = (a["OX"] - 1) * sx + a["FX"]
        inputs = a["B"] * in_rows * in_cols * -(-a["C"] // dim)
        weights = a["FY"] * a["FX"] * (-(-a["C"] // dim) * dim) * -(-a["K"] // dim)
        return inputs + weights, a["B"] * a["OY"] * a["OX"] * -(-a["K"] // dim)

    def fits(a: dict[str, int]) -> bool:
        spad, acc = rows(a)
        return spad <= spad_rows and acc <= acc_rows

    def step(loop: str) -> int:
        return dim if loop in channels and args[loop] > dim else 1

    while not fits(args):
        shrinkable = [
            loop for loop in LOOPS if args[loop] > 1 and not (loop == "OX" and args[loop] <= dim)
        ]
        largest = max(shrinkable, key=lambda loop: args[loop])
        args[largest] = max(1, args[largest] - step(largest))
    grown = True
    while grown:
        grown = False
        for loop in ("OX", *LOOPS):
            bigger = {**args, loop: min(workload[loop], args[loop] + step(loop))}
            if bigger[loop] > args[loop] and fits(bigger):
                args = bigger
                grown = True
                break
    return args
