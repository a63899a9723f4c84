"""Run a Design on an OpenCL platform through pyopencl, following its ``schedule``: buffers,
queues, kernel arguments in the network's order; the host computes the softmax layers with
TFLite's integer softmax (nnmap's reference), as the emitted C host program does."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nnmap.errors import NnmapError
from nnmap.reference.softmax import softmax_int8
from nnmap.targets.stratix10.design import Design, storage
from nnmap.targets.stratix10.platforms import INTEL_EMULATOR, device, opencl
from nnmap.targets.stratix10.schedule import HostSoftmax, Launch, buffers, steps


class _Session:
    """The program, buffers, kernels and queues of one Design on one device."""

    def __init__(self, design: Design, platform: str) -> None:
        if design.optimizations.intel_extensions and platform != INTEL_EMULATOR:
            raise NnmapError("channels and autorun kernels need Intel's FPGA emulator: run on "
                             f"platform {INTEL_EMULATOR} or switch them off")
        self.cl = opencl()
        self.context = self.cl.Context([device(platform)])
        self.program = self.cl.Program(self.context, design.source).build()
        flags = self.cl.mem_flags
        self.buffers = {
            buffer.name: self.cl.Buffer(
                self.context, flags.READ_WRITE | (0 if buffer.constant is None
                                                  else flags.COPY_HOST_PTR),
                size=max(buffer.nbytes, 1), hostbuf=buffer.constant)
            for buffer in buffers(design)}
        self.kernels: dict[str, Any] = {}
        self.queues: dict[str, Any] = {}

    def queue(self, name: str) -> Any:
        if name not in self.queues:
            self.queues[name] = self.cl.CommandQueue(self.context)
        return self.queues[name]

    def kernel(self, launch: Launch) -> Any:
        if launch.kernel not in self.kernels:
            self.kernels[launch.kernel] = self.cl.Kernel(self.program, launch.kernel)
        function = self.kernels[launch.kernel]
        function.set_args(*(self.buffers[name] for name in launch.arguments))
        return function

    def finish(self) -> None:
        for queue in self.queues.values():
            queue.finish()

    def read(self, name: str, values: np.ndarray) -> np.ndarray:
        self.cl.enqueue_copy(self.queue("host"), values, self.buffers[name]).wait()
        return values

    def write(self, name: str, values: np.ndarray) -> None:
        self.cl.enqueue_copy(self.queue("host"), self.buffers[name],
                             np.ascontiguousarray(values)).wait()


def _softmax(design: Design, step: HostSoftmax, session: _Session) -> None:
    session.finish()
    values = session.read(step.source, np.empty((step.rows, step.depth), np.int8))
    layer = next(layer for layer in design.graph.layers if layer.output == step.target)
    assert layer.scaling is not None  # type: ignore[attr-defined]
    session.write(step.target, softmax_int8(values, layer.scaling))  # type: ignore[attr-defined]


def _infer(design: Design, session: _Session, sample: Sequence[np.ndarray]) -> list[np.ndarray]:
    graph = design.graph
    for name, values in zip(graph.inputs, sample, strict=True):
        session.write(storage(graph, name), values.astype(graph.tensor(name).dtype))
    events: list[Any] = []
    for step in steps(design):
        if isinstance(step, HostSoftmax):
            _softmax(design, step, session)
            events.append(None)
            continue
        waits = [events[index] for index in step.waits]
        events.append(session.cl.enqueue_nd_range_kernel(
            session.queue(step.queue), session.kernel(step), (1,), (1,),
            wait_for=waits or None))
    session.finish()
    return [session.read(storage(graph, name), np.empty(graph.tensor(name).shape,
                                                         graph.tensor(name).dtype))
            for name in graph.outputs]


def run_design(design: Design, samples: Sequence[Sequence[np.ndarray]], platform: str
               ) -> list[list[np.ndarray]]:
    """Every sample (one array per model input) through ``design`` on ``platform``: per
    sample, one array per model output."""
    session = _Session(design, platform)
    return [_infer(design, session, sample) for sample in samples]
