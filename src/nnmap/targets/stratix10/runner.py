"""Run a Design on an OpenCL platform through pyopencl: buffers, queues, kernel arguments in the
network's order; the host computes the softmax layers (TFLite's integer softmax, nnmap's
reference) between launches, as the emitted C host program does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnmap.codegen.kernels import CONSTANT
from nnmap.errors import NnmapError
from nnmap.ir import Softmax
from nnmap.reference import run_layer
from nnmap.targets.stratix10.design import Design, DesignLayer, storage, tensor_arguments
from nnmap.targets.stratix10.kernels import OpenclKernel
from nnmap.targets.stratix10.platforms import device, opencl


@dataclass
class _Session:
    """The program, buffers and queues of one Design on one device."""

    cl: Any
    context: Any
    program: Any
    buffers: dict[str, Any] = field(default_factory=dict)
    queues: dict[str, Any] = field(default_factory=dict)
    kernels: dict[str, Any] = field(default_factory=dict)

    def kernel(self, name: str) -> Any:
        if name not in self.kernels:
            self.kernels[name] = self.cl.Kernel(self.program, name)
        return self.kernels[name]

    def queue(self, name: str) -> Any:
        if name not in self.queues:
            self.queues[name] = self.cl.CommandQueue(self.context)
        return self.queues[name]

    def buffer(self, name: str, nbytes: int, values: np.ndarray | None = None) -> Any:
        if name not in self.buffers:
            flags = self.cl.mem_flags.READ_WRITE
            if values is not None:
                flags |= self.cl.mem_flags.COPY_HOST_PTR
            self.buffers[name] = self.cl.Buffer(self.context, flags, size=max(nbytes, 1),
                                                hostbuf=values)
        return self.buffers[name]


def _open(design: Design, platform: str) -> _Session:
    if design.optimizations.intel_extensions and platform != "intel-fpga-emulator":
        raise NnmapError("channels and autorun kernels need Intel's FPGA emulator: run on "
                         "platform intel-fpga-emulator or switch them off")
    cl = opencl()
    chosen = device(platform)
    context = cl.Context([chosen])
    program = cl.Program(context, design.source).build()
    session = _Session(cl, context, program)
    for item in design.layers:
        if item.kernels is None:
            continue
        for name, values in item.kernels.definition.constants.items():
            session.buffer(item.buffer(name), values.nbytes, np.ascontiguousarray(values))
        for name, (dtype, count) in item.kernels.scratch.items():
            session.buffer(item.buffer(name), count * np.dtype(dtype).itemsize)
    for name, tensor in design.graph.tensors.items():
        if storage(design.graph, name) == name and name not in design.channels:
            session.buffer(name, tensor.size * np.dtype(tensor.dtype).itemsize)
    return session


def _arguments(design: Design, item: DesignLayer, kernel: OpenclKernel, session: _Session
               ) -> list[Any]:
    assert item.kernels is not None
    tensors = tensor_arguments(design.graph, item)
    roles = {param.name: param.role for param in item.kernels.definition.params}
    values = []
    for argument in kernel.arguments:
        if argument.name in tensors:
            if tensors[argument.name] in design.channels:
                continue
            values.append(session.buffers[tensors[argument.name]])
        elif roles.get(argument.name) == CONSTANT and design.optimizations.autorun:
            continue
        else:
            values.append(session.buffers[item.buffer(argument.name)])
    return values


def _host_softmax(design: Design, item: DesignLayer, session: _Session) -> None:
    graph, layer = design.graph, item.layer
    source = storage(graph, layer.inputs[0])
    values = np.empty(graph.tensor(source).shape, graph.tensor(source).dtype)
    for queue in session.queues.values():
        queue.finish()
    queue = session.queue("host")
    session.cl.enqueue_copy(queue, values, session.buffers[source]).wait()
    result = run_layer(graph, layer, {layer.inputs[0]: values.reshape(
        graph.tensor(layer.inputs[0]).shape)})
    session.cl.enqueue_copy(queue, session.buffers[layer.output],
                            np.ascontiguousarray(result)).wait()


def _enqueue_layer(design: Design, item: DesignLayer, session: _Session,
                   written: dict[str, Any], concurrent: bool) -> None:
    """Enqueue a layer's kernels: each on its own queue (concurrent) after the kernels that
    wrote its inputs to global memory and the layer's previous kernel, or all on one queue."""
    assert item.kernels is not None
    tensors = tensor_arguments(design.graph, item)
    previous: list[Any] = []
    for kernel in item.kernels.kernels:
        if kernel.name in design.autorun:
            continue
        function = session.kernel(kernel.name)
        function.set_args(*_arguments(design, item, kernel, session))
        read = [tensors[a.name] for a in kernel.arguments
                if a.name in tensors and tensors[a.name] not in design.channels]
        waits = [written[name] for name in read if name in written] + previous
        queue = session.queue(kernel.name if concurrent else "in-order")
        event = session.cl.enqueue_nd_range_kernel(queue, function, (1,), (1,),
                                                   wait_for=waits if concurrent else None)
        previous = [event]
        written[item.layer.output] = event
        if not concurrent:
            queue.finish()


def _infer(design: Design, session: _Session, sample: Sequence[np.ndarray]) -> list[np.ndarray]:
    cl, graph = session.cl, design.graph
    host = session.queue("host")
    for name, values in zip(graph.inputs, sample, strict=True):
        cl.enqueue_copy(host, session.buffers[storage(graph, name)],
                        np.ascontiguousarray(values, dtype=graph.tensor(name).dtype)).wait()
    concurrent = design.optimizations.concurrent_queues
    written: dict[str, Any] = {}  # tensor -> the event of the kernel that wrote it
    for item in design.layers:
        if isinstance(item.layer, Softmax):
            _host_softmax(design, item, session)
            continue
        if item.kernels is not None:
            _enqueue_layer(design, item, session, written, concurrent)
    for queue in session.queues.values():
        queue.finish()
    outputs = []
    for name in graph.outputs:
        tensor = graph.tensor(name)
        values = np.empty(tensor.shape, tensor.dtype)
        cl.enqueue_copy(host, values, session.buffers[storage(graph, name)]).wait()
        outputs.append(values)
    return outputs


def run_design(design: Design, samples: Sequence[Sequence[np.ndarray]], platform: str
               ) -> list[list[np.ndarray]]:
    """Every sample (one array per model input) through ``design`` on ``platform``: per
    sample, one array per model output."""
    session = _open(design, platform)
    return [_infer(design, session, sample) for sample in samples]
