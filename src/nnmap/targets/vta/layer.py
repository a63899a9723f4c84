"""The LayerCode of a layer placed on VTA, and the host work its kernel leaves.

As for Gemmini, the kernel's C comes from TVM (``tvm.compile(..., target="c")``) with only the
body after TVM's argument unpacking kept; the static helpers its tensorized tiles call
(``helpers.py``) are written in front of it. Everything VTA does goes through the public runtime
API of ``vta_runtime.h`` (nnmap's emulator on the host, VTA's own runtime elsewhere). Exact
numerics requantize on the host (``lower.py``), hardware numerics on VTA's ALU (``hardware.py``).
"""

from __future__ import annotations

import re

import tvm

from nnmap.codegen.emit_c import plain_c_kernel
from nnmap.codegen.kernels import KernelDef
from nnmap.codegen.layers import LayerCode, kernel_layer_code, layer_id
from nnmap.hw import ExecModule
from nnmap.ir import Conv2D, FullyConnected, Graph, Layer
from nnmap.mapping.graph import LayerMapping
from nnmap.targets.vta.depthwise_layer import depthwise_vta_kernel
from nnmap.targets.vta.direct import ConvWindow, conv_window
from nnmap.targets.vta.geometry import VtaGemm
from nnmap.targets.vta.hardware import PARAMS, vta_hardware_kernel
from nnmap.targets.vta.helpers import AluOps, helper_source
from nnmap.targets.vta.instructions import VtaConfig
from nnmap.targets.vta.lower import vta_gemm_kernel
from nnmap.targets.vta.schedule import (
    dram_buffers,
    loaded_buffers,
    planes_store,
    requantized_store,
    scheduled_vta_module,
)

VTA_HEADER = "vta/runtime/runtime.h"
# Storage rewrite would merge staging buffers of different types (as for Gemmini).
_PASS_CONFIG = {"tirx.disable_storage_rewrite": True}


def _comment(layer: Layer, mapping: LayerMapping, tile: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_./:;-]", "_", layer.name)
    return (
        f"layer {name} ({layer.kind}) on VTA, mapping {mapping.mapping.describe_level(0)}, "
        f"GEMM tile {tile}: TVM-generated, tiles tensorized into VTA runtime API calls"
    )


def _bytes(buffer: tvm.tirx.Buffer) -> int:
    elements = 1
    for extent in buffer.shape:
        elements *= int(extent)
    return elements * tvm.DataType(buffer.dtype).bits // 8


def _layer_code(
    layer: Conv2D | FullyConnected,
    index: int,
    mapping: LayerMapping,
    kernel: KernelDef,
    gemm: VtaGemm,
    module_name: str,
    alu: AluOps | None = None,
) -> LayerCode:
    """The kernel's C: TVM's code for ``kernel`` with the tile helpers in front (``alu``:
    hardware numerics, VTA's ALU requantizes with these immediates)."""
    ident = layer_id(index, layer)
    symbol = f"nnmap_{ident}"
    store = planes_store(gemm) if alu is None else requantized_store(gemm, PARAMS)
    module = scheduled_vta_module(kernel, gemm, symbol, store)
    results = f"{gemm.planes} plane(s)" if alu is None else "ALU requantization"
    tile = f"{gemm.m}x{gemm.n}x{gemm.r} entries, {results}"
    source = plain_c_kernel(
        module, kernel.params, symbol, _comment(layer, mapping, tile), (VTA_HEADER,), _PASS_CONFIG
    )
    head = f"\n{source.prototype} {{"
    dram = [_bytes(buffer) for buffer in dram_buffers(module[symbol], store, loaded_buffers(gemm))]
    if alu is not None:
        # The ALU's int8 results are stored for the real rows only (the last row tile is
        # clipped), into a buffer that may be the kernel's output: copy back no more.
        dram[-1] = gemm.rows * gemm.n_blocks * gemm.block_out
    helpers = helper_source(symbol, gemm, dram, alu)
    definition = source.definition.replace(head, f"\n{helpers}{head}", 1)
    return kernel_layer_code(layer, index, kernel, source, module_name, definition)


def vta_layer_code(
    layer: Conv2D | FullyConnected, graph: Graph, index: int, mapping: LayerMapping,
    module: ExecModule, numerics: str, direct: bool = False,
) -> LayerCode:
    """The kernel of one layer with its GEMM on VTA: host gather (unless ``direct``: a
    convolution reading its input directly) and requantization (exact numerics), or
    requantized by VTA's ALU (hardware numerics)."""
    config = VtaConfig.from_module(module)
    window = None
    if direct:
        found = conv_window(mapping.workload, config.block_in)
        assert isinstance(found, ConvWindow), found
        window = found
    if numerics == "hardware":
        kernel, gemm, requant = vta_hardware_kernel(layer, graph, mapping.mapping, config, window)
        return _layer_code(layer, index, mapping, kernel, gemm, module.name, requant.ops())
    kernel, gemm = vta_gemm_kernel(layer, graph, mapping.mapping, config, window)
    return _layer_code(layer, index, mapping, kernel, gemm, module.name)


def depthwise_layer_code(
    layer: Conv2D, graph: Graph, index: int, mapping: LayerMapping, module: ExecModule
) -> LayerCode:
    """The kernel of a depthwise layer in exact numerics: its block-diagonal GEMM on VTA in the
    layout the cost model planned, gather and requantization on the host."""
    kernel, gemm = depthwise_vta_kernel(layer, graph, mapping, module)
    return _layer_code(layer, index, mapping, kernel, gemm, module.name)
