"""The accelerator code generators: per execution module, which layers it lowers and how.

Each entry names the target's ExecModule it generates code for, a predicate for the layers it
can lower, the function that generates one layer's kernel from its mapping, the emulator
sources an artifact ships when the module is used, and the prefix of the emulator's control
functions (``<prefix>_reset``, ``_error``, ``_layer_count``, ``_layer_cycles``). Optionally: why
it refuses a layer (for the report), the host loops of its kernels (for the modelled host
cycles), and a kernel generator for ``numerics="hardware"`` (the accelerator's own rescaling)
with the modelled cycles of its kernels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeGuard

from nnmap.codegen.gemmini.layer import (
    GEMMINI,
    emulator_files,
    gemmini_hardware_code,
    gemmini_host_work,
    gemmini_layer_code,
    gemmini_refusal,
    runs_on_gemmini,
)
from nnmap.codegen.host_model import HostWork
from nnmap.codegen.layers import LayerCode
from nnmap.codegen.vta.layer import (
    VTA,
    runs_on_vta,
    vta_hardware_code,
    vta_host_work,
    vta_layer_code,
)
from nnmap.codegen.vta.layer import emulator_files as vta_emulator_files
from nnmap.hw import ExecModule
from nnmap.ir import Conv2D, FullyConnected, Graph, Layer
from nnmap.ir.workload import Workload
from nnmap.mapping.gemmini_cost import scaled_stream_cycles
from nnmap.mapping.graph import LayerMapping
from nnmap.mapping.model import Mapping

GemmLayer = Conv2D | FullyConnected
# Generates one layer's kernel from its mapping: (layer, graph, index in the graph, mapping).
KernelGenerator = Callable[[GemmLayer, Graph, int, LayerMapping], LayerCode]


@dataclass(frozen=True)
class AcceleratorCodegen:
    """How nnmap emits C for one accelerator module."""

    module: str
    runs: Callable[[Layer], TypeGuard[GemmLayer]]
    layer_code: KernelGenerator
    runtime_files: Callable[[], dict[str, str]]
    emulator_prefix: str
    refusal: Callable[[Layer], str | None] | None = None
    host_work: Callable[[Layer, Graph, str], tuple[HostWork, ...]] | None = None
    hardware_code: KernelGenerator | None = None
    hardware_cycles: Callable[[Workload, Mapping, ExecModule], float] | None = None



ACCELERATORS: dict[str, AcceleratorCodegen] = {
    GEMMINI: AcceleratorCodegen(
        GEMMINI,
        runs_on_gemmini,
        gemmini_layer_code,
        emulator_files,
        "nnmap_gemmini",
        gemmini_refusal,
        gemmini_host_work,
        gemmini_hardware_code,
        scaled_stream_cycles,
    ),
    VTA: AcceleratorCodegen(
        VTA,
        runs_on_vta,
        vta_layer_code,
        vta_emulator_files,
        "nnmap_vta",
        host_work=vta_host_work,
        hardware_code=vta_hardware_code,
    ),
}
EMULATOR_PREFIXES = tuple(codegen.emulator_prefix for codegen in ACCELERATORS.values())


def modelled_cycles(mapped: LayerMapping, module: ExecModule, numerics: str) -> float:
    """The modelled cycles of the kernel emitted for ``mapped`` on ``module``: the mapping's
    cost, or in hardware numerics the cost of the hardware kernel where it differs."""
    codegen = ACCELERATORS.get(module.name)
    if numerics == "hardware" and codegen is not None and codegen.hardware_cycles is not None:
        return codegen.hardware_cycles(mapped.workload, mapped.mapping, module)
    return mapped.cost.total_cycles


def accelerator_code(
    layer: Layer, graph: Graph, index: int, mapped: LayerMapping | None, numerics: str = "exact"
) -> LayerCode | None:
    """The layer's kernel on the accelerator its mapping chose, when one can lower it; with
    ``numerics="hardware"`` the accelerator's own rescaling where it has one."""
    codegen = ACCELERATORS.get(mapped.module) if mapped is not None else None
    if mapped is None or codegen is None or not codegen.runs(layer):
        return None
    if numerics == "hardware" and codegen.hardware_code is not None:
        return codegen.hardware_code(layer, graph, index, mapped)
    return codegen.layer_code(layer, graph, index, mapped)


def refusal(module: str, layer: Layer) -> str | None:
    """Why the code generator of ``module`` does not lower ``layer`` (None: it does)."""
    codegen = ACCELERATORS.get(module)
    if codegen is None:
        return f"no code generator for {module}"
    if codegen.runs(layer):
        return None
    if codegen.refusal is not None:
        return codegen.refusal(layer)
    return f"{layer.kind}: the {module} code generator does not lower it"


def host_work(module: str, layer: Layer, graph: Graph, numerics: str) -> tuple[HostWork, ...]:
    """The host loops of ``layer``'s kernel on accelerator ``module`` (gather, requantization)."""
    codegen = ACCELERATORS.get(module)
    if codegen is None or codegen.host_work is None:
        return ()
    return codegen.host_work(layer, graph, numerics)
