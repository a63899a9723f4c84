"""The static C functions a VTA kernel's tiles call: public VTA runtime API calls only.

Each tile call gets the DRAM address of its tile and the host addresses TVM gave the SRAM tiles
it touches; those only stand for VTA's SRAM (TVM lays them out), the helpers place the tiles.

SRAM placement: input and weight tiles alternate between two slots (double buffering, the slot is
the parity of the GEMM step); the accumulator tile sits at entry 0, and so does its output-buffer
twin that STORE reads.

Dependency tokens (queue ids: load 1, compute 2, store 3), as free-slot credits plus data-ready
signals, so every call is the same at every step and every token pushed is popped:
- load -> compute: the weight load pushes "tile loaded"; the GEMM pops it.
- compute -> load: ``begin`` pushes one credit per slot, each GEMM pushes one when it is done
  with its slot; each input load pops one; ``end`` pops the two left.
- compute -> store: after the GEMM (plane 0) and after each ALU SHR (planes 1..) "plane ready"
  (hardware numerics: after the ALU requantization).
- store -> compute: ``begin`` pushes one credit, each STORE pushes one when the output buffer may
  be overwritten; the next tile's bias load and each ALU SHR pop one; ``end`` pops the last.

DRAM: VTA's DMA reaches only buffers from ``VTABufferAlloc``, by handle plus element offset.
``begin`` gets the kernel's DRAM arrays (the gathered input, weights, bias, [multipliers,]
output) and keeps one VTA buffer per array: the constants are copied in once, the gathered input
at every call through the buffer's CPU view and a ``VTAReadBarrier``; each tile call turns its
host tile address into the element offset in its buffer. ``end`` makes the stored results
visible to the CPU (``VTAWriteBarrier``) and copies them back to the host array.

Exactness: plane p holds bits 8p..8p+7 of every int32 result: STORE writes the low 8 bits, then
SHR 8 (arithmetic) shifts the next byte down, so the top plane also carries the sign.

Hardware numerics (``hardware.py``): the store helper loads the output tile's per-channel
multipliers into the accumulator entries right after the tile (``REQUANT_ENTRIES`` per channel
block; not when one immediate serves every channel), runs the ALU requantization over the tile
and stores its int8 results once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from nnmap.targets.vta.direct import column_span, row_spans
from nnmap.targets.vta.geometry import SLOTS, VtaGemm
from nnmap.targets.vta.instructions import (
    ALU_MAX,
    ALU_MIN,
    ALU_MUL,
    ALU_SHR,
    MEM_ACC,
    MEM_INP,
    MEM_OUT,
    MEM_WGT,
    MODE_ALU,
    MODE_GEMM,
)

_SHIFT = 8
_CMD = "VTATLSCommandHandle()"
REQUANT_ENTRIES = 1  # accumulator entries per channel block: the channels' multipliers


@dataclass(frozen=True)
class AluOps:
    """The immediates of the ALU requantization: the multiplier shared by every channel (None:
    per channel, a tensor operand), the right shift and the clip range."""

    multiplier: int | None
    shift: int
    low: int
    high: int


def _slots(gemm: VtaGemm) -> tuple[int, int]:
    """Entries of one input slot and of one weight slot."""
    return gemm.inp_entries, gemm.n * gemm.r


def _gemm_state(p: str, gemm: VtaGemm) -> list[str]:
    inp_slot, wgt_slot = _slots(gemm)
    bases = ", ".join(f"{{{slot * inp_slot}u, {slot * wgt_slot}u}}" for slot in range(SLOTS))
    return [
        f"static void *{p}_gemm_handles[{SLOTS}];",
        f"static uint32_t {p}_gemm_bases[{SLOTS}][2] = {{{bases}}};",
        f"static uint32_t {p}_step;",
        "",
    ]


def _direct_gemm_kernel(p: str, gemm: VtaGemm) -> list[str]:
    """The GEMM over an input tile read directly: loops over the tile's output rows and
    columns, one micro-op per (channel block, fy, fx, input channel block)."""
    window = gemm.window
    assert window is not None
    rows, cols, n, blocks = gemm.m // window.out_width, window.out_width, gemm.n, window.blocks
    row_entries = window.width * blocks
    return [
        *_gemm_state(p, gemm),
        "/* acc[(y*OX + x)*n + j] += inp[in + ((y*sy + fy)*width + x*sx + fx)*cb + c]",
        "   x wgt[wg + j*r + (fy*FX + fx)*cb + c]: the window indexed in the input tile. */",
        f"static int {p}_gemm_uops(void *signature) {{",
        "    const uint32_t *base = signature;",
        f"    VTAUopLoopBegin({rows}u, {cols * n}u, {window.stride_y * row_entries}u, 0u);",
        f"    VTAUopLoopBegin({cols}u, {n}u, {window.stride_x * blocks}u, 0u);",
        f"    for (uint32_t j = 0; j < {n}u; ++j) {{",
        f"        for (uint32_t fy = 0; fy < {window.kernel_y}u; ++fy) {{",
        f"            for (uint32_t fx = 0; fx < {window.kernel_x}u; ++fx) {{",
        f"                for (uint32_t c = 0; c < {blocks}u; ++c) {{",
        f"                    uint32_t src = (fy * {window.width}u + fx) * {blocks}u + c;",
        f"                    uint32_t wgt = j * {gemm.r}u + (fy * {window.kernel_x}u + fx) *"
        f" {blocks}u + c;",
        f"                    VTAUopPush({MODE_GEMM}u, 0u, j, base[0] + src, base[1] + wgt, 0u,"
        " 0u, 0);",
        "                }",
        "            }",
        "        }",
        "    }",
        "    VTAUopLoopEnd();",
        "    VTAUopLoopEnd();",
        "    return 0;",
        "}",
    ]


def _gemm_kernel(p: str, gemm: VtaGemm) -> list[str]:
    if gemm.window is not None:
        return _direct_gemm_kernel(p, gemm)
    return [
        *_gemm_state(p, gemm),
        "/* acc[i*n + j] += inp[in + i*r + k] x wgt[wg + j*r + k]: pixels, channel blocks, r. */",
        f"static int {p}_gemm_uops(void *signature) {{",
        "    const uint32_t *base = signature;",
        f"    VTAUopLoopBegin({gemm.m}u, {gemm.n}u, {gemm.r}u, 0u);",
        f"    VTAUopLoopBegin({gemm.n}u, 1u, 0u, {gemm.r}u);",
        f"    for (uint32_t k = 0; k < {gemm.r}u; ++k) {{",
        f"        VTAUopPush({MODE_GEMM}u, 0u, 0u, base[0] + k, base[1] + k, 0u, 0u, 0);",
        "    }",
        "    VTAUopLoopEnd();",
        "    VTAUopLoopEnd();",
        "    return 0;",
        "}",
    ]


def _shift_kernel(p: str, gemm: VtaGemm) -> list[str]:
    return [
        f"static void *{p}_shift_handle;",
        "",
        "/* acc[e] >>= 8 over the accumulator tile (its output entries get the next byte). */",
        f"static int {p}_shift_uops(void *signature) {{",
        "    (void)signature;",
        f"    VTAUopLoopBegin({gemm.m * gemm.n}u, 1u, 1u, 0u);",
        f"    VTAUopPush({MODE_ALU}u, 0u, 0u, 0u, 0u, {ALU_SHR}u, 1u, {_SHIFT});",
        "    VTAUopLoopEnd();",
        "    return 0;",
        "}",
    ]


def _alu_kernel(p: str, gemm: VtaGemm, name: str, opcode: int, imm: int | None) -> list[str]:
    """acc[i*n + j] = acc[i*n + j] op (the immediate ``imm``, or without one the channel block's
    operand acc[m*n + j], after the tile)."""
    if imm is None:
        loops = [f"    VTAUopLoopBegin({gemm.m}u, {gemm.n}u, 0u, 0u);",
                 f"    VTAUopLoopBegin({gemm.n}u, 1u, 1u, 0u);"]
        push = f"    VTAUopPush({MODE_ALU}u, 0u, 0u, {gemm.m * gemm.n}u, 0u, {opcode}u, 0u, 0);"
    else:
        loops = [f"    VTAUopLoopBegin({gemm.m * gemm.n}u, 1u, 0u, 0u);"]
        push = f"    VTAUopPush({MODE_ALU}u, 0u, 0u, 0u, 0u, {opcode}u, 1u, {imm});"
    ends = ["    VTAUopLoopEnd();"] * len(loops)
    return [f"static int {p}_{name}_uops(void *signature) {{", "    (void)signature;", *loops,
            push, *ends, "    return 0;", "}", ""]


def _requant_kernels(p: str, gemm: VtaGemm, alu: AluOps) -> list[str]:
    """The ALU requantization of the output tile: MUL by the multiplier, SHR, MIN, MAX."""
    ops = (("mul", ALU_MUL, alu.multiplier), ("shr", ALU_SHR, alu.shift),
           ("min", ALU_MIN, alu.high), ("max", ALU_MAX, alu.low))
    text = [f"static void *{p}_alu_handles[{len(ops)}];", ""]
    for name, opcode, imm in ops:
        text += _alu_kernel(p, gemm, name, opcode, imm)
    kernels = ", ".join(f"{p}_{name}_uops" for name, *_ in ops)
    return [*text, f"static int (*const {p}_alu_kernels[{len(ops)}])(void *) = {{{kernels}}};"]


def _entry_bytes(gemm: VtaGemm) -> dict[str, int]:
    """Bytes of one entry of each memory (batch 1: the layouts of ``lower.py``)."""
    bo, bi = gemm.block_out, gemm.block_in
    return {"inp": bi, "wgt": bo * bi, "acc": 4 * bo, "out": bo}


def _buffers(p: str, dram: Sequence[int]) -> list[str]:
    """The layer's VTA buffers, one per DRAM array of ``begin`` (their bytes ``dram``), and the
    element offset of a host tile address in one of them."""
    count, output = len(dram), len(dram) - 1
    sizes = ", ".join(f"{size}u" for size in dram)
    return [
        "/* VTA buffers of the DRAM arrays: gathered input, constants, output (last). */",
        f"static void *{p}_buffers[{count}];",
        f"static const uint8_t *{p}_hosts[{count}];",
        f"static const uint32_t {p}_bytes[{count}] = {{{sizes}}};",
        f"static void *{p}_output;",
        "",
        f"static uint32_t {p}_at(int array, const void *tile, uint32_t entry_bytes) {{",
        f"    return (uint32_t)((size_t)((const uint8_t *)tile - {p}_hosts[array]) / entry_bytes);",
        "}",
        "",
        f"static void {p}_move_in(const void *const *hosts) {{",
        f"    VTACommandHandle cmd = {_CMD};",
        f"    for (int array = 0; array < {count}; ++array) {{",
        f"        {p}_hosts[array] = hosts[array];",
        f"        if ({p}_buffers[array] != NULL) continue;",
        f"        {p}_buffers[array] = VTABufferAlloc({p}_bytes[array]);",
        f"        if (array > 0 && array < {output}) {{",
        f"            VTABufferCopy(hosts[array], 0, {p}_buffers[array], 0, {p}_bytes[array],"
        " VTA_MEMCPY_H2D);",
        "        }",
        "    }",
        f"    memcpy(VTABufferCPUPtr(cmd, {p}_buffers[0]), hosts[0], {p}_bytes[0]);",
        f"    VTAReadBarrier(cmd, {p}_buffers[0], 8, 0, {p}_bytes[0]);",
        "}",
        "",
        f"static void {p}_move_out(void) {{",
        f"    VTACommandHandle cmd = {_CMD};",
        f"    VTAWriteBarrier(cmd, {p}_buffers[{output}], 8, 0, {p}_bytes[{output}]);",
        f"    memcpy({p}_output, VTABufferCPUPtr(cmd, {p}_buffers[{output}]),"
        f" {p}_bytes[{output}]);",
        "}",
    ]


def _begin(p: str, count: int) -> list[str]:
    arrays = [f"const void *array{i}" for i in range(count - 1)]
    hosts = ", ".join([*(f"array{i}" for i in range(count - 1)), "output"])
    return [
        f"static void {p}_begin({', '.join([*arrays, 'void *output'])}) {{",
        f"    const void *hosts[{count}] = {{{hosts}}};",
        f"    {p}_output = output;",
        f"    {p}_move_in(hosts);",
        f"    {p}_step = 0;",
        f"    for (int slot = 0; slot < {SLOTS}; ++slot) VTADepPush({_CMD}, 2, 1);",
        f"    VTADepPush({_CMD}, 3, 2);",
        "}",
    ]


def _direct_load(p: str, gemm: VtaGemm) -> list[str]:
    """LOAD INP of a tile read directly: its input rows (from a table per row tile: first real
    row, real rows, padding rows above and below) x the window's pixels, channels innermost,
    the halo zero-padded on the fly."""
    window = gemm.window
    assert window is not None
    height, width = gemm.image
    rows = row_spans(window, gemm.m // window.out_width, gemm.rows_padded // gemm.m, height)
    columns = column_span(window, width)
    assert rows is not None and columns is not None, "checked by vta_gemm"
    blocks, row_entries = window.blocks, width * window.blocks
    table = ", ".join(f"{{{r.first}u, {r.size}u, {r.before}u, {r.after}u}}" for r in rows)
    return [
        f"static const uint32_t {p}_rows[{len(rows)}][4] = {{{table}}};",
        "",
        f"static void {p}_load_inp(int32_t pixel, const void *inp_tile) {{",
        "    (void)inp_tile;",
        f"    const uint32_t *span = {p}_rows[(uint32_t)pixel / {gemm.m}u];",
        f"    VTADepPop({_CMD}, 2, 1);",
        f"    VTALoadBuffer2D({_CMD}, {p}_buffers[0], span[0] * {row_entries}u +"
        f" {columns.first * blocks}u, {columns.size * blocks}u, span[1], {row_entries}u,"
        f" {columns.before * blocks}u, span[2], {columns.after * blocks}u, span[3],"
        f" ({p}_step & 1u) * {gemm.inp_entries}u, {MEM_INP}u);",
        "}",
    ]


def _stage_calls(p: str, gemm: VtaGemm, count: int) -> list[str]:
    inp_slot, wgt_slot = _slots(gemm)
    cmd = _CMD
    slot = f"({p}_step & 1u)"
    entry = _entry_bytes(gemm)
    load_inp = [
        f"static void {p}_load_inp(const void *src, const void *inp_tile) {{",
        "    (void)inp_tile;",
        f"    VTADepPop({cmd}, 2, 1);",
        f"    VTALoadBuffer2D({cmd}, {p}_buffers[0], {p}_at(0, src, {entry['inp']}u), {gemm.r}u,"
        f" {gemm.m}u, {gemm.r_blocks * gemm.input_blocks}u, 0u, 0u, 0u, 0u, {slot} * {inp_slot}u,"
        f" {MEM_INP}u);",
        "}",
    ]
    bias_stride = gemm.n_blocks if gemm.pixel_bias else 0
    bias_note = (
        "/* Each pixel's accumulators start from its own bias (border pixels differ). */"
        if gemm.pixel_bias
        else "/* Every accumulator row starts as the bias (x_stride 0 repeats the same entries). */"
    )
    return [
        *_begin(p, count),
        "",
        *(load_inp if gemm.window is None else _direct_load(p, gemm)),
        "",
        f"static void {p}_load_wgt(const void *src, const void *wgt_tile) {{",
        "    (void)wgt_tile;",
        f"    VTALoadBuffer2D({cmd}, {p}_buffers[1], {p}_at(1, src, {entry['wgt']}u), {gemm.r}u,"
        f" {gemm.n}u, {gemm.r_blocks}u, 0u, 0u, 0u, 0u, {slot} * {wgt_slot}u, {MEM_WGT}u);",
        f"    VTADepPush({cmd}, 1, 2);",
        "}",
        "",
        bias_note,
        f"static void {p}_load_bias(const void *src, const void *acc_tile) {{",
        "    (void)acc_tile;",
        f"    VTADepPop({cmd}, 3, 2);",
        f"    VTALoadBuffer2D({cmd}, {p}_buffers[2], {p}_at(2, src, {entry['acc']}u), {gemm.n}u,"
        f" {gemm.m}u, {bias_stride}u, 0u, 0u, 0u, 0u, 0u, {MEM_ACC}u);",
        "}",
        "",
        f"static void {p}_gemm(const void *acc_tile, const void *inp_tile,"
        " const void *wgt_tile) {",
        "    (void)acc_tile;",
        "    (void)inp_tile;",
        "    (void)wgt_tile;",
        f"    uint32_t slot = {p}_step++ & 1u;",
        f"    VTADepPop({cmd}, 1, 2);",
        f"    VTAPushGEMMOp(&{p}_gemm_handles[slot], {p}_gemm_uops, {p}_gemm_bases[slot],"
        f" (int)sizeof({p}_gemm_bases[slot]));",
        f"    VTADepPush({cmd}, 2, 1);",
        "}",
        "",
        f"static void {p}_end(void) {{",
        f"    for (int slot = 0; slot < {SLOTS}; ++slot) VTADepPop({cmd}, 2, 1);",
        f"    VTADepPop({cmd}, 3, 2);",
        f"    VTASynchronize({cmd}, 1u << 31);",
        f"    {p}_move_out();",
        "}",
    ]


def _planes_store(p: str, gemm: VtaGemm) -> list[str]:
    plane_entries = gemm.rows_padded * gemm.n_blocks
    return [
        f"static void {p}_store(void *dst, const void *acc_tile) {{",
        "    (void)acc_tile;",
        f"    for (uint32_t plane = 0; plane < {gemm.planes}u; ++plane) {{",
        "        if (plane > 0) {",
        f"            VTADepPop({_CMD}, 3, 2);",
        f"            VTAPushALUOp(&{p}_shift_handle, {p}_shift_uops, NULL, 0);",
        "        }",
        f"        VTADepPush({_CMD}, 2, 3);",
        f"        VTADepPop({_CMD}, 2, 3);",
        f"        VTAStoreBuffer2D({_CMD}, 0u, {MEM_OUT}u, {p}_buffers[3],"
        f" {p}_at(3, dst, {gemm.block_out}u) + plane * {plane_entries}u, {gemm.n}u, {gemm.m}u,"
        f" {gemm.n_blocks}u);",
        f"        VTADepPush({_CMD}, 3, 2);",
        "    }",
        "}",
    ]


def _requant_store(p: str, gemm: VtaGemm, alu: AluOps) -> list[str]:
    acc = _entry_bytes(gemm)["acc"]
    load = [
        f"    VTALoadBuffer2D({_CMD}, {p}_buffers[3], {p}_at(3, params, {acc}u) + (uint32_t)block,"
        f" {gemm.n}u, 1u, {gemm.n}u, 0u, 0u, 0u, 0u, {gemm.m * gemm.n}u, {MEM_ACC}u);"
    ]
    return [
        "/* The ALU requantization (after loading the tile's channel multipliers behind it, where",
        "   they differ), then one STORE of the int8 results (the last row tile clipped to the",
        "   real rows). */",
        f"static void {p}_store(void *dst, const void *params, int32_t row, int32_t block,"
        " const void *acc_tile) {",
        "    (void)acc_tile;",
        *(["    (void)params;", "    (void)block;"] if alu.multiplier is not None else []),
        f"    uint32_t rows = {gemm.rows}u - (uint32_t)row;",
        f"    if (rows > {gemm.m}u) rows = {gemm.m}u;",
        *(load if alu.multiplier is None else []),
        f"    for (int op = 0; op < (int)(sizeof({p}_alu_handles) / sizeof(void *)); ++op) {{",
        f"        VTAPushALUOp(&{p}_alu_handles[op], {p}_alu_kernels[op], NULL, 0);",
        "    }",
        f"    VTADepPush({_CMD}, 2, 3);",
        f"    VTADepPop({_CMD}, 2, 3);",
        f"    VTAStoreBuffer2D({_CMD}, 0u, {MEM_OUT}u, {p}_buffers[4], {p}_at(4, dst,"
        f" {gemm.block_out}u) + (uint32_t)row * {gemm.n_blocks}u + (uint32_t)block, {gemm.n}u,"
        f" rows, {gemm.n_blocks}u);",
        f"    VTADepPush({_CMD}, 3, 2);",
        "}",
    ]


def helper_source(
    prefix: str, gemm: VtaGemm, dram: Sequence[int], alu: AluOps | None = None
) -> str:
    """C text of the static helpers of the kernel ``prefix`` (place before the kernel), whose
    DRAM arrays have ``dram`` bytes (``schedule.dram_buffers`` order): exact numerics (byte
    planes) without ``alu``, else VTA's ALU requantization ``alu``."""
    if alu is None:
        results, store = _shift_kernel(prefix, gemm), _planes_store(prefix, gemm)
    else:
        results = _requant_kernels(prefix, gemm, alu)
        store = _requant_store(prefix, gemm, alu)
    parts = ["#include <string.h>", "", *_gemm_kernel(prefix, gemm), "", *results, "",
             *_buffers(prefix, dram), "", *_stage_calls(prefix, gemm, len(dram)), "", *store, ""]
    return "\n".join(parts)
