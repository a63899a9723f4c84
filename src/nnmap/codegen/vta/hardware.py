"""``numerics="hardware"``: a VTA layer requantized by VTA's own ALU, stored once as int8.

VTA has no requantization unit: its ALU applies MIN, MAX, ADD, SHR or MUL to int32 accumulator
entries, lane by lane, with a 16-bit immediate or a second accumulator entry as the operand
(shared/reference/vta.md, "ISA"). TFLite requantizes with a 32-bit fixed-point multiplier per
output channel (a 64-bit product, then two roundings). On VTA, per output channel k:

    y = clip((acc * q[k] + offset[k]) >> s[k], low, high),
    offset[k] = 2^(s[k]-1) + zp_out * 2^s[k]

- ``q[k] / 2^s[k]`` approximates the real multiplier ``M[k] = s_in * s_w[k] / s_out`` (as TFLite's
  fixed-point multiplier and shift give it): ``s[k]`` is the largest shift for which
  ``q[k] = round(M[k] * 2^s[k])`` fits in 16 bits (|q| < 2^15, VTA's immediate width; assumed
  for the multiplier too, as the MUL operand width is not in the reference) and the int32
  accumulator cannot overflow: ``q[k] * bound[k] + |offset[k]| < 2^31`` with ``bound[k] =
  |bias[k]| + 128 * sum |w[:, k]|``, the static bound exact mode sizes its byte planes with.
  The multiplier's relative error is at most ``1 / (2 q[k])``.
- q, offset and s are tensor operands: accumulator entries loaded after the output tile, one of
  each per channel block, so per-channel quantization keeps its int8 weights exactly (unlike
  Gemmini's one scale per mvout block, nothing is folded into the weights).
- Rounding: adding ``2^(s-1)`` before the arithmetic shift rounds half up (TFLite rounds half
  away from zero); the output zero point rides in the same addend (a multiple of ``2^s`` passes
  the floor shift unchanged). The input zero point is folded into the bias, as in exact mode.
- The fused activation (ReLU included) and int8 saturation are one MIN and one MAX.
So VTA runs MUL, ADD, SHR (tensor operands), MIN, MAX (immediates) on each output tile, then one
STORE; the host's only loop is the im2col gather. Before the clip, the result is at most
``1 + bound[k] * |q[k] / 2^s[k] - M[k]|`` from TFLite's (both round to nearest).

The TE pipeline is exact mode's gather and GEMM (``lower.gemm_stage``), then ``alu`` (what the
ALU computes, in int32) over the padded tiles, which the store helper replaces. ``alu`` is the
kernel's output when the channels fill whole BLOCK_OUT entries (the STORE writes only the real
rows, so the padded rows it is declared with are never written), else a host copy drops the
padded channels.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from tvm import te, tirx

from nnmap.codegen.accel_gemm import gemm_operands
from nnmap.codegen.kernels import ACTIVATION, CONSTANT, OUTPUT, KernelDef, KernelParam, clamp_range
from nnmap.codegen.vta.geometry import VtaGemm, vta_gemm
from nnmap.codegen.vta.helpers import REQUANT_ENTRIES
from nnmap.codegen.vta.lower import VTA_SCHEDULE, gemm_stage
from nnmap.errors import QuantizationError
from nnmap.ir import Conv2D, FullyConnected, Graph
from nnmap.mapping.model import Mapping
from nnmap.targets.vta_intrinsics import IMM_MAX, VtaConfig

INT8_MAGNITUDE = 128
INT32_MAX = (1 << 31) - 1
MAX_SHIFT = 31
PARAMS = "requant"


@dataclass(frozen=True, eq=False)
class AluRequant:
    """Per output channel: VTA's integer multiplier, rounding-and-zero-point addend and right
    shift; the clip range."""

    multiplier: np.ndarray
    offset: np.ndarray
    shift: np.ndarray
    low: int
    high: int


def accumulator_bound(matrix: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Per channel, the largest |bias + int8 inputs x ``matrix``| (int64)."""
    weights = np.abs(matrix.astype(np.int64)).sum(axis=0)
    return np.abs(bias.astype(np.int64)) + INT8_MAGNITUDE * weights


def _offset(shift: int, zp_out: int) -> int:
    return (1 << shift >> 1) + zp_out * (1 << shift)


def alu_requant(
    layer: Conv2D | FullyConnected, matrix: np.ndarray, bias: np.ndarray, zp_out: int
) -> AluRequant:
    """The ALU requantization of ``layer`` (GEMM weights ``matrix``, folded ``bias``)."""
    assert layer.requant is not None
    channels = matrix.shape[1]
    fixed = np.broadcast_to(layer.requant.multiplier, (channels,)).astype(np.float64)
    exponent = np.broadcast_to(layer.requant.shift, (channels,)).astype(np.float64)
    real = fixed * np.exp2(exponent - 31)
    bound = accumulator_bound(matrix, bias)
    multiplier = np.zeros(channels, np.int64)
    shift = np.zeros(channels, np.int64)
    found = np.zeros(channels, bool)
    for candidate in range(MAX_SHIFT, -1, -1):
        q = np.rint(real * 2.0**candidate).astype(np.int64)
        fits = (q <= IMM_MAX) & (q * bound + abs(_offset(candidate, zp_out)) <= INT32_MAX)
        chosen = fits & ~found
        multiplier[chosen], shift[chosen] = q[chosen], candidate
        found |= fits
    if not found.all():
        raise QuantizationError(
            f"layer {layer.name}: a requantization multiplier above {IMM_MAX} cannot be applied "
            "by VTA's ALU; compile it with --numerics exact"
        )
    offset = np.array([_offset(int(s), zp_out) for s in shift], np.int64)
    low, high = clamp_range(layer.clamp)
    return AluRequant(multiplier, offset, shift, low, high)


def _wrap(values: np.ndarray) -> np.ndarray:
    """int64 values wrapped to int32, as every ALU write of an accumulator entry is."""
    return (values + (1 << 31)) % (1 << 32) - (1 << 31)


def alu_requantize(acc: np.ndarray, requant: AluRequant) -> np.ndarray:
    """Numpy model of the ALU ops on int32 accumulators (channels last): MUL, ADD, SHR with the
    per-channel operands, MIN and MAX with the clip range; the int8 results STORE writes."""
    values = _wrap(acc.astype(np.int64) * requant.multiplier)
    values = _wrap(values + requant.offset) >> requant.shift
    return np.maximum(np.minimum(values, requant.high), requant.low).astype(np.int8)


def hardware_geometry(
    name: str, matrix: np.ndarray, bias: np.ndarray, rows: int, mapping: Mapping,
    config: VtaConfig,
) -> VtaGemm:
    """The tiled GEMM with room in the accumulator for the tile's requantization operands, one
    result plane; when the channels fill whole entries, channel tiles that divide them (so the
    STORE writes the output tensor itself)."""
    first = vta_gemm(name, matrix, bias, rows, mapping, config)
    room = replace(config, acc_entries=config.acc_entries - REQUANT_ENTRIES * first.n)
    gemm = replace(vta_gemm(name, matrix, bias, rows, mapping, room), planes=1)
    if gemm.channels % gemm.block_out:
        return gemm
    blocks = gemm.channels // gemm.block_out
    n = max(d for d in range(1, gemm.n + 1) if blocks % d == 0)
    return replace(gemm, n=n, n_blocks=blocks)


def _params(requant: AluRequant, gemm: VtaGemm) -> np.ndarray:
    """[channel blocks, (multiplier, offset, shift), BLOCK_OUT] int32, zero padded."""
    params = np.zeros((gemm.n_blocks * gemm.block_out, REQUANT_ENTRIES), np.int32)
    columns = (requant.multiplier, requant.offset, requant.shift)
    params[: gemm.channels] = np.stack(columns, axis=1)
    blocked = params.reshape(gemm.n_blocks, gemm.block_out, REQUANT_ENTRIES).transpose(0, 2, 1)
    return np.ascontiguousarray(blocked)


def _alu_stage(acc: te.Tensor, params: te.Tensor, requant: AluRequant) -> te.Tensor:
    def value(m: tirx.PrimExpr, nb: tirx.PrimExpr, o: tirx.PrimExpr) -> tirx.PrimExpr:
        scaled = (acc[m, nb, o] * params[nb, 0, o] + params[nb, 1, o]) >> params[nb, 2, o]
        clipped = tirx.min(scaled, tirx.const(requant.high, "int32"))
        return tirx.max(clipped, tirx.const(requant.low, "int32")).astype("int8")

    return te.compute(acc.shape, value, name="alu")


def _unpadded(alu: te.Tensor, out_shape: tuple[int, ...], block_out: int) -> te.Tensor:
    def value(*index: tirx.Var) -> tirx.PrimExpr:
        row: tirx.PrimExpr = tirx.const(0, "int32")
        for axis, size in zip(index[:-1], out_shape[:-1], strict=True):
            row = row * size + axis
        return alu[row, index[-1] // block_out, index[-1] % block_out]

    return te.compute(out_shape, value, name="out")


def vta_hardware_kernel(
    layer: Conv2D | FullyConnected, graph: Graph, mapping: Mapping, config: VtaConfig
) -> tuple[KernelDef, VtaGemm, AluRequant]:
    """The layer's TE pipeline with VTA's ALU requantization, its GEMM geometry and the
    requantization it applies."""
    zp_in = int(graph.tensor(layer.inputs[0]).zero_point or 0)
    out = graph.tensor(layer.output)
    matrix, bias = gemm_operands(layer, zp_in)
    rows = out.size // matrix.shape[1]
    gemm = hardware_geometry(layer.name, matrix, bias, rows, mapping, config)
    requant = alu_requant(layer, matrix, bias, int(out.zero_point or 0))
    stage = gemm_stage(layer, graph, gemm, matrix, bias)
    params = te.placeholder((gemm.n_blocks, REQUANT_ENTRIES, gemm.block_out), "int32", PARAMS)
    alu = _alu_stage(stage.acc, params, requant)
    copied = needs_output_copy(gemm.channels, config)
    result = _unpadded(alu, stage.out_shape, gemm.block_out) if copied else alu
    tensors = (stage.data, stage.weight, stage.bias, params, result)
    roles = (ACTIVATION, CONSTANT, CONSTANT, CONSTANT, OUTPUT)
    kernel_params = tuple(
        KernelParam(t.op.name, str(t.dtype), role) for t, role in zip(tensors, roles, strict=True)
    )
    constants = {**stage.constants, PARAMS: _params(requant, gemm)}
    return KernelDef(kernel_params, tensors, VTA_SCHEDULE, constants), gemm, requant


def needs_output_copy(channels: int, config: VtaConfig) -> bool:
    """Whether the host copies the stored results into the output (channels not a multiple of
    BLOCK_OUT: the STORE writes whole entries)."""
    return channels % config.block_out != 0
