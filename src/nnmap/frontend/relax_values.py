"""Reading constants and attributes out of Relax expressions (constant subtrees in numpy)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tvm import relax
from tvm.ir import Call


class NotConstant(Exception):
    """An expression that should be a constant is computed from activations."""


def _shape_of(expr: relax.Expr) -> tuple[int, ...]:
    return tuple(int(dim) for dim in expr.values)  # type: ignore[attr-defined]


def constant(expr: relax.Expr, var2val: dict) -> np.ndarray:
    """The value of a constant subtree (constants, reshapes, transposes, casts)."""
    if isinstance(expr, relax.Var) and expr in var2val:
        return constant(var2val[expr], var2val)
    if hasattr(expr, "value") and hasattr(expr.value, "numpy"):
        return np.asarray(expr.value.numpy())
    if isinstance(expr, Call) and hasattr(expr.op, "name"):
        name = expr.op.name
        if name == "relax.reshape":
            return constant(expr.args[0], var2val).reshape(_shape_of(expr.args[1]))
        if name == "relax.permute_dims":
            axes = expr.attrs.axes
            order = None if axes is None else [int(a) for a in axes]
            return np.transpose(constant(expr.args[0], var2val), order)
        if name == "relax.astype":
            return constant(expr.args[0], var2val).astype(str(expr.attrs.dtype))
    raise NotConstant(str(expr)[:80])


def is_constant(expr: relax.Expr, var2val: dict) -> bool:
    try:
        constant(expr, var2val)
    except NotConstant:
        return False
    return True


def scalar(expr: relax.Expr, var2val: dict) -> float:
    values = constant(expr, var2val).reshape(-1)
    if values.size != 1 or not np.all(values == values[0]):
        raise NotConstant("expected a per-tensor scalar")
    return values[0].item()


@dataclass(frozen=True)
class QuantizedConstant:
    """A dequantized constant: its integer values, per-channel scales and zero points."""

    values: np.ndarray
    scales: np.ndarray
    zero_points: np.ndarray


def dequantized_constant(expr: relax.Expr, var2val: dict) -> QuantizedConstant:
    """``dequantize(const)`` possibly under reshapes/transposes, kept in the integer domain."""
    if isinstance(expr, relax.Var) and expr in var2val:
        return dequantized_constant(var2val[expr], var2val)
    if not isinstance(expr, Call) or not hasattr(expr.op, "name"):
        raise NotConstant(str(expr)[:80])
    name = expr.op.name
    if name == "relax.dequantize":
        return QuantizedConstant(
            constant(expr.args[0], var2val),
            constant(expr.args[1], var2val).astype(np.float32).reshape(-1),
            constant(expr.args[2], var2val).reshape(-1),
        )
    inner = dequantized_constant(expr.args[0], var2val)
    if name == "relax.reshape":
        return QuantizedConstant(
            inner.values.reshape(_shape_of(expr.args[1])), inner.scales, inner.zero_points
        )
    if name == "relax.permute_dims":
        axes = expr.attrs.axes
        order = None if axes is None else [int(a) for a in axes]
        return QuantizedConstant(np.transpose(inner.values, order), inner.scales, inner.zero_points)
    raise NotConstant(name)


def int_list(values: object) -> list[int]:
    return [int(v) for v in values]  # type: ignore[attr-defined]


def pair(values: object) -> tuple[int, int]:
    """A two-element attribute (strides, dilation, pool size)."""
    first, second = int_list(values)
    return first, second


def quad(values: object) -> tuple[int, int, int, int]:
    """A four-element padding attribute (top, left, bottom, right)."""
    top, left, bottom, right = int_list(values)
    return top, left, bottom, right


def op_name(expr: relax.Expr) -> str | None:
    if isinstance(expr, Call) and hasattr(expr.op, "name"):
        return str(expr.op.name)
    return None


def shape_of(expr: relax.Expr) -> tuple[int, ...]:
    return tuple(int(dim) for dim in expr.ty.shape.values)  # type: ignore[attr-defined]


def dtype_of(expr: relax.Expr) -> str:
    return str(getattr(expr.ty, "dtype", ""))
