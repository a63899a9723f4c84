"""Baselines, as Mappings costed by the same model: Gemmini's default tiling, TVM's VTA schedule.

Both are our own rendering of the published behaviour in shared/reference/gemmini.md and vta.md.
"""

from __future__ import annotations

from math import isqrt

from nnmap.errors import MappingError
from nnmap.hw import ExecModule
from nnmap.ir.workload import LOOPS, Workload
from nnmap.mapping.cost import evaluate
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
