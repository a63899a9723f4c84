"""The C of one layer on DIANA's digital array: the host stages the input channels first (padded
with its zero point, one block per row tile) unless it is stored so already (``layout``), the
tiles run as memcpy_dig / digital_* / global_sync_digital calls, then the host requantizes the
int32 accumulators with TFLite's arithmetic or copies the array's int8 results into the output,
channels last or channels first as its readers take it."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from nnmap.codegen.layers import Argument, LayerCode, layer_id
from nnmap.hw.backend import TensorLayout
from nnmap.ir import Conv2D, FullyConnected, Graph
from nnmap.ir.quant import Requant
from nnmap.targets.diana.layout import ChannelsFirst, border_fill, geometry
from nnmap.targets.diana.numerics import ShiftRequant, channel_bounds, folded_bias
from nnmap.targets.diana.requant_c import (
    array_names,
    channel_arrays,
    channel_constants,
    fits_int32,
    requantize_expression,
    short_form,
)
from nnmap.targets.diana.timing import GROUP, DianaShape, DianaTile, aligned
from nnmap.targets.diana.weights import weight_stream

HEADER = "digital_lib.h"
CALLS = {"conv": "digital_conv_2d", "depthwise": "digital_depthwise_conv_2d",
         "dense": "digital_fully_connected"}
WORKSPACE = """void *TVMBackendAllocWorkspace(int device_type, int device_id, uint64_t nbytes,
                               int dtype_code_hint, int dtype_bits_hint);
int TVMBackendFreeWorkspace(int device_type, int device_id, void *ptr);"""


@dataclass(frozen=True)
class DianaKernel:
    """What one layer's C needs: its shape and tile, the array's requantization (None: the
    array writes int32 accumulators for the host), the output's zero point and clamp, and how
    its input and output are stored when channels first (``source``, ``target``; None: the
    graph's channels last); ``bounded``: the host's requantization is proven not to overflow
    int32 in its shorter form (``requant_c.fits_int32``)."""

    shape: DianaShape
    tile: DianaTile
    requant: ShiftRequant | None
    zero_point_in: int
    zero_point_out: int
    padding: tuple[int, int, int, int]
    clamp: tuple[int, int]
    input_height: int
    input_width: int
    source: ChannelsFirst | None = None
    target: ChannelsFirst | None = None
    bounded: bool = False

    @property
    def result_bytes(self) -> int:
        return 4 if self.requant is None else 1

    @property
    def result_type(self) -> str:
        return "int32_t" if self.requant is None else "int8_t"

    @property
    def reads_in_place(self) -> bool:
        """The input is stored as the array reads it (channels first, padded, one row tile):
        DMA'd as it is, no staging."""
        shape = self.shape
        staged = ChannelsFirst(shape.channels, shape.input_rows(shape.rows), shape.padded_width,
                               self.padding[0], self.padding[1], self.input_height,
                               self.input_width)
        return self.source == staged and self.tile.row_tiles(shape) == 1

    @property
    def staging(self) -> bool:
        return self.shape.kind != "dense" and not self.reads_in_place

    def scratch(self) -> tuple[int, int]:
        """Bytes of the staged input and of the results (each 16-byte aligned)."""
        shape = self.shape
        results = shape.output_bytes(shape.outputs, shape.rows, self.result_bytes) * shape.batch
        staged = shape.staged_bytes(self.tile.rows) if self.staging else 0
        return -(-staged // 16) * 16, -(-results // 16) * 16


def _stage_source(kernel: DianaKernel) -> list[str]:
    """The first byte of input row ``y`` of channel ``c``: channels last, or channels first."""
    if kernel.source is None:
        offset = f"y * {kernel.input_width * kernel.shape.channels} + c"
    else:
        offset = f"(c * {kernel.input_height} + y) * {kernel.input_width}"
    return [f"        const int8_t *source = input + {offset};"]


def _stage_loop(kernel: DianaKernel) -> list[str]:
    shape, tile = kernel.shape, kernel.tile
    top, left = kernel.padding[0], kernel.padding[1]
    inside = min(kernel.input_width, shape.padded_width - left)
    zero = f"(int8_t){kernel.zero_point_in}"
    fill_left = [f"        for (int32_t x = 0; x < {left}; ++x) line[x] = {zero};"] if left else []
    right = [f"        for (int32_t x = {left + inside}; x < {shape.padded_width}; ++x) "
             f"line[x] = {zero};"] if left + inside < shape.padded_width else []
    return [
        "  /* the input, channels first, padded with its zero point, one block per row tile */",
        f"  for (int32_t tile = 0; tile < {tile.row_tiles(shape)}; ++tile) {{",
        f"    int32_t out_rows = {shape.rows} - tile * {tile.rows};",
        f"    out_rows = out_rows < {tile.rows} ? out_rows : {tile.rows};",
        f"    int32_t rows = (out_rows - 1) * {shape.stride} + {shape.fy};",
        f"    int32_t first = tile * {tile.rows * shape.stride} - {top};",
        f"    int8_t *block = staged + tile * {shape.input_bytes(tile.rows)};",
        f"    for (int32_t c = 0; c < {shape.channels}; ++c) {{",
        "      for (int32_t r = 0; r < rows; ++r) {",
        "        int32_t y = first + r;",
        f"        int8_t *line = block + (c * rows + r) * {shape.padded_width};",
        f"        if (y < 0 || y >= {kernel.input_height}) {{",
        f"          for (int32_t x = 0; x < {shape.padded_width}; ++x) line[x] = {zero};",
        "          continue;",
        "        }",
        *fill_left,
        *_stage_source(kernel),
        f"        int8_t *target = line + {left};",
        f"        for (int32_t x = 0; x < {inside}; ++x) {{",
        "          *target++ = *source;",
        f"          source += {1 if kernel.source else shape.channels};",
        "        }",
        *right,
        "      }",
        "    }",
        "  }",
    ]


def _weights_dma(shape: DianaShape, tile: DianaTile) -> list[str]:
    k_start = "kt * " + str(tile.k_tile)
    return [
        f"      int32_t k = {shape.outputs} - {k_start};",
        f"      k = k < {tile.k_tile} ? k : {tile.k_tile};",
        f"      memcpy_dig((void *)(uintptr_t)(weights + kt * {tile.k_tile // GROUP or 1} * "
        f"{shape.group_bytes}), 0, (uint32_t)((k + {GROUP - 1}) / {GROUP} * "
        f"{shape.group_bytes}), DIGITAL_TO_L1, DIGITAL_WEIGHT_MEMORY);",
        "      global_sync_digital();",
    ]


def _tile_calls(kernel: DianaKernel, output_l1: int) -> list[str]:
    """One tile: input DMA, kernel call, output DMA (``kt``, ``tile``, ``k``, ``sample`` set)."""
    shape, tile = kernel.shape, kernel.tile
    call = CALLS[shape.kind]
    if shape.kind == "dense":
        source = f"input + sample * {shape.channels}"
        in_bytes = str(shape.channels)
        sizes = ["      layer.k = k;"]
        result = f"results + sample * {shape.outputs} + kt * {tile.k_tile}"
        out_bytes = f"k * {kernel.result_bytes}"
    else:
        source = f"staged + tile * {shape.input_bytes(tile.rows)}"
        in_bytes = f"{shape.channels} * in_rows * {shape.padded_width}"
        sizes = ["      layer.k = k;", "      layer.cy = in_rows;", "      layer.oy = out_rows;"]
        if shape.kind == "depthwise":
            sizes.append("      layer.c = k;")
        result = (f"results + kt * {tile.k_tile * shape.rows * shape.width} + "
                  f"tile * {tile.rows} * k * {shape.width}")
        out_bytes = f"k * out_rows * {shape.width * kernel.result_bytes}"
    return [
        f"      memcpy_dig((void *)(uintptr_t)({source}), 0, (uint32_t)({in_bytes}), "
        "DIGITAL_TO_L1, DIGITAL_ACTIVATION_MEMORY);",
        "      global_sync_digital();",
        *sizes,
        f"      {call}(0, 0, 0, 0, {output_l1}, &layer);",
        "      global_sync_digital();",
        f"      memcpy_dig((void *)({result}), {output_l1}, (uint32_t)({out_bytes}), "
        "DIGITAL_TO_L2, DIGITAL_ACTIVATION_MEMORY);",
        "      global_sync_digital();",
    ]


def _row_bounds(shape: DianaShape, tile: DianaTile) -> list[str]:
    if shape.kind == "dense":
        return []
    return [
        f"      int32_t out_rows = {shape.rows} - tile * {tile.rows};",
        f"      out_rows = out_rows < {tile.rows} ? out_rows : {tile.rows};",
        f"      int32_t in_rows = (out_rows - 1) * {shape.stride} + {shape.fy};",
    ]


def _tile_loops(kernel: DianaKernel) -> list[str]:
    shape, tile = kernel.shape, kernel.tile
    output_l1 = aligned(shape.input_bytes(tile.rows))
    k_tiles, row_tiles = tile.k_tiles(shape), tile.row_tiles(shape)
    inner = "sample" if shape.kind == "dense" else "tile"
    inner_count = shape.batch if shape.kind == "dense" else row_tiles
    body = [*_row_bounds(shape, tile), *_tile_calls(kernel, output_l1)]
    weights = _weights_dma(shape, tile)
    if tile.channels_outer or k_tiles == 1:
        loops = [f"  for (int32_t kt = 0; kt < {k_tiles}; ++kt) {{",
                 *[line[2:] for line in weights],
                 f"    for (int32_t {inner} = 0; {inner} < {inner_count}; ++{inner}) {{",
                 *body, "    }", "  }"]
    else:
        loops = [f"  for (int32_t {inner} = 0; {inner} < {inner_count}; ++{inner}) {{",
                 "    for (int32_t kt = 0; kt < " + str(k_tiles) + "; ++kt) {", *weights,
                 *body, "    }", "  }"]
    return loops


def _layer_parameters(kernel: DianaKernel) -> str:
    shape = kernel.shape
    shift, relu, bits = 0, 0, 32
    if kernel.requant is not None:
        shift, relu, bits = kernel.requant.shift, int(kernel.requant.relu), 8
    width = shape.padded_width if shape.kind != "dense" else 1
    values = (shape.channels, shape.outputs, width, 1, shape.fx, shape.fy, shape.width, 1,
              relu, shift, 1, shape.stride, 0, 0, bits)
    return "  Layer_parameters layer = {" + ", ".join(map(str, values)) + "};"


def _indented(lines: list[str], spaces: int) -> list[str]:
    return [" " * spaces + line for line in lines]


def _store_loop(kernel: DianaKernel, value: list[str]) -> list[str]:
    """Every result of channel ``channel`` (``source`` at its first, ``tile`` and ``out_rows``
    set) through ``value`` into the output: channels last, or channels first."""
    shape, tile, stored = kernel.shape, kernel.tile, kernel.target
    if stored is None:
        return [
            f"        int8_t *target = output + tile * {tile.rows * shape.width * shape.outputs} "
            "+ channel;",
            f"        for (int32_t pixel = 0; pixel < out_rows * {shape.width}; ++pixel) {{",
            "          int32_t acc = *source++;",
            *_indented(value, 6),
            "          *target = (int8_t)value;",
            f"          target += {shape.outputs};",
            "        }",
        ]
    columns = min(shape.width, stored.width - stored.left)
    past_rows = ([f"          if (y >= {stored.rows}) break;"]
                 if stored.top + shape.rows > stored.rows else [])
    skip = [f"          source += {shape.width - columns};"] if columns < shape.width else []
    return [
        "        for (int32_t row = 0; row < out_rows; ++row) {",
        f"          int32_t y = tile * {tile.rows} + row + {stored.top};",
        *past_rows,
        f"          int8_t *target = output + channel * {stored.plane} + y * {stored.width} + "
        f"{stored.left};",
        f"          for (int32_t x = 0; x < {columns}; ++x) {{",
        "            int32_t acc = *source++;",
        *_indented(value, 8),
        "            *target++ = (int8_t)value;",
        "          }",
        *skip,
        "        }",
    ]


def _finish_loop(kernel: DianaKernel, left_shifts: bool) -> list[str]:
    """The host's pass over the results: TFLite's requantization (int32) or the clamp (int8),
    into the channels-last output."""
    shape, tile = kernel.shape, kernel.tile
    low, high = kernel.clamp
    constants: list[str] = []
    if kernel.requant is None:
        constants = channel_constants(left_shifts, kernel.bounded)
        value = requantize_expression(left_shifts, kernel.bounded, kernel.zero_point_out)
    else:
        value = ["    int32_t value = acc;"]
    value.append(f"    value = value < {low} ? {low} : value > {high} ? {high} : value;")
    if shape.kind == "dense":
        return [
            f"  for (int32_t channel = 0; channel < {shape.outputs}; ++channel) {{",
            *constants,
            f"    for (int32_t sample = 0; sample < {shape.batch}; ++sample) {{",
            f"      int32_t acc = results[sample * {shape.outputs} + channel];",
            *_indented(value, 2),
            f"      output[sample * {shape.outputs} + channel] = (int8_t)value;",
            "    }",
            "  }",
        ]
    return [
        f"  for (int32_t kt = 0; kt < {tile.k_tiles(shape)}; ++kt) {{",
        f"    int32_t k = {shape.outputs} - kt * {tile.k_tile};",
        f"    k = k < {tile.k_tile} ? k : {tile.k_tile};",
        f"    for (int32_t tile = 0; tile < {tile.row_tiles(shape)}; ++tile) {{",
        *[line[2:] for line in _row_bounds(shape, tile)[:2]],
        f"      const {kernel.result_type} *block = results + kt * "
        f"{tile.k_tile * shape.rows * shape.width} + tile * {tile.rows} * k * {shape.width};",
        "      for (int32_t kk = 0; kk < k; ++kk) {",
        f"        int32_t channel = kt * {tile.k_tile} + kk;",
        *_indented(constants, 4),
        f"        const {kernel.result_type} *source = block + kk * out_rows * {shape.width};",
        *_store_loop(kernel, value),
        "      }",
        "    }",
        "  }",
        *(border_fill(kernel.target, shape.outputs, kernel.zero_point_out)
          if kernel.target is not None else []),
    ]


def kernel_source(kernel: DianaKernel, symbol: str, comment: str,
                  left_shifts: bool = False) -> tuple[str, str]:
    """(prototype, definition) of the layer's C function (``left_shifts``: some channel's
    TFLite shift is a left shift)."""
    exact_host = kernel.requant is None
    params = ["const int8_t *restrict input", "const uint8_t *restrict weights"]
    if exact_host:
        params += [f"const int32_t *restrict {name}" for name in array_names(left_shifts)]
    params.append("int8_t *restrict output")
    prototype = f"int32_t {symbol}({', '.join(params)})"
    staged_bytes, result_bytes = kernel.scratch()
    staging = []
    if kernel.staging:
        staging = [f"  int8_t *staged = (int8_t *)TVMBackendAllocWorkspace(1, 0, {staged_bytes}, "
                   "0, 8);"]
    in_place = ["  const int8_t *staged = input;"] if kernel.reads_in_place else []
    lines = [
        f"/* {comment} */",
        "#include <stdint.h>",
        f'#include "{HEADER}"',
        "",
        WORKSPACE,
        "",
        f"{prototype} {{",
        *staging,
        f"  {kernel.result_type} *results = ({kernel.result_type} *)TVMBackendAllocWorkspace("
        f"1, 0, {result_bytes}, 0, 8);",
        *in_place,
        *(_stage_loop(kernel) if kernel.staging else []),
        _layer_parameters(kernel),
        *_tile_loops(kernel),
        *_finish_loop(kernel, left_shifts),
        "  TVMBackendFreeWorkspace(1, 0, results);",
        *(["  TVMBackendFreeWorkspace(1, 0, staged);"] if staging else []),
        "  return 0;",
        "}",
        "",
    ]
    return prototype, "\n".join(lines)


def diana_kernel(layer: Conv2D | FullyConnected, graph: Graph, shape: DianaShape,
                 tile: DianaTile, requant: ShiftRequant | None,
                 layouts: tuple[TensorLayout, ...] = ()) -> DianaKernel:
    """The kernel of ``layer`` as planned, its input and output stored as ``layouts`` say (the
    graph's channels last for a tensor they do not name)."""
    stored = {layout.role: geometry(layout, layer, graph) for layout in layouts}
    inp, out = graph.tensor(layer.inputs[0]), graph.tensor(layer.output)
    assert isinstance(layer.requant, Requant)
    outputs = layer.weight.shape[0]
    bounded = fits_int32(channel_bounds(layer, graph),
                         np.broadcast_to(layer.requant.multiplier, (outputs,)),
                         np.broadcast_to(layer.requant.shift, (outputs,)),
                         int(out.zero_point or 0))
    height, width = (inp.shape[1], inp.shape[2]) if len(inp.shape) == 4 else (1, 1)
    padding = layer.padding if isinstance(layer, Conv2D) else (0, 0, 0, 0)
    clamp = (int(max(-128, layer.clamp.low)), int(min(127, layer.clamp.high)))
    return DianaKernel(shape, tile, requant, int(inp.zero_point or 0), int(out.zero_point or 0),
                       padding, clamp, height, width, stored.get("input"), stored.get("output"),
                       bounded)


def diana_layer_code(layer: Conv2D | FullyConnected, graph: Graph, index: int,
                     kernel: DianaKernel, module_name: str) -> LayerCode:
    """The LayerCode of ``layer`` on the digital array as ``kernel`` describes it."""
    symbol = f"nnmap_{layer_id(index, layer)}"
    name = re.sub(r"[^A-Za-z0-9_./:;-]", "_", layer.name)
    how = ("int32 accumulators out, TFLite requantization on the host" if kernel.requant is None
           else f"the array's shift by {kernel.requant.shift} and clip")
    comment = f"layer {name} ({layer.kind}) on DIANA's digital array: {how}"
    left_shifts = isinstance(layer.requant, Requant) and bool((layer.requant.shift > 0).any())
    prototype, definition = kernel_source(kernel, symbol, comment, left_shifts)
    bias = folded_bias(layer, graph) if kernel.requant is None else kernel.requant.bias
    constants = {f"{symbol}_weights": weight_stream(layer, kernel.shape, bias)}
    arguments = [Argument("input", layer.inputs[0]), Argument("constant", f"{symbol}_weights")]
    if kernel.requant is None:
        assert isinstance(layer.requant, Requant)
        outputs = kernel.shape.outputs
        requant = layer.requant
        arrays = channel_arrays(np.broadcast_to(requant.multiplier, (outputs,)),
                                np.broadcast_to(requant.shift, (outputs,)),
                                kernel.zero_point_out, short_form(left_shifts, kernel.bounded))
        for name, values in arrays.items():
            constants[f"{symbol}_{name}"] = values
            arguments.append(Argument("constant", f"{symbol}_{name}"))
    arguments.append(Argument("output", layer.output))
    return LayerCode(layer, index, symbol, prototype, f"{layer_id(index, layer)}.c", definition,
                     tuple(arguments), constants, sum(kernel.scratch()), module=module_name)
