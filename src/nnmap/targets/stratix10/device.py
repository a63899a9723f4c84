"""The Intel Stratix 10 SX 2800 as the HLS model sees it: resources, memories and clocks.

Sources: Intel, "Intel Stratix 10 GX/SX Device Overview" (S10-OVERVIEW, table "Stratix 10 SX
SoC FPGA family plan", column SX 2800) for ALMs, M20K blocks and DSP blocks; "Intel Stratix 10
Variable Precision DSP Blocks User Guide" (UG-S10-DSP) for two 18x19 multipliers per DSP block;
"Intel Stratix 10 Embedded Memory User Guide" (UG-S10MEMORY) for the M20K geometry and ports;
Intel FPGA PAC D5005 product brief (the Stratix 10 SX 2800 accelerator card) for its DDR4 banks.
Every number below names its source or says it is assumed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FpgaDevice:
    """An FPGA's resources and the figures of its memory system the HLS model uses."""

    name: str
    alms: int
    m20k_blocks: int
    m20k_bits: int
    m20k_ports: int
    dsp_blocks: int
    multipliers_per_dsp: int
    ddr_banks: int
    ddr_bank_bytes_per_second: float
    ddr_bytes: int
    kernel_clock_hz: float
    global_memory_latency: int
    local_memory_latency: int
    launch_overhead_seconds: float
    channel_latency: int

    @property
    def ddr_bytes_per_cycle(self) -> float:
        """Bytes per kernel-clock cycle one DDR bank delivers."""
        return self.ddr_bank_bytes_per_second / self.kernel_clock_hz

    @property
    def m20k_bytes(self) -> int:
        """Bytes one M20K block holds."""
        return self.m20k_bits // 8


STRATIX10_SX2800 = FpgaDevice(
    name="Intel Stratix 10 SX 2800",
    alms=933_120,  # S10-OVERVIEW family plan, SX 2800: 933,120 ALMs
    m20k_blocks=11_721,  # S10-OVERVIEW family plan, SX 2800: 11,721 M20K blocks (229 Mb)
    m20k_bits=20_480,  # UG-S10MEMORY: an M20K block holds 20 Kb
    m20k_ports=2,  # UG-S10MEMORY: true dual-port mode, two accesses per cycle
    dsp_blocks=5_760,  # S10-OVERVIEW family plan, SX 2800: 5,760 variable-precision DSP blocks
    multipliers_per_dsp=2,  # UG-S10-DSP: two 18x19 multipliers per block (an int8 MAC each)
    ddr_banks=4,  # PAC D5005 brief: 32 GB DDR4 in four banks
    ddr_bank_bytes_per_second=19.2e9,  # PAC D5005 brief: DDR4-2400, 64-bit bank: 19.2 GB/s
    ddr_bytes=32 * 2**30,  # PAC D5005 brief: 32 GB DDR4
    kernel_clock_hz=300e6,  # assumed: a typical OpenCL kernel fmax on Stratix 10 (not Hyperflex)
    global_memory_latency=200,  # assumed: cycles of a burst-coalesced load unit's pipeline
    local_memory_latency=4,  # assumed: cycles of an M20K read in the kernel pipeline
    launch_overhead_seconds=20e-6,  # assumed: host enqueue to kernel start, one kernel
    channel_latency=5,  # assumed: cycles through an on-chip FIFO channel
)
