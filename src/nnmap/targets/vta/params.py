"""Render ``vta_params.h`` for nnmap's VTA emulator from the vta target (one source).

Every number comes from the target file (``nnmap.targets.vta``): the GEMM core's shape and fill
cycles, buffer sizes, DRAM latency and the module's ``timing`` dict (vta.md's cost table). Costs
per entry are rendered in tenths of a cycle (LOAD INP/UOP cost 1.1 cycles per entry); the
emulator rounds a transfer's total up to whole cycles (assumed).
"""

from __future__ import annotations

from nnmap.errors import TargetError
from nnmap.hw import ExecModule
from nnmap.runtime.emulator_build import params_header, whole_number
from nnmap.targets.vta.instructions import VtaConfig

_TENTHS_KEYS = (
    "load_inp_cycles_per_entry",
    "load_wgt_cycles_per_entry",
    "load_uop_cycles_per_entry",
    "load_acc_cycles_per_entry",
    "store_cycles_per_entry",
    "gemm_cycles_per_uop",
    "alu_imm_cycles_per_element",
    "alu_tensor_cycles_per_element",
)
_CYCLE_KEYS = ("alu_imm_overhead", "alu_tensor_overhead", "memory_overhead")


def parameters(module: ExecModule) -> dict[str, int]:
    """Every ``NNMAP_VTA_<NAME>`` value of ``vta_params.h``."""
    missing = [key for key in (*_TENTHS_KEYS, *_CYCLE_KEYS) if key not in module.timing]
    if missing:
        raise TargetError(f"module {module.name!r}: timing lacks {', '.join(missing)}")
    config = VtaConfig.from_module(module)
    dst_bits, src_bits, wgt_bits = config.uop_fields()
    values: dict[str, float] = {
        "BATCH": config.batch,
        "BLOCK_IN": config.block_in,
        "BLOCK_OUT": config.block_out,
        "INP_ENTRIES": config.inp_entries,
        "WGT_ENTRIES": config.wgt_entries,
        "ACC_ENTRIES": config.acc_entries,
        "OUT_ENTRIES": config.out_entries,
        "UOP_ENTRIES": config.uop_entries,
        "UOP_DST_BITS": dst_bits,
        "UOP_SRC_BITS": src_bits,
        "UOP_WGT_BITS": wgt_bits,
        "GEMM_OVERHEAD": module.array.fill_cycles,
    }
    values.update({key.upper(): module.timing[key] for key in _CYCLE_KEYS})
    values.update({f"{key.upper()}_X10": 10 * module.timing[key] for key in _TENTHS_KEYS})
    return {name: whole_number("vta", name, value) for name, value in values.items()}


def render_header(module: ExecModule) -> str:
    """The text of ``vta_params.h``: one ``#define NNMAP_VTA_<NAME>`` per parameter."""
    return params_header("VTA", module.name, parameters(module), suffix="u")
