"""The pattern table: each dequantize -> float op -> quantize chain that becomes one integer layer.

Every entry is a Relax dataflow pattern (``relax.dpl``) rooted at ``R.quantize`` plus a builder
that reads the matched pieces and appends the integer layer to the GraphBuilder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tvm.relax.dpl import DFPattern, is_op, wildcard

from nnmap.frontend.layer_builders import (
    Match,
    build_add,
    build_conv2d,
    build_dense,
    build_global_average,
    build_pad,
    build_pool,
    build_reshape,
    build_softmax,
)


def _dequantize(name: str, parts: dict[str, DFPattern]) -> DFPattern:
    parts[name] = wildcard()
    parts[f"{name}_dq"] = is_op("relax.dequantize")(parts[name], wildcard(), wildcard())
    return parts[f"{name}_dq"]


def _activation(body: DFPattern, parts: dict[str, DFPattern]) -> DFPattern:
    parts["relu"] = is_op("relax.nn.relu")(body)
    parts["clip"] = is_op("relax.clip")(body, wildcard(), wildcard())
    return parts["relu"] | parts["clip"] | body


def _quantized(body: DFPattern, parts: dict[str, DFPattern]) -> DFPattern:
    parts["quantize"] = is_op("relax.quantize")(body, wildcard(), wildcard())
    return parts["quantize"]


def _with_bias(core: DFPattern, parts: dict[str, DFPattern]) -> DFPattern:
    parts["core"] = core
    parts["bias"] = wildcard()
    return is_op("relax.add")(core, parts["bias"]) | core


@dataclass(frozen=True)
class QuantizedPattern:
    name: str
    root: DFPattern
    parts: dict[str, DFPattern]
    build: Callable[[Match], None]


def _entry(
    name: str,
    core: Callable[[dict[str, DFPattern]], DFPattern],
    build: Callable[[Match], None],
    bias: bool = False,
    activation: bool = False,
) -> QuantizedPattern:
    parts: dict[str, DFPattern] = {}
    body = core(parts)
    parts["core"] = body
    if bias:
        body = _with_bias(body, parts)
    if activation:
        body = _activation(body, parts)
    return QuantizedPattern(name, _quantized(body, parts), parts, build)


def _unary(op: str) -> Callable[[dict[str, DFPattern]], DFPattern]:
    def core(parts: dict[str, DFPattern]) -> DFPattern:
        return is_op(op)(_dequantize("x", parts))

    return core


def _reshape_core(parts: dict[str, DFPattern]) -> DFPattern:
    return is_op("relax.reshape")(_dequantize("x", parts), wildcard())


def _weighted(op: str) -> Callable[[dict[str, DFPattern]], DFPattern]:
    def core(parts: dict[str, DFPattern]) -> DFPattern:
        parts["weight"] = wildcard()
        return is_op(op)(_dequantize("x", parts), parts["weight"])

    return core


def _add_core(parts: dict[str, DFPattern]) -> DFPattern:
    return is_op("relax.add")(_dequantize("x", parts), _dequantize("y", parts))


PATTERNS: tuple[QuantizedPattern, ...] = (
    _entry("conv2d", _weighted("relax.nn.conv2d"), build_conv2d, bias=True, activation=True),
    _entry("dense", _weighted("relax.matmul"), build_dense, bias=True, activation=True),
    _entry("add", _add_core, build_add, activation=True),
    _entry("avg_pool2d", _unary("relax.nn.avg_pool2d"), build_pool),
    _entry("max_pool2d", _unary("relax.nn.max_pool2d"), build_pool),
    _entry("global_average", _unary("relax.mean"), build_global_average),
    _entry("softmax", _unary("relax.nn.softmax"), build_softmax),
    _entry("reshape", _reshape_core, build_reshape),
    _entry("pad", _unary("relax.nn.pad"), build_pad),
)
