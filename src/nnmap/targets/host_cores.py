"""The host cores of nnmap's SoCs, each number with its public source or marked assumed.

Sources:
- [rocket-core] rocket-chip, src/main/scala/rocket/RocketCore.scala: RocketCoreParams defaults
  fastLoadWord = true (a word load's data bypasses from the cache response: one stall cycle for a
  dependent next instruction), fastLoadByte = false (byte/halfword loads take the slow path: two).
- [rocket-muldiv] rocket-chip, src/main/scala/rocket/Multiplier.scala (class MulDiv) with the
  configuration of src/main/scala/subsystem/Configs.scala ``WithNBigCores`` (the core of
  Chipyard's Gemmini SoC): MulDivParams(mulUnroll = 8, mulEarlyOut = true, divEarlyOut = true).
  A 64-bit multiply iterates 64 / 8 = 8 times, a 32-bit one (``mulw``, fastMulW) 4 times, plus
  the request and response cycles; a divide iterates once per bit (64) plus the sign fix-up
  cycles. Early out is data dependent and not modelled: the costs are the full iteration counts.
- [rocket-dcache] rocket-chip DCacheParams defaults: nSets = 64, nWays = 4, blockBytes = 64
  (CacheBlockBytes): a 16 KiB 4-way L1 data cache with 64-byte lines.
- [cv32e40p] OpenHW Group, CV32E40P User Manual, "Pipeline Details": table "Cycle counts per
  instruction type" and the "Hazards" list (1-cycle load-use penalty).
- [a9-trm] ARM, Cortex-A9 Technical Reference Manual (DDI 0388), Appendix B "Cycle Timings and
  Interlock Behavior": B.3 Table B-2 (single load/store: 1 AGU cycle for LDR, result latency 3 in
  the general case; LDRB/LDRH 2 cycles, latency 4), Table B-3 (load/store multiple: two registers
  per AGU cycle), B.7 Table B-9 (MUL/MLA/SMULL/UMULL/SMLAL: 2 cycles). The Cortex-A9 has no
  integer divide instruction: divisions call the compiler runtime, whose instructions are counted.
- [a9-caches] Cortex-A9 TRM, chapter 7 "Level 1 Memory System": 4-way set-associative L1 data
  cache with 32-byte lines; Zynq-7000 TRM (UG585): 32 KB L1 data cache per core.
- [diana] shared/reference/diana.md (host RI5CY at 260 MHz, HTVM's profiler);
  [gemmini] shared/reference/gemmini.md (100 MHz); PYNQ-Z1 reference manual: 650 MHz A9.

Each core's ``calibration`` (the analytical host model's per-stage costs) is not from a
document: ``bench/calibrate_host.py`` fits it to nnmap's host kernels measured on that core and
stores it in ``host_calibration.json`` beside this file, every number with what it was fitted on.
"""

from __future__ import annotations

import json
from pathlib import Path

from nnmap.hw.host_core import DataCache, HostCalibration, HostCore, InstructionCosts

CALIBRATION_FILE = Path(__file__).parent / "host_calibration.json"


def stored_calibration(core: str) -> HostCalibration | None:
    """The calibration ``bench/calibrate_host.py`` stored for ``core``, if any."""
    if not CALIBRATION_FILE.exists():
        return None
    stored = json.loads(CALIBRATION_FILE.read_text()).get(core)
    if stored is None:
        return None
    return HostCalibration(
        mac_cycles={kind: float(entry["value"]) for kind, entry in stored["mac_cycles"].items()},
        op_cycles={kind: float(entry["value"]) for kind, entry in stored["op_cycles"].items()},
        call_cycles=float(stored["call_cycles"]["value"]),
        source=str(stored["source"]),
    )


ROCKET = HostCore(
    name="rocket",
    isa="rv64imac",
    target="riscv64-freestanding",
    cpu="rocket_rv64+m+a+c",
    compile_flags=("-O2",),
    clock_hz=100e6,  # [gemmini]: the Gemmini SoC's clock
    costs=InstructionCosts(
        alu=1,  # [rocket-core]: 5-stage single-issue pipeline, full bypassing
        load=1,  # [rocket-core]: one issue slot, L1 hit
        load_subword=1,  # [rocket-core]
        load_use_stall=1,  # [rocket-core]: fastLoadWord = true
        load_subword_use_stall=2,  # [rocket-core]: fastLoadByte = false
        store=1,  # [rocket-core]
        multiply=6,  # [rocket-muldiv]: 4 iterations (mulw) + request + response
        multiply_wide=10,  # [rocket-muldiv]: 8 iterations + request + response
        divide=67,  # [rocket-muldiv]: 64 iterations + negate inputs/output + response
        branch_taken=1,  # assumed: predicted by the BTB/BHT, no bubble
        branch_not_taken=1,  # assumed: predicted, no bubble
        branch_mispredict=3,  # assumed: branch resolved in the execute stage of 5, 3 flushed
        jump=1,  # assumed: direct jumps predicted by the BTB
        indirect_jump=3,  # assumed: returns/indirect jumps resolved like a mispredicted branch
        transfer_per_register=0,  # no load/store multiple in RISC-V
        other=1,  # assumed
    ),
    data_cache=DataCache(
        sets=64,  # [rocket-dcache]
        ways=4,  # [rocket-dcache]
        line_bytes=64,  # [rocket-dcache]
        miss_penalty=20,  # assumed: refill from the SoC's L2 over TileLink
    ),
    calibration=stored_calibration("rocket"),  # fitted: host_calibration.json
)

CV32E40P = HostCore(
    name="cv32e40p",
    isa="rv32imc",
    target="riscv32-freestanding",
    cpu="generic_rv32+m+c",
    compile_flags=("-O2",),
    clock_hz=260e6,  # [diana]: DIANA's host at 260 MHz (GAP9's cores run at 370 MHz)
    costs=InstructionCosts(
        alu=1,  # [cv32e40p]: integer computational, 1
        load=1,  # [cv32e40p]: load/store, 1 (word aligned)
        load_subword=1,  # [cv32e40p]: load/store, 1
        load_use_stall=1,  # [cv32e40p]: Hazards, load data hazard, 1 cycle
        load_subword_use_stall=1,  # [cv32e40p]: same hazard for every load width
        store=1,  # [cv32e40p]: load/store, 1
        multiply=1,  # [cv32e40p]: mul, 1
        multiply_wide=5,  # [cv32e40p]: mulh, mulhsu, mulhu, 5
        divide=35,  # [cv32e40p]: division/remainder 3..35 (upper bound; operand dependent)
        branch_taken=3,  # [cv32e40p]: branch (taken), 3 (IF and ID flushed)
        branch_not_taken=1,  # [cv32e40p]: branch (not-taken), 1
        branch_mispredict=0,  # [cv32e40p]: no branch predictor
        jump=2,  # [cv32e40p]: jump, 2
        indirect_jump=2,  # [cv32e40p]: jump, 2 (jalr)
        transfer_per_register=0,  # no load/store multiple in RISC-V
        other=1,  # [cv32e40p]: CSR access, 1 (most CSRs)
    ),
    data_cache=None,  # loads hit the SoC's L2 / TCDM scratchpad at the table's cycle counts
    calibration=stored_calibration("cv32e40p"),  # fitted: host_calibration.json
)

CORTEX_A9 = HostCore(
    name="cortex-a9",
    isa="armv7-a",
    target="arm-freestanding-eabi",
    cpu="cortex_a9-neon-vfp3-vfp2",
    compile_flags=("-O2", "-mfloat-abi=soft", "-marm"),
    clock_hz=650e6,  # PYNQ-Z1 reference manual: 650 MHz Cortex-A9 (VTA's Pynq host)
    costs=InstructionCosts(
        alu=1,  # [a9-trm]: data processing, 1 (dual issue and out-of-order not modelled)
        load=1,  # [a9-trm] Table B-2: LDR, 1 AGU cycle
        load_subword=2,  # [a9-trm] Table B-2: LDRB/LDRH, 2
        load_use_stall=2,  # [a9-trm] Table B-2: LDR result latency 3 (general case)
        load_subword_use_stall=2,  # [a9-trm] Table B-2: LDRB/LDRH result latency 4
        store=1,  # [a9-trm] Table B-2: STR, 1 AGU cycle
        multiply=2,  # [a9-trm] Table B-9: MUL, MLA, 2
        multiply_wide=2,  # [a9-trm] Table B-9: SMULL, UMULL, SMLAL, 2
        divide=1,  # no divide instruction on the Cortex-A9 (never executed)
        branch_taken=1,  # assumed: predicted (BTAC/GHB), 1
        branch_not_taken=1,  # assumed: predicted, 1
        branch_mispredict=8,  # assumed: the 8-stage integer pipeline is refilled
        jump=1,  # assumed: predicted
        indirect_jump=1,  # assumed: returns predicted by the return stack
        transfer_per_register=0.5,  # [a9-trm] Table B-3: two registers per AGU cycle
        other=1,  # assumed
    ),
    data_cache=DataCache(
        sets=256,  # [a9-caches]: 32 KB / (4 ways x 32 bytes)
        ways=4,  # [a9-caches]
        line_bytes=32,  # [a9-caches]
        miss_penalty=25,  # assumed: hit in the Zynq's PL310 512 KB L2
    ),
    calibration=stored_calibration("cortex-a9"),  # fitted: host_calibration.json
)

BUILTIN_CORES = {core.name: core for core in (ROCKET, CV32E40P, CORTEX_A9)}
