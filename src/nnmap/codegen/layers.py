"""Per-layer C code: a TVM-generated kernel (or the shipped softmax) and how the driver calls it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import tvm

from nnmap.codegen.emit_c import KernelSource, plain_kernel_source
from nnmap.codegen.kernels import ACTIVATION, CONSTANT, KernelDef, KernelParam, lower_layer
from nnmap.errors import QuantizationError
from nnmap.ir import Graph, Layer, Reshape, Softmax
from nnmap.tuning.lookup import tuned_schedule

log = logging.getLogger(__name__)

SOFTMAX_SYMBOL = "nnmap_softmax_int8"
SOFTMAX_PROTOTYPE = (
    f"int32_t {SOFTMAX_SYMBOL}(const int8_t *restrict data, int8_t *restrict out, "
    "int32_t rows, int32_t depth, int32_t input_multiplier, "
    "int32_t input_left_shift, int32_t diff_min)"
)


@dataclass(frozen=True)
class Argument:
    """One argument of a kernel call: a tensor (placed by the memory plan), a constant array in
    weights.c, or a C literal."""

    kind: str  # "input", "output", "constant" or "literal"
    value: str  # tensor name, constant symbol or literal text


@dataclass(frozen=True, eq=False)
class LayerCode:
    """The C of one layer: its kernel file (None if it needs none) and the driver's call."""

    layer: Layer
    index: int
    symbol: str
    prototype: str
    file_name: str | None
    definition: str | None
    arguments: tuple[Argument, ...]
    constants: dict[str, np.ndarray] = field(default_factory=dict)
    workspace_bytes: int = 0
    module: str = "host"  # the execution module: "host" or an accelerator module's name


def layer_id(index: int, layer: Layer) -> str:
    """A C identifier for a layer: its position and kind (names from model files are not C)."""
    return f"layer_{index:02d}_{layer.kind.lower()}"


def _comment(layer: Layer) -> str:
    return f"layer {layer.name} ({layer.kind}): TVM-generated from a TE compute by nnmap"


def _kernel_arguments(
    layer: Layer, params: tuple[KernelParam, ...], prefix: str
) -> tuple[Argument, ...]:
    inputs = iter(layer.inputs)
    arguments = []
    for param in params:
        if param.role == ACTIVATION:
            arguments.append(Argument("input", next(inputs)))
        elif param.role == CONSTANT:
            arguments.append(Argument("constant", f"{prefix}_{param.name}"))
        else:
            arguments.append(Argument("output", layer.output))
    return tuple(arguments)


def kernel_layer_code(
    layer: Layer,
    index: int,
    kernel: KernelDef,
    source: KernelSource,
    module: str = "host",
    definition: str | None = None,
) -> LayerCode:
    """The C of a layer whose kernel TVM generated: its file, its constants named after the
    kernel's symbol, and the driver's call (``definition``: the file's text when it is not
    ``source``'s own, e.g. with helpers in front)."""
    symbol = source.symbol
    return LayerCode(
        layer,
        index,
        symbol,
        source.prototype,
        f"{layer_id(index, layer)}.c",
        source.definition if definition is None else definition,
        _kernel_arguments(layer, kernel.params, symbol),
        {f"{symbol}_{name}": array for name, array in kernel.constants.items()},
        source.workspace_bytes,
        module=module,
    )


def _softmax_code(layer: Softmax, graph: Graph, index: int) -> LayerCode:
    if layer.scaling is None:
        raise QuantizationError(f"layer {layer.name}: float softmax on the int8 host target")
    out = graph.tensor(layer.output)
    depth = out.shape[-1]
    scaling = layer.scaling
    literals = (
        out.size // depth,
        depth,
        scaling.input_multiplier,
        scaling.input_left_shift,
        scaling.diff_min,
    )
    arguments = (
        Argument("input", layer.inputs[0]),
        Argument("output", layer.output),
        *(Argument("literal", str(int(v))) for v in literals),
    )
    return LayerCode(layer, index, SOFTMAX_SYMBOL, SOFTMAX_PROTOTYPE, None, None, arguments)


def layer_code(layer: Layer, graph: Graph, index: int, target: str = "host") -> LayerCode | None:
    """Generate the C of one layer; None for layers that are pure storage aliases (Reshape).
    A convolution or fully connected kernel takes the tuning database's schedule for ``target``
    when it holds one for exactly this workload on this CPU."""
    if isinstance(layer, Reshape):
        return None
    if isinstance(layer, Softmax) and layer.scaling is not None:
        return _softmax_code(layer, graph, index)
    ident = layer_id(index, layer)
    try:
        kernel = lower_layer(layer, graph)
        source = plain_kernel_source(kernel, f"nnmap_{ident}", _comment(layer),
                                     tuned_schedule(kernel, target))
    except tvm.error.InternalError as error:
        # TVM's bound analysis sometimes rejects the Let-bound requantization; the unbound
        # form is the same arithmetic, only slower to simplify.
        log.debug("layer %s: retrying without Let bindings (%s)", layer.name, error)
        kernel = lower_layer(layer, graph, bind=False)
        source = plain_kernel_source(kernel, f"nnmap_{ident}", _comment(layer))
    return kernel_layer_code(layer, index, kernel, source)
