"""DIANA: a RI5CY host, a digital 16x16 PE array, and an analog in-memory core (declared, refused).

Numbers from shared/reference/diana.md, which cites DORY's DIANA HW_description.json, HTVM's DIANA
pattern table and tutorial notebooks, MATCH's DIANA target and the DIANA papers (ISSCC/JSSC).
The digital array's backend is ``nnmap.targets.diana.backend``; the analog core's backend only
says why it takes no int8 layer.
"""

from __future__ import annotations

from nnmap.hw import ArrayAxis, ComputeArray, ExecModule, Instruction, Memory, Target
from nnmap.hw.support import SupportRule
from nnmap.targets.diana.backend import AnalogBackend, DianaBackend
from nnmap.targets.host import cpu_core
from nnmap.targets.host_cores import CV32E40P

L2_HOST = Memory(
    "l2",
    size=512 * 1024,  # diana.md: L2 512 KiB
    operands=("I", "W", "O"),
    read_bw=8,  # diana.md: 8 B/cycle
    write_bw=8,  # diana.md: 8 B/cycle
    latency=10,  # diana.md: latency 10
)
L2_ACCEL = Memory(
    "l2-accel",
    size=448 * 1024,  # diana.md: the accelerators reach 448 KiB of L2
    operands=("I", "W", "O"),
    read_bw=8,  # diana.md: 8 B/cycle
    write_bw=8,  # diana.md: 8 B/cycle
    latency=70,  # diana.md (MATCH): ~70 cycles per DMA call
)
L1_ACT = Memory(
    "l1-act",
    size=256 * 1000,  # diana.md: 256 KB (MATCH)
    operands=("I", "O"),
    read_bw=64,  # diana.md: 512-bit ports
    write_bw=64,  # diana.md: 512-bit ports
)
L1_WEIGHTS = Memory(
    "l1-wgt",
    size=65536,  # diana.md: 65,536 B
    operands=("W",),
    read_bw=32,  # diana.md: 32 B/cycle
    write_bw=32,  # diana.md: 32 B/cycle
)

DIGITAL = ExecModule(
    name="digital",
    array=ComputeArray(
        name="pe-array",
        axes=(
            ArrayAxis("k", 16, ("K",)),  # diana.md: spatially K 16
            ArrayAxis("ox", 16, ("OX",)),  # diana.md: spatially OX 16
        ),
        dtypes=("int8",),
        fill_cycles=500,  # diana.md (MATCH): ~500 cycles per tile iteration
        drain_cycles=23,  # diana.md (MATCH compute model): +23 per row group
        mac_energy_pj=2 / 14,  # diana.md: 14 TOP/s/W at 8 bit = 1/14 pJ per op, 2 ops per MAC
    ),
    levels=((L1_ACT, L1_WEIGHTS), (L2_ACCEL,)),
    supports=SupportRule(
        kinds=("conv", "depthwise", "dense", "add"),  # diana.md: HTVM patterns
        kernels=((1, 1), (3, 3), (5, 5), (7, 7)),  # diana.md: kernel sizes
        strides=(1, 2),  # diana.md: strides 1 or 2
        # diana.md: tensor sizes divisible by 4 (the backend checks it: the output channels of
        # conv, depthwise and dense layers, the elements of an add)
    ),
    instructions=(  # diana.md: the runtime's public names, as MATCH's DIANA target calls them
        Instruction("dma", "memcpy_dig", "L2 <-> L1 (activation or weight memory) DMA transfer"),
        Instruction("sync", "global_sync_digital", "wait for the digital accelerator"),
        Instruction("conv", "digital_conv_2d", "one conv tile on the PE array"),
        Instruction("depthwise", "digital_depthwise_conv_2d", "one depthwise tile"),
        Instruction("dense", "digital_fully_connected", "one fully connected tile"),
        Instruction("add", "digital_element_wise_sum", "element-wise sum, shift and clip"),
    ),
    timing={
        "dma_call": 70,  # diana.md (MATCH): ~70 cycles per DMA call
        "kernel_call": 500,  # diana.md (MATCH): ~500 cycles per tile iteration
        "pass_overhead": 23,  # diana.md (MATCH compute model): + 23 per pass of the array
        # MATCH's DIANA depthwise weights (weights_and_constants): every channel padded with
        # three zero channels, so one pass of the 16 PE rows covers 4 channels
        "depthwise_slots": 4,
        "sum_elements_per_cycle": 16,  # assumed: one element per PE column per cycle
    },
    backend=DianaBackend(),
)

ANALOG_REFUSAL = (
    "the analog core takes ternary weights and 7-bit inputs (diana.md); int8 layers run on "
    "the digital array or the host"
)
ANALOG = ExecModule(
    name="analog",
    array=ComputeArray(
        name="aimc",
        axes=(
            ArrayAxis("rows", 1152, ("C",)),  # diana.md: 1152 x 512 in-memory array
            ArrayAxis("cols", 512, ("K",)),  # diana.md: 1152 x 512 in-memory array
        ),
        dtypes=("ternary",),  # diana.md: ternary weights, 7-bit inputs
    ),
    levels=(
        (
            Memory(
                "aimc-weights",
                size=147456,  # diana.md: 147,456 B
                operands=("W",),
                read_bw=64,  # assumed: loaded once per layer over the 512-bit port
                write_bw=64,  # assumed: as above
            ),
            Memory(
                "aimc-act",
                size=256 * 1000,  # diana.md: it shares the 256 KB activation L1
                operands=("I", "O"),
                read_bw=64,  # diana.md: 512-bit ports
                write_bw=64,  # diana.md: 512-bit ports
            ),
        ),
        (L2_ACCEL,),
    ),
    supports=SupportRule(
        kinds=(),
        refuse_all=ANALOG_REFUSAL,
    ),
    backend=AnalogBackend(ANALOG_REFUSAL),
    operand_bytes={"I": 1, "W": 0.25, "O": 1},  # diana.md: 2-bit (ternary) weights
)

TARGET = Target(
    name="diana",
    host=cpu_core(
        "ri5cy",
        simd_lanes=4,  # diana.md: RI5CY (Xpulp: 4-way int8 SIMD dot product)
        levels=((L2_HOST,),),
        layer_overhead=100,  # assumed call overhead
    ),
    host_core=CV32E40P,
    accelerators=(DIGITAL, ANALOG),
    shared=(L2_HOST,),
    clock_hz=260e6,  # diana.md: HTVM's profiler assumes 260 MHz
    description="DIANA: RI5CY host, digital 16x16 PE array, analog IMC core (declared, refused)",
)


def diana_target() -> Target:
    """DIANA as its public sources describe it (no parameters)."""
    return TARGET
