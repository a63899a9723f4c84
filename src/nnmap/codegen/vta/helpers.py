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
- compute -> store: after the GEMM (plane 0) and after each ALU SHR (planes 1..) "plane ready".
- store -> compute: ``begin`` pushes one credit, each STORE pushes one when the output buffer may
  be overwritten; the next tile's bias load and each ALU SHR pop one; ``end`` pops the last.

Exactness: plane p holds bits 8p..8p+7 of every int32 result: STORE writes the low 8 bits, then
SHR 8 (arithmetic) shifts the next byte down, so the top plane also carries the sign.
"""

from __future__ import annotations

from nnmap.codegen.vta.geometry import SLOTS, VtaGemm
from nnmap.targets.vta_intrinsics import ALU_SHR, MEM_ACC, MEM_INP, MEM_OUT, MEM_WGT, MODE_ALU

_SHIFT = 8


def _slots(gemm: VtaGemm) -> tuple[int, int]:
    """Entries of one input slot and of one weight slot."""
    return gemm.m * gemm.r, gemm.n * gemm.r


def _uop_kernels(p: str, gemm: VtaGemm) -> list[str]:
    inp_slot, wgt_slot = _slots(gemm)
    bases = ", ".join(f"{{{slot * inp_slot}u, {slot * wgt_slot}u}}" for slot in range(SLOTS))
    return [
        f"static void *{p}_gemm_handles[{SLOTS}];",
        f"static uint32_t {p}_gemm_bases[{SLOTS}][2] = {{{bases}}};",
        f"static void *{p}_shift_handle;",
        f"static uint32_t {p}_step;",
        "",
        "/* acc[i*n + j] += inp[in + i*r + k] x wgt[wg + j*r + k]: pixels, channel blocks, r. */",
        f"static int {p}_gemm_uops(void *signature) {{",
        "    const uint32_t *base = signature;",
        f"    VTAUopLoopBegin({gemm.m}u, {gemm.n}u, {gemm.r}u, 0u);",
        f"    VTAUopLoopBegin({gemm.n}u, 1u, 0u, {gemm.r}u);",
        f"    for (uint32_t k = 0; k < {gemm.r}u; ++k) {{",
        "        VTAUopPush(VTA_UOP_GEMM, 0u, 0u, base[0] + k, base[1] + k, 0u, 0u, 0);",
        "    }",
        "    VTAUopLoopEnd();",
        "    VTAUopLoopEnd();",
        "    return 0;",
        "}",
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


def _stage_calls(p: str, gemm: VtaGemm) -> list[str]:
    inp_slot, wgt_slot = _slots(gemm)
    plane_entries = gemm.rows_padded * gemm.n_blocks
    cmd = "VTATLSCommandHandle()"
    slot = f"({p}_step & 1u)"
    return [
        f"static void {p}_begin(void) {{",
        f"    {p}_step = 0;",
        f"    for (int slot = 0; slot < {SLOTS}; ++slot) VTADepPush({cmd}, 2, 1);",
        f"    VTADepPush({cmd}, 3, 2);",
        "}",
        "",
        f"static void {p}_load_inp(const void *src, const void *inp_tile) {{",
        "    (void)inp_tile;",
        f"    VTADepPop({cmd}, 2, 1);",
        f"    VTALoadBuffer2D({cmd}, (void *)src, 0u, {gemm.r}u, {gemm.m}u, {gemm.r_blocks}u,"
        f" 0u, 0u, 0u, 0u, {slot} * {inp_slot}u, {MEM_INP}u);",
        "}",
        "",
        f"static void {p}_load_wgt(const void *src, const void *wgt_tile) {{",
        "    (void)wgt_tile;",
        f"    VTALoadBuffer2D({cmd}, (void *)src, 0u, {gemm.r}u, {gemm.n}u,"
        f" {gemm.r_blocks}u, 0u, 0u, 0u, 0u, {slot} * {wgt_slot}u, {MEM_WGT}u);",
        f"    VTADepPush({cmd}, 1, 2);",
        "}",
        "",
        "/* Every accumulator row starts as the bias (x_stride 0 repeats the same entries). */",
        f"static void {p}_load_bias(const void *src, const void *acc_tile) {{",
        "    (void)acc_tile;",
        f"    VTADepPop({cmd}, 3, 2);",
        f"    VTALoadBuffer2D({cmd}, (void *)src, 0u, {gemm.n}u, {gemm.m}u, 0u, 0u, 0u, 0u, 0u, 0u,"
        f" {MEM_ACC}u);",
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
        f"static void {p}_store(void *dst, const void *acc_tile) {{",
        "    (void)acc_tile;",
        f"    for (uint32_t plane = 0; plane < {gemm.planes}u; ++plane) {{",
        "        if (plane > 0) {",
        f"            VTADepPop({cmd}, 3, 2);",
        f"            VTAPushALUOp(&{p}_shift_handle, {p}_shift_uops, NULL, 0);",
        "        }",
        f"        VTADepPush({cmd}, 2, 3);",
        f"        VTADepPop({cmd}, 2, 3);",
        f"        VTAStoreBuffer2D({cmd}, 0u, {MEM_OUT}u, dst, plane * {plane_entries}u, {gemm.n}u,"
        f" {gemm.m}u, {gemm.n_blocks}u);",
        f"        VTADepPush({cmd}, 3, 2);",
        "    }",
        "}",
        "",
        f"static void {p}_end(void) {{",
        f"    for (int slot = 0; slot < {SLOTS}; ++slot) VTADepPop({cmd}, 2, 1);",
        f"    VTADepPop({cmd}, 3, 2);",
        f"    VTASynchronize({cmd}, 1u << 31);",
        "}",
    ]


def helper_source(prefix: str, gemm: VtaGemm) -> str:
    """C text of the static helpers of the kernel ``prefix`` (place before the kernel)."""
    return "\n".join([*_uop_kernels(prefix, gemm), "", *_stage_calls(prefix, gemm), ""])
