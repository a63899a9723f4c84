"""The LayerCode of a layer placed on Gemmini, and the host work its kernel leaves.

The kernel's C comes from TVM (``tvm.compile(..., target="c")``); as for the host kernels, only
the body after TVM's argument unpacking is kept, under a plain C signature. The extern
declarations TVM writes for the Gemmini calls are dropped with the wrapper: the calls resolve to
the macros of ``gemmini.h`` (nnmap's emulator on the host, or the real header on a Gemmini SoC).
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
from nnmap.targets.gemmini.cost import chosen_layout
from nnmap.targets.gemmini.depthwise import depthwise_shape
from nnmap.targets.gemmini.depthwise_layer import depthwise_hardware_kernel, depthwise_kernel
from nnmap.targets.gemmini.exact_requant import ExactScaling
from nnmap.targets.gemmini.hardware import (
    exact_operands,
    hardware_kernel,
    scaled_kernel,
    scaled_schedule,
)
from nnmap.targets.gemmini.lower import (
    gather_loops,
    gemm_geometry,
    gemm_kernel,
    reads_input_directly,
    scheduled_gemm_module,
)
from nnmap.targets.gemmini.tensor_intrinsics import direct_input_intrinsics, intrinsics_for
from nnmap.targets.gemmini.tiling import GemminiGeometry, gemm_tiles

GEMMINI_HEADER = "gemmini.h"
# Storage rewrite would merge the staging buffers of different types (TVM 0.27 then rejects the
# access pointers of the Gemmini calls).
_PASS_CONFIG = {"tirx.disable_storage_rewrite": True}


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
    module_name: str,
) -> LayerCode:
    source = plain_c_kernel(
        module, kernel.params, symbol, _comment(layer, mapping), (GEMMINI_HEADER,), _PASS_CONFIG
    )
    return kernel_layer_code(layer, index, kernel, source, module_name)


def gemmini_layer_code(
    layer: Conv2D | FullyConnected, graph: Graph, index: int, mapping: LayerMapping,
    module: ExecModule, numerics: str, scaling: ExactScaling | None = None,
) -> LayerCode:
    """The kernel of one layer with its GEMM on Gemmini: host gather, then host requantization
    (exact numerics) or Gemmini's own scaling on mvout (hardware numerics; exact numerics with
    the ``scaling`` proven TFLite's)."""
    geometry = GemminiGeometry.of(module)
    tiles = gemm_tiles(gemm_geometry(layer, graph, geometry.dim)[0], mapping.mapping, geometry)
    whole = gemm_geometry(layer, graph, geometry.dim, tiles.m)[0]
    intrinsics = (direct_input_intrinsics(geometry, whole.rows)
                  if reads_input_directly(layer, whole, geometry.dim) else intrinsics_for(geometry))
    symbol = f"nnmap_{layer_id(index, layer)}"
    gather = gather_loops(layer, graph)
    if numerics == "hardware" or scaling is not None:
        if scaling is None:
            kernel, shape, mvout = hardware_kernel(layer, graph, geometry, tiles.m)
        else:
            operands = exact_operands(layer, graph, scaling)
            kernel, shape, mvout = scaled_kernel(layer, graph, geometry, tiles.m, operands)
        schedule = scaled_schedule(mvout)
        scheduled = scheduled_gemm_module(
            kernel, shape, tiles, symbol, intrinsics, schedule, gather
        )
    else:
        kernel, shape = gemm_kernel(layer, graph, geometry.dim, tiles.m)
        scheduled = scheduled_gemm_module(
            kernel, shape, tiles, symbol, intrinsics, gather=gather
        )
    return _layer_code(layer, index, mapping, kernel, scheduled, symbol, module.name)


def depthwise_layer_code(
    layer: Conv2D, graph: Graph, index: int, mapping: LayerMapping, module: ExecModule,
    numerics: str,
) -> LayerCode:
    """The kernel of a depthwise layer: its block-diagonal GEMM on Gemmini in the layout the
    cost model planned (``cost.chosen_layout``), the gather on the host, and requantization on
    the host (exact numerics) or Gemmini's scaling on mvout (hardware numerics)."""
    geometry = GemminiGeometry.of(module)
    layout = chosen_layout(mapping.workload, module)
    whole = depthwise_shape(mapping.workload, layout, geometry.dim)
    tiles = gemm_tiles(whole, mapping.mapping, geometry)
    symbol = f"nnmap_{layer_id(index, layer)}"
    # the gather nested as output rows x pixels and blocks x reduction columns x positions
    gather = (int(graph.tensor(layer.output).shape[2]), (layout.tap_columns, layout.reduction))
    intrinsics = intrinsics_for(geometry)
    if numerics == "hardware":
        kernel, shape, mvout = depthwise_hardware_kernel(layer, graph, layout, geometry, tiles.m)
        scheduled = scheduled_gemm_module(
            kernel, shape, tiles, symbol, intrinsics, scaled_schedule(mvout), gather
        )
    else:
        kernel, shape = depthwise_kernel(layer, graph, layout, geometry.dim, tiles.m)
        scheduled = scheduled_gemm_module(kernel, shape, tiles, symbol, intrinsics, gather=gather)
    return _layer_code(layer, index, mapping, kernel, scheduled, symbol, module.name)
