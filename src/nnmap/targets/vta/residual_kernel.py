"""A residual Add on VTA (``residual.py``: the arithmetic and its exactness): its command stream,
timed by the emulator's pipeline, its cost as a stream model, and its C kernel.

The tensors are flat int8 arrays of 16-byte entries (BLOCK_IN lanes); a tile is ``tile``
entries of both inputs. Per tile: the load stage loads both inputs' tiles and the six identity
weight entries (three digits x two inputs) into one of two slots and signals compute; compute
loads the bias into the tile's accumulator entries (x_stride 0 repeats one entry), runs the
three digit GEMMs with a SHR by -8 (a left shift) between them, returns the slot, then ADD
(the bias's low bits), SHR, ADD (the output zero point), MIN, MAX, and signals store, which
stores the tile's int8 results and returns a credit. Tokens as in ``helpers.py``: two
compute -> load slot credits and one store -> compute credit pushed at the start and popped at
the end.
"""

from __future__ import annotations

from math import prod

import numpy as np

from nnmap.hw import ExecModule
from nnmap.ir.workload import LOOPS, Workload
from nnmap.mapping.model import Cost, Mapping
from nnmap.mapping.stream_search import StreamModel
from nnmap.targets.vta.instructions import (
    ALU_ADD,
    ALU_MAX,
    ALU_MIN,
    ALU_SHR,
    MEM_ACC,
    MEM_INP,
    MEM_OUT,
    MEM_WGT,
    MODE_ALU,
    MODE_GEMM,
    VtaConfig,
)
from nnmap.targets.vta.residual import DIGIT_SHIFT, DIGITS, AluAdd
from nnmap.targets.vta.timing_engine import (
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
INPUTS = 2
WEIGHT_ENTRIES = DIGITS * INPUTS
ALU_STEPS = 5  # after the digits: ADD low bias, SHR, ADD zero point, MIN, MAX
MOST_ENTRIES = 512  # entries per tile: two inputs per slot, two slots in the input buffer


def add_tile(entries: int, wanted: int, config: VtaConfig) -> int:
    """Entries per tile: the largest divisor of ``entries`` up to ``wanted`` that fits two
    inputs in each of two input slots and the accumulator."""
    most = min(wanted, config.inp_entries // (SLOTS * INPUTS), config.acc_entries, MOST_ENTRIES)
    return max(d for d in range(1, max(1, most) + 1) if entries % d == 0)


def add_commands(entries: int, tile: int) -> list[Command]:
    """The commands of the Add stream over ``entries`` in tiles of ``tile``, in program order,
    with each micro-op kernel loaded on its first use."""
    commands = [push(COMPUTE_QUEUE, LOAD_QUEUE)] * SLOTS + [push(STORE_QUEUE, COMPUTE_QUEUE)]
    loaded: set[str] = set()

    def kernel(name: str, uops: int) -> None:
        if name not in loaded:
            loaded.add(name)
            commands.append(load(MEM_UOP, uops))

    for step in range(entries // tile):
        slot = step % SLOTS
        commands += [pop(COMPUTE_QUEUE, LOAD_QUEUE), load(MEM_INP, tile), load(MEM_INP, tile)]
        commands += [load(MEM_WGT, WEIGHT_ENTRIES), push(LOAD_QUEUE, COMPUTE_QUEUE)]
        commands += [pop(STORE_QUEUE, COMPUTE_QUEUE), load(MEM_ACC, tile)]
        commands.append(pop(LOAD_QUEUE, COMPUTE_QUEUE))
        for digit in range(DIGITS):
            if digit:
                kernel("shift left", 1)
                commands.append(alu_immediate(tile))
            kernel(f"gemm {slot} {digit}", INPUTS)
            commands.append(gemm(INPUTS * tile))
        commands.append(push(COMPUTE_QUEUE, LOAD_QUEUE))
        for index in range(ALU_STEPS):
            kernel(f"alu {index}", 1)
            commands.append(alu_immediate(tile))
        commands += [push(COMPUTE_QUEUE, STORE_QUEUE), pop(COMPUTE_QUEUE, STORE_QUEUE)]
        commands += [store(tile), push(STORE_QUEUE, COMPUTE_QUEUE)]
    commands += [pop(COMPUTE_QUEUE, LOAD_QUEUE)] * SLOTS + [pop(STORE_QUEUE, COMPUTE_QUEUE)]
    return commands


def _entries(workload: Workload, module: ExecModule) -> tuple[int, VtaConfig]:
    config = VtaConfig.from_module(module)
    return prod(workload.loops.values()) * workload.groups // config.block_in, config


def add_cost(workload: Workload, mapping: Mapping, module: ExecModule) -> Cost:
    """The cycles of the Add stream of ``mapping`` (its OX tile: elements per tile), timed by
    the emulator's pipeline."""
    entries, config = _entries(workload, module)
    tile = add_tile(entries, mapping.tile(0, "OX") // config.block_in, config)
    timed = VtaEngine.of(module).time(add_commands(entries, tile))
    load_busy, compute_busy, store_busy = timed.busy
    moved = entries * config.block_in * (INPUTS + 1)
    inp = module.memory_for(0, "I")
    return Cost(
        macs=0,
        compute_cycles=float(compute_busy),
        transfer_cycles=(float(load_busy + store_busy),),
        transfer_bytes=(float(moved),),
        total_cycles=float(timed.cycles),
        utilization=0.0,
        spatial_utilization=1.0,
        footprint=(((inp.name, SLOTS * INPUTS * tile * config.block_in, inp.size),),),
        energy_pj=None,
    )


def add_candidates(workload: Workload, module: ExecModule) -> list[Mapping]:
    """The largest tile only: every tile costs the same per entry but its fixed overheads."""
    entries, config = _entries(workload, module)
    tile = add_tile(entries, MOST_ENTRIES, config)
    sizes = {**workload.loops, "OX": tile * config.block_in}
    spatial = (("batch", "B", 1), ("block_in", "C", 1), ("block_out", "K", 1))
    return [Mapping(spatial, (tuple(sizes[loop] for loop in LOOPS),), (LOOPS,),
                    (frozenset({"I"}),))]


ADD_STREAM = StreamModel(add_candidates, lambda w, m, x: 0.0, add_cost)


def add_weights(program: AluAdd, config: VtaConfig) -> np.ndarray:
    """The identity weight entries [digit][input], each scaled by its digit."""
    eye = np.eye(config.block_out, config.block_in, dtype=np.int64)
    return np.stack([eye * scale for pair in program.weights for scale in pair]).astype(np.int8)


def add_bias(program: AluAdd, config: VtaConfig) -> np.ndarray:
    """The accumulator entry every element starts from: the high part of the bias."""
    return np.full(config.block_out, program.bias_parts[0], np.int32)


def _alu_ops(program: AluAdd) -> tuple[tuple[int, int], ...]:
    return (
        (ALU_ADD, program.bias_parts[1]),
        (ALU_SHR, program.shift),
        (ALU_ADD, program.zero_point),
        (ALU_MIN, program.high),
        (ALU_MAX, program.low),
    )


def _kernels(p: str, tile: int, program: AluAdd) -> list[str]:
    """The digit GEMM kernels (per slot and digit) and the ALU kernels."""
    lines = [f"static void *{p}_gemm_handles[{SLOTS}][{DIGITS}];",
             f"static void *{p}_shift_handle;", f"static void *{p}_alu_handles[{ALU_STEPS}];", ""]
    lines += [
        "/* acc[i] += inp[in + i] x wgt[w] + inp[in + tile + i] x wgt[w + 1], i < tile. */",
        f"static int {p}_gemm_uops(void *signature) {{",
        "    const uint32_t *base = signature;",
        f"    VTAUopLoopBegin({tile}u, 1u, 1u, 0u);",
        f"    VTAUopPush({MODE_GEMM}u, 0u, 0u, base[0], base[1], 0u, 0u, 0);",
        f"    VTAUopPush({MODE_GEMM}u, 0u, 0u, base[0] + {tile}u, base[1] + 1u, 0u, 0u, 0);",
        "    VTAUopLoopEnd();",
        "    return 0;",
        "}",
        "",
    ]
    steps = [("shift", ALU_SHR, -DIGIT_SHIFT), *((f"alu{i}", op, imm)
                                                for i, (op, imm) in enumerate(_alu_ops(program)))]
    for name, opcode, imm in steps:
        lines += [
            f"static int {p}_{name}_uops(void *signature) {{",
            "    (void)signature;",
            f"    VTAUopLoopBegin({tile}u, 1u, 0u, 0u);",
            f"    VTAUopPush({MODE_ALU}u, 0u, 0u, 0u, 0u, {opcode}u, 1u, {imm});",
            "    VTAUopLoopEnd();",
            "    return 0;",
            "}",
            "",
        ]
    names = ", ".join(f"{p}_alu{i}_uops" for i in range(ALU_STEPS))
    lines.append(f"static int (*const {p}_alu_kernels[{ALU_STEPS}])(void *) = {{{names}}};")
    return lines


def dma_buffers(p: str, sizes: tuple[int, ...], inputs: tuple[int, ...],
                constants: tuple[int, ...]) -> list[str]:
    """VTA buffers of a kernel's DRAM arrays (``sizes`` bytes each, the output last): the
    ``constants`` copied in once, the ``inputs`` at every call through the CPU view and a
    VTAReadBarrier."""
    cmd = "VTATLSCommandHandle()"
    listed = ", ".join(f"{size}u" for size in sizes)
    lines = [
        f"static void *{p}_buffers[{len(sizes)}];",
        f"static const uint32_t {p}_bytes[{len(sizes)}] = {{{listed}}};",
        "",
        f"static void {p}_move_in(const void *const *hosts) {{",
        f"    VTACommandHandle cmd = {cmd};",
        f"    for (int array = 0; array < {len(sizes)}; ++array) {{",
        f"        if ({p}_buffers[array] != NULL) continue;",
        f"        {p}_buffers[array] = VTABufferAlloc({p}_bytes[array]);",
    ]
    for array in constants:
        lines += [
            f"        if (array == {array}) {{",
            f"            VTABufferCopy(hosts[array], 0, {p}_buffers[array], 0, {p}_bytes[array],"
            " VTA_MEMCPY_H2D);",
            "        }",
        ]
    lines.append("    }")
    for array in inputs:
        lines += [
            f"    memcpy(VTABufferCPUPtr(cmd, {p}_buffers[{array}]), hosts[{array}],"
            f" {p}_bytes[{array}]);",
            f"    VTAReadBarrier(cmd, {p}_buffers[{array}], 8, 0, {p}_bytes[{array}]);",
        ]
    return [*lines, "}"]


def _tile_loop(p: str, tile: int, tiles: int) -> list[str]:
    """One tile's commands, as ``add_commands`` lists them."""
    cmd = "cmd"
    return [
        f"    for (uint32_t t = 0; t < {tiles}u; ++t) {{",
        "        uint32_t slot = t & 1u;",
        f"        VTADepPop({cmd}, 2, 1);",
        f"        VTALoadBuffer2D({cmd}, {p}_buffers[0], t * {tile}u, {tile}u, 1u, {tile}u, 0u, 0u,"
        f" 0u, 0u, slot * {INPUTS * tile}u, {MEM_INP}u);",
        f"        VTALoadBuffer2D({cmd}, {p}_buffers[1], t * {tile}u, {tile}u, 1u, {tile}u, 0u, 0u,"
        f" 0u, 0u, slot * {INPUTS * tile}u + {tile}u, {MEM_INP}u);",
        f"        VTALoadBuffer2D({cmd}, {p}_buffers[2], 0u, {WEIGHT_ENTRIES}u, 1u,"
        f" {WEIGHT_ENTRIES}u, 0u, 0u, 0u, 0u, slot * {WEIGHT_ENTRIES}u, {MEM_WGT}u);",
        f"        VTADepPush({cmd}, 1, 2);",
        f"        VTADepPop({cmd}, 3, 2);",
        f"        VTALoadBuffer2D({cmd}, {p}_buffers[3], 0u, 1u, {tile}u, 0u, 0u, 0u, 0u, 0u, 0u,"
        f" {MEM_ACC}u);",
        f"        VTADepPop({cmd}, 1, 2);",
        f"        for (uint32_t digit = 0; digit < {DIGITS}u; ++digit) {{",
        f"            if (digit > 0) VTAPushALUOp(&{p}_shift_handle, {p}_shift_uops, NULL, 0);",
        f"            VTAPushGEMMOp(&{p}_gemm_handles[slot][digit], {p}_gemm_uops,"
        f" {p}_bases[slot][digit], (int)sizeof({p}_bases[slot][digit]));",
        "        }",
        f"        VTADepPush({cmd}, 2, 1);",
        f"        for (int op = 0; op < {ALU_STEPS}; ++op) {{",
        f"            VTAPushALUOp(&{p}_alu_handles[op], {p}_alu_kernels[op], NULL, 0);",
        "        }",
        f"        VTADepPush({cmd}, 2, 3);",
        f"        VTADepPop({cmd}, 2, 3);",
        f"        VTAStoreBuffer2D({cmd}, 0u, {MEM_OUT}u, {p}_buffers[4], t * {tile}u, {tile}u, 1u,"
        f" {tile}u);",
        f"        VTADepPush({cmd}, 3, 2);",
        "    }",
    ]


def add_prototype(symbol: str) -> str:
    return (
        f"int32_t {symbol}(const int8_t *restrict a, const int8_t *restrict b, "
        "const int8_t *restrict weight, const int32_t *restrict bias, int8_t *restrict out)"
    )


def add_source(symbol: str, comment: str, elements: int, program: AluAdd,
               config: VtaConfig) -> str:
    """The C file of one Add on VTA over ``elements`` int8 values."""
    entries = elements // config.block_in
    tile = add_tile(entries, MOST_ENTRIES, config)
    p = symbol
    bases = ", ".join(
        "{" + ", ".join(f"{{{slot * INPUTS * tile}u, {slot * WEIGHT_ENTRIES + INPUTS * digit}u}}"
                        for digit in range(DIGITS)) + "}"
        for slot in range(SLOTS)
    )
    weight_bytes = WEIGHT_ENTRIES * config.block_out * config.block_in
    sizes = (elements, elements, weight_bytes, 4 * config.block_out, elements)
    body = [
        f"{add_prototype(symbol)} {{",
        "    VTACommandHandle cmd = VTATLSCommandHandle();",
        "    const void *hosts[5] = {a, b, weight, bias, out};",
        f"    {p}_move_in(hosts);",
        f"    for (int slot = 0; slot < {SLOTS}; ++slot) VTADepPush(cmd, 2, 1);",
        "    VTADepPush(cmd, 3, 2);",
        *_tile_loop(p, tile, entries // tile),
        f"    for (int slot = 0; slot < {SLOTS}; ++slot) VTADepPop(cmd, 2, 1);",
        "    VTADepPop(cmd, 3, 2);",
        "    VTASynchronize(cmd, 1u << 31);",
        f"    VTAWriteBarrier(cmd, {p}_buffers[4], 8, 0, {elements}u);",
        f"    memcpy(out, VTABufferCPUPtr(cmd, {p}_buffers[4]), {elements}u);",
        "    return 0;",
        "}",
    ]
    parts = [
        f"/* {comment} */",
        '#include "nnmap_kernels.h"',
        '#include "vta/runtime/runtime.h"',
        "",
        "#include <string.h>",
        "",
        f"static uint32_t {p}_bases[{SLOTS}][{DIGITS}][2] = {{{bases}}};",
        *_kernels(p, tile, program),
        "",
        *dma_buffers(p, sizes, inputs=(0, 1), constants=(2, 3)),
        "",
        *body,
        "",
    ]
    return "\n".join(parts)
