"""GAP9 as a generator: the fabric controller (host), the 8-core cluster and the NE16 engine.

Numbers from shared/reference/gap9.md, which cites DORY's GAP9 HW_description.json and NE16
performance model (pulp-platform/dory) and MATCH's GAP9 target (eml-eda/match). Each module's
code lives beside this file: ``cluster_backend.py`` and ``ne16_backend.py``.
"""

from __future__ import annotations

from dataclasses import replace

from nnmap.hw import ArrayAxis, ComputeArray, ExecModule, Instruction, Memory, Target
from nnmap.hw.support import SupportRule
from nnmap.targets.gap9.cluster_backend import ClusterBackend
from nnmap.targets.gap9.ne16_backend import Ne16Backend
from nnmap.targets.host import cpu_core
from nnmap.targets.host_cores import CV32E40P

CLOCK_HZ = 370e6  # gap9.md: 370 MHz cores, accelerator and peripherals

L1 = Memory(
    "l1",
    size=120_000,  # gap9.md: DORY budgets 120,000 B of the 128 KiB L1 for tiles
    operands=("I", "W", "O"),
    read_bw=32,  # gap9.md: 32 B/cycle
    write_bw=32,  # gap9.md: 32 B/cycle
    latency=1,  # gap9.md: latency 1
    banks=16,  # assumed: 16 TCDM banks (bank conflicts are not modelled)
)
L2 = Memory(
    "l2",
    size=1_536_000,  # gap9.md: 1,536,000 B
    operands=("I", "W", "O"),
    read_bw=8,  # gap9.md: DMA L2<->L1 8 B/cycle
    write_bw=8,  # gap9.md: DMA L2<->L1 8 B/cycle
    latency=10,  # gap9.md: DMA latency 10 cycles
)

DMA_INSTRUCTIONS = (
    Instruction("dma", "pi_cl_dma_cmd", "non-blocking 1-D L2 <-> L1 transfer"),
    Instruction("dma_2d", "pi_cl_dma_cmd_2d", "non-blocking 2-D L2 <-> L1 transfer"),
    Instruction("dma_wait", "pi_cl_dma_wait", "wait for a DMA transfer"),
)

DMA_TIMING = {
    "dma_bytes_per_cycle": 8,  # gap9.md: DMA L2<->L1 8 B/cycle
    "dma_overhead": 920,  # gap9.md (MATCH): ~920 cycles of overhead per DMA transfer
    "dma_row_cycles": 1,  # gap9.md (MATCH): one cycle per row of a 2-D transfer
    "dma_issue": 10,  # assumed: programming one transfer on the core (gap9.md DMA latency 10)
}

CORE_TIMING = {
    # gap9.md: PULP-NN's 4x2 matmul kernel, 8 accumulators: per step 2 input and 4 weight word
    # loads feed 8 sdotusp4 (32 MACs); 1 cycle each (cv32e40p manual, Xpulp assumed alike):
    # 14 cycles per 32 MACs per core (modelled, not measured: RV32IMC has no sdotusp4)
    "conv_cycles_per_32_macs": 14,
    # assumed: a depthwise tap with Xpulp is a byte load of input and weight and a mac, 3 cycles
    "depthwise_cycles_per_32_macs": 96,
    # measured (cluster_measure.py): the kernel's per-output work (loop, TFLite requantization,
    # clamp, store) is 35.7 cycles on RV32IMC with the cv32e40p costs; the scalar MACs measure
    # 11.4 cycles (dense taps) and 27.6 (depthwise taps), which Xpulp's SIMD, hardware loops
    # and post-increment loads replace: those rates stay modelled above
    "output_cycles": 36,
    # assumed: a residual add's element is three requantizations, each the measured per-output
    # cost above
    "add_cycles": 3 * 36,
    "pool_tap_cycles": 2,  # assumed: a byte load and an add (or max) per window element
    "pool_output_cycles": 40,  # assumed: a division (cv32e40p: up to 35 cycles) and the store
    "fork": 100,  # assumed: fork on 8 cores plus the closing barrier per tile
    # assumed: int8 -> uint8 for NE16 (xor 0x80) of a word: load, xor, store
    "convert_cycles_per_4_bytes": 3,
}

CLUSTER_TIMING = {
    **DMA_TIMING,
    **CORE_TIMING,
    "layer_overhead": 100,  # assumed: cluster offload call from the fabric controller
}

CLUSTER = ExecModule(
    name="cluster",
    array=ComputeArray(
        name="cores",
        axes=(
            ArrayAxis("cores", 8, ("OY", "OX", "K", "B")),  # gap9.md: 8 worker cores
            ArrayAxis("simd", 4, ("C",)),  # gap9.md: sdotusp4, 4 MAC/cycle/core
        ),
        dtypes=("int8",),
        fill_cycles=100,  # assumed: fork + barrier per tile
    ),
    levels=((L1,), (L2,)),
    supports=SupportRule(kinds=("conv", "depthwise", "dense", "add", "pool"), dilation_one=False),
    instructions=(
        *DMA_INSTRUCTIONS,
        Instruction("fork", "pi_cl_team_fork", "run a kernel on the 8 worker cores"),
        Instruction("barrier", "pi_cl_team_barrier", "wait for every worker core"),
        Instruction("sdot", "__builtin_pulp_sdotusp4", "4-way int8 dot product"),
    ),
    timing=CLUSTER_TIMING,
    backend=ClusterBackend(),
)

NE16_TIMING = {
    **DMA_TIMING,
    **CORE_TIMING,
    "layer_overhead": 100,  # assumed: job configuration through the register file
    "job_setup": 100,  # assumed: writing one job's registers (pulp-nnx task fields)
}

NE16 = ExecModule(
    name="ne16",
    array=ComputeArray(
        name="ne16",
        axes=(
            ArrayAxis("fy", 3, ("FY", "K")),  # gap9.md: 3x3 taps (K in 1x1 mode: assumed)
            ArrayAxis("fx", 3, ("FX", "K")),  # gap9.md: 3x3 taps (K in 1x1 mode: assumed)
            ArrayAxis("oy", 3, ("OY",)),  # gap9.md: 3x3 output patch
            ArrayAxis("ox", 3, ("OX",)),  # gap9.md: 3x3 output patch
            ArrayAxis("cin", 16, ("C",)),  # gap9.md: blocks of 16 input channels
        ),
        dtypes=("int8",),
        step_cycles=8,  # gap9.md: weights streamed bit-serially, 8 bits
        fill_cycles=6 + 6 + 2,  # gap9.md: FIFO latency 6, weight offset 6, index update 2
        drain_cycles=3 + 1 + 9 + 8,  # gap9.md: stream-out 3 + 1, normquant scale 9, bias 8
    ),
    levels=((L1,), (L2,)),
    supports=SupportRule(
        kinds=("conv", "depthwise", "dense"),
        kernels=((1, 1), (3, 3)),  # gap9.md: 1x1 and 3x3 modes
        strides=(1, 2),  # gap9.md (MATCH): stride 1 or 2
        out_channel_multiple=16,  # gap9.md (MATCH): K a multiple of 16
    ),
    instructions=(
        *DMA_INSTRUCTIONS,
        Instruction("ne16_job", "ne16_nnx_dispatch", "configure and start one NE16 job"),
        Instruction("ne16_wait", "ne16_nnx_resolve_wait", "wait for the NE16 job"),
    ),
    timing=NE16_TIMING,
    backend=Ne16Backend(),
)

L3 = Memory(
    "l3",
    size=8 * 1024 * 1024,  # gap9.md: 8 MB
    operands=("I", "W", "O"),
    read_bw=1,  # assumed: gap9.md gives no L3 bandwidth
    write_bw=1,  # assumed: as above
    latency=100,  # assumed
)

FABRIC_CONTROLLER = replace(CV32E40P, clock_hz=CLOCK_HZ)  # gap9.md: FC at 370 MHz (RI5CY class)


def gap9_target() -> Target:
    """GAP9: the fabric controller runs what the cluster and NE16 do not."""
    return Target(
        name="gap9",
        host=cpu_core(
            "fc",
            simd_lanes=4,  # assumed: the fabric controller has the same Xpulp SIMD
            levels=((L2,),),
            layer_overhead=100,  # assumed call overhead
        ),
        accelerators=(NE16, CLUSTER),
        shared=(L2, L3),
        clock_hz=CLOCK_HZ,
        host_core=FABRIC_CONTROLLER,
        description="GAP9: fabric controller, 8-core cluster (32 MAC/cycle), NE16, L1 + 1.5 MB L2",
    )
