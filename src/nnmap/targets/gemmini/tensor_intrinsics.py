"""Gemmini's DIM x DIM tensor intrinsics for TVM's ``tensorize``: descriptions and C-call impls.

Each intrinsic pairs a TIR description (the tile computation or copy) with an implementation
that is one ``T.call_extern`` of a public gemmini.h macro, named from the instruction table in
``nnmap.targets.gemmini.instructions``. Local memories are TIR buffers in two scopes: the
scratchpad (``SCRATCH``) and the accumulator (``ACCUMULATOR``); a tile's local row address is its
buffer element offset (within its reduction column) divided by dim, plus the row where its
column starts.

Where a column starts is a free variable of the intrinsics' C forms, one per operand
(``INPUT_ROW``, ``WEIGHT_ROW``), bound by the schedule to an expression of the loops around it
(``nnmap.targets.gemmini.tiling.panel_rows`` gives the layout): a streamed operand alternates
between two slots (inputs at the bottom of the scratchpad, weights at the top) by the parity of the
column, so the loads of one column never wait for the computes of the previous one; a resident
panel puts each column at its own rows. ``LOAD_INPUT`` and ``LOAD_WEIGHT`` (0 or 1) say whether
an operand's mvin is issued: a resident panel is moved in by the first inner tile only.
``ACC_SLOT`` offsets accumulator addresses by halves of the accumulator (the parity of the
output tile, when two fit), so the computes of one output tile never wait for the stores of
the previous one. ``ACCUMULATE`` (0 or 1) says whether a matmul adds to its output block or
overwrites it: the schedule binds it to "not the first reduction column" (exact mode starts
from the overwrite, so no initial value is moved in) or to 1 (an initial value was moved in).
``REUSE_WEIGHTS`` (0 or 1) says whether a matmul keeps the weights already in the mesh (a
preload of the garbage address and ``compute_accumulated``) instead of preloading its own, and
``A_ROWS`` how many rows of its input block it streams (the real rows of a partial block).

The DRAM row strides are not operands of mvin/mvout: they are set once per layer by
``config_ld`` (one load config per operand: mvin for inputs, mvin2 for weights, mvin3 with a
zero stride for the bias, which replicates one int32 row into every accumulator row) and
``config_st``; the generated kernel issues those in its prologue (``config_calls``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache

from tvm import tirx
from tvm.s_tir import TensorIntrin
from tvm.script import tirx as T

from nnmap.targets.gemmini import instructions as gi
from nnmap.targets.gemmini.tiling import GemminiGeometry

SCRATCH = "global.scratch"
ACCUMULATOR = "global.accumulator"
INPUT_ROW = tirx.Var("input_row", "int32")
WEIGHT_ROW = tirx.Var("weight_row", "int32")
LOAD_INPUT = tirx.Var("load_input", "int32")
LOAD_WEIGHT = tirx.Var("load_weight", "int32")
ACC_SLOT = tirx.Var("acc_slot", "int32")
ACCUMULATE = tirx.Var("accumulate", "int32")
REUSE_WEIGHTS = tirx.Var("reuse_weights", "int32")
A_ROWS = tirx.Var("a_rows", "int32")
ACC_BITS = gi.ACC_BIT
READ_FULL_BITS = gi.ACC_BIT | gi.READ_FULL_BIT
INPUT_LOAD, WEIGHT_LOAD, BIAS_LOAD = 0, 1, 2



@dataclass(frozen=True)
class GemminiIntrinsics:
    """The names under which one Gemmini geometry's tensor intrinsics are registered."""

    geometry: GemminiGeometry
    mvin_input: str
    mvin_weight: str
    mvin_bias: str
    zero_by_overwrite: str
    matmul: str
    mvout: str

    @property
    def dim(self) -> int:
        return self.geometry.dim

_MACRO = {name: entry.c_name for name, entry in gi.INTRINSICS.items()}
_GARBAGE = tirx.const(gi.GARBAGE_ADDR, "uint32")


def _row(buffer: tirx.Buffer, column_row: tirx.Var, dim: int) -> tirx.PrimExpr:
    """The scratchpad row of a tile: its element offset in DIM-element rows within its
    reduction column, plus the row where the column starts."""
    return tirx.truncdiv(buffer.elem_offset, dim) + column_row


def acc_row(buffer: tirx.Buffer, geometry: GemminiGeometry) -> tirx.PrimExpr:
    """The accumulator row of a tile, in the half of its slot."""
    return tirx.truncdiv(buffer.elem_offset, geometry.dim) + ACC_SLOT * (geometry.acc_rows // 2)


def _output(acc: tirx.Buffer, geometry: GemminiGeometry) -> tirx.PrimExpr:
    """The accumulator address a matmul writes: its row, the accumulate flag, the acc bit."""
    return acc_row(acc, geometry) + ACCUMULATE * gi.ACCUMULATE_BIT + ACC_BITS


def _load_macro(load_id: int) -> str:
    return _MACRO[("mvin", "mvin2", "mvin3")[load_id]]


def _copy_in(
    name: str, load_id: int, column_row: tirx.Var, issued: tirx.Var, dim: int,
    rows: int | None = None,
) -> None:
    """A DIM x DIM block moved in; ``rows``: only its first rows are read from DRAM (Gemmini's
    mvin takes 1 to DIM rows), the rest of the block is never streamed through the array."""
    moved = dim if rows is None else rows
    macro = _load_macro(load_id)

    @T.prim_func(s_tir=True)
    def desc(a: T.handle, b: T.handle) -> None:
        src = T.match_buffer(a, (dim, dim), "int8", offset_factor=1)
        dst = T.match_buffer(b, (dim, dim), "int8", offset_factor=1, scope=SCRATCH)
        with T.sblock("root"):
            T.reads(src[0:dim, 0:dim])
            T.writes(dst[0:dim, 0:dim])
            for i, j in T.grid(dim, dim):
                with T.sblock("copy"):
                    vi, vj = T.axis.remap("SS", [i, j])
                    dst[vi, vj] = src[vi, vj]

    @T.prim_func(s_tir=True, check_well_formed=False)  # the slots are bound by the schedule
    def impl(a: T.handle, b: T.handle) -> None:
        s0 = T.int32()
        d0 = T.int32()
        src = T.match_buffer(a, (dim, dim), "int8", offset_factor=1, strides=[s0, 1])
        dst = T.match_buffer(b, (dim, dim), "int8", offset_factor=1, scope=SCRATCH, strides=[d0, 1])
        with T.sblock("root"):
            T.reads(src[0:dim, 0:dim])
            T.writes(dst[0:dim, 0:dim])
            if issued != 0:
                T.evaluate(
                    T.call_extern(
                        "void", macro, src.access_ptr("r"), _row(dst, column_row, dim), dim,
                        moved,
                    )
                )

    TensorIntrin.register(name, desc, impl, override=True)


def _bias_in(name: str, geometry: GemminiGeometry) -> None:
    dim = geometry.dim
    macro = _load_macro(BIAS_LOAD)

    @T.prim_func(s_tir=True)
    def desc(a: T.handle, c: T.handle) -> None:
        bias = T.match_buffer(a, (dim,), "int32", offset_factor=1)
        acc = T.match_buffer(c, (dim, dim), "int32", offset_factor=1, scope=ACCUMULATOR)
        with T.sblock("root"):
            T.reads(bias[0:dim])
            T.writes(acc[0:dim, 0:dim])
            for i, j in T.grid(dim, dim):
                with T.sblock("init"):
                    vi, vj = T.axis.remap("SS", [i, j])
                    acc[vi, vj] = bias[vj]

    @T.prim_func(s_tir=True, check_well_formed=False)  # the slots are bound by the schedule
    def impl(a: T.handle, c: T.handle) -> None:
        d0 = T.int32()
        bias = T.match_buffer(a, (dim,), "int32", offset_factor=1)
        acc = T.match_buffer(
            c, (dim, dim), "int32", offset_factor=1, scope=ACCUMULATOR, strides=[d0, 1]
        )
        with T.sblock("root"):
            T.reads(bias[0:dim])
            T.writes(acc[0:dim, 0:dim])
            T.evaluate(
                T.call_extern(
                    "void", macro, bias.access_ptr("r"), acc_row(acc, geometry) + ACC_BITS, dim, dim
                )
            )

    TensorIntrin.register(name, desc, impl, override=True)


def _zero_by_overwrite(name: str, dim: int) -> None:
    """The zero initial value of an output block, realised by the first reduction column's matmul
    overwriting the block (``ACCUMULATE`` bound to 0 there): no instruction of its own."""

    @T.prim_func(s_tir=True)
    def desc(c: T.handle) -> None:
        acc = T.match_buffer(c, (dim, dim), "int32", offset_factor=1, scope=ACCUMULATOR)
        with T.sblock("root"):
            T.reads()
            T.writes(acc[0:dim, 0:dim])
            for i, j in T.grid(dim, dim):
                with T.sblock("init"):
                    vi, vj = T.axis.remap("SS", [i, j])
                    acc[vi, vj] = T.int32(0)

    @T.prim_func(s_tir=True)
    def impl(c: T.handle) -> None:
        d0 = T.int32()
        acc = T.match_buffer(
            c, (dim, dim), "int32", offset_factor=1, scope=ACCUMULATOR, strides=[d0, 1]
        )
        with T.sblock("root"):
            T.reads()
            T.writes(acc[0:dim, 0:dim])
            T.evaluate(0)

    TensorIntrin.register(name, desc, impl, override=True)


def _matmul(name: str, geometry: GemminiGeometry) -> None:
    dim = geometry.dim
    preload = _MACRO["preload"]
    preloaded, accumulated = _MACRO["compute_preloaded"], _MACRO["compute_accumulated"]

    @T.prim_func(s_tir=True)
    def desc(a: T.handle, b: T.handle, c: T.handle) -> None:
        lhs = T.match_buffer(a, (dim, dim), "int8", offset_factor=1, scope=SCRATCH)
        rhs = T.match_buffer(b, (dim, dim), "int8", offset_factor=1, scope=SCRATCH)
        acc = T.match_buffer(c, (dim, dim), "int32", offset_factor=1, scope=ACCUMULATOR)
        with T.sblock("root"):
            T.reads(acc[0:dim, 0:dim], lhs[0:dim, 0:dim], rhs[0:dim, 0:dim])
            T.writes(acc[0:dim, 0:dim])
            for i, j, k in T.grid(dim, dim, dim):
                with T.sblock("update"):
                    vi, vj, vk = T.axis.remap("SSR", [i, j, k])
                    acc[vi, vj] = acc[vi, vj] + T.Cast("int32", lhs[vi, vk]) * T.Cast(
                        "int32", rhs[vk, vj]
                    )

    @T.prim_func(s_tir=True, check_well_formed=False)  # the slots are bound by the schedule
    def impl(a: T.handle, b: T.handle, c: T.handle) -> None:
        s0 = T.int32()
        s1 = T.int32()
        s2 = T.int32()
        lhs = T.match_buffer(a, (dim, dim), "int8", offset_factor=1, scope=SCRATCH, strides=[s0, 1])
        rhs = T.match_buffer(b, (dim, dim), "int8", offset_factor=1, scope=SCRATCH, strides=[s1, 1])
        acc = T.match_buffer(
            c, (dim, dim), "int32", offset_factor=1, scope=ACCUMULATOR, strides=[s2, 1]
        )
        with T.sblock("root"):
            T.reads(acc[0:dim, 0:dim], lhs[0:dim, 0:dim], rhs[0:dim, 0:dim])
            T.writes(acc[0:dim, 0:dim])
            if REUSE_WEIGHTS != 0:
                T.evaluate(
                    T.call_extern(
                        "void", preload, _GARBAGE, _output(acc, geometry), dim, dim, dim, A_ROWS
                    )
                )
                T.evaluate(
                    T.call_extern(
                        "void",
                        accumulated,
                        _row(lhs, INPUT_ROW, dim),
                        _GARBAGE,
                        dim,
                        A_ROWS,
                        dim,
                        dim,
                    )
                )
            else:
                T.evaluate(
                    T.call_extern(
                        "void",
                        preload,
                        _row(rhs, WEIGHT_ROW, dim),
                        _output(acc, geometry),
                        dim,
                        dim,
                        dim,
                        A_ROWS,
                    )
                )
                T.evaluate(
                    T.call_extern(
                        "void",
                        preloaded,
                        _row(lhs, INPUT_ROW, dim),
                        _GARBAGE,
                        dim,
                        A_ROWS,
                        dim,
                        dim,
                    )
                )

    TensorIntrin.register(name, desc, impl, override=True)


def _copy_out(name: str, geometry: GemminiGeometry) -> None:
    dim = geometry.dim
    macro = _MACRO["mvout"]

    @T.prim_func(s_tir=True)
    def desc(c: T.handle, d: T.handle) -> None:
        acc = T.match_buffer(c, (dim, dim), "int32", offset_factor=1, scope=ACCUMULATOR)
        dst = T.match_buffer(d, (dim, dim), "int32", offset_factor=1)
        with T.sblock("root"):
            T.reads(acc[0:dim, 0:dim])
            T.writes(dst[0:dim, 0:dim])
            for i, j in T.grid(dim, dim):
                with T.sblock("store"):
                    vi, vj = T.axis.remap("SS", [i, j])
                    dst[vi, vj] = acc[vi, vj]

    @T.prim_func(s_tir=True, check_well_formed=False)  # the slots are bound by the schedule
    def impl(c: T.handle, d: T.handle) -> None:
        s0 = T.int32()
        d0 = T.int32()
        acc = T.match_buffer(
            c, (dim, dim), "int32", offset_factor=1, scope=ACCUMULATOR, strides=[s0, 1]
        )
        dst = T.match_buffer(d, (dim, dim), "int32", offset_factor=1, strides=[d0, 1])
        with T.sblock("root"):
            T.reads(acc[0:dim, 0:dim])
            T.writes(dst[0:dim, 0:dim])
            T.evaluate(
                T.call_extern(
                    "void",
                    macro,
                    dst.access_ptr("w"),
                    acc_row(acc, geometry) + READ_FULL_BITS,
                    dim,
                    dim,
                )
            )

    TensorIntrin.register(name, desc, impl, override=True)


@cache
def intrinsics_for(geometry: GemminiGeometry) -> GemminiIntrinsics:
    """The tensor intrinsics of one Gemmini geometry, registered with TVM once (their names
    carry the geometry, so configurations never share one)."""
    prefix = f"nnmap_gemmini_d{geometry.dim}_s{geometry.spad_rows}_a{geometry.acc_rows}"
    names = GemminiIntrinsics(
        geometry,
        mvin_input=f"{prefix}_mvin_input",
        mvin_weight=f"{prefix}_mvin_weight",
        mvin_bias=f"{prefix}_mvin_bias",
        zero_by_overwrite=f"{prefix}_zero_by_overwrite",
        matmul=f"{prefix}_matmul",
        mvout=f"{prefix}_mvout_full",
    )
    _copy_in(names.mvin_input, INPUT_LOAD, INPUT_ROW, LOAD_INPUT, geometry.dim)
    _copy_in(names.mvin_weight, WEIGHT_LOAD, WEIGHT_ROW, LOAD_WEIGHT, geometry.dim)
    _bias_in(names.mvin_bias, geometry)
    _zero_by_overwrite(names.zero_by_overwrite, geometry.dim)
    _matmul(names.matmul, geometry)
    _copy_out(names.mvout, geometry)
    return names


@cache
def direct_input_intrinsics(geometry: GemminiGeometry, rows: int) -> GemminiIntrinsics:
    """The intrinsics of ``geometry`` with an input mvin that reads ``rows`` rows (1 to DIM)
    straight from the layer's input tensor: a GEMM of one m block whose input needs no
    staging copy."""
    assert 1 <= rows <= geometry.dim
    names = intrinsics_for(geometry)
    direct = replace(names, mvin_input=f"{names.mvin_input}_rows{rows}")
    _copy_in(direct.mvin_input, INPUT_LOAD, INPUT_ROW, LOAD_INPUT, geometry.dim, rows)
    return direct


def config_calls(input_stride: int, weight_stride: int, output_stride: int) -> list[tirx.Stmt]:
    """The per-layer configuration: WS dataflow, the three load strides and the store stride."""
    ex = _MACRO["config_ex"]
    ld = _MACRO["config_ld"]
    st = _MACRO["config_st"]

    def call(macro: str, *args: object) -> tirx.Stmt:
        return tirx.Evaluate(tirx.call_extern("void", macro, *args))

    return [
        call(
            ex,
            gi.WEIGHT_STATIONARY,
            gi.NO_ACTIVATION,
            0,
            tirx.FloatImm("float32", 1.0),
            1,
            1,
            0,
            0,
            0,
        ),
        call(ld, input_stride, tirx.FloatImm("float32", 1.0), 0, INPUT_LOAD),
        call(ld, weight_stride, tirx.FloatImm("float32", 1.0), 0, WEIGHT_LOAD),
        call(ld, 0, tirx.FloatImm("float32", 1.0), 0, BIAS_LOAD),
        call(st, output_stride, gi.NO_ACTIVATION, tirx.FloatImm("float32", 1.0)),
    ]


def fence_call() -> tirx.Stmt:
    return tirx.Evaluate(tirx.call_extern("void", _MACRO["fence"]))
