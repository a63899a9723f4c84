"""A layer's VTA GEMM as a TIR schedule: tile loops from its Mapping, each tile one VTA call.

The ``gemm`` block is tiled into (m, n, r) tiles of ``VtaGemm``; the m and n tile loops follow the
mapping's order and the reduction tile loop is innermost, so an output tile stays in the
accumulator until its byte planes are stored. Inside the r loop the input and weight tiles are
staged into VTA's input and weight scopes (``cache_read`` + ``compute_at``); the accumulator
tile is initialised from the bias before the r loop and stored after it (``StoreStage``: its byte
planes in exact numerics, its ALU-requantized int8 values in hardware numerics).

Each tile operation is then tensorized by hand: its loop nest is blockized and the block's body
replaced by one call of the layer's C helper for it (``helpers.py``), passed the DRAM address of
the tile from the block's access region. (TVM's ``tensorize`` needs one description per loop
structure, and compute_at / decompose_reduction keep or drop a tile's unit loops depending on
the loops around it; the block regions are checked against the tile instead.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import tvm
import tvm_ffi
from tvm import ir, s_tir, te, tirx

from nnmap.codegen.accel_gemm import around_root_stmt, init_from_bias
from nnmap.codegen.kernels import KernelDef
from nnmap.errors import NnmapError
from nnmap.targets.vta.geometry import VtaGemm

REASSEMBLED = "acc32"  # the exact-numerics block that puts the byte planes together
INP_SCOPE = "global.vta_inp"
WGT_SCOPE = "global.vta_wgt"
ACC_SCOPE = "global.vta_acc"
if TYPE_CHECKING:
    DramArgs = Callable[[s_tir.SBlock], list[tirx.PrimExpr]]


@dataclass(frozen=True)
class TileCalls:
    """The C helper of every tile operation of one layer (``helpers.py`` defines them)."""

    begin: str
    load_inp: str
    load_wgt: str
    load_bias: str
    gemm: str
    store: str
    end: str

    @staticmethod
    def of(prefix: str) -> TileCalls:
        return TileCalls(*(f"{prefix}_{op}" for op in TileCalls.__dataclass_fields__))


def _region(block: s_tir.SBlock, buffer: str, shape: tuple[int, ...]) -> ir.expr.TensorRegion:
    regions = [r for r in (*block.reads, *block.writes) if r.source.name == buffer]
    extents = tuple(int(r.extent) for r in regions[0].region) if regions else ()
    if extents != shape:
        raise NnmapError(f"VTA tile of {buffer} is {extents}, expected {shape}: a schedule bug")
    return regions[0]


def _address(region: ir.expr.TensorRegion) -> tirx.PrimExpr:
    """A pointer to the first element of ``region`` (row-major in its buffer)."""
    offset: tirx.PrimExpr = tirx.const(0, "int32")
    elements = 1
    for size, span in zip(region.source.shape, region.region, strict=True):
        offset = offset * size + span.min
        elements *= int(span.extent)
    return region.source.access_ptr("rw", offset=offset, extent=elements)


def _sram_args(block: s_tir.SBlock) -> list[tirx.PrimExpr]:
    """The block's SRAM tiles, in region order (their addresses are VTA's business: the helpers
    ignore them, but TIR needs the buffers used to lay them out)."""
    regions = [*block.reads, *block.writes]
    seen: list[ir.expr.TensorRegion] = []
    for region in regions:
        scope = region.source.scope()
        if scope in (INP_SCOPE, WGT_SCOPE, ACC_SCOPE) and not any(
            region.source.same_as(s.source) for s in seen
        ):
            seen.append(region)
    return [_address(region) for region in seen]


def _tile(buffer: str, shape: tuple[int, ...]) -> DramArgs:
    """The address of the block's tile of ``buffer`` (checked to be ``shape``)."""
    return lambda block: [_address(_region(block, buffer, shape))]


def _first_row(gemm: VtaGemm) -> DramArgs:
    """The first GEMM row (output pixel) of the block's input tile, checked to be the tile."""

    def arguments(block: s_tir.SBlock) -> list[tirx.PrimExpr]:
        region = _region(block, f"staged_{INP_SCOPE}", (gemm.m, gemm.r, gemm.block_in))
        return [tirx.Cast("int32", region.region[0].min)]

    return arguments


@dataclass(frozen=True)
class StoreStage:
    """The block whose tiles the layer's store helper replaces (reverse-computed at the output
    tile), the DRAM arguments the helper gets from each tile's block, and the DRAM buffers it
    reads and writes (the one it writes last)."""

    block: str
    arguments: DramArgs
    dram: tuple[str, ...]


# The DRAM buffers every layer's DMA touches, in the order of its begin helper's parameters
# (the store stage's follow): the gathered input, or the input itself when read directly.
LOADED = ("staged", "weight", "bias")
LOADED_DIRECTLY = ("data", "weight", "bias")


def loaded_buffers(gemm: VtaGemm) -> tuple[str, ...]:
    return LOADED if gemm.window is None else LOADED_DIRECTLY


def planes_store(gemm: VtaGemm) -> StoreStage:
    """Exact numerics: the ``planes`` tile, every byte plane of the output tile."""
    planes = _tile("planes", (gemm.planes, gemm.m, gemm.n, gemm.block_out))
    return StoreStage("planes", planes, ("planes",))


def requantized_store(gemm: VtaGemm, params: str) -> StoreStage:
    """Hardware numerics: the whole ``alu`` output and ``params`` buffers, then the output
    tile's first row and channel block (the helper clips the last row tile)."""

    def arguments(block: s_tir.SBlock) -> list[tirx.PrimExpr]:
        tile = _region(block, "alu", (gemm.m, gemm.n, gemm.block_out))
        operands = [r for r in block.reads if r.source.name == params][0]
        first_row, first_block = (tirx.Cast("int32", span.min) for span in tile.region[:2])
        return [tile.source.access_ptr("w"), operands.source.access_ptr("r"), first_row,
                first_block]

    return StoreStage("alu", arguments, (params, "alu"))


def dram_buffers(
    func: tirx.PrimFunc, store: StoreStage, loaded: tuple[str, ...] = LOADED
) -> list[tirx.Buffer]:
    """The buffers of ``func`` VTA's DMA reads and writes: ``loaded`` then ``store.dram``
    (parameters of the kernel, or buffers allocated in its root block)."""
    named: dict[str, tirx.Buffer] = {}

    def seen(block: s_tir.SBlock) -> s_tir.SBlock:
        for region in (*block.reads, *block.writes):
            named.setdefault(region.source.name, region.source)
        for buffer in block.alloc_buffers:
            named.setdefault(buffer.name, buffer)
        return block

    tvm_ffi.structural_map(func.body, [(s_tir.SBlock, seen)])
    return [named[name] for name in (*loaded, *store.dram)]


def _issue(sch: s_tir.Schedule, loop: s_tir.LoopRV, helper: str,
           dram: DramArgs | None = None) -> None:
    """Blockize the nest under ``loop`` and make its body ``helper(DRAM args, SRAM tiles)``."""
    outer = sch.blockize(loop)
    block = sch.get(outer)
    args = [*(dram(block) if dram is not None else []), *_sram_args(block)]
    rebuilt = s_tir.SBlock(
        block.iter_vars,
        block.reads,
        block.writes,
        block.name_hint,
        tirx.Evaluate(tirx.call_extern("void", helper, *args)),
        None,
        block.alloc_buffers,
        block.match_buffers,
        block.annotations,
    )
    sch.state.replace(sch.get_sref(outer), rebuilt, {block: rebuilt})


def schedule_vta_gemm(
    sch: s_tir.Schedule, gemm: VtaGemm, calls: TileCalls, bias: ir.expr.Var, store: StoreStage
) -> s_tir.LoopRV:
    """Tile, stage and issue the ``gemm`` block of ``sch`` and its ``store`` stage; the
    outermost tile loop."""
    block = sch.get_sblock("gemm")
    sch.set_scope(block, 0, ACC_SCOPE)
    m, n, o, r, i = sch.get_loops(block)
    mo, mi = sch.split(m, factors=[None, gemm.m])
    no, ni = sch.split(n, factors=[None, gemm.n])
    ro, ri = sch.split(r, factors=[None, gemm.r])
    outer = (mo, no) if gemm.m_outer else (no, mo)
    sch.reorder(*outer, ro, mi, ni, o, ri, i)
    if gemm.window is None:
        inp = sch.cache_read(block, 0, INP_SCOPE)
        inp_tile = _tile("staged", (gemm.m, gemm.r, gemm.block_in))
    else:  # read directly: the input tile is loaded from the input, not gathered on the host
        inp = sch.get_sblock("staged")
        sch.set_scope(inp, 0, INP_SCOPE)
        inp_tile = _first_row(gemm)
    sch.compute_at(inp, ro)
    wgt = sch.cache_read(block, 1, WGT_SCOPE)
    sch.compute_at(wgt, ro)
    stored = sch.get_sblock(store.block)
    sch.reverse_compute_at(stored, outer[1])
    init = sch.decompose_reduction(block, ro)
    bi, bo = gemm.block_in, gemm.block_out
    if gemm.pixel_bias:
        init_from_bias(sch, init, bias, lambda iters: [iters[0], iters[1], iters[2]])
        bias_tile = _tile("bias", (gemm.m, gemm.n, bo))
    else:
        init_from_bias(sch, init, bias, lambda iters: [iters[1], iters[2]])
        bias_tile = _tile("bias", (gemm.n, bo))
    # The tile loops are never dropped: the copies sit under (m, n, r), the bias and the stores
    # under (m, n), whatever unit loops are left inside them.
    _issue(sch, sch.get_loops(init)[2], calls.load_bias, bias_tile)
    _issue(sch, sch.get_loops(inp)[3], calls.load_inp, inp_tile)
    _issue(sch, sch.get_loops(wgt)[3], calls.load_wgt, _tile("weight", (gemm.n, gemm.r, bo, bi)))
    _issue(sch, sch.get_loops(stored)[2], calls.store, store.arguments)
    _issue(sch, mi, calls.gemm)
    return outer[0]


def _call(name: str) -> tirx.Stmt:
    return tirx.Evaluate(tirx.call_extern("void", name))


def scheduled_vta_module(
    kernel: KernelDef, gemm: VtaGemm, symbol: str, store: StoreStage | None = None
) -> tvm.IRModule:
    """The kernel's PrimFunc under ``symbol``: host stages as they are, the GEMM on VTA between
    the layer's begin (given the DRAM buffers: moves them into VTA buffers, initial tokens) and
    end (final tokens, VTASynchronize, results back to the host) helpers; its results leave VTA
    through ``store`` (the byte planes of exact numerics by default)."""
    calls = TileCalls.of(symbol)
    func = te.create_prim_func(list(kernel.tensors)).with_attr("global_symbol", symbol)
    sch = s_tir.Schedule(tvm.IRModule({symbol: func}))
    sch.work_on(symbol)
    stage = store if store is not None else planes_store(gemm)
    tile_loop = schedule_vta_gemm(sch, gemm, calls, func.params[2], stage)
    if stage.block == "planes":
        # the byte planes are put together where the requantization reads them: no int32 copy
        sch.compute_inline(sch.get_sblock(REASSEMBLED))
    scheduled = sch.mod[symbol]
    loaded = loaded_buffers(gemm)
    buffers = [b.access_ptr("rw") for b in dram_buffers(scheduled, stage, loaded)]
    begin = tirx.Evaluate(tirx.call_extern("void", calls.begin, *buffers))
    scheduled = around_root_stmt(scheduled, sch.get(tile_loop), [begin], [_call(calls.end)])
    return tvm.IRModule({symbol: scheduled})
