"""nnmap's VTA emulator as an ``Emulator``: its C files, its parameters from the module."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from nnmap.errors import TargetError
from nnmap.hw import DeviceBuild, ExecModule
from nnmap.runtime.emulator_build import COMMON_DIR, Emulator
from nnmap.targets.vta.instructions import VtaConfig
from nnmap.targets.vta.params import render_header

VTA_DIR = Path(__file__).resolve().parent / "emulator"
SOURCES = (
    VTA_DIR / "vta_emulator.c",
    VTA_DIR / "vta_buffers.c",
    VTA_DIR / "vta_exec.c",
    VTA_DIR / "vta_pipeline.c",
    VTA_DIR / "vta_command_timing.c",
    COMMON_DIR / "decoupled_timing.c",
)
HEADERS = (
    VTA_DIR / "vta" / "runtime" / "runtime.h",
    VTA_DIR / "vta_runtime.h",
    VTA_DIR / "vta_buffers.h",
    VTA_DIR / "vta_internal.h",
    VTA_DIR / "vta_command_timing.h",
    COMMON_DIR / "decoupled_timing.h",
)


def emulator(module: ExecModule) -> Emulator:
    """The emulator of the VTA ``module``: its parameters header follows the module."""
    return Emulator(
        name="vta",
        directory=VTA_DIR,
        sources=SOURCES,
        headers=HEADERS,
        params_header="vta_params.h",
        render_params=partial(render_header, module),
    )


# assumed: VTA's default configuration's 64-bit DRAM bus (vta_config.json LOG_BUS_WIDTH 6); the
# data widths are nnmap's int8 inputs, weights and outputs and int32 accumulators.
BUS_BITS = 64
INP_BITS, WGT_BITS, OUT_BITS, UOP_BITS = 8, 8, 8, 32


def _log2(module: ExecModule, name: str, value: int) -> int:
    if value < 1 or value & (value - 1):
        raise TargetError(
            f"module {module.name!r}: {name} is {value}, VTA's headers take powers of two"
        )
    return value.bit_length() - 1


def config_flags(module: ExecModule) -> str:
    """VTA's configuration as the ``-D`` flags its headers read (what ``vta_config.py
    --cflags`` prints for a configuration), from the VTA ``module``."""
    config = VtaConfig.from_module(module)
    acc_bits = 8 * module.array.acc_bytes
    inp_entry = config.batch * config.block_in * INP_BITS // 8
    wgt_entry = config.block_out * config.block_in * WGT_BITS // 8
    acc_entry = config.batch * config.block_out * acc_bits // 8
    out_entry = config.batch * config.block_out * OUT_BITS // 8
    values = {
        "LOG_BATCH": config.batch,
        "LOG_BLOCK_IN": config.block_in,
        "LOG_BLOCK_OUT": config.block_out,
        "LOG_INP_WIDTH": INP_BITS,
        "LOG_WGT_WIDTH": WGT_BITS,
        "LOG_ACC_WIDTH": acc_bits,
        "LOG_OUT_WIDTH": OUT_BITS,
        "LOG_BUS_WIDTH": BUS_BITS,
        "LOG_UOP_BUFF_SIZE": config.uop_entries * UOP_BITS // 8,
        "LOG_INP_BUFF_SIZE": config.inp_entries * inp_entry,
        "LOG_WGT_BUFF_SIZE": config.wgt_entries * wgt_entry,
        "LOG_ACC_BUFF_SIZE": config.acc_entries * acc_entry,
        "LOG_OUT_BUFF_SIZE": config.out_entries * out_entry,
    }
    return " ".join(f"-DVTA_{name}={_log2(module, name, v)}" for name, v in values.items())


def device_build(module: ExecModule) -> DeviceBuild:
    """The device flavour: VTA_INCLUDE names the folder(s) holding VTA's ``vta/runtime/runtime.h``
    and what it includes (``tvm/runtime/c_runtime_api.h``, ``dlpack/dlpack.h``)."""
    variables = (("VTA_INCLUDE", "the folder(s) of vta/runtime/runtime.h, tvm/ and dlpack/"),)
    return DeviceBuild(variables, f"$(addprefix -I,$(VTA_INCLUDE)) {config_flags(module)}")
