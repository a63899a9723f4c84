"""Gemmini's instructions, declared once: each is a Python function whose body is its meaning.

A meaning is numpy over an explicit ``GemminiState`` (DRAM bytes, scratchpad int8 rows,
accumulator int32 rows, the weights in the mesh, configs). The ``intrinsic`` decorator records
the public C macro of ``gemmini.h`` that issues it, its argument names (in the macro's order) and
each argument's role, so code generators, the C emulator's tests and the cost model read one
table. Facts from shared/reference/gemmini.md ("ISA"); argument orders from gemmini-rocc-tests
``include/gemmini.h``.

Local addresses: bit 31 selects the accumulator, bit 30 accumulates instead of overwriting,
bit 29 reads the accumulator at full int32 width; all ones is the garbage address (nothing is
read or written). Rows and columns of every tile are 1..DIM; a shorter tile touches only its
rows and columns. DRAM addresses are byte offsets into ``GemminiState.dram``.

Scaling (mvin scale, mvout accumulator scale) is a float32 multiply rounded half to even, as the
default Gemmini configuration's float scale types; it is not TFLite's fixed-point requantization,
so bit-exact int8 layers move accumulators out at full width (bit 29) or pick exact scales. int8
rows moved into the accumulator (a ``shrunk`` load) pass through the same int8 mvin scaler as
scratchpad loads, saturating to int8, before they are written or accumulated (Gemmini's
Scratchpad.scala routes DMA data without the accumulator's bit width through ``mvin_scale``;
gemmini.h's ``resadd_cpu`` computes ``MVIN_SCALE(a) + MVIN_SCALE(b)``); full-width int32 rows are
not scaled (the default configuration's ``MVIN_SCALE_ACC`` is the identity).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from nnmap.hw.intrinsic import IntrinsicTable

GARBAGE_ADDR = 0xFFFFFFFF
ACC_BIT = 1 << 31
ACCUMULATE_BIT = 1 << 30
READ_FULL_BIT = 1 << 29
ROW_MASK = READ_FULL_BIT - 1
NO_ACTIVATION = 0
RELU = 1
OUTPUT_STATIONARY = 0
WEIGHT_STATIONARY = 1
ROLES = ("dram", "local", "size", "config")
UNITS = ("load", "execute", "store", "host")


@dataclass(frozen=True)
class LocalAddress:
    """A decoded scratchpad/accumulator address."""

    row: int
    accumulator: bool
    accumulate: bool
    read_full: bool
    garbage: bool

    @staticmethod
    def decode(address: int) -> LocalAddress:
        return LocalAddress(
            row=address & ROW_MASK,
            accumulator=bool(address & ACC_BIT),
            accumulate=bool(address & ACCUMULATE_BIT),
            read_full=bool(address & READ_FULL_BIT),
            garbage=address == GARBAGE_ADDR,
        )


@dataclass(frozen=True)
class ExConfig:
    dataflow: int = WEIGHT_STATIONARY
    activation: int = NO_ACTIVATION
    sys_shift: int = 0
    acc_scale: float = 1.0
    c_stride: int = 1
    a_stride: int = 1


@dataclass(frozen=True)
class LoadConfig:
    stride: int
    scale: float = 1.0
    shrunk: bool = False


@dataclass(frozen=True)
class StoreConfig:
    stride: int
    activation: int = NO_ACTIVATION
    scale: float = 1.0


@dataclass
class GemminiState:
    """Everything an instruction can read or write (mutable: instructions update it in place).

    The mesh is ``dim`` x ``dim`` (the width of a scratchpad row); the scratchpad and the
    accumulator have as many rows as their arrays.
    """

    dram: np.ndarray
    spad: np.ndarray
    acc: np.ndarray
    weights: np.ndarray
    preloaded: np.ndarray
    out_addr: int
    out_cols: int
    out_rows: int
    ex: ExConfig
    loads: tuple[LoadConfig, ...]
    store: StoreConfig

    @staticmethod
    def empty(dram: np.ndarray, dim: int, spad_rows: int, acc_rows: int) -> GemminiState:
        """The state after reset of a ``dim`` x ``dim`` Gemmini with these local rows."""
        return GemminiState(
            dram=dram,
            spad=np.zeros((spad_rows, dim), np.int8),
            acc=np.zeros((acc_rows, dim), np.int32),
            weights=np.zeros((dim, dim), np.int32),
            preloaded=np.zeros((dim, dim), np.int32),
            out_addr=GARBAGE_ADDR,
            out_cols=dim,
            out_rows=dim,
            ex=ExConfig(),
            loads=tuple(LoadConfig(dim) for _ in range(3)),
            store=StoreConfig(dim),
        )

    @property
    def dim(self) -> int:
        return int(self.spad.shape[1])


TABLE = IntrinsicTable(UNITS, ROLES)
INTRINSICS = TABLE.entries
intrinsic = TABLE.define
instructions = TABLE.instructions


def _check_tile(state: GemminiState, cols: int, rows: int) -> None:
    if not (1 <= cols <= state.dim and 1 <= rows <= state.dim):
        raise ValueError(f"tile of {rows} rows x {cols} cols; both must be in 1..{state.dim}")


def _check_rows(state: GemminiState, address: LocalAddress, rows: int) -> None:
    limit = len(state.acc) if address.accumulator else len(state.spad)
    if address.row + rows > limit:
        memory = "accumulator" if address.accumulator else "scratchpad"
        raise ValueError(f"rows {address.row}..{address.row + rows - 1} outside the {memory}")


def round_saturate(values: np.ndarray, scale: float, activation: int) -> np.ndarray:
    """float32 scale, round half to even, optional ReLU, saturate to int8."""
    scaled = np.rint(values.astype(np.float32) * np.float32(scale))
    if activation == RELU:
        scaled = np.maximum(scaled, np.float32(0))
    return np.clip(scaled, -128, 127).astype(np.int8)


def _wrap_add(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    return (old.astype(np.int64) + new).astype(np.uint32).view(np.int32)


def _read_dram(
    state: GemminiState, addr: int, stride: int, shape: tuple[int, int], dtype: Any
) -> np.ndarray:
    rows, cols = shape
    width = cols * np.dtype(dtype).itemsize
    lines = [state.dram[addr + r * stride : addr + r * stride + width] for r in range(rows)]
    return np.stack([np.frombuffer(line.tobytes(), dtype=dtype) for line in lines])


def _write_dram(state: GemminiState, addr: int, stride: int, block: np.ndarray) -> None:
    for r, line in enumerate(block):
        raw = np.frombuffer(np.ascontiguousarray(line).tobytes(), dtype=np.uint8)
        state.dram[addr + r * stride : addr + r * stride + raw.size] = raw


def _move_in(
    state: GemminiState, config: LoadConfig, dram: int, local: int, cols: int, rows: int
) -> None:
    _check_tile(state, cols, rows)
    dest = LocalAddress.decode(local)
    if dest.garbage:
        return
    _check_rows(state, dest, rows)
    span = slice(dest.row, dest.row + rows)
    if dest.accumulator:
        dtype = np.int8 if config.shrunk else np.int32
        block = _read_dram(state, dram, config.stride, (rows, cols), dtype).astype(np.int32)
        if config.shrunk and config.scale != 1.0:
            block = round_saturate(block, config.scale, NO_ACTIVATION).astype(np.int32)
        old = state.acc[span, :cols]
        state.acc[span, :cols] = _wrap_add(old, block) if dest.accumulate else block
        return
    block = _read_dram(state, dram, config.stride, (rows, cols), np.int8)
    if config.scale != 1.0:
        block = round_saturate(block, config.scale, NO_ACTIVATION)
    state.spad[span, :cols] = block


@intrinsic("gemmini_extended_mvin", "load", dram="dram_addr", local="spad_addr", size="cols rows")
def mvin(state: GemminiState, dram_addr: int, spad_addr: int, cols: int, rows: int) -> None:
    """DRAM -> scratchpad/accumulator with load config 0 (strided rows)."""
    _move_in(state, state.loads[0], dram_addr, spad_addr, cols, rows)


@intrinsic("gemmini_extended_mvin2", "load", dram="dram_addr", local="spad_addr", size="cols rows")
def mvin2(state: GemminiState, dram_addr: int, spad_addr: int, cols: int, rows: int) -> None:
    """DRAM -> scratchpad/accumulator with load config 1 (strided rows)."""
    _move_in(state, state.loads[1], dram_addr, spad_addr, cols, rows)


@intrinsic("gemmini_extended_mvin3", "load", dram="dram_addr", local="spad_addr", size="cols rows")
def mvin3(state: GemminiState, dram_addr: int, spad_addr: int, cols: int, rows: int) -> None:
    """DRAM -> scratchpad/accumulator with load config 2 (strided rows)."""
    _move_in(state, state.loads[2], dram_addr, spad_addr, cols, rows)


@intrinsic("gemmini_extended_mvout", "store", dram="dram_addr", local="spad_addr", size="cols rows")
def mvout(state: GemminiState, dram_addr: int, spad_addr: int, cols: int, rows: int) -> None:
    """Scratchpad/accumulator -> DRAM; accumulator rows scaled, activated, saturated to int8."""
    _check_tile(state, cols, rows)
    source = LocalAddress.decode(spad_addr)
    if source.garbage:
        return
    _check_rows(state, source, rows)
    span = slice(source.row, source.row + rows)
    if not source.accumulator:
        block: np.ndarray = state.spad[span, :cols]
    elif source.read_full:
        block = state.acc[span, :cols]
    else:
        block = round_saturate(state.acc[span, :cols], state.store.scale, state.store.activation)
    _write_dram(state, dram_addr, state.store.stride, block)


def _local_tile(state: GemminiState, address: int, cols: int, rows: int) -> np.ndarray:
    """A DIM x DIM int32 tile of scratchpad rows, zero outside rows x cols (garbage: zeros)."""
    _check_tile(state, cols, rows)
    tile = np.zeros((state.dim, state.dim), dtype=np.int32)
    source = LocalAddress.decode(address)
    if source.garbage:
        return tile
    if source.accumulator:
        raise ValueError("compute operands come from the scratchpad, not the accumulator")
    _check_rows(state, source, rows)
    tile[:rows, :cols] = state.spad[source.row : source.row + rows, :cols]
    return tile


@intrinsic(
    "gemmini_extended_preload", "execute", local="bd c", size="bd_cols bd_rows c_cols c_rows"
)
def preload(
    state: GemminiState, bd: int, c: int, bd_cols: int, bd_rows: int, c_cols: int, c_rows: int
) -> None:
    """Stage a weight tile (garbage: zeros) and name the output rows of the next compute."""
    _check_tile(state, c_cols, c_rows)
    state.preloaded = _local_tile(state, bd, bd_cols, bd_rows)
    state.out_addr, state.out_cols, state.out_rows = c, c_cols, c_rows


def _compute(
    state: GemminiState, a: int, bd: int, a_cols: int, a_rows: int, bd_cols: int, bd_rows: int
) -> None:
    inputs = _local_tile(state, a, a_cols, a_rows).astype(np.int64)
    bias = _local_tile(state, bd, bd_cols, bd_rows)
    result = inputs @ state.weights.astype(np.int64) + bias
    dest = LocalAddress.decode(state.out_addr)
    if dest.garbage:
        return
    _check_rows(state, dest, state.out_rows)
    span, cols = slice(dest.row, dest.row + state.out_rows), state.out_cols
    block = result[: state.out_rows, :cols]
    if not dest.accumulator:
        state.spad[span, :cols] = np.clip(block, -128, 127).astype(np.int8)
    elif dest.accumulate:
        state.acc[span, :cols] = _wrap_add(state.acc[span, :cols], block)
    else:
        state.acc[span, :cols] = block.astype(np.int32)


@intrinsic(
    "gemmini_extended_compute_preloaded",
    "execute",
    local="a bd",
    size="a_cols a_rows bd_cols bd_rows",
)
def compute_preloaded(
    state: GemminiState, a: int, bd: int, a_cols: int, a_rows: int, bd_cols: int, bd_rows: int
) -> None:
    """Switch to the preloaded weights; output rows = A @ W + D (D: scratchpad rows or zeros)."""
    state.weights = state.preloaded
    _compute(state, a, bd, a_cols, a_rows, bd_cols, bd_rows)


@intrinsic(
    "gemmini_extended_compute_accumulated",
    "execute",
    local="a bd",
    size="a_cols a_rows bd_cols bd_rows",
)
def compute_accumulated(
    state: GemminiState, a: int, bd: int, a_cols: int, a_rows: int, bd_cols: int, bd_rows: int
) -> None:
    """Keep the weights already in the mesh; output rows = A @ W + D."""
    _compute(state, a, bd, a_cols, a_rows, bd_cols, bd_rows)


@intrinsic(
    "gemmini_extended3_config_ex",
    "execute",
    config="dataflow sys_act sys_shift sys_acc_scale c_stride a_stride a_transpose b_transpose"
    " set_only_strides",
)
def config_ex(
    state: GemminiState,
    dataflow: int,
    sys_act: int,
    sys_shift: int,
    sys_acc_scale: float,
    c_stride: int,
    a_stride: int,
    a_transpose: int,
    b_transpose: int,
    set_only_strides: int,
) -> None:
    """Set dataflow, mesh activation and shift, strides (only weight-stationary is emulated)."""
    if set_only_strides:
        state.ex = replace(state.ex, c_stride=c_stride, a_stride=a_stride)
        return
    if dataflow != WEIGHT_STATIONARY or a_transpose or b_transpose:
        raise ValueError("only weight-stationary without transposes is emulated")
    state.ex = ExConfig(dataflow, sys_act, sys_shift, sys_acc_scale, c_stride, a_stride)


@intrinsic("gemmini_extended3_config_ld", "load", config="stride scale shrunk id")
def config_ld(state: GemminiState, stride: int, scale: float, shrunk: int, id: int) -> None:
    """Set DRAM row stride (bytes; 0 repeats one row), int8 scale and int8-into-accumulator
    (``shrunk``) of mvin, mvin2 or mvin3."""
    if id not in range(len(state.loads)):
        raise ValueError(f"load config id {id}; use 0 (mvin), 1 (mvin2) or 2 (mvin3)")
    loads = list(state.loads)
    loads[id] = LoadConfig(stride, scale, bool(shrunk))
    state.loads = tuple(loads)


@intrinsic("gemmini_extended_config_st", "store", config="stride acc_act acc_scale")
def config_st(state: GemminiState, stride: int, acc_act: int, acc_scale: float) -> None:
    """Set DRAM row stride (bytes), activation and accumulator scale of mvout."""
    state.store = StoreConfig(stride, acc_act, acc_scale)


@intrinsic("gemmini_fence", "host")
def fence(state: GemminiState) -> None:
    """Wait until every issued instruction has finished (no change of state)."""
