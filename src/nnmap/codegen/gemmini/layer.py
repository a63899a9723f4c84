"""The LayerCode of a layer placed on Gemmini, and the emulator files an artifact ships with it.

The kernel's C comes from TVM (``tvm.compile(..., target="c")``); as for the host kernels, only
the body after TVM's argument unpacking is kept, under a plain C signature. The extern
declarations TVM writes for the Gemmini calls are dropped with the wrapper: the calls resolve to
the macros of ``gemmini.h`` (nnmap's emulator on the host, or the real header on a Gemmini SoC).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TypeGuard

import tvm

from nnmap.codegen.emit_c import plain_c_kernel
from nnmap.codegen.gemmini.hardware import hardware_kernel, scaled_schedule
from nnmap.codegen.gemmini.lower import gemm_geometry, gemm_kernel, scheduled_gemm_module
from nnmap.codegen.gemmini.schedule import gemm_tiles
from nnmap.codegen.host_model import OPS_PER_ELEMENT, HostWork, requantize_work
from nnmap.codegen.kernels import KernelDef
from nnmap.codegen.layers import LayerCode, kernel_layer_code, layer_id
from nnmap.ir import Conv2D, FullyConnected, Graph, Layer
from nnmap.mapping.graph import LayerMapping
from nnmap.runtime.gemmini_build import EMULATOR

GEMMINI = "gemmini"
GEMMINI_HEADER = "gemmini.h"
# Storage rewrite would merge the staging buffers of different types (TVM 0.27 then rejects the
# access pointers of the Gemmini calls).
_PASS_CONFIG = {"tirx.disable_storage_rewrite": True}


def gemmini_refusal(layer: Layer) -> str | None:
    """Why this code generator does not lower ``layer`` onto Gemmini (None: it does)."""
    if isinstance(layer, Conv2D) and layer.groups != 1:
        kind = "depthwise conv" if layer.is_depthwise else "grouped conv"
        return f"{kind} (groups={layer.groups}): the Gemmini code generator lowers groups=1 only"
    if not isinstance(layer, Conv2D | FullyConnected):
        return f"{layer.kind}: the Gemmini code generator lowers Conv2D and FullyConnected only"
    if layer.requant is None:
        return f"float {layer.kind}: the Gemmini code generator lowers int8 layers only"
    return None


def runs_on_gemmini(layer: Layer) -> TypeGuard[Conv2D | FullyConnected]:
    """Layers this code generator lowers onto Gemmini: int8 dense convolutions and fully
    connected layers."""
    return gemmini_refusal(layer) is None


def gemmini_host_work(layer: Layer, graph: Graph, numerics: str) -> tuple[HostWork, ...]:
    """The host loops of a Gemmini kernel: the im2col gather into whole DIM x DIM tiles, then
    the bias add and TFLite's requantization (exact) or only the copy into the output tensor
    with its clamp (hardware: Gemmini added the bias and scaled on mvout)."""
    if not runs_on_gemmini(layer):
        return ()
    shape, rows, channels = gemm_geometry(layer, graph)
    ops = OPS_PER_ELEMENT["gather" if isinstance(layer, Conv2D) else "copy"]
    gather = HostWork("im2col gather", shape.m * shape.r, ops, 1, 1)
    if numerics == "hardware":
        copy = HostWork("output copy and clamp", rows * channels, OPS_PER_ELEMENT["copy"], 1, 1)
        return (gather, copy)
    requantize = requantize_work(rows * channels)
    with_bias = replace(requantize, stage="bias add and requantization", ops=requantize.ops + 1)
    return (gather, with_bias)  # assumed: one int32 add per element (the bias row stays cached)


def _comment(layer: Layer, mapping: LayerMapping) -> str:
    name = re.sub(r"[^A-Za-z0-9_./:;-]", "_", layer.name)
    return (
        f"layer {name} ({layer.kind}) on Gemmini, mapping "
        f"{mapping.mapping.describe_level(0)}: TVM-generated, tensorized into gemmini.h calls"
    )


def _layer_code(
    layer: Conv2D | FullyConnected,
    index: int,
    mapping: LayerMapping,
    kernel: KernelDef,
    module: tvm.IRModule,
    symbol: str,
) -> LayerCode:
    source = plain_c_kernel(
        module, kernel.params, symbol, _comment(layer, mapping), (GEMMINI_HEADER,), _PASS_CONFIG
    )
    return kernel_layer_code(layer, index, kernel, source, GEMMINI)


def gemmini_layer_code(
    layer: Conv2D | FullyConnected, graph: Graph, index: int, mapping: LayerMapping
) -> LayerCode:
    """The kernel of one layer with its GEMM on Gemmini (host gather and requantization)."""
    tiles = gemm_tiles(gemm_geometry(layer, graph)[0], mapping.mapping)
    kernel, shape = gemm_kernel(layer, graph, tiles.m)
    symbol = f"nnmap_{layer_id(index, layer)}"
    module = scheduled_gemm_module(kernel, shape, tiles, symbol)
    return _layer_code(layer, index, mapping, kernel, module, symbol)


def gemmini_hardware_code(
    layer: Conv2D | FullyConnected, graph: Graph, index: int, mapping: LayerMapping
) -> LayerCode:
    """The kernel of one layer with Gemmini's own scaling on mvout (``numerics="hardware"``)."""
    tiles = gemm_tiles(gemm_geometry(layer, graph)[0], mapping.mapping)
    kernel, shape, mvout = hardware_kernel(layer, graph, tiles.m)
    symbol = f"nnmap_{layer_id(index, layer)}"
    module = scheduled_gemm_module(kernel, shape, tiles, symbol, scaled_schedule(mvout))
    return _layer_code(layer, index, mapping, kernel, module, symbol)


def emulator_files() -> dict[str, str]:
    """File name -> text of nnmap's Gemmini emulator, to build with the artifact's C."""
    files = {path.name: path.read_text() for path in (*EMULATOR.sources, *EMULATOR.headers)}
    files[EMULATOR.params_header] = EMULATOR.render_params()
    return files
