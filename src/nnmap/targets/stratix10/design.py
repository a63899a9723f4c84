"""A whole network as one OpenCL program: every layer's kernels, the buffers between them, and
the Intel extensions the design uses (channels between consecutive kernels, autorun kernels).

A channel replaces a tensor's global buffer when one kernel-run layer writes it and exactly one
reads it: the producer writes each element to the channel as it stores it (its stores run in
index order unless its output channels are tiled, then it stages them in ``__local`` memory
first) and the consumer reads the whole tensor into a ``__local`` buffer before its loops, which
read it in any order. A kernel left with no argument at all (its constants become program-scope
``__constant`` arrays, its tensors channels) is an autorun kernel: it starts by itself and
restarts when done, with no host call. With shared kernels, a kernel identical to one emitted
before (the same text but its name: same shapes, zero points and clamp, constants in buffers) is
not emitted again; its layer launches the first with its own buffers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from nnmap.codegen.kernels import ACTIVATION, CONSTANT, OUTPUT
from nnmap.ir import Graph, Layer, Reshape, Softmax
from nnmap.targets.stratix10.kernels import LayerKernels, OpenclKernel, layer_kernels
from nnmap.targets.stratix10.options import LayerChoice, Optimizations

CHANNEL_PRAGMA = "#pragma OPENCL EXTENSION cl_intel_channels : enable\n"
AUTORUN = "__attribute__((max_global_work_dim(0))) __attribute__((autorun))\n"
CONCURRENT_CHANNEL_DEPTH = 64  # assumed: FIFO depth when producer and consumer run together
_C_TYPES = {"int8": "char", "int32": "int", "uint8": "uchar", "float32": "float"}


@dataclass(frozen=True, eq=False)
class DesignLayer:
    """One layer of the design: its kernels (None: a Reshape, an alias of its input, or a
    softmax, which the host computes) and what the mapper chose for it."""

    index: int
    layer: Layer
    kernels: LayerKernels | None
    choice: LayerChoice

    @property
    def symbol(self) -> str:
        return f"layer{self.index}"

    def buffer(self, argument: str) -> str:
        """The design-wide name of a kernel argument's buffer (constant or scratch)."""
        return f"{self.symbol}_{argument}"


@dataclass(frozen=True, eq=False)
class Design:
    """A network's OpenCL design: its layers, the tensors carried by channels, the kernels that
    run by themselves, and the program text."""

    graph: Graph
    optimizations: Optimizations
    layers: tuple[DesignLayer, ...]
    channels: frozenset[str]
    autorun: frozenset[str]
    source: str
    shared: Mapping[str, str]  # kernel -> the identical kernel that runs in its place


def storage(graph: Graph, tensor: str) -> str:
    """The tensor whose buffer holds ``tensor`` (Reshapes alias their input)."""
    producer = graph.producer(tensor)
    while isinstance(producer, Reshape):
        tensor = producer.inputs[0]
        producer = graph.producer(tensor)
    return tensor


def tensor_arguments(graph: Graph, item: DesignLayer) -> dict[str, str]:
    """KernelDef parameter name -> the graph tensor (its storage) it reads or writes."""
    assert item.kernels is not None
    inputs = iter(item.layer.inputs)
    return {param.name: storage(graph, next(inputs)) if param.role == ACTIVATION
            else item.layer.output
            for param in item.kernels.definition.params if param.role != CONSTANT}


def _aliases(graph: Graph, tensor: str) -> set[str]:
    """``tensor`` and the Reshape outputs that alias it."""
    names, pending = {tensor}, [tensor]
    while pending:
        for layer in graph.consumers(pending.pop()):
            if isinstance(layer, Reshape):
                names.add(layer.output)
                pending.append(layer.output)
    return names


def channel_tensors(graph: Graph) -> frozenset[str]:
    """Tensors one kernel-run layer writes and exactly one kernel-run layer reads, once."""
    kernel_run = {layer.name for layer in graph.layers if not isinstance(layer, Reshape | Softmax)}
    found = set()
    for layer in graph.layers:
        names = _aliases(graph, layer.output)
        if layer.name not in kernel_run or names & set(graph.outputs):
            continue
        readers = [reader for name in names for reader in graph.consumers(name)
                   if not isinstance(reader, Reshape)]
        if (len(readers) == 1 and readers[0].name in kernel_run
                and sum(readers[0].inputs.count(name) for name in names) == 1):
            found.add(layer.output)
    return frozenset(found)


def _constant_array(name: str, values: np.ndarray) -> str:
    flat = ", ".join(str(int(v)) for v in values.reshape(-1))
    return f"__constant {_C_TYPES[str(values.dtype)]} {name}[{values.size}] = {{{flat}}};\n"


def _rewrite_kernel(kernel: OpenclKernel, item: DesignLayer, design_channels: Mapping[str, str],
                    constants: Mapping[str, str], staged_output: bool) -> str:
    """The kernel with channel tensors and program-scope constants in place of arguments."""
    source = kernel.source
    header_end = source.index("{") + 1
    header, body = source[:header_end], source[header_end:]
    prologue, epilogue = [], []
    assert item.kernels is not None
    sizes = {param.name: param for param in item.kernels.definition.params}
    for argument in kernel.arguments:
        pointer = f"{argument.name}_ptr"
        declaration = re.compile(rf"__global \w+\* restrict {pointer}(, )?")
        kind = _C_TYPES[argument.dtype]
        if argument.name in design_channels:
            channel = design_channels[argument.name]
            count = int(np.prod(item.kernels.definition.tensors[
                list(sizes).index(argument.name)].shape))
            header = declaration.sub("", header)
            is_output = sizes[argument.name].role == OUTPUT
            if is_output and not staged_output:
                body = re.sub(rf"{pointer}\[[^\]]*\] = (.*);",
                              rf"write_channel_intel({channel}, \1);", body)
                continue
            prologue.append(f"  __local {kind} {pointer}[{count}];\n")
            loop = f"  for (int {pointer}_i = 0; {pointer}_i < {count}; ++{pointer}_i) "
            if is_output:
                epilogue.append(f"{loop}write_channel_intel({channel}, {pointer}[{pointer}_i]);\n")
            else:
                prologue.append(f"{loop}{pointer}[{pointer}_i] = read_channel_intel({channel});\n")
        elif argument.name in constants:
            header = declaration.sub("", header)
            body = re.sub(rf"\b{pointer}\b", constants[argument.name], body)
    header = re.sub(r", \)", ")", header)
    closing = body.rindex("}")
    return header + "\n" + "".join(prologue) + body[:closing] + "".join(epilogue) + "}\n"


def _program(graph: Graph, layers: list[DesignLayer], options: Optimizations,
             channels: frozenset[str]) -> tuple[str, frozenset[str], dict[str, str]]:
    depth = CONCURRENT_CHANNEL_DEPTH if options.concurrent_queues else None
    parts, autorun = [CHANNEL_PRAGMA] if channels else [], set()
    emitted: dict[str, str] = {}  # kernel text without its name -> the kernel emitted with it
    shared: dict[str, str] = {}
    for tensor in sorted(channels):
        size = depth or graph.tensor(tensor).size
        parts.append(f"channel char ch_{_identifier(tensor)} __attribute__((depth({size})));\n")
    for item in layers:
        if item.kernels is None:
            continue
        tensors = tensor_arguments(graph, item)
        design_channels = {param: f"ch_{_identifier(tensor)}" for param, tensor in tensors.items()
                           if tensor in channels}
        constants: dict[str, str] = {}
        if options.autorun:
            for name, values in item.kernels.definition.constants.items():
                constants[name] = item.buffer(name)
                parts.append(_constant_array(item.buffer(name), values))
        staged = options.tiling and item.choice.channel_tile > 0
        for kernel in item.kernels.kernels:
            text = _rewrite_kernel(kernel, item, design_channels, constants, staged)
            runs_alone = all(a.name in design_channels or a.name in constants
                             for a in kernel.arguments)
            if options.autorun and runs_alone:
                autorun.add(kernel.name)
                text = AUTORUN + text
            anonymous = text.replace(f"__kernel void {kernel.name}(", "__kernel void (")
            if options.shared_kernels and anonymous in emitted:
                shared[kernel.name] = emitted[anonymous]
                continue
            emitted[anonymous] = kernel.name
            parts.append(text)
    return "\n".join(parts), frozenset(autorun), shared


def _identifier(tensor: str) -> str:
    return re.sub(r"\W", "_", tensor)


def build_design(graph: Graph, options: Optimizations,
                 choices: Mapping[int, LayerChoice] | None = None) -> Design:
    """The OpenCL design of ``graph`` under ``options`` and the mapper's per-layer choices."""
    layers = []
    for index, layer in enumerate(graph.layers):
        choice = (choices or {}).get(index, LayerChoice())
        kernels = None
        if not isinstance(layer, Reshape | Softmax):
            kernels = layer_kernels(layer, graph, f"layer{index}", options, choice)
        layers.append(DesignLayer(index, layer, kernels, choice))
    channels = channel_tensors(graph) if options.channels else frozenset()
    source, autorun, shared = _program(graph, layers, options, channels)
    return Design(graph, options, tuple(layers), channels, autorun, source, shared)
