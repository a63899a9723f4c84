"""The meaning of an embedding: run a layer as the instruction calls it describes, in numpy.

Every call fills the instruction's operand tiles from the layer's tensors (positions past a
loop's extent, off a diagonal or outside the image hold zero), contracts them over the axes the
output does not index, and adds each kept result position into the output. A legal embedding
computes exactly the layer; the tests run every embedding the solver returns through this.

Tensors are indexed ``I[g, b, c, y, x]``, ``W[g, k, c, fy, fx]``, ``O[g, b, k, oy, ox]``.
"""

from __future__ import annotations

import itertools
import string

import numpy as np

from nnmap.embedding.embedding import Embedding
from nnmap.ir.workload import Workload


def _positions(embedding: Embedding, axis: str, size: int) -> list[dict[str, int] | None]:
    """Each position of ``axis``: the inner index of every loop placed there (None: padding)."""
    placements = embedding.on_axis(axis)
    positions: list[dict[str, int] | None] = []
    for position in range(size):
        inner, rest = {}, position
        for placement in placements:
            inner[placement.loop] = rest % placement.factor
            rest //= placement.factor
        positions.append(inner if rest == 0 else None)
    return positions


def _indices(
    chosen: list[dict[str, int] | None], base: dict[str, int], embedding: Embedding
) -> dict[str, int] | None:
    """The loop indices at one combination of axis positions (None: padding, off a diagonal,
    or past a loop's extent)."""
    index = dict(base)
    inner: dict[str, int] = {}
    for position in chosen:
        if position is None:
            return None
        for loop, value in position.items():
            if inner.setdefault(loop, value) != value:
                return None
    for loop, value in inner.items():
        index[loop] += value
        if index[loop] >= embedding.extent(loop):
            return None
    return index


def _input_value(
    inputs: np.ndarray, workload: Workload, index: dict[str, int]
) -> int:
    top, left = workload.padding[0], workload.padding[2]
    y = index["OY"] * workload.stride[0] + index["FY"] * workload.dilation[0] - top
    x = index["OX"] * workload.stride[1] + index["FX"] * workload.dilation[1] - left
    if not (0 <= y < inputs.shape[3] and 0 <= x < inputs.shape[4]):
        return 0
    return int(inputs[index["G"], index["B"], index["C"], y, x])


def execute(
    embedding: Embedding, workload: Workload, inputs: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """The layer's output computed call by call as ``embedding`` places it."""
    extents = dict(embedding.extents)
    axes = embedding.instruction.axes
    positions = {axis.name: _positions(embedding, axis.name, axis.size) for axis in axes}
    letters = dict(zip((axis.name for axis in axes), string.ascii_lowercase, strict=False))
    by_operand = {op: [a.name for a in axes if op in a.operands] for op in "IWO"}
    output = np.zeros(
        (extents["G"], extents["B"], extents["K"], extents["OY"], extents["OX"]), np.int64
    )
    outer = {loop: -(-extents[loop] // embedding.factor(loop)) for loop in extents}
    for counts in itertools.product(*(range(n) for n in outer.values())):
        base = {loop: c * embedding.factor(loop) for loop, c in zip(outer, counts, strict=True)}
        tiles = {}
        for operand in "IW":
            names = by_operand[operand]
            tile = np.zeros([len(positions[n]) for n in names], np.int64)
            for spot in itertools.product(*(range(len(positions[n])) for n in names)):
                chosen = [positions[n][p] for n, p in zip(names, spot, strict=True)]
                index = _indices(chosen, base, embedding)
                if index is not None:
                    tile[spot] = (
                        _input_value(inputs, workload, index) if operand == "I" else
                        weights[index["G"], index["K"], index["C"], index["FY"], index["FX"]]
                    )
            tiles[operand] = tile
        spec = "{},{}->{}".format(*(
            "".join(letters[n] for n in by_operand[op]) for op in "IWO"
        ))
        result = np.einsum(spec, tiles["I"], tiles["W"])
        names = by_operand["O"]
        for spot in itertools.product(*(range(len(positions[n])) for n in names)):
            chosen = [positions[n][p] for n, p in zip(names, spot, strict=True)]
            index = _indices(chosen, base, embedding)
            if index is not None:
                place = (index["G"], index["B"], index["K"], index["OY"], index["OX"])
                output[place] += result[spot]
    return output


def reference(workload: Workload, inputs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The layer computed loop by loop (the definition the embeddings must match)."""
    e = {"G": workload.groups, **workload.loops}
    output = np.zeros((e["G"], e["B"], e["K"], e["OY"], e["OX"]), np.int64)
    for index_values in itertools.product(*(range(e[loop]) for loop in e)):
        index = dict(zip(e, index_values, strict=True))
        value = _input_value(inputs, workload, index)
        weight = weights[index["G"], index["K"], index["C"], index["FY"], index["FX"]]
        output[index["G"], index["B"], index["K"], index["OY"], index["OX"]] += value * int(weight)
    return output
