"""Gemmini with its Rocket host, as a generator: ``gemmini_target(dim=16, ...)`` -> Target.

Parameters are named after Gemmini's ``GemminiArrayConfig`` (mesh size, scratchpad and
accumulator capacity in KiB, banks); the defaults are the default configuration. Numbers from
shared/reference/gemmini.md, which cites the ucb-bar/gemmini README and configs,
gemmini-rocc-tests ``include/gemmini_params.h`` and libgemmini's timing parameters
(``perf/params/config.h``). Where a timing depends on the mesh size, the published figure is for
DIM = 16 and its scaling with DIM is assumed (said at each).
"""

from __future__ import annotations

from nnmap.errors import TargetError
from nnmap.hw import ArrayAxis, ComputeArray, ExecModule, Instruction, Memory, Target
from nnmap.hw.support import SupportRule
from nnmap.targets.gemmini.backend import GemminiBackend
from nnmap.targets.host import cpu_core
from nnmap.targets.host_cores import ROCKET

DIM = 16  # gemmini.md "Default configuration": DIM = 16, a 16x16 mesh

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

TIMING = {
    "issue_latency": 3,  # gemmini.md timing: issue latency 3 cycles
    "frontend_latency": 5,  # gemmini.md timing: front end 5 cycles
    "fence": 2,  # gemmini.md timing: fence 2 cycles
    "store_latency": 12,  # gemmini.md timing: store pipeline latency 12
    "layer_overhead": 5 + 2,  # front end + fence once per layer (gemmini.md timing)
    "load_queue": 8,  # gemmini.md timing: reservation station load queue 8 entries
    "execute_queue": 16,  # gemmini.md timing: reservation station execute queue 16 entries
    "store_queue": 4,  # gemmini.md timing: reservation station store queue 4 entries
    "issue_interval": 1,  # assumed: the host issues one RoCC command per cycle
}

ROCKET_L1 = Memory(
    "rocket-l1d",
    size=16 * 1024,  # assumed: 16 KiB L1 data cache
    operands=("I", "W", "O"),
    read_bw=8,  # assumed: 64-bit port
    write_bw=8,  # assumed: 64-bit port
    latency=2,  # assumed
)


def _mesh(dim: int) -> ComputeArray:
    return ComputeArray(
        name="mesh",
        axes=(
            ArrayAxis("rows", dim, ("C",)),  # WS: the reduction runs down the mesh rows
            ArrayAxis("cols", dim, ("K",)),  # WS: one output column per mesh column
        ),
        dtypes=("int8",),  # gemmini.md: int8 inputs and weights
        acc_bytes=4,  # gemmini.md: int32 accumulators
        stationary="W",  # gemmini.md: weight-stationary dataflow (the one compilers use)
        reload_cycles=dim,  # gemmini.md timing: preload with no compute takes DIM cycles
        fill_cycles=2 * dim + 1,  # gemmini.md timing: 33 at DIM 16; linear in DIM assumed
        drain_cycles=3 * dim + 3,  # gemmini.md timing: commit 51 at DIM 16; linear assumed
    )


def _local_memories(
    dim: int, scratchpad_kib: int, accumulator_kib: int, sp_banks: int, acc_banks: int
) -> tuple[Memory, Memory]:
    scratchpad = Memory(
        "scratchpad",
        size=scratchpad_kib * 1024,  # gemmini.md: 256 KiB by default
        operands=("I", "W"),
        banks=sp_banks,  # gemmini.md: 4 banks x 4096 rows x 16 B by default
        read_bw=dim,  # gemmini.md: single-ported, one DIM-byte row per cycle
        write_bw=dim,  # gemmini.md: single-ported, one DIM-byte row per cycle
        double_buffer=True,  # gemmini.md: WS double-buffers (loop_ws uses half the scratchpad)
    )
    accumulator = Memory(
        "accumulator",
        size=accumulator_kib * 1024,  # gemmini.md: 64 KiB by default
        operands=("O",),
        banks=acc_banks,  # gemmini.md: 2 banks, 1024 rows x 64 B by default
        read_bw=dim,  # gemmini.md timing: store reads 1 row (4*DIM B) per 4 cycles
        write_bw=4 * dim,  # gemmini.md: one 4*DIM-byte accumulator row per cycle
        holds_psums=True,  # gemmini.md: int32 accumulator rows
        double_buffer=True,  # gemmini.md: WS double-buffers (half the accumulator per loop_ws)
    )
    return scratchpad, accumulator


def _check(dim: int, scratchpad_kib: int, accumulator_kib: int) -> None:
    if not 2 <= dim <= 256:
        raise TargetError(f"gemmini: dim={dim} is outside 2..256 (the mesh is dim x dim PEs)")
    rows = scratchpad_kib * 1024 // dim
    if rows < 4 * dim:
        raise TargetError(
            f"gemmini: scratchpad_kib={scratchpad_kib} holds {rows} rows of {dim} B; the code "
            f"generator needs at least {4 * dim} (two slots of an input and a weight block)"
        )
    acc_rows = accumulator_kib * 1024 // (4 * dim)
    if acc_rows < 2 * dim:
        raise TargetError(
            f"gemmini: accumulator_kib={accumulator_kib} holds {acc_rows} rows of {4 * dim} B; "
            f"at least {2 * dim} are needed (two output blocks)"
        )


def gemmini_target(
    dim: int = DIM,
    scratchpad_kib: int = 256,
    accumulator_kib: int = 64,
    sp_banks: int = 4,
    acc_banks: int = 2,
) -> Target:
    """Gemmini with a ``dim`` x ``dim`` WS mesh, its scratchpad and accumulator (KiB), and its
    Rocket host; a configuration the code generator cannot use is a TargetError naming it."""
    _check(dim, scratchpad_kib, accumulator_kib)
    scratchpad, accumulator = _local_memories(
        dim, scratchpad_kib, accumulator_kib, sp_banks, acc_banks
    )
    gemmini = ExecModule(
        name="gemmini",
        array=_mesh(dim),
        levels=((scratchpad, accumulator), (DRAM,)),
        supports=SupportRule(kinds=("conv", "depthwise", "dense", "add")),
        instructions=INSTRUCTIONS,
        timing=TIMING,
        backend=GemminiBackend(),
    )
    return Target(
        name="gemmini",
        host=cpu_core(
            "rocket",
            simd_lanes=1,  # assumed: scalar in-order core, 1 MAC/cycle at best
            levels=((ROCKET_L1,), (DRAM,)),
            layer_overhead=50,  # assumed call overhead
        ),
        accelerators=(gemmini,),
        shared=(DRAM,),
        clock_hz=100e6,  # gemmini.md: peak quoted at 100 MHz
        host_core=ROCKET,
        description=(
            f"Gemmini {dim}x{dim} WS systolic array, {scratchpad_kib} KiB scratchpad, "
            f"{accumulator_kib} KiB accumulator, Rocket"
        ),
    )
