"""The accelerator code generators: per execution module, which layers it lowers and how.

Each entry names the target's ExecModule it generates code for, a predicate for the layers it
can lower, the function that generates one layer's kernel from its mapping, the emulator
sources an artifact ships when the module is used, and the prefix of the emulator's control
functions (``<prefix>_reset``, ``_error``, ``_layer_count``, ``_layer_cycles``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from nnmap.codegen.gemmini.layer import (
    GEMMINI,
    emulator_files,
    gemmini_layer_code,
    runs_on_gemmini,
)
from nnmap.codegen.layers import LayerCode
from nnmap.ir import Graph, Layer
from nnmap.mapping.graph import LayerMapping


@dataclass(frozen=True)
class AcceleratorCodegen:
    """How nnmap emits C for one accelerator module."""

    module: str
    runs: Callable[[Layer], bool]
    layer_code: Callable[[Layer, Graph, int, LayerMapping], LayerCode]
    runtime_files: Callable[[], dict[str, str]]
    emulator_prefix: str


def _gemmini_code(layer: Layer, graph: Graph, index: int, mapping: LayerMapping) -> LayerCode:
    if not runs_on_gemmini(layer):
        raise TypeError(f"layer {layer.name}: not lowered onto Gemmini")
    return gemmini_layer_code(layer, graph, index, mapping)


ACCELERATORS: dict[str, AcceleratorCodegen] = {
    GEMMINI: AcceleratorCodegen(
        GEMMINI, runs_on_gemmini, _gemmini_code, emulator_files, "nnmap_gemmini"
    ),
}
EMULATOR_PREFIXES = tuple(codegen.emulator_prefix for codegen in ACCELERATORS.values())


def accelerator_code(
    layer: Layer, graph: Graph, index: int, mapped: LayerMapping | None
) -> LayerCode | None:
    """The layer's kernel on the accelerator its mapping chose, when one can lower it."""
    codegen = ACCELERATORS.get(mapped.module) if mapped is not None else None
    if mapped is None or codegen is None or not codegen.runs(layer):
        return None
    return codegen.layer_code(layer, graph, index, mapped)
