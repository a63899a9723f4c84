"""``numerics="hardware"``: a Gemmini layer whose int8 outputs come from Gemmini's own scaling.

Gemmini scales on ``mvout``: the accumulator value times one float32 scale (set by
``config_st``, so one scale per mvout instruction), rounded to nearest even, optional ReLU,
saturated to int8. TFLite instead requantizes with a fixed-point multiplier per output channel
and adds the output zero point. This module maps the one onto the other:

- Scale per mvout block: an mvout moves DIM output channels (local addresses select rows, never
  columns), so each block of DIM channels gets one float32 scale: the largest real multiplier
  ``s_in * s_w[k] / s_out`` of its channels (as TFLite's fixed-point multiplier gives it). Each
  channel's remaining factor ``M[k] / scale <= 1`` is folded into its int8 weights and int32
  bias at compile time (rounded to nearest even), so per-tensor layers keep their weights
  exactly and per-channel layers pay one extra rounding per weight.
- Zero points: Gemmini has no output offset, so ``round(zp_out / scale)`` is folded into the
  bias (with the input zero point's share, as in exact mode).
- Activation: Gemmini's ReLU (clamp at 0 before saturation) when the fused activation's lower
  bound is >= 0; any range narrower than int8 is clamped again on the host, in the copy of the
  padded int8 tile into the output tensor.

The TE pipeline is the exact mode's gather and GEMM, then ``scaled`` (the mvout: int32 from the
accumulator to int8 in DRAM) and the host copy. ``scaled`` is tensorized into
``config_st(stride, activation, scale)`` + ``mvout`` per DIM x DIM tile.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from tvm import ir, s_tir, te, tirx
from tvm.s_tir import TensorIntrin
from tvm.script import tirx as T

from nnmap.codegen.accel_gemm import folded_bias, weight_matrix
from nnmap.codegen.kernels import KernelDef, clamp_range
from nnmap.ir import Conv2D, FullyConnected, Graph
from nnmap.targets.gemmini import instructions as isa
from nnmap.targets.gemmini import tensor_intrinsics as gi
from nnmap.targets.gemmini.exact_requant import ExactScaling
from nnmap.targets.gemmini.lower import GemmStage, ScheduleGemm, gemm_stage, kernel_def, padded
from nnmap.targets.gemmini.schedule import schedule_gemm
from nnmap.targets.gemmini.tensor_intrinsics import GemminiIntrinsics
from nnmap.targets.gemmini.tiling import GemminiGeometry, GemmShape, GemmTiles


def saturated(value: tirx.PrimExpr, scale: tirx.PrimExpr, low: float) -> tirx.PrimExpr:
    """Gemmini's mvout of one accumulator value: times ``scale``, rounded to nearest even,
    saturated to [``low``, 127] as int8."""
    scaled = tirx.nearbyint(value.astype("float32") * scale)
    clamped = tirx.max(tirx.min(scaled, tirx.const(127.0, "float32")), tirx.const(low, "float32"))
    return clamped.astype("int8")


def _register_mvout(name: str, activation: int, low: float, geometry: GemminiGeometry) -> None:
    store, mvout = isa.INTRINSICS["config_st"].c_name, isa.INTRINSICS["mvout"].c_name
    dim = geometry.dim

    @T.prim_func(s_tir=True)
    def desc(c: T.handle, s: T.handle, d: T.handle) -> None:
        acc = T.match_buffer(c, (dim, dim), "int32", offset_factor=1, scope=gi.ACCUMULATOR)
        scale = T.match_buffer(s, (dim,), "float32", offset_factor=1)
        dst = T.match_buffer(d, (dim, dim), "int8", offset_factor=1)
        with T.sblock("root"):
            T.reads(acc[0:dim, 0:dim], scale[0:dim])
            T.writes(dst[0:dim, 0:dim])
            for i, j in T.grid(dim, dim):
                with T.sblock("store"):
                    vi, vj = T.axis.remap("SS", [i, j])
                    dst[vi, vj] = T.Cast(
                        "int8",
                        T.max(
                            T.min(
                                T.nearbyint(T.Cast("float32", acc[vi, vj]) * scale[vj]),
                                T.float32(127.0),
                            ),
                            T.float32(low),
                        ),
                    )

    @T.prim_func(s_tir=True, check_well_formed=False)  # the slot is bound by the schedule
    def impl(c: T.handle, s: T.handle, d: T.handle) -> None:
        s0 = T.int32()
        d0 = T.int32()
        acc = T.match_buffer(
            c, (dim, dim), "int32", offset_factor=1, scope=gi.ACCUMULATOR, strides=[s0, 1]
        )
        scale = T.match_buffer(s, (dim,), "float32", offset_factor=1)
        dst = T.match_buffer(d, (dim, dim), "int8", offset_factor=1, strides=[d0, 1])
        with T.sblock("root"):
            T.reads(acc[0:dim, 0:dim], scale[0:dim])
            T.writes(dst[0:dim, 0:dim])
            T.evaluate(T.call_extern("void", store, d0, activation, scale[0]))
            T.evaluate(
                T.call_extern(
                    "void",
                    mvout,
                    dst.access_ptr("w"),
                    gi.acc_row(acc, geometry) + gi.ACC_BITS,
                    dim,
                    dim,
                )
            )

    TensorIntrin.register(name, desc, impl, override=True)


@cache
def scaled_mvout(geometry: GemminiGeometry, relu: bool) -> str:
    """The scaled mvout intrinsic of ``geometry`` (with Gemmini's ReLU or without), registered
    once under a name that carries the geometry."""
    name = f"nnmap_gemmini_d{geometry.dim}_a{geometry.acc_rows}_mvout_scaled{'_relu' * relu}"
    if relu:
        _register_mvout(name, isa.RELU, 0.0, geometry)
    else:
        _register_mvout(name, isa.NO_ACTIVATION, -128.0, geometry)
    return name


def block_scales(multipliers: np.ndarray, dim: int) -> np.ndarray:
    """Per channel, the float32 scale of its DIM-channel mvout block: the block's largest real
    multiplier (1.0 for a block of all-zero multipliers)."""
    scales = np.empty(multipliers.shape, dtype=np.float64)
    for start in range(0, multipliers.size, dim):
        block = multipliers[start : start + dim]
        scales[start : start + dim] = block.max() if block.max() > 0 else 1.0
    return scales.astype(np.float32)


def hardware_operands(
    layer: Conv2D | FullyConnected, zp_in: int, zp_out: int, dim: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The [r, n] int8 weights, int32 bias and per-channel float32 block scales of a layer."""
    assert layer.requant is not None
    channels = int(layer.weight.shape[0])
    multiplier = np.broadcast_to(layer.requant.multiplier, (channels,)).astype(np.float64)
    shift = np.broadcast_to(layer.requant.shift, (channels,)).astype(np.float64)
    real = multiplier * np.exp2(shift - 31)
    scales = block_scales(real, dim)
    factor = real / scales.astype(np.float64)
    matrix = np.clip(np.rint(weight_matrix(layer.weight) * factor), -128, 127).astype(np.int64)
    bias = np.rint(layer.bias.astype(np.float64) * factor)
    folded = folded_bias(matrix, bias.astype(np.int64), zp_in)
    folded += np.rint(zp_out / scales.astype(np.float64)).astype(np.int64)
    bound = np.iinfo(np.int32)
    return matrix.astype(np.int8), np.clip(folded, bound.min, bound.max).astype(np.int32), scales


def _output_copy(stage: GemmStage, scaled: te.Tensor, low: int, high: int) -> te.Tensor:
    def value(*index: tirx.Var) -> tirx.PrimExpr:
        row: tirx.PrimExpr = tirx.const(0, "int32")
        for axis, size in zip(index[:-1], stage.out_shape[:-1], strict=True):
            row = row * size + axis
        element = scaled[row, index[-1]]
        return tirx.max(tirx.min(element, tirx.const(high, "int8")), tirx.const(low, "int8"))

    return te.compute(stage.out_shape, value, name="out")


ScaledOperands = tuple[np.ndarray, np.ndarray, np.ndarray]  # [r, n] int8, int32 bias, scales


def exact_operands(
    layer: Conv2D | FullyConnected, graph: Graph, scaling: ExactScaling
) -> ScaledOperands:
    """The layer's own int8 weights, its folded bias plus the zero-point offsets and the mvout
    scales proven to give TFLite's requantization (``exact_requant.layer_scaling``)."""
    zp_in = int(graph.tensor(layer.inputs[0]).zero_point or 0)
    matrix = weight_matrix(layer.weight)
    bias = folded_bias(matrix, layer.bias, zp_in) + scaling.offsets
    return matrix.astype(np.int8), bias.astype(np.int32), scaling.scales


def scaled_kernel(
    layer: Conv2D | FullyConnected, graph: Graph, geometry: GemminiGeometry, m_tile: int,
    operands: ScaledOperands,
) -> tuple[KernelDef, GemmShape, str]:
    """The layer's TE pipeline with Gemmini's scaling of ``operands`` (weights, bias, per
    channel scales), its GEMM shape (M padded to whole m tiles) and its mvout intrinsic."""
    stage = gemm_stage(layer, graph, geometry.dim, m_tile)
    shape = stage.shape
    matrix, bias, scales = operands
    low, high = clamp_range(layer.clamp)
    relu = low >= 0
    scale = te.placeholder((shape.n,), "float32", name="scale")
    floor = 0.0 if relu else -128.0
    scaled = te.compute(
        (shape.m, shape.n),
        lambda m, n: saturated(stage.gemm[m, n], scale[n], floor),
        name="scaled",
    )
    result = _output_copy(stage, scaled, low, high)
    constants = {
        "weight": padded(matrix, shape.r, shape.n, "int8"),
        "bias": padded(bias[None, :], 1, shape.n, "int32")[0],
        "scale": padded(scales[None, :], 1, shape.n, "float32")[0],
    }
    kernel = kernel_def(stage, (scale,), result, constants)
    return kernel, shape, scaled_mvout(geometry, relu)


def hardware_kernel(
    layer: Conv2D | FullyConnected, graph: Graph, geometry: GemminiGeometry, m_tile: int
) -> tuple[KernelDef, GemmShape, str]:
    """The layer's TE pipeline in hardware numerics (``hardware_operands``)."""
    zp_in = int(graph.tensor(layer.inputs[0]).zero_point or 0)
    zp_out = int(graph.tensor(layer.output).zero_point or 0)
    operands = hardware_operands(layer, zp_in, zp_out, geometry.dim)
    return scaled_kernel(layer, graph, geometry, m_tile, operands)


def scaled_schedule(intrinsic: str) -> ScheduleGemm:
    """The schedule of a hardware-numerics kernel: the exact mode's stream (``schedule_gemm``),
    with the bias moved into the accumulator before each output tile and the outputs moved out
    by ``intrinsic`` (a scaled mvout per DIM x DIM tile)."""

    def schedule(
        sch: s_tir.Schedule, tiles: GemmTiles, bias: ir.expr.Var, intrinsics: GemminiIntrinsics
    ) -> tirx.PrimFunc:
        return schedule_gemm(sch, tiles, bias, intrinsics, intrinsic)

    return schedule
