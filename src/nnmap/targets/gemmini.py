"""Gemmini, default configuration, with its Rocket host.

Numbers from shared/reference/gemmini.md, which cites the ucb-bar/gemmini README and configs,
gemmini-rocc-tests ``include/gemmini_params.h`` and libgemmini's timing parameters
(``perf/params/config.h``).
"""

from __future__ import annotations

from nnmap.hw import ArrayAxis, ComputeArray, ExecModule, Instruction, Memory, Target
from nnmap.hw.support import SupportRule
from nnmap.targets.host import cpu_core

DIM = 16  # gemmini.md "Default configuration": DIM = 16, a 16x16 mesh

MESH = ComputeArray(
    name="mesh",
    axes=(
        ArrayAxis("rows", DIM, ("C",)),  # WS: the reduction runs down the mesh rows
        ArrayAxis("cols", DIM, ("K",)),  # WS: one output column per mesh column
    ),
    dtypes=("int8",),  # gemmini.md: int8 inputs and weights
    acc_bytes=4,  # gemmini.md: int32 accumulators
    stationary="W",  # gemmini.md: weight-stationary dataflow (the one compilers use)
    reload_cycles=DIM,  # gemmini.md timing: preload with no compute takes DIM cycles
    fill_cycles=33,  # gemmini.md timing: mesh fill latency 33 cycles
    drain_cycles=51,  # gemmini.md timing: commit latency 51 cycles
)

SCRATCHPAD = Memory(
    "scratchpad",
    size=256 * 1024,  # gemmini.md: 256 KiB
    operands=("I", "W"),
    banks=4,  # gemmini.md: 4 banks x 4096 rows x 16 B
    read_bw=DIM,  # gemmini.md: single-ported, one 16 B row per cycle
    write_bw=DIM,  # gemmini.md: single-ported, one 16 B row per cycle
    double_buffer=True,  # gemmini.md: WS double-buffers (loop_ws uses half the scratchpad)
)
ACCUMULATOR = Memory(
    "accumulator",
    size=64 * 1024,  # gemmini.md: 64 KiB
    operands=("O",),
    banks=2,  # gemmini.md: 2 banks, 1024 rows x 64 B
    read_bw=DIM,  # gemmini.md timing: store reads 1 row (64 B) per 4 cycles
    write_bw=4 * DIM,  # gemmini.md: one 64 B accumulator row per cycle
    holds_psums=True,  # gemmini.md: int32 accumulator rows
    double_buffer=True,  # gemmini.md: WS double-buffers (half the accumulator per loop_ws)
)
DRAM = Memory(
    "dram",
    size=1 << 32,  # assumed: 4 GiB address space
    operands=("I", "W", "O"),
    read_bw=8,  # gemmini.md timing: DRAM 8 B/cycle
    write_bw=8,  # gemmini.md timing: DRAM 8 B/cycle
    latency=20,  # gemmini.md timing: DRAM 20 cycles
    burst_bytes=64,  # gemmini.md: DMA 64 B per request
)

INSTRUCTIONS = (
    Instruction("config_ex", "gemmini_config_ex", "set dataflow, activation, transposes, scale"),
    Instruction("config_ld", "gemmini_config_ld", "set DRAM stride and scale of a load"),
    Instruction("config_st", "gemmini_config_st", "set DRAM stride, activation, pooling of stores"),
    Instruction("mvin", "gemmini_mvin", "DRAM -> scratchpad/accumulator, 2-D strided"),
    Instruction("mvout", "gemmini_mvout", "accumulator -> DRAM with scale, activation, saturation"),
    Instruction("preload", "gemmini_preload", "load weights into the mesh, name output rows"),
    Instruction("compute_preloaded", "gemmini_compute_preloaded", "stream A rows through the mesh"),
    Instruction(
        "compute_accumulated",
        "gemmini_compute_accumulated",
        "stream A rows, reusing the preloaded weights",
    ),
    Instruction("loop_ws", "gemmini_loop_ws", "a whole tiled matmul issued in hardware"),
    Instruction("loop_conv_ws", "gemmini_loop_conv_ws", "a whole tiled conv issued in hardware"),
    Instruction("flush", "gemmini_flush", "clear the mesh state"),
)

GEMMINI = ExecModule(
    name="gemmini",
    array=MESH,
    levels=((SCRATCHPAD, ACCUMULATOR), (DRAM,)),
    supports=SupportRule(kinds=("conv", "depthwise", "dense")),
    instructions=INSTRUCTIONS,
    timing={
        "issue_latency": 3,  # gemmini.md timing: issue latency 3 cycles
        "frontend_latency": 5,  # gemmini.md timing: front end 5 cycles
        "fence": 2,  # gemmini.md timing: fence 2 cycles
        "store_latency": 12,  # gemmini.md timing: store pipeline latency 12
        "layer_overhead": 5 + 2,  # front end + fence once per layer (gemmini.md timing)
        "load_queue": 8,  # gemmini.md timing: reservation station load queue 8 entries
        "execute_queue": 16,  # gemmini.md timing: reservation station execute queue 16 entries
        "store_queue": 4,  # gemmini.md timing: reservation station store queue 4 entries
        "issue_interval": 1,  # assumed: the host issues one RoCC command per cycle
        # nnmap's code generator runs dense convs and FC layers as an im2col GEMM stream, costed
        # by nnmap.mapping.gemmini_stream (a flag, not a time)
        "gemm_stream": 1,
    },
)

ROCKET_L1 = Memory(
    "rocket-l1d",
    size=16 * 1024,  # assumed: 16 KiB L1 data cache
    operands=("I", "W", "O"),
    read_bw=8,  # assumed: 64-bit port
    write_bw=8,  # assumed: 64-bit port
    latency=2,  # assumed
)

TARGET = Target(
    name="gemmini",
    host=cpu_core(
        "rocket",
        simd_lanes=1,  # assumed: scalar in-order core, 1 MAC/cycle at best
        levels=((ROCKET_L1,), (DRAM,)),
        layer_overhead=50,  # assumed call overhead
    ),
    accelerators=(GEMMINI,),
    shared=(DRAM,),
    clock_hz=100e6,  # gemmini.md: peak quoted at 100 MHz
    description="Gemmini 16x16 WS systolic array, 256 KiB scratchpad, 64 KiB accumulator, Rocket",
)
