"""VTA on a Pynq-class board, as a generator: ``vta_target(log_block=4, ...)`` -> Target.

Parameters are named after VTA's ``vta_config.json`` (``LOG_BATCH``, ``LOG_BLOCK``,
``LOG_*_BUFF_SIZE``, in bytes as log2); the defaults are the default configuration (a 1x16x16
GEMM core). Numbers from shared/reference/vta.md, which cites apache/tvm-vta
(``config/vta_config.json``, ``include/vta/hw_spec.h``, the hardware docs) and the removed
``config/vta_cost.py`` cost table. The table's per-entry load and store costs are for the default
entry sizes; for other block sizes they are scaled by the entry's bytes (the same DMA bandwidth,
assumed).
"""

from __future__ import annotations

import math

from nnmap.errors import TargetError
from nnmap.hw import ArrayAxis, ComputeArray, ExecModule, Instruction, Memory, Target
from nnmap.hw.support import SupportRule
from nnmap.targets.host import cpu_core
from nnmap.targets.host_cores import CORTEX_A9
from nnmap.targets.vta.backend import VtaBackend

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

ARM_L1 = Memory(
    "arm-l1d",
    size=32 * 1024,  # assumed: Cortex-A9 32 KiB L1 data cache
    operands=("I", "W", "O"),
    read_bw=8,  # assumed: 64-bit port
    write_bw=8,  # assumed: 64-bit port
    latency=2,  # assumed
)



def _gemm_core(batch: int, block: int) -> ComputeArray:
    return ComputeArray(
        name="gemm-core",
        axes=(
            ArrayAxis("batch", batch, ("B", "OY", "OX")),  # vta.md: BATCH = 1 by default
            ArrayAxis("block_in", block, ("C", "FX", "FY")),  # vta.md: BLOCK_IN = 16 (reduction)
            ArrayAxis("block_out", block, ("K",)),  # vta.md: BLOCK_OUT = 16
        ),
        dtypes=("int8",),  # vta.md: int8 operands, int32 accumulate
        acc_bytes=4,  # vta.md: int32 accumulate
        fill_cycles=80,  # vta.md cost table: GEMM = x + 80 cycles per instruction
    )


def _per_entry(cycles: float, entry_bytes: int, default_bytes: int) -> float:
    """A cost table's cycles per default-sized entry, for entries of ``entry_bytes`` (the same
    bytes per cycle, assumed), in whole tenths of a cycle as the emulator takes them."""
    return math.ceil(cycles * entry_bytes / default_bytes * 10 - 1e-9) / 10


def _timing(batch: int, block: int, uop_entries: int, out_bytes: int) -> dict[str, float]:
    inp, wgt, acc = batch * block, block * block, batch * block * 4
    return {
        "alu_imm_overhead": 46,  # vta.md cost table: ALU immediate x + 46
        "alu_tensor_overhead": 46,  # vta.md cost table: ALU tensor-tensor 2x + 46
        "layer_overhead": 38 + 50 + 39,  # vta.md: no-ops of the compute/memory/store stages
        "alu_tensor_cycles_per_element": 2,  # vta.md cost table: ALU tensor-tensor 2x + 46
        "alu_imm_cycles_per_element": 1,  # vta.md cost table: ALU immediate x + 46
        "gemm_cycles_per_uop": 1,  # vta.md cost table: GEMM x + 80
        "load_inp_cycles_per_entry": _per_entry(1.1, inp, 16),  # vta.md: LOAD INP 1.1x + 150
        "load_wgt_cycles_per_entry": _per_entry(17, wgt, 256),  # vta.md: LOAD WGT 17x + 150
        "load_uop_cycles_per_entry": 1.1,  # vta.md cost table: LOAD UOP 1.1x + 150
        "load_acc_cycles_per_entry": _per_entry(1, acc, 64),  # vta.md: LOAD ACC x + 150
        "store_cycles_per_entry": _per_entry(1, inp, 16),  # vta.md cost table: STORE x + 150
        "memory_overhead": 150,  # vta.md cost table: + 150 per LOAD/STORE
        "uop_buffer_entries": uop_entries,  # vta.md: 32 KiB micro-op buffer of 32-bit uops
        "out_buffer_bytes": out_bytes,  # vta.md: 32 KiB output buffer
    }


def _buffers(
    batch: int, block: int, log_inp_buff_size: int, log_wgt_buff_size: int,
    log_acc_buff_size: int,
) -> tuple[Memory, Memory, Memory]:
    inputs = Memory(
        "inp_buf",
        size=1 << log_inp_buff_size,  # vta.md: 32 KiB = 2048 x 16 B by default
        operands=("I",),
        read_bw=batch * block,  # vta.md: one input entry per GEMM cycle
        write_bw=16 / 1.1,  # vta.md cost table: LOAD INP 1.1 cycles per 16 B entry
    )
    weights = Memory(
        "wgt_buf",
        size=1 << log_wgt_buff_size,  # vta.md: 256 KiB = 1024 x 256 B by default
        operands=("W",),
        read_bw=block * block,  # vta.md: one BLOCK_OUT x BLOCK_IN block per GEMM cycle
        write_bw=256 / 17,  # vta.md cost table: LOAD WGT 17 cycles per 256 B
    )
    accumulator = Memory(
        "acc_buf",
        size=1 << log_acc_buff_size,  # vta.md: 128 KiB = 2048 x 64 B by default
        operands=("O",),
        read_bw=batch * block,  # vta.md: STORE x + 150, one int8 output entry per cycle
        write_bw=batch * block * 4,  # vta.md: LOAD ACC x + 150, one int32 entry per cycle
        holds_psums=True,  # vta.md: int32 accumulator entries
    )
    return inputs, weights, accumulator


def _check(name: str, log_size: int, entry_bytes: int, least_entries: int) -> None:
    if not 0 <= log_size <= 30:
        raise TargetError(f"vta: {name}={log_size} is outside 0..30 (log2 of the bytes)")
    if (1 << log_size) // entry_bytes < least_entries:
        raise TargetError(
            f"vta: {name}={log_size} gives {(1 << log_size) // entry_bytes} entries of "
            f"{entry_bytes} B; at least {least_entries} are needed"
        )


def vta_target(
    log_batch: int = 0,
    log_block: int = 4,
    log_uop_buff_size: int = 15,
    log_inp_buff_size: int = 15,
    log_wgt_buff_size: int = 18,
    log_acc_buff_size: int = 17,
) -> Target:
    """VTA with a (2^log_batch x 2^log_block) x (2^log_block x 2^log_block) GEMM core and
    buffers of 2^LOG_*_BUFF_SIZE bytes (vta_config.json's names), on its Arm host."""
    if not 0 <= log_batch <= 4 or not 1 <= log_block <= 6:
        raise TargetError(
            f"vta: log_batch={log_batch}, log_block={log_block}: use log_batch 0..4 and "
            "log_block 1..6"
        )
    batch, block = 1 << log_batch, 1 << log_block
    _check("log_inp_buff_size", log_inp_buff_size, batch * block, 4)
    _check("log_wgt_buff_size", log_wgt_buff_size, block * block, 4)
    _check("log_acc_buff_size", log_acc_buff_size, batch * block * 4, 4)
    _check("log_uop_buff_size", log_uop_buff_size, 4, 64)
    out_bytes = (1 << log_acc_buff_size) // 4  # vta_config: the output buffer is int8 entries
    host = cpu_core(
        "arm",
        simd_lanes=4,  # assumed: Cortex-A9 NEON, 4 int8 MAC/cycle sustained
        levels=((ARM_L1,), (DRAM,)),
        layer_overhead=200,  # assumed call overhead
    )
    vta = ExecModule(
        name="vta",
        array=_gemm_core(batch, block),
        levels=(
            _buffers(batch, block, log_inp_buff_size, log_wgt_buff_size, log_acc_buff_size),
            (DRAM,),
        ),
        supports=SupportRule(kinds=("conv", "depthwise", "dense", "add", "pool")),
        instructions=INSTRUCTIONS,
        timing=_timing(batch, block, (1 << log_uop_buff_size) // 4, out_bytes),
        backend=VtaBackend(host),
    )
    return Target(
        name="vta",
        host=host,
        accelerators=(vta,),
        shared=(DRAM,),
        clock_hz=100e6,  # vta.md boards: Pynq at 100 MHz
        host_core=CORTEX_A9,
        description=(
            f"VTA {batch}x{block}x{block} GEMM core ({(1 << log_inp_buff_size) // 1024} KiB inp, "
            f"{(1 << log_wgt_buff_size) // 1024} KiB wgt, {(1 << log_acc_buff_size) // 1024} KiB "
            "acc) on a Pynq host"
        ),
    )
