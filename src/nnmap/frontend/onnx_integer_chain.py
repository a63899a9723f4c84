"""The requantization chain of integer-only ONNX, folded node by node into one ``IntegerRequant``.

After a Conv / MatMul / Gemm on integer activations (int32 accumulators), or the Add of two
widened activations, DORY / HTVM / MATCH graphs requantize with plain ONNX arithmetic: Cast, Mul
by an integer (per-channel) scale, Add an integer bias, Div by a power of two (then Floor when
the division is in floating point), Clip / Max / Min / Relu to the activation range, Cast back to
uint8 or int8. ``Pending`` holds the accumulators' layer and everything folded so far; each
``step`` returns the next Pending, and the final Cast gives the layer its ``IntegerRequant``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from onnx import TensorProto

from nnmap.errors import UnsupportedOperatorError
from nnmap.ir import (
    Add,
    Clamp,
    Conv2D,
    FullyConnected,
    IntegerAddRescale,
    IntegerRequant,
    Layer,
)

FLOAT_TYPES = (TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.BFLOAT16)
WIDE_INTEGER_TYPES = (TensorProto.INT16, TensorProto.INT32, TensorProto.INT64)
ACTIVATION_TYPES: dict[int, str] = {TensorProto.INT8: "int8", TensorProto.UINT8: "uint8"}
INT32_LIMIT = 2**31


@dataclass(frozen=True, eq=False)
class Pending:
    """Integer accumulators of ``base`` (its requantization still to come), per channel:
    ``(acc * multiplier + addend) / 2**shift``, clipped to ``[low, high]``."""

    base: Conv2D | FullyConnected | Add
    shape: tuple[int, ...]  # the model's (NCHW or [rows, features]) shape of the value
    value_type: int  # the ONNX element type the value has now
    multiplier: np.ndarray  # int64, one per channel (or one)
    addend: np.ndarray  # int64, one per channel (or one)
    input_multipliers: tuple[int, int] = (1, 1)  # a residual Add's scale of each input
    shift: int | None = None  # None until the Div
    toward_zero: bool = False
    fractional: bool = False  # a floating-point Div not yet floored or truncated
    low: float = -math.inf
    high: float = math.inf

    @staticmethod
    def start(base: Conv2D | FullyConnected | Add, shape: tuple[int, ...],
              input_multipliers: tuple[int, int] = (1, 1)) -> Pending:
        one, zero = np.ones(1, np.int64), np.zeros(1, np.int64)
        return Pending(base, shape, TensorProto.INT32, one, zero, input_multipliers)


def _fail(source: str, node_name: str, op: str, why: str) -> UnsupportedOperatorError:
    return UnsupportedOperatorError(
        f"{source}: {op} node {node_name} {why}; integer-only ONNX requantizes with Cast, Mul, "
        "Add, Div by a power of two, Floor, Clip, Cast")


def channel_vector(constant: np.ndarray, shape: tuple[int, ...]) -> np.ndarray | None:
    """A constant as one value per channel (axis 1) or a single value; None when it varies
    along another axis."""
    if constant.size == 1:
        return constant.reshape(1)
    try:
        full = np.broadcast_to(constant, shape)
    except ValueError:
        return None
    per_channel = full.reshape(shape[0], shape[1], -1)[0, :, 0]
    expected = per_channel.reshape((1, shape[1]) + (1,) * (len(shape) - 2))
    return per_channel if np.array_equal(full, np.broadcast_to(expected, shape)) else None


def _integers(values: np.ndarray) -> np.ndarray | None:
    as_float = values.astype(np.float64)
    if not np.all(np.isfinite(as_float)) or not np.array_equal(as_float, np.round(as_float)):
        return None
    return values.astype(np.int64)


def step(pending: Pending, op: str, constants: list[np.ndarray | None], cast_to: int, where: str,
         source: str) -> Pending:
    """``pending`` after the node ``op`` (its constant operands ``constants``)."""
    if op == "Cast":
        if cast_to in FLOAT_TYPES or cast_to in WIDE_INTEGER_TYPES:
            truncate = pending.fractional and cast_to not in FLOAT_TYPES
            return replace(pending, value_type=cast_to,
                           toward_zero=pending.toward_zero or truncate,
                           fractional=pending.fractional and not truncate)
        raise _fail(source, where, op, f"casts to ONNX type {cast_to}")
    if op in ("Mul", "Add", "Div"):
        if not constants or constants[0] is None:
            raise _fail(source, where, op, "takes no constant operand")
        return _arithmetic(pending, op, constants[0], where, source)
    if op == "Floor":
        return replace(pending, fractional=False)
    if op in ("Clip", "Max", "Min", "Relu"):
        if pending.shift is None:
            raise _fail(source, where, op, "clips before the division by a power of two")
        low, high = _bounds(op, constants, where, source)
        return replace(pending, low=max(pending.low, low), high=min(pending.high, high))
    raise _fail(source, where, op, "is no step of the requantization")


def _bounds(op: str, constants: list[np.ndarray | None], where: str, source: str
            ) -> tuple[float, float]:
    """The clip bounds of Relu, Max, Min or Clip (a missing Clip bound is no bound)."""
    if op == "Relu":
        return 0.0, math.inf
    values = [None if c is None else _integers(c.reshape(-1)) for c in constants]
    if any(v is not None and v.size != 1 for v in values) or not values or values[0] is None \
            and op != "Clip":
        raise _fail(source, where, op, "clips to bounds that are not scalar integer constants")
    scalars = [-math.inf if v is None else float(v[0]) for v in values]
    if op == "Max":
        return scalars[0], math.inf
    if op == "Min":
        return -math.inf, scalars[0]
    high = math.inf if len(values) < 2 or values[1] is None else scalars[1]
    return scalars[0], high


def _arithmetic(pending: Pending, op: str, constant: np.ndarray, where: str, source: str
                ) -> Pending:
    if pending.shift is not None:
        raise _fail(source, where, op, "follows the division by a power of two")
    vector = channel_vector(constant, pending.shape)
    integers = None if vector is None else _integers(vector)
    if integers is None:
        raise _fail(source, where, op, "takes a constant that is not an integer per channel")
    if op == "Mul":
        return replace(pending, multiplier=pending.multiplier * integers,
                       addend=pending.addend * integers)
    if op == "Add":
        return replace(pending, addend=pending.addend + integers)
    divisor = int(integers[0])
    if divisor < 1 or divisor & (divisor - 1) or not np.all(integers == divisor):
        raise _fail(source, where, op, f"divides by {integers.tolist()}, not one power of two")
    floating = pending.value_type in FLOAT_TYPES
    return replace(pending, shift=divisor.bit_length() - 1, fractional=floating,
                   toward_zero=not floating)


def finish(pending: Pending, output: str, low: int, high: int, where: str, source: str
           ) -> Layer:
    """The layer of ``pending`` writing ``output``, clamped to ``[low, high]`` (the output's
    int8 values of the model's clip bounds)."""
    if pending.fractional:
        raise _fail(source, where, "Cast", "casts a floating-point quotient that was not floored")
    if not all(abs(int(v)) < INT32_LIMIT for v in (*pending.multiplier, *pending.addend)):
        raise _fail(source, where, "Cast", "requantizes with constants beyond 32 bits")
    requant = IntegerRequant(pending.multiplier.astype(np.int32), pending.addend.astype(np.int32),
                             pending.shift or 0, pending.toward_zero)
    base = pending.base
    if isinstance(base, Add):
        rescale = IntegerAddRescale(*pending.input_multipliers, requant)
        return replace(base, output=output, rescale=rescale, clamp=Clamp(low, high))
    return replace(base, output=output, requant=requant, clamp=Clamp(low, high))
