"""A generic RISC-V-class MCU host core, and the builder other targets use for their host.

The generic core is an assumed, typical PULP-style microcontroller: one RV32 core with a 4-wide
int8 SIMD dot product, a small tightly coupled L1 and a larger L2 that holds whole tensors.
"""

from __future__ import annotations

from nnmap.hw import ArrayAxis, ComputeArray, ExecModule, Instruction, Memory, Target
from nnmap.hw.support import ANY_LAYER

HOST_INSTRUCTIONS = (
    Instruction("mac", "nnmap_host_mac", "scalar or SIMD multiply-accumulate in the C kernel"),
    Instruction("copy", "memcpy", "copy a tile between memory levels"),
)


def cpu_core(
    name: str, *, simd_lanes: int, levels: tuple[tuple[Memory, ...], ...], layer_overhead: float
) -> ExecModule:
    """A CPU running the C kernels: ``simd_lanes`` MACs/cycle along the input channels."""
    array = ComputeArray(
        name=f"{name}-alu",
        axes=(ArrayAxis("simd", simd_lanes, ("C", "K", "OX")),),
        acc_bytes=4,  # int32 accumulators (TFLite int8 kernels)
        fill_cycles=20,  # assumed: loop set-up and register spill per innermost tile
    )
    return ExecModule(
        name=name,
        array=array,
        levels=levels,
        supports=ANY_LAYER,
        instructions=HOST_INSTRUCTIONS,
        timing={"layer_overhead": layer_overhead},
    )


MCU_L1 = Memory(
    "l1",
    size=64 * 1024,  # assumed: 64 KiB TCM
    operands=("I", "W", "O"),
    read_bw=8,  # assumed: 64-bit port
    write_bw=8,  # assumed: 64-bit port
    latency=1,  # assumed: 1-cycle access
)
MCU_L2 = Memory(
    "l2",
    size=512 * 1024,  # assumed: 512 KiB SRAM
    operands=("I", "W", "O"),
    read_bw=4,  # assumed: 32-bit bus
    write_bw=4,  # assumed: 32-bit bus
    latency=10,  # assumed: 10 cycles per DMA transfer
)

HOST = Target(
    name="host",
    host=cpu_core(
        "mcu",
        simd_lanes=4,  # assumed: XpulpV2-style 4-way int8 dot product
        levels=((MCU_L1,), (MCU_L2,)),
        layer_overhead=100,  # assumed: call overhead
    ),
    shared=(MCU_L2,),
    clock_hz=100e6,  # assumed: 100 MHz
    description="generic RISC-V MCU (all numbers assumed): 4-wide SIMD, 64 KiB L1, 512 KiB L2",
)
