"""VTA, default configuration (1x16x16 GEMM core), on a Pynq-class board.

Numbers from shared/reference/vta.md, which cites apache/tvm-vta (``config/vta_config.json``,
``include/vta/hw_spec.h``, the hardware docs) and the removed ``config/vta_cost.py`` cost table.
"""

from __future__ import annotations

from nnmap.hw import ArrayAxis, ComputeArray, ExecModule, Instruction, Memory, Target
from nnmap.hw.support import SupportRule
from nnmap.targets.host import cpu_core

GEMM_CORE = ComputeArray(
    name="gemm-core",
    axes=(
        ArrayAxis("batch", 1, ("B", "OY", "OX")),  # vta.md: BATCH = 1
        ArrayAxis("block_in", 16, ("C", "FX", "FY")),  # vta.md: BLOCK_IN = 16 (reduction)
        ArrayAxis("block_out", 16, ("K",)),  # vta.md: BLOCK_OUT = 16
    ),
    dtypes=("int8",),  # vta.md: int8 operands, int32 accumulate
    acc_bytes=4,  # vta.md: int32 accumulate
    fill_cycles=80,  # vta.md cost table: GEMM = x + 80 cycles per instruction
)

INPUT_BUFFER = Memory(
    "inp_buf",
    size=32 * 1024,  # vta.md: 2048 x 16 B
    operands=("I",),
    read_bw=16,  # vta.md: one 16 B entry per GEMM cycle
    write_bw=16 / 1.1,  # vta.md cost table: LOAD INP 1.1 cycles per 16 B entry
)
WEIGHT_BUFFER = Memory(
    "wgt_buf",
    size=256 * 1024,  # vta.md: 1024 x 256 B
    operands=("W",),
    read_bw=256,  # vta.md: one 16x16 block per GEMM cycle
    write_bw=256 / 17,  # vta.md cost table: LOAD WGT 17 cycles per 256 B
)
ACC_BUFFER = Memory(
    "acc_buf",
    size=128 * 1024,  # vta.md: 2048 x 64 B
    operands=("O",),
    read_bw=16,  # vta.md: STORE x + 150, one 16 B int8 output entry per cycle
    write_bw=64,  # vta.md: LOAD ACC x + 150, one 64 B entry per cycle
    holds_psums=True,  # vta.md: int32 accumulator entries
)
DRAM = Memory(
    "dram",
    size=1 << 30,  # assumed: 1 GiB (Pynq board)
    operands=("I", "W", "O"),
    read_bw=16,  # assumed: 128-bit bus at the core clock (vta.md boards)
    write_bw=16,  # assumed: as above
    latency=150,  # vta.md cost table: +150 cycles per LOAD/STORE
)

INSTRUCTIONS = (
    Instruction("load", "VTALoadBuffer2D", "DRAM -> SRAM 2-D strided load with on-the-fly padding"),
    Instruction("store", "VTAStoreBuffer2D", "output buffer -> DRAM 2-D strided store"),
    Instruction("gemm", "VTAPushGEMMOp", "micro-op loop of (1x16)x(16x16) products into acc"),
    Instruction("alu", "VTAPushALUOp", "MIN/MAX/ADD/SHR/MUL on accumulator entries"),
    Instruction("dep_push", "VTADepPush", "push a dependency token to another stage"),
    Instruction("dep_pop", "VTADepPop", "pop a dependency token from another stage"),
    Instruction("sync", "VTASynchronize", "run the queued instructions and wait"),
)

VTA = ExecModule(
    name="vta",
    array=GEMM_CORE,
    levels=((INPUT_BUFFER, WEIGHT_BUFFER, ACC_BUFFER), (DRAM,)),
    supports=SupportRule(kinds=("conv", "dense")),
    instructions=INSTRUCTIONS,
    timing={
        "vta_stream": 1,  # nnmap's VTA code generator drives it (cost: nnmap.mapping.vta_cost)
        "alu_imm_overhead": 46,  # vta.md cost table: ALU immediate x + 46
        "alu_tensor_overhead": 46,  # vta.md cost table: ALU tensor-tensor 2x + 46
        "layer_overhead": 38 + 50 + 39,  # vta.md: no-ops of the compute/memory/store stages
        "alu_tensor_cycles_per_element": 2,  # vta.md cost table: ALU tensor-tensor 2x + 46
        "alu_imm_cycles_per_element": 1,  # vta.md cost table: ALU immediate x + 46
        "gemm_cycles_per_uop": 1,  # vta.md cost table: GEMM x + 80
        "load_inp_cycles_per_entry": 1.1,  # vta.md cost table: LOAD INP 1.1 x padded area + 150
        "load_wgt_cycles_per_entry": 17,  # vta.md cost table: LOAD WGT 17x + 150
        "load_uop_cycles_per_entry": 1.1,  # vta.md cost table: LOAD UOP 1.1x + 150
        "load_acc_cycles_per_entry": 1,  # vta.md cost table: LOAD ACC x + 150
        "store_cycles_per_entry": 1,  # vta.md cost table: STORE x + 150
        "memory_overhead": 150,  # vta.md cost table: + 150 per LOAD/STORE
        "uop_buffer_entries": 8192,  # vta.md: 32 KiB micro-op buffer of 32-bit uops
        "out_buffer_bytes": 32 * 1024,  # vta.md: 32 KiB output buffer
    },
)

ARM_L1 = Memory(
    "arm-l1d",
    size=32 * 1024,  # assumed: Cortex-A9 32 KiB L1 data cache
    operands=("I", "W", "O"),
    read_bw=8,  # assumed: 64-bit port
    write_bw=8,  # assumed: 64-bit port
    latency=2,  # assumed
)

TARGET = Target(
    name="vta",
    host=cpu_core(
        "arm",
        simd_lanes=4,  # assumed: Cortex-A9 NEON, 4 int8 MAC/cycle sustained
        levels=((ARM_L1,), (DRAM,)),
        layer_overhead=200,  # assumed call overhead
    ),
    accelerators=(VTA,),
    shared=(DRAM,),
    clock_hz=100e6,  # vta.md boards: Pynq at 100 MHz
    description="VTA 1x16x16 GEMM core (32 KiB inp, 256 KiB wgt, 128 KiB acc) on a Pynq host",
)
