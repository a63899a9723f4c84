"""TE computes of the layers only integer-only ONNX models have, bit-exact with the reference:
the residual Add with the graph's own requantization, and the uint8 <-> int8 Recast at the
model's boundary."""

from __future__ import annotations

import numpy as np
from tvm import te, tirx

from nnmap.codegen import requant
from nnmap.codegen.kernels import ACTIVATION, CONSTANT, OUTPUT, KernelDef, KernelParam, clamp_range
from nnmap.ir import Add, IntegerAddRescale, Tensor


def _kernel(tensors: list[te.Tensor], roles: list[str], constants: dict[str, np.ndarray]
            ) -> KernelDef:
    params = tuple(KernelParam(t.op.name, str(t.dtype), role)
                   for t, role in zip(tensors, roles, strict=True))
    return KernelDef(params, tuple(tensors), "elementwise", constants)


def integer_add(layer: Add, first: Tensor, second: Tensor, out: Tensor) -> KernelDef:
    """``((a - zp_a) * m_a + (b - zp_b) * m_b)`` requantized by the model's integer
    multiply, add and shift (per channel, the last axis)."""
    rescale = layer.rescale
    assert isinstance(rescale, IntegerAddRescale)
    channels = out.shape[-1]
    arrays = {name: np.ascontiguousarray(np.broadcast_to(values.astype(np.int32), (channels,)))
              for name, values in (("mult", rescale.requant.multiplier),
                                   ("addend", rescale.requant.addend))}
    a = te.placeholder((out.size,), "int8", name="data")
    b = te.placeholder((out.size,), "int8", name="data_b")
    mult, addend = (te.placeholder((channels,), "int32", name=name) for name in arrays)
    low, high = clamp_range(layer.clamp)

    def side(x: te.Tensor, tensor: Tensor, factor: int, i: tirx.Var) -> tirx.PrimExpr:
        difference = x[i].astype("int32") - tirx.const(int(tensor.quant[1]), "int32")
        return difference * tirx.const(factor, "int32")

    def value(i: tirx.Var) -> tirx.PrimExpr:
        total = side(a, first, rescale.input1, i) + side(b, second, rescale.input2, i)
        k = i % channels
        return requant.integer_requantized(total, rescale.requant, mult[k], addend[k],
                                           int(out.quant[1]), low, high)

    result = te.compute((out.size,), value, name="out")
    return _kernel([a, b, mult, addend, result], [ACTIVATION, ACTIVATION, CONSTANT, CONSTANT,
                                                  OUTPUT], arrays)


def recast(inp: Tensor, out: Tensor) -> KernelDef:
    """uint8 <-> int8 of the same integers: ``x - zero_point_in + zero_point_out``."""
    data = te.placeholder((inp.size,), inp.dtype, name="data")
    moved = int(out.quant[1]) - int(inp.quant[1])
    result = te.compute((out.size,), lambda i: (data[i].astype("int32") + tirx.const(
        moved, "int32")).astype(out.dtype), name="out")
    return _kernel([data, result], [ACTIVATION, OUTPUT], {})
