"""Max pooling on VTA: window maxima by the ALU's MAX over accumulator entries.

An int8 max pool (TFLite: same scale in and out, so no rescaling) over an NHWC input whose
channels fill whole 16-byte entries, unpadded (LOAD pads zeros, not the -128 the window max
ignores). A tile is ``rows`` output rows. Per tile the load stage loads the ``(rows - 1) *
stride_y + FY`` input rows under it (and the identity weight entry) into a slot; compute copies
them into accumulator region A with one GEMM against the identity (exact: int8 into int32),
copies each window's first tap into region O with a second GEMM indexing the input tile by
address offsets (loops over the tile's output rows and columns, one micro-op per channel
block), returns the slot, then ALU MAX (tensor operands) folds every other tap of A into O (the
same loops, one micro-op per tap and channel block), MIN and MAX clip to the activation, and
the store stage stores O. Tokens as in ``residual_kernel.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnmap.codegen.layers import Argument, LayerCode, layer_id
from nnmap.hw import ExecModule
from nnmap.ir import Graph
from nnmap.ir.layers import MaxPool
from nnmap.ir.workload import LOOPS, Workload
from nnmap.mapping.model import Cost, Mapping
from nnmap.mapping.stream_search import StreamModel
from nnmap.targets.vta.instructions import (
    ALU_MAX,
    ALU_MIN,
    MEM_INP,
    MEM_OUT,
    MEM_WGT,
    MODE_ALU,
    MODE_GEMM,
    VtaConfig,
)
from nnmap.targets.vta.residual_kernel import dma_buffers
from nnmap.targets.vta.timing_engine import (
    ALU,
    COMPUTE_QUEUE,
    LOAD_QUEUE,
    MEM_UOP,
    STORE_QUEUE,
    Command,
    VtaEngine,
    alu_immediate,
    gemm,
    load,
    pop,
    push,
    store,
)

SLOTS = 2


@dataclass(frozen=True)
class PoolTile:
    """A max pool as VTA runs it: input width and channel blocks, output size, window, stride
    and output rows per tile."""

    width: int
    blocks: int
    out_height: int
    out_width: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    rows: int

    @property
    def input_entries(self) -> int:
        return ((self.rows - 1) * self.stride[0] + self.kernel[0]) * self.width * self.blocks

    @property
    def output_entries(self) -> int:
        return self.rows * self.out_width * self.blocks

    @property
    def tiles(self) -> int:
        return self.out_height // self.rows


def pool_refusal(layer: MaxPool, graph: Graph, block: int) -> str | None:
    """Why VTA does not run this max pool (None: it does)."""
    shape = graph.tensor(layer.inputs[0]).shape
    if graph.tensor(layer.output).dtype != "int8":
        return "float max pool: VTA computes int8 layers only"
    if any(layer.padding):
        return "padded max pool: LOAD pads with zeros, not the window's -128"
    if shape[3] % block:
        return f"channels C={shape[3]} are not a multiple of BLOCK_IN={block}"
    return None


def pool_tile(workload: Workload, wanted: int, config: VtaConfig) -> PoolTile | None:
    """The tile of ``wanted`` output rows (a divisor of the output height) that fits an input
    slot and, with its output, the accumulator; None when one row does not. Its input rows are
    the windows' columns wide."""
    loops = workload.loops
    blocks = workload.groups // config.block_in
    width = (loops["OX"] - 1) * workload.stride[1] + loops["FX"]

    def tile(rows: int) -> PoolTile:
        return PoolTile(width, blocks, loops["OY"], loops["OX"], (loops["FY"], loops["FX"]),
                        workload.stride, rows)

    fitting = [
        rows for rows in range(1, loops["OY"] + 1)
        if loops["OY"] % rows == 0 and rows <= max(1, wanted)
        and tile(rows).input_entries <= config.inp_entries // SLOTS
        and tile(rows).input_entries + tile(rows).output_entries <= config.acc_entries
    ]
    return tile(max(fitting)) if fitting else None


def pool_commands(tile: PoolTile) -> list[Command]:
    """The commands of the stream, in program order, each kernel loaded on its first use."""
    commands = [push(COMPUTE_QUEUE, LOAD_QUEUE)] * SLOTS + [push(STORE_QUEUE, COMPUTE_QUEUE)]
    loaded: set[str] = set()
    taps = tile.kernel[0] * tile.kernel[1]

    def kernel(name: str, uops: int) -> None:
        if name not in loaded:
            loaded.add(name)
            commands.append(load(MEM_UOP, uops))

    for step in range(tile.tiles):
        slot = step % SLOTS
        commands += [pop(COMPUTE_QUEUE, LOAD_QUEUE), load(MEM_INP, tile.input_entries)]
        commands += [load(MEM_WGT, 1), push(LOAD_QUEUE, COMPUTE_QUEUE)]
        commands += [pop(STORE_QUEUE, COMPUTE_QUEUE), pop(LOAD_QUEUE, COMPUTE_QUEUE)]
        kernel(f"copy {slot}", 1)
        commands.append(gemm(tile.input_entries))
        kernel(f"first {slot}", tile.blocks)
        commands.append(gemm(tile.output_entries))
        commands.append(push(COMPUTE_QUEUE, LOAD_QUEUE))
        if taps > 1:
            kernel("max", (taps - 1) * tile.blocks)
            commands.append((ALU, 0, (taps - 1) * tile.output_entries))
        for name in ("min", "max imm"):
            kernel(name, 1)
            commands.append(alu_immediate(tile.output_entries))
        commands += [push(COMPUTE_QUEUE, STORE_QUEUE), pop(COMPUTE_QUEUE, STORE_QUEUE)]
        commands += [store(tile.output_entries), push(STORE_QUEUE, COMPUTE_QUEUE)]
    commands += [pop(COMPUTE_QUEUE, LOAD_QUEUE)] * SLOTS + [pop(STORE_QUEUE, COMPUTE_QUEUE)]
    return commands


def pool_cost(workload: Workload, mapping: Mapping, module: ExecModule) -> Cost:
    """The cycles of the pool's stream under ``mapping`` (its OY tile), timed by the pipeline."""
    config = VtaConfig.from_module(module)
    tile = pool_tile(workload, mapping.tile(0, "OY"), config)
    assert tile is not None, "candidates fit"
    timed = VtaEngine.of(module).time(pool_commands(tile))
    inp = module.memory_for(0, "I")
    moved = tile.tiles * (tile.input_entries + tile.output_entries) * config.block_in
    return Cost(
        macs=0, compute_cycles=float(timed.busy[1]),
        transfer_cycles=(float(timed.busy[0] + timed.busy[2]),),
        transfer_bytes=(float(moved),), total_cycles=float(timed.cycles), utilization=0.0,
        spatial_utilization=1.0,
        footprint=(((inp.name, SLOTS * tile.input_entries * config.block_in, inp.size),),),
        energy_pj=None,
    )


def pool_candidates(workload: Workload, module: ExecModule) -> list[Mapping]:
    """One mapping per output-row tile that fits."""
    config = VtaConfig.from_module(module)
    found = []
    for rows in range(1, workload["OY"] + 1):
        tile = pool_tile(workload, rows, config)
        if tile is None or tile.rows != rows:
            continue
        sizes = {**workload.loops, "OY": rows}
        spatial = (("batch", "B", 1), ("block_in", "C", 1), ("block_out", "K", 1))
        found.append(Mapping(spatial, (tuple(sizes[loop] for loop in LOOPS),), (LOOPS,),
                             (frozenset({"I"}),)))
    return found


POOL_STREAM = StreamModel(pool_candidates, lambda w, m, x: 0.0, pool_cost)


def _kernels(p: str, tile: PoolTile, low: int, high: int) -> list[str]:
    blocks, (fy_n, fx_n), (sy, sx) = tile.blocks, tile.kernel, tile.stride
    row_entries, out_row = tile.width * blocks, tile.out_width * blocks
    loops = [f"    VTAUopLoopBegin({tile.rows}u, {out_row}u, {sy * row_entries}u, 0u);",
             f"    VTAUopLoopBegin({tile.out_width}u, {blocks}u, {sx * blocks}u, 0u);"]
    o_base = tile.input_entries
    lines = [
        f"static void *{p}_handles[{SLOTS}][2];", f"static void *{p}_max_handle;",
        f"static void *{p}_clip_handles[2];", "",
        "/* Region A (acc 0..): the input tile; O (after A): each window's first tap. */",
        f"static int {p}_copy_uops(void *signature) {{",
        "    const uint32_t *base = signature;",
        f"    VTAUopLoopBegin({tile.input_entries}u, 1u, 1u, 0u);",
        f"    VTAUopPush({MODE_GEMM}u, 0u, 0u, base[0], base[1], 0u, 0u, 0);",
        "    VTAUopLoopEnd();", "    return 0;", "}", "",
        f"static int {p}_first_uops(void *signature) {{",
        "    const uint32_t *base = signature;", *loops,
        f"    for (uint32_t c = 0; c < {blocks}u; ++c) {{",
        f"        VTAUopPush({MODE_GEMM}u, 0u, {o_base}u + c, base[0] + c, base[1], 0u, 0u, 0);",
        "    }", "    VTAUopLoopEnd();", "    VTAUopLoopEnd();", "    return 0;", "}", "",
        "/* O = max(O, A at every other tap of the window). */",
        f"static int {p}_max_uops(void *signature) {{", "    (void)signature;", *loops,
        f"    for (uint32_t tap = 1; tap < {fy_n * fx_n}u; ++tap) {{",
        f"        for (uint32_t c = 0; c < {blocks}u; ++c) {{",
        f"            uint32_t src = ((tap / {fx_n}u) * {tile.width}u + tap % {fx_n}u) * {blocks}u"
        " + c;",
        f"            VTAUopPush({MODE_ALU}u, 0u, {o_base}u + c, src, 0u, {ALU_MAX}u, 0u, 0);",
        "        }", "    }", "    VTAUopLoopEnd();", "    VTAUopLoopEnd();", "    return 0;",
        "}", "",
    ]
    for index, (opcode, imm) in enumerate(((ALU_MIN, high), (ALU_MAX, low))):
        lines += [
            f"static int {p}_clip{index}_uops(void *signature) {{", "    (void)signature;",
            f"    VTAUopLoopBegin({tile.output_entries}u, 1u, 0u, 0u);",
            f"    VTAUopPush({MODE_ALU}u, 0u, {o_base}u, 0u, 0u, {opcode}u, 1u, {imm});",
            "    VTAUopLoopEnd();", "    return 0;", "}", "",
        ]
    lines.append(f"static int (*const {p}_clips[2])(void *) = {{{p}_clip0_uops, {p}_clip1_uops}};")
    return lines


def _body(p: str, tile: PoolTile, taps: int, image_width: int) -> list[str]:
    """The tile loop; the input rows are ``image_width`` pixels apart in DRAM."""
    rows_in = (tile.rows - 1) * tile.stride[0] + tile.kernel[0]
    row_entries = tile.width * tile.blocks
    dram_row = image_width * tile.blocks
    step_rows = tile.rows * tile.stride[0] * dram_row
    bases = ", ".join(f"{{{s * tile.input_entries}u, {s}u}}" for s in range(SLOTS))
    return [
        f"    static uint32_t bases[{SLOTS}][2] = {{{bases}}};",
        f"    for (uint32_t t = 0; t < {tile.tiles}u; ++t) {{",
        "        uint32_t slot = t & 1u;",
        "        VTADepPop(cmd, 2, 1);",
        f"        VTALoadBuffer2D(cmd, {p}_buffers[0], t * {step_rows}u, {row_entries}u,"
        f" {rows_in}u, {dram_row}u, 0u, 0u, 0u, 0u, bases[slot][0], {MEM_INP}u);",
        f"        VTALoadBuffer2D(cmd, {p}_buffers[1], 0u, 1u, 1u, 1u, 0u, 0u, 0u, 0u, slot,"
        f" {MEM_WGT}u);",
        "        VTADepPush(cmd, 1, 2);",
        "        VTADepPop(cmd, 3, 2);",
        "        VTADepPop(cmd, 1, 2);",
        f"        VTAPushGEMMOp(&{p}_handles[slot][0], {p}_copy_uops, bases[slot],"
        " (int)sizeof(bases[slot]));",
        f"        VTAPushGEMMOp(&{p}_handles[slot][1], {p}_first_uops, bases[slot],"
        " (int)sizeof(bases[slot]));",
        "        VTADepPush(cmd, 2, 1);",
        *([f"        VTAPushALUOp(&{p}_max_handle, {p}_max_uops, NULL, 0);"] if taps > 1 else []),
        "        for (int op = 0; op < 2; ++op) {",
        f"            VTAPushALUOp(&{p}_clip_handles[op], {p}_clips[op], NULL, 0);",
        "        }",
        "        VTADepPush(cmd, 2, 3);",
        "        VTADepPop(cmd, 2, 3);",
        f"        VTAStoreBuffer2D(cmd, {tile.input_entries}u, {MEM_OUT}u, {p}_buffers[2],"
        f" t * {tile.output_entries}u, {tile.output_entries}u, 1u, {tile.output_entries}u);",
        "        VTADepPush(cmd, 3, 2);",
        "    }",
    ]


def pool_layer_code(layer: MaxPool, graph: Graph, index: int, mapping: Mapping,
                    workload: Workload, module: ExecModule) -> LayerCode:
    """The C of a max pool on VTA: input, the identity weight entry, output."""
    config = VtaConfig.from_module(module)
    width = graph.tensor(layer.inputs[0]).shape[2]
    tile = pool_tile(workload, mapping.tile(0, "OY"), config)
    assert tile is not None, "the mapping's tile fits"
    symbol = f"nnmap_{layer_id(index, layer)}"
    prototype = (f"int32_t {symbol}(const int8_t *restrict data, const int8_t *restrict weight,"
                 " int8_t *restrict out)")
    inp, out = graph.tensor(layer.inputs[0]), graph.tensor(layer.output)
    sizes = (inp.size, config.block_out * config.block_in, out.size)
    body = [
        f"{prototype} {{",
        "    VTACommandHandle cmd = VTATLSCommandHandle();",
        "    const void *hosts[3] = {data, weight, out};",
        f"    {symbol}_move_in(hosts);",
        f"    for (int slot = 0; slot < {SLOTS}; ++slot) VTADepPush(cmd, 2, 1);",
        "    VTADepPush(cmd, 3, 2);",
        *_body(symbol, tile, tile.kernel[0] * tile.kernel[1], width),
        f"    for (int slot = 0; slot < {SLOTS}; ++slot) VTADepPop(cmd, 2, 1);",
        "    VTADepPop(cmd, 3, 2);",
        "    VTASynchronize(cmd, 1u << 31);",
        f"    VTAWriteBarrier(cmd, {symbol}_buffers[2], 8, 0, {out.size}u);",
        f"    memcpy(out, VTABufferCPUPtr(cmd, {symbol}_buffers[2]), {out.size}u);",
        "    return 0;",
        "}",
    ]
    source = "\n".join([
        f"/* layer {layer_id(index, layer)} (MaxPool) on VTA: window maxima by ALU MAX */",
        '#include "nnmap_kernels.h"', '#include "vta/runtime/runtime.h"', "",
        "#include <string.h>", "",
        *_kernels(symbol, tile, int(layer.clamp.low), int(layer.clamp.high)), "",
        *dma_buffers(symbol, sizes, inputs=(0,), constants=(1,)), "", *body, "",
    ])
    eye = np.eye(config.block_out, config.block_in, dtype=np.int8)[None]
    arguments = (Argument("input", layer.inputs[0]), Argument("constant", f"{symbol}_weight"),
                 Argument("output", layer.output))
    return LayerCode(layer, index, symbol, prototype, f"{layer_id(index, layer)}.c", source,
                     arguments, {f"{symbol}_weight": eye}, module=module.name)
