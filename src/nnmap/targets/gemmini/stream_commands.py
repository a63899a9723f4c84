"""Which commands nnmap's code generator emits for a GEMM on Gemmini, as the command list the
emulator's timing engine reads (``timing_engine``). Nothing here says how long a command takes.

The stream of one layer (``nnmap.targets.gemmini.schedule``): configuration, then per output
tile (m x n, ``a x b`` blocks) its DIM-deep reduction columns, each with ``a`` input blocks and
``b`` weight blocks in alternating scratchpad slots and ``b x a`` preload + compute pairs; the
blocks of column c + 1 are moved in before the pairs of column c (column 0's before the loop),
the first column overwrites the accumulator (no bias is moved in), then the int32 output blocks
are moved out; a fence at the end. When the panel of the outer tile is resident (the input
panel of an m tile across its n tiles, or the weight panel of an n tile across its m tiles),
its blocks are moved in, column by column in the same way, by the first inner tile only, into
the panel's own rows, and every later inner tile reads them there. In hardware numerics the
bias blocks are moved into the accumulator before each output tile, and each int8 mvout follows
its config_st.

Every command moves or computes whole DIM x DIM blocks (a partial last m block streams only its
real rows through the array). The scratchpad holds the input blocks (the resident panel, or two
slots of ``a`` blocks), then the weight blocks (likewise with ``b``); the accumulator one or two
halves of ``a x b`` blocks: each block the stream names has rows of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnmap.targets.gemmini.timing_engine import (
    COMMAND_WORDS,
    COMPUTE_ACCUMULATED,
    COMPUTE_PRELOADED,
    CONFIG,
    EXECUTE,
    FENCE,
    LOAD,
    MVIN,
    MVOUT,
    NO_ROWS,
    PRELOAD,
    STORE,
    Command,
    block_rows,
    command,
)

_FIXED, _INPUT, _WEIGHT = 0, 1, 2  # a template command's rows: as they are, or in the column's
# input or weight blocks (offset by the column's first block of that operand)


@dataclass(frozen=True)
class StreamShape:
    """One layer's stream: output tile of a x b blocks, reduction columns per tile, outer tiles
    (the tiles whose panel is resident), output tiles per outer tile, whether output tiles
    alternate between accumulator halves, the resident panel ("input", "weight" or "") and
    whether the outputs are scaled on the way out (hardware numerics), and the real rows of
    each tile's last m block when fewer than DIM (``GemmTiles.last_rows``); ``direct_input``:
    the input mvins read the layer's input as it is, each block its real rows only."""

    a: int
    b: int
    columns: int
    outer: int
    inner: int
    double_acc: bool
    resident: str = ""
    scaled: bool = False
    last_rows: int | None = None
    direct_input: bool = False

    def input_rows(self, block: int, dim: int) -> int:
        """Rows the input mvin of m block ``block`` moves in."""
        return self.block_rows(block, dim) if self.direct_input else dim

    def block_rows(self, block: int, dim: int) -> int:
        """Rows the array streams for m block ``block`` of a tile."""
        return self.last_rows if self.last_rows and block == self.a - 1 else dim

    def store_width(self, acc_bytes: int) -> int:
        """Bytes per output element moved out: int8 when scaled, else int32."""
        return 1 if self.scaled else acc_bytes

    @property
    def tiles(self) -> int:
        return self.outer * self.inner

    def commands(self) -> int:
        """The number of commands in the stream (configuration and fence included)."""
        pairs, tiles = self.a * self.b, self.tiles
        panel = {"input": self.a, "weight": self.b}.get(self.resident, 0)
        loads = (self.a + self.b) * self.outer + (self.a + self.b - panel) * (tiles - self.outer)
        per_tile = 2 * pairs * self.columns + pairs * (3 if self.scaled else 1)
        return 6 + loads * self.columns + per_tile * tiles


def _template(commands: list[tuple[Command, int]]) -> tuple[np.ndarray, np.ndarray]:
    words = np.array([words for words, _ in commands], dtype=np.int64).reshape(-1, COMMAND_WORDS)
    return words, np.array([kind for _, kind in commands], dtype=np.int64)


def _loads(shape: StreamShape, dim: int, first_inner: bool) -> tuple[np.ndarray, np.ndarray]:
    """One column's input and weight block loads, rows relative to the column's blocks."""
    loads = []
    for operand, count, kind in (("input", shape.a, _INPUT), ("weight", shape.b, _WEIGHT)):
        if shape.resident != operand or first_inner:
            for i in range(count):
                rows = shape.input_rows(i, dim) if operand == "input" else dim
                loads.append((command(MVIN, dim * rows, (block_rows(i, dim)[0], rows)), kind))
    return _template(loads)


def _pairs(shape: StreamShape, dim: int, half: int) -> tuple[np.ndarray, np.ndarray]:
    """One column's preload + compute pairs, rows relative to the column's blocks."""
    rows = [shape.block_rows(i, dim) for i in range(shape.a)]
    pairs = []
    for j in range(shape.b):
        for i in range(shape.a):
            output = (_acc(shape, dim, half, i, j)[0], rows[i])
            opcode = COMPUTE_PRELOADED if i == 0 else COMPUTE_ACCUMULATED
            preload = command(PRELOAD, 0, block_rows(j, dim)) if i == 0 else command(PRELOAD)
            pairs.append((preload, _WEIGHT if i == 0 else _FIXED))
            compute = command(opcode, rows[i], (i * dim, rows[i]), NO_ROWS, output)
            pairs.append((compute, _INPUT))
    return _template(pairs)


def _acc(shape: StreamShape, dim: int, half: int, i: int, j: int) -> tuple[int, int]:
    return block_rows((half * shape.a + i) * shape.b + j, dim, True)


def _column_blocks(shape: StreamShape, first_slot: int) -> tuple[np.ndarray, np.ndarray]:
    """Each column's first input block and first weight block."""
    columns = np.arange(shape.columns)
    slots = (first_slot + columns) % 2
    inputs = columns * shape.a if shape.resident == "input" else slots * shape.a
    weights = columns * shape.b if shape.resident == "weight" else slots * shape.b
    input_blocks = shape.columns * shape.a if shape.resident == "input" else 2 * shape.a
    return inputs, input_blocks + weights


def _placed(
    template: tuple[np.ndarray, np.ndarray], dim: int, inputs: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """The template's commands in each column whose first blocks are given: (columns, n, words)."""
    words, kinds = template
    placed = np.repeat(words[None], len(inputs), axis=0)
    placed[:, kinds == _INPUT, 2] += inputs[:, None] * dim
    placed[:, kinds == _WEIGHT, 2] += weights[:, None] * dim
    return placed


def output_tile(
    shape: StreamShape, dim: int, acc_bytes: int, half: int, first_slot: int, first_inner: bool
) -> np.ndarray:
    """The commands of one output tile in accumulator ``half`` whose first column uses slot
    ``first_slot`` (``first_inner``: the first inner tile of its outer tile, which moves the
    resident panel in)."""
    inputs, weights = _column_blocks(shape, first_slot)
    loads = _placed(_loads(shape, dim, first_inner), dim, inputs, weights)
    pairs = _placed(_pairs(shape, dim, half), dim, inputs, weights)
    bias = dim * dim * acc_bytes
    blocks = [(i, j) for j in range(shape.b) for i in range(shape.a)]
    head = [command(MVIN, bias, _acc(shape, dim, half, i, j)) for i, j in blocks]
    store = dim * dim * shape.store_width(acc_bytes)
    tail = []
    for i in range(shape.a):
        for j in range(shape.b):
            tail += [command(CONFIG, STORE)] if shape.scaled else []
            tail.append(command(MVOUT, store, _acc(shape, dim, half, i, j)))
    body = np.concatenate((loads[1:], pairs[:-1]), axis=1).reshape(-1, COMMAND_WORDS)
    return np.concatenate(
        (
            np.array(head if shape.scaled else [], dtype=np.int64).reshape(-1, COMMAND_WORDS),
            loads[0],
            body,
            pairs[-1],
            np.array(tail, dtype=np.int64),
        )
    )


def stream_commands(shape: StreamShape, dim: int, acc_bytes: int) -> np.ndarray:
    """The encoded commands of the whole stream of ``shape``, in program order."""
    configs = [command(CONFIG, unit) for unit in (EXECUTE, LOAD, LOAD, LOAD, STORE)]
    tiles: dict[tuple[int, int, bool], np.ndarray] = {}
    parts = [np.array(configs, dtype=np.int64)]
    for step in range(shape.tiles):
        half = step % 2 if shape.double_acc else 0
        key = (half, step * shape.columns % 2, step % shape.inner == 0)
        if key not in tiles:
            tiles[key] = output_tile(shape, dim, acc_bytes, *key)
        parts.append(tiles[key])
    parts.append(np.array([command(FENCE)], dtype=np.int64))
    return np.concatenate(parts).astype(np.uint32)
