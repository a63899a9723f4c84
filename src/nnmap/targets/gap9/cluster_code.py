"""The C of a layer on the cluster: ``cluster_kernel.c.in`` specialised to the layer and its
tiles, with its constants (weights in OHWI order, per channel bias, multiplier and shift)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from nnmap.codegen.kernels import clamp_range
from nnmap.codegen.layers import Argument, LayerCode, layer_id
from nnmap.ir import Conv2D, FullyConnected, Graph, Requant
from nnmap.mapping.graph import LayerMapping
from nnmap.targets.gap9.cluster_tiles import BufferSizes, ClusterLayer, ClusterTiling

TEMPLATE = Path(__file__).resolve().parent / "cluster_kernel.c.in"


def channel_params(layer: Conv2D | FullyConnected, channels: int) -> np.ndarray:
    """[channels, 3] int32: bias, TFLite multiplier and shift of every output channel."""
    requant = layer.requant
    assert isinstance(requant, Requant), f"layer {layer.name}: TFLite requantization expected"
    return np.ascontiguousarray(np.stack([
        np.broadcast_to(layer.bias.astype(np.int32), (channels,)),
        np.broadcast_to(requant.multiplier.astype(np.int32), (channels,)),
        np.broadcast_to(requant.shift.astype(np.int32), (channels,)),
    ], axis=1), dtype=np.int32)


def render(template: Path, symbol: str, comment: str, values: dict[str, int]) -> str:
    """A kernel template with its symbol, comment and every ``@NAME@`` value filled in."""
    text = template.read_text().replace("@SYMBOL@", symbol).replace("@COMMENT@", comment)
    for key, value in values.items():
        text = text.replace(f"@{key}@", str(value))
    return text


def _values(layer: Conv2D | FullyConnected, graph: Graph, shape: ClusterLayer,
            tiling: ClusterTiling) -> dict[str, int]:
    low, high = clamp_range(layer.clamp)
    buffers = BufferSizes.of(shape, tiling)
    return {
        "IN_H": shape.height, "IN_W": shape.width, "IN_C": shape.channels,
        "OUT_H": shape.out_height, "OUT_W": shape.out_width, "OUT_C": shape.out_channels,
        "K_H": shape.kernel[0], "K_W": shape.kernel[1],
        "STRIDE_Y": shape.stride[0], "STRIDE_X": shape.stride[1],
        "PAD_TOP": shape.padding[0], "PAD_LEFT": shape.padding[1],
        "DEPTHWISE": int(shape.depthwise),
        "ZP_IN": int(graph.tensor(layer.inputs[0]).zero_point or 0),
        "ZP_OUT": int(graph.tensor(layer.output).zero_point or 0),
        "CLAMP_LOW": low, "CLAMP_HIGH": high,
        "TILE_ROWS": tiling.rows, "TILE_CHANNELS": tiling.channels,
        "ROWS_OUTER": int(tiling.rows_outer),
        "IN_BUFFER": buffers.input, "WEIGHT_BUFFER": buffers.weights,
        "PARAM_BUFFER": buffers.params, "OUT_BUFFER": buffers.output,
    }


def real_shape(layer: Conv2D | FullyConnected, graph: Graph, shape: ClusterLayer) -> ClusterLayer:
    """``shape`` with the input size of the tensor itself (a window may leave rows unread)."""
    if isinstance(layer, FullyConnected):
        return shape
    _, height, width, _ = graph.tensor(layer.inputs[0]).shape
    return ClusterLayer(shape.depthwise, int(height), int(width), shape.channels,
                        shape.out_height, shape.out_width, shape.out_channels, shape.kernel,
                        shape.stride, shape.padding, shape.row_loop)


def cluster_layer_code(layer: Conv2D | FullyConnected, graph: Graph, index: int,
                       mapped: LayerMapping, module_name: str) -> LayerCode:
    """The kernel file and driver call of ``layer`` on the cluster, tiled as ``mapped`` says."""
    shape = real_shape(layer, graph, ClusterLayer.of(mapped.workload))
    tiling = ClusterTiling.of(shape, mapped.mapping)
    symbol = f"nnmap_gap9_{layer_id(index, layer)}"
    name = re.sub(r"[^A-Za-z0-9_./:;-]", "_", layer.name)
    comment = (f"layer {name} ({layer.kind}) on the GAP9 cluster, mapping "
               f"{mapped.mapping.describe_level(0)}")
    text = render(TEMPLATE, symbol, comment, _values(layer, graph, shape, tiling))
    prototype = (f"int32_t {symbol}(const int8_t *restrict input, const int8_t *restrict weights, "
                 "const int32_t *restrict params, int8_t *restrict output)")
    weights = np.ascontiguousarray(layer.weight.astype(np.int8).reshape(-1))
    arguments = (Argument("input", layer.inputs[0]), Argument("constant", f"{symbol}_weights"),
                 Argument("constant", f"{symbol}_params"), Argument("output", layer.output))
    constants = {f"{symbol}_weights": weights,
                 f"{symbol}_params": channel_params(layer, shape.out_channels).reshape(-1)}
    return LayerCode(layer, index, symbol, prototype, f"{layer_id(index, layer)}.c", text,
                     arguments, constants, 0, module=module_name)
