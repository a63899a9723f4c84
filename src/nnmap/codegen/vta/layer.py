"""The LayerCode of a layer placed on VTA, and the emulator files an artifact ships with it.

As for Gemmini, the kernel's C comes from TVM (``tvm.compile(..., target="c")``) with only the
body after TVM's argument unpacking kept; the static helpers its tensorized tiles call
(``helpers.py``) are written in front of it. Everything VTA does goes through the public runtime
API of ``vta_runtime.h`` (nnmap's emulator on the host, VTA's own runtime elsewhere). Exact
numerics requantize on the host (``lower.py``), hardware numerics on VTA's ALU (``hardware.py``).
"""

from __future__ import annotations

import re
from typing import TypeGuard

from nnmap.codegen.accel_gemm import gemm_operands
from nnmap.codegen.emit_c import plain_c_kernel
from nnmap.codegen.host_model import OPS_PER_ELEMENT, HostWork, requantize_work
from nnmap.codegen.kernels import KernelDef
from nnmap.codegen.layers import LayerCode, kernel_layer_code, layer_id
from nnmap.codegen.vta.geometry import VtaGemm, result_planes
from nnmap.codegen.vta.hardware import PARAMS, needs_output_copy, vta_hardware_kernel
from nnmap.codegen.vta.helpers import AluOps, helper_source
from nnmap.codegen.vta.lower import vta_gemm_kernel
from nnmap.codegen.vta.schedule import requantized_store, scheduled_vta_module
from nnmap.ir import Conv2D, FullyConnected, Graph, Layer
from nnmap.mapping.gemm_tiling import ceil_div
from nnmap.mapping.graph import LayerMapping
from nnmap.runtime.vta_build import EMULATOR, VTA_DIR
from nnmap.targets.vta_intrinsics import CONFIG

VTA = "vta"
VTA_HEADER = "vta.h"
# Storage rewrite would merge staging buffers of different types (as for Gemmini).
_PASS_CONFIG = {"tirx.disable_storage_rewrite": True}


def runs_on_vta(layer: Layer) -> TypeGuard[Conv2D | FullyConnected]:
    """Layers this code generator lowers onto VTA: dense convolutions and fully connected."""
    if isinstance(layer, Conv2D):
        return layer.groups == 1
    return isinstance(layer, FullyConnected)


def vta_host_work(layer: Layer, graph: Graph, numerics: str) -> tuple[HostWork, ...]:
    """The host loops of a VTA kernel: the im2col gather into whole BLOCK_IN-wide input
    entries; with exact numerics the int32 results put together from their byte planes (one
    shift-and-add per plane, assumed), then TFLite's requantization; with hardware numerics
    (VTA's ALU requantizes) only the copy into the output where the channels do not fill whole
    BLOCK_OUT entries."""
    if not runs_on_vta(layer):
        return ()
    zp_in = int(graph.tensor(layer.inputs[0]).zero_point or 0)
    matrix, bias = gemm_operands(layer, zp_in)
    depth, channels = matrix.shape
    rows = graph.tensor(layer.output).size // channels
    ops = OPS_PER_ELEMENT["gather" if isinstance(layer, Conv2D) else "copy"]
    padded_depth = ceil_div(depth, CONFIG.block_in) * CONFIG.block_in
    gather = HostWork("im2col gather", rows * padded_depth, ops, 1, 1)
    if numerics == "hardware":
        if not needs_output_copy(channels, CONFIG):
            return (gather,)
        return (gather, HostWork("output copy", rows * channels, OPS_PER_ELEMENT["copy"], 1, 1))
    planes = result_planes(matrix, bias)
    reassemble = HostWork("byte planes to int32", rows * channels, 2.0 * planes, planes, 4)
    return (gather, reassemble, requantize_work(rows * channels))


def _comment(layer: Layer, mapping: LayerMapping, tile: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_./:;-]", "_", layer.name)
    return (
        f"layer {name} ({layer.kind}) on VTA, mapping {mapping.mapping.describe_level(0)}, "
        f"GEMM tile {tile}: TVM-generated, tiles tensorized into VTA runtime API calls"
    )


def _layer_code(
    layer: Conv2D | FullyConnected,
    index: int,
    mapping: LayerMapping,
    kernel: KernelDef,
    gemm: VtaGemm,
    alu: AluOps | None = None,
) -> LayerCode:
    """The kernel's C: TVM's code for ``kernel`` with the tile helpers in front (``alu``:
    hardware numerics, VTA's ALU requantizes with these immediates)."""
    ident = layer_id(index, layer)
    symbol = f"nnmap_{ident}"
    store = None if alu is None else requantized_store(gemm, PARAMS)
    module = scheduled_vta_module(kernel, gemm, symbol, store)
    results = f"{gemm.planes} plane(s)" if alu is None else "ALU requantization"
    tile = f"{gemm.m}x{gemm.n}x{gemm.r} entries, {results}"
    source = plain_c_kernel(
        module, kernel.params, symbol, _comment(layer, mapping, tile), (VTA_HEADER,), _PASS_CONFIG
    )
    head = f"\n{source.prototype} {{"
    helpers = helper_source(symbol, gemm, alu)
    definition = source.definition.replace(head, f"\n{helpers}{head}", 1)
    return kernel_layer_code(layer, index, kernel, source, VTA, definition)


def vta_layer_code(
    layer: Conv2D | FullyConnected, graph: Graph, index: int, mapping: LayerMapping
) -> LayerCode:
    """The kernel of one layer with its GEMM on VTA (host gather and requantization)."""
    kernel, gemm = vta_gemm_kernel(layer, graph, mapping.mapping, CONFIG)
    return _layer_code(layer, index, mapping, kernel, gemm)


def vta_hardware_code(
    layer: Conv2D | FullyConnected, graph: Graph, index: int, mapping: LayerMapping
) -> LayerCode:
    """The kernel of one layer requantized by VTA's ALU (``numerics="hardware"``)."""
    kernel, gemm, requant = vta_hardware_kernel(layer, graph, mapping.mapping, CONFIG)
    return _layer_code(layer, index, mapping, kernel, gemm, requant.ops())


def emulator_files() -> dict[str, str]:
    """File name -> text of nnmap's VTA emulator (and vta.h), to build with the artifact's C."""
    files = {path.name: path.read_text() for path in (*EMULATOR.sources, *EMULATOR.headers)}
    files[VTA_HEADER] = (VTA_DIR / VTA_HEADER).read_text()
    files[EMULATOR.params_header] = EMULATOR.render_params()
    return files
