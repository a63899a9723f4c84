"""``numerics="hardware"``: a VTA layer requantized by VTA's own ALU, stored once as int8.

VTA has no requantization unit: its ALU applies MIN, MAX, ADD, SHR or MUL to int32 accumulator
entries, lane by lane, with a 16-bit immediate or a second accumulator entry as the operand
(shared/reference/vta.md, "ISA"). TFLite requantizes with a 32-bit fixed-point multiplier per
output channel (a 64-bit product, then two roundings). On VTA, per output channel k:

    y = clip(((acc + addend[k]) * q[k]) >> s, low, high)
    addend[k] = round((zp_out + 1/2) * 2^s / q[k])

- ``q[k] / 2^s`` approximates the real multiplier ``M[k] = s_in * s_w[k] / s_out`` (as TFLite's
  fixed-point multiplier and shift give it). One shift ``s`` for the layer (an SHR immediate),
  the largest for which every ``q[k] = round(M[k] 2^s)`` fits in 16 bits (|q| < 2^15, VTA's
  immediate width; assumed for the multiplier too, as the MUL operand width is not in the
  reference) and the int32 accumulator cannot overflow: ``q[k] (bound[k] + |addend[k]|) < 2^31``
  with ``bound[k] = |bias[k]| + 128 sum |w[:, k]|``, the static bound exact mode sizes its byte
  planes with. The multiplier's relative error is at most ``1 / (2 q[k])``.
- The multipliers are one MUL: with an immediate when every channel has the same one, else with
  a tensor operand (accumulator entries loaded after the output tile, one per channel block), so
  per-channel quantization keeps its int8 weights exactly (unlike Gemmini's one scale per mvout
  block, nothing is folded into the weights).
- Rounding and the output zero point: ``addend`` is folded into the int32 bias that VTA's
  accumulator starts from (with the input zero point's share, as in exact mode), so the floor
  shift rounds to nearest up to ``q[k] / 2^(s+1)`` (about M/2, far below 1 LSB), and no ADD runs.
- The fused activation (ReLU included) and int8 saturation are one MIN and one MAX.
So VTA runs MUL, SHR, MIN, MAX on each output tile, then one STORE; the host's only loop is the
im2col gather. Before the clip, the result is at most ``1 + bound[k] |q[k] / 2^s - M[k]| +
q[k] / 2^(s+1)`` from TFLite's.

The TE pipeline is exact mode's gather and GEMM (``lower.gemm_stage``, the bias with the
addend), then ``alu`` (what the ALU computes, in int32) over the padded tiles, which the store
helper replaces. ``alu`` is the kernel's output when the channels fill whole BLOCK_OUT entries
(the STORE writes only the real rows, so the padded rows it is declared with are never
written), else a host copy drops the padded channels.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from tvm import te, tirx

from nnmap.codegen.accel_gemm import gemm_operands
from nnmap.codegen.kernels import ACTIVATION, CONSTANT, OUTPUT, KernelDef, KernelParam, clamp_range
from nnmap.errors import QuantizationError
from nnmap.ir import Conv2D, FullyConnected, Graph
from nnmap.mapping.model import Mapping
from nnmap.targets.vta.direct import ConvWindow
from nnmap.targets.vta.geometry import VtaGemm, vta_gemm
from nnmap.targets.vta.helpers import REQUANT_ENTRIES, AluOps
from nnmap.targets.vta.instructions import IMM_MAX, VtaConfig
from nnmap.targets.vta.lower import VTA_SCHEDULE, gemm_stage, image_of

INT8_MAGNITUDE = 128
INT32_MAX = (1 << 31) - 1
MAX_SHIFT = 31
PARAMS = "multiplier"


@dataclass(frozen=True, eq=False)
class AluRequant:
    """Per output channel VTA's integer multiplier and the addend folded into the bias; the
    layer's right shift and clip range."""

    multiplier: np.ndarray
    addend: np.ndarray
    shift: int
    low: int
    high: int

    def ops(self) -> AluOps:
        """The ALU instructions' immediates (the multiplier when all channels share it)."""
        shared = int(self.multiplier[0]) if np.all(self.multiplier == self.multiplier[0]) else None
        return AluOps(shared, self.shift, self.low, self.high)


def accumulator_bound(matrix: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Per channel, the largest |bias + int8 inputs x ``matrix``| (int64)."""
    weights = np.abs(matrix.astype(np.int64)).sum(axis=0)
    return np.abs(bias.astype(np.int64)) + INT8_MAGNITUDE * weights


def _fits(real: np.ndarray, bound: np.ndarray, zp_out: int, shift: int
          ) -> tuple[np.ndarray, np.ndarray] | None:
    """The multipliers and addends at ``shift``, if they fit VTA's widths."""
    multiplier = np.maximum(np.rint(real * 2.0**shift), 1).astype(np.int64)
    addend = np.rint((zp_out + 0.5) * 2.0**shift / multiplier).astype(np.int64)
    if np.any(multiplier > IMM_MAX) or np.any(multiplier * (bound + np.abs(addend)) > INT32_MAX):
        return None
    return multiplier, addend


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
    low, high = clamp_range(layer.clamp)
    for shift in range(MAX_SHIFT, -1, -1):
        found = _fits(real, bound, zp_out, shift)
        if found is not None:
            return AluRequant(*found, shift, low, high)
    raise QuantizationError(
        f"layer {layer.name}: its requantization multipliers do not fit VTA's 16-bit ALU "
        "operands; compile it with --numerics exact"
    )


def _wrap(values: np.ndarray) -> np.ndarray:
    """int64 values wrapped to int32, as every write of an accumulator entry is."""
    return (values + (1 << 31)) % (1 << 32) - (1 << 31)


def alu_requantize(acc: np.ndarray, requant: AluRequant) -> np.ndarray:
    """Numpy model of VTA's arithmetic on a layer's int32 accumulators (bias included, channels
    last): the addend (in VTA's bias), MUL, SHR, MIN and MAX; the int8 results STORE writes."""
    values = _wrap(_wrap(acc.astype(np.int64) + requant.addend) * requant.multiplier)
    return np.clip(values >> requant.shift, requant.low, requant.high).astype(np.int8)


def hardware_geometry(
    name: str, matrix: np.ndarray, bias: np.ndarray, rows: int, mapping: Mapping,
    config: VtaConfig, window: ConvWindow | None = None, image: tuple[int, int] = (0, 0),
) -> VtaGemm:
    """The tiled GEMM with room in the accumulator for the tile's requantization operands, one
    result plane; when the channels fill whole entries, channel tiles that divide them (so the
    STORE writes the output tensor itself)."""
    first = vta_gemm(name, matrix, bias, rows, mapping, config, window, image)
    room = replace(config, acc_entries=config.acc_entries - REQUANT_ENTRIES * first.n)
    gemm = replace(vta_gemm(name, matrix, bias, rows, mapping, room, window, image), planes=1)
    if gemm.channels % gemm.block_out:
        return gemm
    blocks = gemm.channels // gemm.block_out
    n = max(d for d in range(1, gemm.n + 1) if blocks % d == 0)
    return replace(gemm, n=n, n_blocks=blocks)


def _multipliers(requant: AluRequant, gemm: VtaGemm) -> np.ndarray:
    """[channel blocks, BLOCK_OUT] int32 multipliers, zero padded."""
    padded = np.zeros(gemm.n_blocks * gemm.block_out, np.int32)
    padded[: gemm.channels] = requant.multiplier
    return padded.reshape(gemm.n_blocks, gemm.block_out)


def _alu_stage(acc: te.Tensor, multiplier: te.Tensor, requant: AluRequant) -> te.Tensor:
    def value(m: tirx.PrimExpr, nb: tirx.PrimExpr, o: tirx.PrimExpr) -> tirx.PrimExpr:
        scaled = (acc[m, nb, o] * multiplier[nb, o]) >> tirx.const(requant.shift, "int32")
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
    layer: Conv2D | FullyConnected, graph: Graph, mapping: Mapping, config: VtaConfig,
    window: ConvWindow | None = None,
) -> tuple[KernelDef, VtaGemm, AluRequant]:
    """The layer's TE pipeline with VTA's ALU requantization, its GEMM geometry and the
    requantization it applies (``window``: a convolution that reads its input directly)."""
    zp_in = int(graph.tensor(layer.inputs[0]).zero_point or 0)
    out = graph.tensor(layer.output)
    matrix, bias = gemm_operands(layer, zp_in)
    rows = out.size // matrix.shape[1]
    requant = alu_requant(layer, matrix, bias, int(out.zero_point or 0))
    biased = bias.astype(np.int64) + requant.addend
    image = image_of(layer, graph)
    gemm = hardware_geometry(layer.name, matrix, biased, rows, mapping, config, window, image)
    stage = gemm_stage(layer, graph, gemm, matrix, biased.astype(np.int32))
    gemm = stage.gemm
    params = te.placeholder((gemm.n_blocks, gemm.block_out), "int32", PARAMS)
    alu = _alu_stage(stage.acc, params, requant)
    copied = needs_output_copy(gemm.channels, config)
    result = _unpadded(alu, stage.out_shape, gemm.block_out) if copied else alu
    tensors = (stage.data, stage.weight, stage.bias, params, result)
    roles = (ACTIVATION, CONSTANT, CONSTANT, CONSTANT, OUTPUT)
    kernel_params = tuple(
        KernelParam(t.op.name, str(t.dtype), role) for t, role in zip(tensors, roles, strict=True)
    )
    constants = {**stage.constants, PARAMS: _multipliers(requant, gemm)}
    return KernelDef(kernel_params, tensors, VTA_SCHEDULE, constants), gemm, requant


def needs_output_copy(channels: int, config: VtaConfig) -> bool:
    """Whether the host copies the stored results into the output (channels not a multiple of
    BLOCK_OUT: the STORE writes whole entries)."""
    return channels % config.block_out != 0
