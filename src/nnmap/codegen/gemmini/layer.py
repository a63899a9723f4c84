"""The LayerCode of a layer placed on Gemmini, and the emulator files an artifact ships with it.

The kernel's C comes from TVM (``tvm.compile(..., target="c")``); as for the host kernels, only
the body after TVM's argument unpacking is kept, under a plain C signature. The extern
declarations TVM writes for the Gemmini calls are dropped with the wrapper: the calls resolve to
the macros of ``gemmini.h`` (nnmap's emulator on the host, or the real header on a Gemmini SoC).
"""

from __future__ import annotations

import re
from typing import TypeGuard

import tvm

from nnmap.codegen.emit_c import (
    _WORKSPACE_DECL,
    _WORKSPACE_SIZE,
    _function_body,
    _parameter,
)
from nnmap.codegen.gemmini.lower import gemm_kernel, scheduled_gemm_module
from nnmap.codegen.gemmini.schedule import gemm_tiles
from nnmap.codegen.layers import LayerCode, _arguments, layer_id
from nnmap.errors import NnmapError
from nnmap.ir import Conv2D, FullyConnected, Graph, Layer
from nnmap.mapping.graph import LayerMapping
from nnmap.runtime.gemmini_build import EMULATOR

GEMMINI = "gemmini"
GEMMINI_HEADER = "gemmini.h"
_LEFTOVERS = ("TVMFFI", "DLTensor", "_handle", "__tvm")
# Storage rewrite would merge the staging buffers of different types (TVM 0.27 then rejects the
# access pointers of the Gemmini calls); asserts off keeps only the loop nest.
_PASS_CONFIG = {"tirx.disable_assert": True, "tirx.disable_storage_rewrite": True}


def _tvm_c_source(module: tvm.IRModule) -> str:
    with tvm.transform.PassContext(opt_level=3, config=_PASS_CONFIG):
        executable = tvm.compile(module, target="c")
    return str(executable.mod.inspect_source())


def runs_on_gemmini(layer: Layer) -> TypeGuard[Conv2D | FullyConnected]:
    """Layers this code generator lowers onto Gemmini: dense convolutions and fully connected."""
    if isinstance(layer, Conv2D):
        return layer.groups == 1
    return isinstance(layer, FullyConnected)


def _comment(layer: Layer, mapping: LayerMapping) -> str:
    name = re.sub(r"[^A-Za-z0-9_./:;-]", "_", layer.name)
    return (
        f"layer {name} ({layer.kind}) on Gemmini, mapping "
        f"{mapping.mapping.describe_level(0)}: TVM-generated, tensorized into gemmini.h calls"
    )


def gemmini_layer_code(
    layer: Conv2D | FullyConnected, graph: Graph, index: int, mapping: LayerMapping
) -> LayerCode:
    """The kernel of one layer with its GEMM on Gemmini (host gather and requantization)."""
    kernel, shape = gemm_kernel(layer, graph)
    tiles = gemm_tiles(shape, mapping.mapping)
    ident = layer_id(index, layer)
    symbol = f"nnmap_{ident}"
    source = _tvm_c_source(scheduled_gemm_module(kernel, shape, tiles, symbol))
    body = re.sub(r"\bdev_id\b", "0", _function_body(source, symbol))
    body = _WORKSPACE_DECL.sub(r"\1* restrict \2 = \3", body)
    leftover = next((word for word in _LEFTOVERS if word in body), None)
    if leftover is not None:
        raise NnmapError(f"kernel {symbol}: generated C still refers to {leftover}")
    workspace = sum(-(-int(size) // 16) * 16 for size in _WORKSPACE_SIZE.findall(body))
    prototype = f"int32_t {symbol}({', '.join(_parameter(p) for p in kernel.params)})"
    definition = (
        f'/* {_comment(layer, mapping)} */\n#include "nnmap_kernels.h"\n'
        f'#include "{GEMMINI_HEADER}"\n\n{prototype} {{{body}\n}}\n'
    )
    constants = {f"{symbol}_{name}": array for name, array in kernel.constants.items()}
    return LayerCode(
        layer,
        index,
        symbol,
        prototype,
        f"{ident}.c",
        definition,
        _arguments(layer, kernel.params, symbol),
        constants,
        workspace,
        module=GEMMINI,
    )


def emulator_files() -> dict[str, str]:
    """File name -> text of nnmap's Gemmini emulator, to build with the artifact's C."""
    files = {path.name: path.read_text() for path in (*EMULATOR.sources, *EMULATOR.headers)}
    files[EMULATOR.params_header] = EMULATOR.render_params()
    return files
