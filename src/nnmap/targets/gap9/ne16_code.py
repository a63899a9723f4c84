"""The C of a layer on NE16: ``ne16_kernel.c.in`` specialised to the layer and its tiles, the
weights in NE16's bit planes, and per channel either TFLite's requantization (the bias folded
with the uint8 input offset; the cores apply it) or NE16's normquant (scale, shift, bias)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from nnmap.codegen.kernels import clamp_range
from nnmap.codegen.layers import Argument, LayerCode, layer_id
from nnmap.ir import Conv2D, FullyConnected, Graph, Requant
from nnmap.mapping.graph import LayerMapping
from nnmap.targets.gap9.cluster_code import real_shape, render
from nnmap.targets.gap9.cluster_tiles import ClusterLayer, ClusterTiling
from nnmap.targets.gap9.ne16_cost import Ne16Buffers, mode_of, weight_row_bytes
from nnmap.targets.gap9.ne16_model import (
    MODES,
    NormQuant,
    normquant_for,
    normquant_is_exact,
    pack_weights,
)

TEMPLATE = Path(__file__).resolve().parent / "ne16_kernel.c.in"
UINT8_OFFSET = 128  # int8 data + 128 is NE16's uint8 input


def ohwi_weights(layer: Conv2D | FullyConnected) -> np.ndarray:
    """The weights as [K, FY, FX, C] int8 (a dense layer as a 1x1 convolution)."""
    if isinstance(layer, FullyConnected):
        return layer.weight.reshape(layer.weight.shape[0], 1, 1, -1).astype(np.int8)
    return layer.weight.astype(np.int8)


def folded_bias(layer: Conv2D | FullyConnected, zero_point: int) -> np.ndarray:
    """The bias with the uint8 input offset folded in: sum((u - 128 - zp) * w) + bias."""
    weights = ohwi_weights(layer).astype(np.int64)
    sums = weights.reshape(weights.shape[0], -1).sum(axis=1)
    return (layer.bias.astype(np.int64) - (UINT8_OFFSET + zero_point) * sums).astype(np.int64)


def accumulator_bound(layer: Conv2D | FullyConnected) -> int:
    """The largest |accumulator| of NE16 on uint8 inputs: 255 times a channel's sum of |w|."""
    weights = np.abs(ohwi_weights(layer).astype(np.int64))
    return int(255 * weights.reshape(weights.shape[0], -1).sum(axis=1).max(initial=0))


def uses_normquant(layer: Conv2D | FullyConnected, graph: Graph, numerics: str) -> bool:
    """NE16's own normquant in hardware numerics; in exact numerics only where it is proven
    equal to TFLite's requantization on the layer's whole accumulator range."""
    requant = layer.requant
    assert isinstance(requant, Requant)
    zp_in = int(graph.tensor(layer.inputs[0]).zero_point or 0)
    zp_out = int(graph.tensor(layer.output).zero_point or 0)
    bias = folded_bias(layer, zp_in)
    normquant = normquant_for(requant, bias, zp_out)
    if np.abs(normquant.bias).max(initial=0) >= 1 << 31:
        return False
    if numerics == "hardware":
        return True
    low, high = clamp_range(layer.clamp)
    return normquant_is_exact(requant, bias, zp_out, accumulator_bound(layer), low, high)


def _tile_params(normquant: NormQuant, tiling: ClusterTiling, channels: int) -> np.ndarray:
    """Per channel tile, 3 words per channel: int32 biases, then scale and shift bytes."""
    words = np.zeros(3 * channels, dtype=np.int32)
    for first in range(0, channels, tiling.channels):
        count = min(tiling.channels, channels - first)
        block = np.zeros(3 * count * 4, dtype=np.uint8)
        block[: 4 * count] = normquant.bias[first:first + count].astype("<i4").view(np.uint8)
        block[4 * count: 5 * count] = normquant.scale[first:first + count]
        block[5 * count: 6 * count] = normquant.shift[first:first + count]
        words[3 * first: 3 * (first + count)] = block.view("<i4")
    return words


def channel_params(layer: Conv2D | FullyConnected, graph: Graph, tiling: ClusterTiling,
                   channels: int, normquant: bool) -> np.ndarray:
    """The per-channel words the kernel loads with each channel tile."""
    requant = layer.requant
    assert isinstance(requant, Requant)
    zp_in = int(graph.tensor(layer.inputs[0]).zero_point or 0)
    bias = folded_bias(layer, zp_in)
    if normquant:
        zp_out = int(graph.tensor(layer.output).zero_point or 0)
        return _tile_params(normquant_for(requant, bias, zp_out), tiling, channels)
    return np.ascontiguousarray(np.stack([
        bias.astype(np.int32),
        np.broadcast_to(requant.multiplier.astype(np.int32), (channels,)),
        np.broadcast_to(requant.shift.astype(np.int32), (channels,)),
    ], axis=1).reshape(-1), dtype=np.int32)


def _values(layer: Conv2D | FullyConnected, graph: Graph, shape: ClusterLayer,
            tiling: ClusterTiling, normquant: bool) -> dict[str, int]:
    low, high = clamp_range(layer.clamp)
    buffers = Ne16Buffers.of(shape, tiling, normquant)
    return {
        "IN_H": shape.height, "IN_W": shape.width, "IN_C": shape.channels,
        "OUT_H": shape.out_height, "OUT_W": shape.out_width, "OUT_C": shape.out_channels,
        "K_H": shape.kernel[0], "STRIDE": shape.stride[0],
        "PAD_TOP": shape.padding[0], "PAD_LEFT": shape.padding[1],
        "DEPTHWISE": int(shape.depthwise), "MODE": MODES[mode_of(shape)],
        "PADDING_VALUE": UINT8_OFFSET + int(graph.tensor(layer.inputs[0]).zero_point or 0),
        "ZP_OUT": int(graph.tensor(layer.output).zero_point or 0),
        "CLAMP_LOW": low, "CLAMP_HIGH": high, "NORMQUANT": int(normquant),
        "TILE_ROWS": tiling.rows, "TILE_CHANNELS": tiling.channels,
        "ROWS_OUTER": int(tiling.rows_outer), "WEIGHT_ROW_BYTES": weight_row_bytes(shape),
        "IN_BUFFER": buffers.input, "WEIGHT_BUFFER": buffers.weights,
        "PARAM_BUFFER": buffers.params, "OUT_BUFFER": buffers.output,
        "ACC_BUFFER": buffers.accumulators,
    }


def ne16_layer_code(layer: Conv2D | FullyConnected, graph: Graph, index: int,
                    mapped: LayerMapping, module_name: str, numerics: str) -> LayerCode:
    """The kernel file and driver call of ``layer`` on NE16, tiled as ``mapped`` says."""
    shape = real_shape(layer, graph, ClusterLayer.of(mapped.workload))
    tiling = ClusterTiling.of(shape, mapped.mapping)
    normquant = uses_normquant(layer, graph, numerics)
    symbol = f"nnmap_gap9_{layer_id(index, layer)}"
    name = re.sub(r"[^A-Za-z0-9_./:;-]", "_", layer.name)
    how = "NE16 normquant" if normquant else "accumulators out, requantized by the cores"
    comment = (f"layer {name} ({layer.kind}) on NE16 ({how}), mapping "
               f"{mapped.mapping.describe_level(0)}")
    text = render(TEMPLATE, symbol, comment, _values(layer, graph, shape, tiling, normquant))
    prototype = (f"int32_t {symbol}(const int8_t *restrict input, const uint8_t *restrict "
                 "weights, const int32_t *restrict params, int8_t *restrict output)")
    arguments = (Argument("input", layer.inputs[0]), Argument("constant", f"{symbol}_weights"),
                 Argument("constant", f"{symbol}_params"), Argument("output", layer.output))
    constants = {
        f"{symbol}_weights": pack_weights(ohwi_weights(layer), shape.depthwise),
        f"{symbol}_params": channel_params(layer, graph, tiling, shape.out_channels, normquant),
    }
    return LayerCode(layer, index, symbol, prototype, f"{layer_id(index, layer)}.c", text,
                     arguments, constants, 0, module=module_name)
