"""What the host does to run a Design, as data both hosts follow (pyopencl in ``runner``, the
emitted C program in ``host_program``): the buffers it allocates, then per inference the kernels
it enqueues (argument buffers, queue, the launches each waits for) and the softmax layers it
computes itself between them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnmap.codegen.kernels import CONSTANT
from nnmap.ir import Softmax
from nnmap.targets.stratix10.design import Design, DesignLayer, storage, tensor_arguments
from nnmap.targets.stratix10.kernels import OpenclKernel


@dataclass(frozen=True, eq=False)
class Buffer:
    """One global buffer: its name, bytes, and its contents when it holds constants."""

    name: str
    nbytes: int
    constant: np.ndarray | None = None


@dataclass(frozen=True)
class Launch:
    """One kernel enqueued: its argument buffers in order, its queue, and the launches (by
    position) it waits for: those that wrote its global inputs, and its layer's previous one."""

    kernel: str
    arguments: tuple[str, ...]
    queue: str
    waits: tuple[int, ...]


@dataclass(frozen=True)
class HostSoftmax:
    """A softmax the host computes: TFLite's integer softmax over ``rows`` x ``depth``."""

    source: str
    target: str
    rows: int
    depth: int
    input_multiplier: int
    input_left_shift: int
    diff_min: int


Step = Launch | HostSoftmax


def buffers(design: Design) -> list[Buffer]:
    """Every global buffer of the design: tensors not carried by channels, scratch, and the
    constants of kernels that take them as arguments."""
    found = []
    for item in design.layers:
        if item.kernels is None:
            continue
        if not design.optimizations.autorun:
            for name, values in item.kernels.definition.constants.items():
                found.append(Buffer(item.buffer(name), values.nbytes,
                                    np.ascontiguousarray(values)))
        for name, (dtype, count) in item.kernels.scratch.items():
            found.append(Buffer(item.buffer(name), count * np.dtype(dtype).itemsize))
    for name, tensor in design.graph.tensors.items():
        if storage(design.graph, name) == name and name not in design.channels:
            found.append(Buffer(name, tensor.size * np.dtype(tensor.dtype).itemsize))
    return found


def _arguments(design: Design, item: DesignLayer, kernel: OpenclKernel) -> tuple[str, ...]:
    assert item.kernels is not None
    tensors = tensor_arguments(design.graph, item)
    roles = {param.name: param.role for param in item.kernels.definition.params}
    names = []
    for argument in kernel.arguments:
        if argument.name in tensors:
            if tensors[argument.name] not in design.channels:
                names.append(tensors[argument.name])
        elif not (roles.get(argument.name) == CONSTANT and design.optimizations.autorun):
            names.append(item.buffer(argument.name))
    return tuple(names)


def _softmax(design: Design, item: DesignLayer) -> HostSoftmax:
    layer = item.layer
    assert isinstance(layer, Softmax) and layer.scaling is not None
    out = design.graph.tensor(layer.output)
    depth = out.shape[-1]
    return HostSoftmax(storage(design.graph, layer.inputs[0]), layer.output, out.size // depth,
                       depth, layer.scaling.input_multiplier, layer.scaling.input_left_shift,
                       layer.scaling.diff_min)


def steps(design: Design) -> list[Step]:
    """The host's work for one inference, in order."""
    concurrent = design.optimizations.concurrent_queues
    found: list[Step] = []
    writer: dict[str, int] = {}  # buffer -> the launch that wrote it
    for item in design.layers:
        if isinstance(item.layer, Softmax):
            found.append(_softmax(design, item))
            continue
        if item.kernels is None:
            continue
        previous: tuple[int, ...] = ()
        for kernel in item.kernels.kernels:
            if kernel.name in design.autorun:
                continue
            arguments = _arguments(design, item, kernel)
            waits = tuple(sorted({writer[name] for name in arguments if name in writer}))
            name = design.shared.get(kernel.name, kernel.name)
            found.append(Launch(name, arguments, name if concurrent else "main",
                                tuple(sorted(set(waits + previous))) if concurrent else ()))
            previous = (len(found) - 1,)
            writer[item.layer.output] = len(found) - 1
    return found
