"""Render ``gemmini_params.h`` for nnmap's Gemmini emulator from the gemmini target (one source).

Every number comes from the target file (``nnmap.targets.gemmini``): memory sizes and bandwidths,
the mesh's fill/drain/reload cycles and the module's ``timing`` dict.
"""

from __future__ import annotations

from nnmap.errors import TargetError
from nnmap.hw import ExecModule
from nnmap.runtime.emulator_build import params_header, whole_number

_TIMING_KEYS = (
    "issue_latency",
    "frontend_latency",
    "issue_interval",
    "fence",
    "store_latency",
    "load_queue",
    "execute_queue",
    "store_queue",
)


def _parameters(module: ExecModule) -> dict[str, int]:
    dim = module.array.axes[0].size
    scratchpad, accumulator = module.levels[0]
    dram = module.levels[-1][0]
    missing = [key for key in _TIMING_KEYS if key not in module.timing]
    if missing:
        raise TargetError(f"module {module.name!r}: timing lacks {', '.join(missing)}")
    values = {
        "DIM": dim,
        "SPAD_BANKS": scratchpad.banks,
        "SPAD_ROWS": scratchpad.size // dim,
        "ACC_BANKS": accumulator.banks,
        "ACC_ROWS": accumulator.size // (dim * module.array.acc_bytes),
        "SPAD_READ_BYTES_PER_CYCLE": scratchpad.read_bw,
        "SPAD_WRITE_BYTES_PER_CYCLE": scratchpad.write_bw,
        "ACC_READ_BYTES_PER_CYCLE": accumulator.read_bw,
        "ACC_WRITE_BYTES_PER_CYCLE": accumulator.write_bw,
        "DRAM_READ_BYTES_PER_CYCLE": dram.read_bw,
        "DRAM_WRITE_BYTES_PER_CYCLE": dram.write_bw,
        "DRAM_LATENCY": dram.latency,
        "FILL_CYCLES": module.array.fill_cycles,
        "DRAIN_CYCLES": module.array.drain_cycles,
        "RELOAD_CYCLES": module.array.reload_cycles,
    }
    values.update({key.upper(): module.timing[key] for key in _TIMING_KEYS})
    return {name: whole_number("gemmini", name, value) for name, value in values.items()}


def render_header(module: ExecModule) -> str:
    """The text of ``gemmini_params.h``: one ``#define NNMAP_GEMMINI_<NAME>`` per parameter."""
    return params_header("GEMMINI", module.name, _parameters(module))
