"""nnmap's DIANA digital-array emulator as an ``Emulator``: its C files, its parameters from the
module."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from nnmap.hw import ExecModule
from nnmap.runtime.emulator_build import Emulator, params_header, whole_number

EMULATOR_DIR = Path(__file__).resolve().parent / "emulator"


def render_header(module: ExecModule) -> str:
    """``digital_params.h``: memory sizes, the array and the timing of ``module``."""
    activations, weights = module.levels[0]
    l2 = module.levels[-1][0]
    rows, columns = (axis.size for axis in module.array.axes)
    timing = module.timing
    values = {
        "ACTIVATION_BYTES": activations.size,
        "WEIGHT_BYTES": weights.size,
        "PE_ROWS": rows,
        "PE_COLUMNS": columns,
        "L2_BYTES_PER_CYCLE": whole_number("diana", "l2 read_bw", l2.read_bw),
        "DMA_CALL_CYCLES": whole_number("diana", "dma_call", timing["dma_call"]),
        "CALL_CYCLES": whole_number("diana", "kernel_call", timing["kernel_call"]),
        "PASS_CYCLES": whole_number("diana", "pass_overhead", timing["pass_overhead"]),
        "DEPTHWISE_SLOTS": whole_number("diana", "depthwise_slots", timing["depthwise_slots"]),
        "SUM_ELEMENTS_PER_CYCLE": whole_number("diana", "sum_elements_per_cycle",
                                               timing["sum_elements_per_cycle"]),
    }
    return params_header("DIGITAL", module.name, values)


def emulator(module: ExecModule) -> Emulator:
    """The emulator of the digital array ``module``."""
    return Emulator(
        name="diana",
        directory=EMULATOR_DIR,
        sources=(EMULATOR_DIR / "digital_emulator.c",),
        headers=(EMULATOR_DIR / "digital_lib.h",),
        params_header="digital_params.h",
        render_params=partial(render_header, module),
    )
