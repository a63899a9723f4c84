"""A Conv2D (groups 1) or FullyConnected layer as one kernel whose GEMM runs on VTA, exactly.

One TE compute in VTA's blocked layouts (``geometry`` gives the sizes):
``staged[m, rb, i]`` (host im2col gather, zeros in the padding), constant ``weight[nb, rb, o, i]``
(BLOCK_OUT x BLOCK_IN blocks, VTA's weight entries) and ``bias[nb, o]``;
``gemm[m, nb, o] = bias + sum staged * weight`` (VTA's accumulator);
``planes[p, m, nb, o] = int8(gemm >> 8p)`` (what VTA's ALU SHR and STORE write to DRAM); and the
host's TFLite requantization of the int32 value reassembled from the planes. The gather and
GEMM (``gemm_stage``) are shared with hardware numerics (``hardware.py``).

A convolution that reads its input directly (``direct.py``) keeps the same compute as its
meaning, but ``staged`` is then VTA's input tile, loaded from ``data`` with the halo padded by
the LOAD (``schedule.py``), never gathered on the host; its accumulators may start from a
per-pixel bias (``direct.border_bias``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from tvm import te, tirx

from nnmap.codegen.accel_gemm import conv_gather, gemm_operands, requantized
from nnmap.codegen.kernels import ACTIVATION, CONSTANT, OUTPUT, KernelDef, KernelParam
from nnmap.ir import Conv2D, FullyConnected, Graph
from nnmap.mapping.model import Mapping
from nnmap.targets.vta.direct import ConvWindow, border_bias
from nnmap.targets.vta.geometry import VtaGemm, vta_gemm
from nnmap.targets.vta.instructions import VtaConfig

VTA_SCHEDULE = "vta"


def _blocked_weight(matrix: np.ndarray, gemm: VtaGemm) -> np.ndarray:
    """[r, n] weights as [n blocks, r blocks, BLOCK_OUT, BLOCK_IN], zero padded."""
    bi, bo = gemm.block_in, gemm.block_out
    padded = np.zeros((gemm.n_blocks * bo, gemm.r_blocks * bi), np.int8)
    padded[: matrix.shape[1], : matrix.shape[0]] = matrix.T
    blocked = padded.reshape(gemm.n_blocks, bo, gemm.r_blocks, bi).transpose(0, 2, 1, 3)
    return np.ascontiguousarray(blocked)


def _blocked_bias(bias: np.ndarray, gemm: VtaGemm) -> np.ndarray:
    """[channels] bias as [n blocks, BLOCK_OUT], or [pixels, channels] as [padded pixels,
    n blocks, BLOCK_OUT] (the padded pixels repeat the last), zero padded."""
    padded = np.zeros((*bias.shape[:-1], gemm.n_blocks * gemm.block_out), np.int32)
    padded[..., : bias.shape[-1]] = bias
    if bias.ndim == 2:
        rows = np.minimum(np.arange(gemm.rows_padded), bias.shape[0] - 1)
        return padded[rows].reshape(gemm.rows_padded, gemm.n_blocks, gemm.block_out)
    return padded.reshape(gemm.n_blocks, gemm.block_out)


def _bias_of(layer: Conv2D | FullyConnected, gemm: VtaGemm, matrix: np.ndarray,
             bias: np.ndarray, zp_in: int) -> tuple[np.ndarray, VtaGemm]:
    """The bias the accumulators start from: per channel, or per pixel where a convolution
    read directly has windows over the zero-padded border and a nonzero input zero point."""
    if gemm.window is None:
        return bias, gemm
    height, width = gemm.image
    border = border_bias(bias, matrix, gemm.window, height, width, zp_in)
    if np.all(border == bias.astype(np.int64)):
        return bias, gemm
    return border.astype(np.int32), replace(gemm, pixel_bias=True)


def _staged(layer: Conv2D | FullyConnected, graph: Graph, data: te.Tensor, gemm: VtaGemm,
            zp_in: int) -> te.Tensor:
    if isinstance(layer, Conv2D):
        inp, out = graph.tensor(layer.inputs[0]), graph.tensor(layer.output)
        gather = conv_gather(layer, inp, out, data, zp_in)
    else:

        def gather(m: tirx.PrimExpr, r: tirx.PrimExpr) -> tirx.PrimExpr:
            return data[m, r]

    def value(m: tirx.PrimExpr, rb: tirx.PrimExpr, i: tirx.PrimExpr) -> tirx.PrimExpr:
        r = rb * gemm.block_in + i
        inside = tirx.all(m < gemm.rows, r < gemm.depth)
        return te.if_then_else(inside, gather(m, r), tirx.const(0, "int8"))

    return te.compute((gemm.rows_padded, gemm.r_blocks, gemm.block_in), value, name="staged")


def _reassembled(planes: te.Tensor, gemm: VtaGemm) -> te.Tensor:
    """The int32 results from their byte planes: low planes unsigned, the top plane signed."""
    top = gemm.planes - 1

    def value(row: tirx.PrimExpr, k: tirx.PrimExpr) -> tirx.PrimExpr:
        nb, o = k // gemm.block_out, k % gemm.block_out
        total = planes[top, row, nb, o].astype("int32") * tirx.const(1 << (8 * top), "int32")
        for p in range(top):
            byte = planes[p, row, nb, o].astype("uint8").astype("int32")
            total = total + byte * tirx.const(1 << (8 * p), "int32")
        return total

    return te.compute((gemm.rows, gemm.channels), value, name="acc32")


@dataclass(frozen=True, eq=False)
class GemmStage:
    """A layer's GEMM in VTA's layouts, shared by both numerics: the data, weight and bias
    placeholders, the accumulator compute, the layer's output shape as the kernel writes it,
    the blocked constant arrays and the geometry (with its bias layout)."""

    data: te.Tensor
    weight: te.Tensor
    bias: te.Tensor
    acc: te.Tensor
    out_shape: tuple[int, ...]
    constants: dict[str, np.ndarray]
    gemm: VtaGemm


def gemm_stage(
    layer: Conv2D | FullyConnected, graph: Graph, gemm: VtaGemm, matrix: np.ndarray,
    bias: np.ndarray,
) -> GemmStage:
    """The gather and the GEMM of ``layer`` (weights ``matrix``, folded ``bias``) on ``gemm``."""
    inp, out = graph.tensor(layer.inputs[0]), graph.tensor(layer.output)
    zp_in = int(inp.zero_point or 0)
    bi, bo = gemm.block_in, gemm.block_out
    data_shape = inp.shape if isinstance(layer, Conv2D) else (gemm.rows, gemm.depth)
    data = te.placeholder(data_shape, "int8", name="data")
    weight = te.placeholder((gemm.n_blocks, gemm.r_blocks, bo, bi), "int8", name="weight")
    start, gemm = _bias_of(layer, gemm, matrix, bias, zp_in)
    bias_shape = (gemm.rows_padded, gemm.n_blocks, bo) if gemm.pixel_bias else (gemm.n_blocks, bo)
    bias_in = te.placeholder(bias_shape, "int32", name="bias")
    staged = _staged(layer, graph, data, gemm, zp_in)
    rb, i = te.reduce_axis((0, gemm.r_blocks), "rb"), te.reduce_axis((0, bi), "i")
    acc = te.compute(
        (gemm.rows_padded, gemm.n_blocks, bo),
        lambda m, nb, o: te.sum(
            staged[m, rb, i].astype("int32") * weight[nb, rb, o, i].astype("int32"), axis=[rb, i]
        ),
        name="gemm",
    )
    out_shape = out.shape if isinstance(layer, Conv2D) else (gemm.rows, gemm.channels)
    constants = {"weight": _blocked_weight(matrix, gemm), "bias": _blocked_bias(start, gemm)}
    return GemmStage(data, weight, bias_in, acc, out_shape, constants, gemm)


def image_of(layer: Conv2D | FullyConnected, graph: Graph) -> tuple[int, int]:
    """The input's height and width (a convolution's; (0, 0) for a fully connected layer)."""
    shape = graph.tensor(layer.inputs[0]).shape
    return (shape[1], shape[2]) if isinstance(layer, Conv2D) else (0, 0)


def vta_gemm_kernel(
    layer: Conv2D | FullyConnected, graph: Graph, mapping: Mapping, config: VtaConfig,
    window: ConvWindow | None = None,
) -> tuple[KernelDef, VtaGemm]:
    """The layer's TE pipeline on VTA and its tiled GEMM geometry (``window``: a convolution
    that reads its input directly)."""
    assert layer.requant is not None
    inp, out = graph.tensor(layer.inputs[0]), graph.tensor(layer.output)
    zp_in, zp_out = int(inp.zero_point or 0), int(out.zero_point or 0)
    matrix, bias = gemm_operands(layer, zp_in)
    rows = out.size // matrix.shape[1]
    image = image_of(layer, graph)
    gemm = vta_gemm(layer.name, matrix, bias, rows, mapping, config, window, image)
    stage = gemm_stage(layer, graph, gemm, matrix, bias)
    return exact_kernel(layer, stage, zp_out), stage.gemm


def exact_kernel(
    layer: Conv2D | FullyConnected, stage: GemmStage, zp_out: int,
    column: Callable[[tirx.PrimExpr], tirx.PrimExpr] | None = None,
) -> KernelDef:
    """The kernel of a GEMM stage in exact numerics: the byte planes VTA stores, put together
    and requantized on the host (``column``: the result column of an output channel)."""
    assert layer.requant is not None
    gemm = stage.gemm
    channels = int(layer.bias.shape[0])
    mult = te.placeholder((channels,), "int32", name="mult")
    shift = te.placeholder((channels,), "int32", name="shift")
    planes = te.compute(
        (gemm.planes, gemm.rows_padded, gemm.n_blocks, gemm.block_out),
        lambda p, m, nb, o: (stage.acc[m, nb, o] >> (p * 8)).astype("int8"),
        name="planes",
    )
    result = requantized(
        _reassembled(planes, gemm), stage.out_shape, layer.requant, layer.clamp, zp_out, mult,
        shift, column=column,
    )
    tensors = (stage.data, stage.weight, stage.bias, mult, shift, result)
    roles = (ACTIVATION, CONSTANT, CONSTANT, CONSTANT, CONSTANT, OUTPUT)
    params = tuple(
        KernelParam(t.op.name, str(t.dtype), role) for t, role in zip(tensors, roles, strict=True)
    )
    constants = {
        **stage.constants,
        "mult": np.ascontiguousarray(
            np.broadcast_to(layer.requant.multiplier, (channels,)), dtype=np.int32
        ),
        "shift": np.ascontiguousarray(
            np.broadcast_to(layer.requant.shift, (channels,)), dtype=np.int32
        ),
    }
    return KernelDef(params, tensors, VTA_SCHEDULE, constants)
