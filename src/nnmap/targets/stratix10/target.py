"""The target ``stratix10``: an x86 host and an Intel Stratix 10 SX 2800 running OpenCL kernels.

The FPGA's figures are ``device.STRATIX10_SX2800`` (each with its public source); here they are
expressed as nnmap's hardware model: the DSP multipliers as the MAC array, the M20K blocks as the
on-chip memory, the four DDR4 banks as the global memory, at the assumed kernel clock.
"""

from __future__ import annotations

from nnmap.hw import ArrayAxis, ComputeArray, ExecModule, Instruction, Memory, Target
from nnmap.hw.support import ANY_LAYER
from nnmap.targets.host import cpu_core
from nnmap.targets.stratix10.backend import OpenclBackend
from nnmap.targets.stratix10.device import STRATIX10_SX2800, FpgaDevice


def _fpga_module(device: FpgaDevice) -> ExecModule:
    ddr_bandwidth = device.ddr_banks * device.ddr_bytes_per_cycle
    on_chip = Memory(
        "m20k",
        size=device.m20k_blocks * device.m20k_bytes,  # device.py: blocks x 20 Kb
        operands=("I", "W", "O"),
        read_bw=device.m20k_blocks * device.m20k_ports,  # device.py: two ports per block, 1 B
        write_bw=device.m20k_blocks,  # device.py: one write port per block in 1R1W mode
        latency=device.local_memory_latency,
        banks=device.m20k_blocks,
    )
    ddr = Memory(
        "ddr4",
        size=device.ddr_bytes,  # device.py: PAC D5005 32 GB
        operands=("I", "W", "O"),
        read_bw=ddr_bandwidth,  # device.py: four banks of 19.2 GB/s at the kernel clock
        write_bw=ddr_bandwidth,
        latency=device.global_memory_latency,
        burst_bytes=64,  # assumed: 512-bit DDR controller word
    )
    return ExecModule(
        name="fpga",
        array=ComputeArray(
            name="dsp",
            axes=(ArrayAxis("multipliers", device.dsp_blocks * device.multipliers_per_dsp,
                            ("C", "K", "FY", "FX")),),
            acc_bytes=4,
        ),
        levels=((on_chip,), (ddr,)),
        supports=ANY_LAYER,
        instructions=(
            Instruction("kernel", "clEnqueueTask", "one single work-item OpenCL kernel"),
            Instruction("channel", "write_channel_intel", "an on-chip FIFO between kernels"),
        ),
        timing={
            "global_memory_latency": device.global_memory_latency,
            "local_memory_latency": device.local_memory_latency,
            "channel_latency": device.channel_latency,
        },
        backend=OpenclBackend(),
    )


DDR_HOST = Memory(
    "host-dram",
    size=16 * 2**30,  # assumed: the host's DRAM
    operands=("I", "W", "O"),
    read_bw=16,  # assumed
    write_bw=16,  # assumed
    latency=100,  # assumed
)


def stratix10_target() -> Target:
    """The Stratix 10 SX 2800 card behind an x86 host (no parameters)."""
    device = STRATIX10_SX2800
    return Target(
        name="stratix10",
        host=cpu_core("x86", simd_lanes=16, levels=((DDR_HOST,),),  # assumed: AVX2 int8
                      layer_overhead=1000),  # assumed: call overhead
        accelerators=(_fpga_module(device),),
        shared=(DDR_HOST,),
        clock_hz=device.kernel_clock_hz,
        description=f"{device.name} (OpenCL kernels, HLS-modelled) behind an x86 host",
    )
