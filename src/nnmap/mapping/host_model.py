"""Modelled cycles of the host core's work: host layers and host stages of accelerator kernels.

Nothing on the host is emulated, so its cycles come from a model over the target's host
``ExecModule``:

- convolutions and fully connected layers on the host: nnmap's cost model (the mapping search on
  the host module, as the mapper does) plus the requantization stage below;
- every other host loop (pooling, add, softmax, copies, and the host stages of an accelerator
  kernel such as an im2col gather and requantization) is streamed element by element: an
  in-order core issuing one ALU operation per cycle, with each element's bytes moved at the
  bandwidth of the host's outermost memory (where whole tensors live), no overlap between the
  two, plus the module's per-layer call overhead. The operation counts per element are assumed
  (counted from TFLite's reference kernels), see ``OPS_PER_ELEMENT``.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import inf

from nnmap.hw import ExecModule
from nnmap.ir import Conv2D, FullyConnected, Graph, Layer
from nnmap.ir.layers import Add, AveragePool, MaxPool, Reshape, Softmax
from nnmap.ir.workload import workload_of
from nnmap.mapping.search import search_below

HOST_OPS_PER_CYCLE = 1.0  # assumed: in-order scalar core, one ALU operation issued per cycle
HOST_SEARCH_BUDGET_S = 0.5
OPS_PER_ELEMENT = {
    # assumed: index arithmetic, bounds test and select per gathered byte
    "gather": 4.0,
    # assumed: TFLite requantization: 64-bit multiply, rounding doubling high, rounding shift,
    # zero point, clamp to the activation range
    "requantize": 14.0,
    # assumed: copy with a clamp
    "copy": 2.0,
    # assumed: TFLite int8 Add: two inputs rescaled and the sum requantized (3 fixed-point muls)
    "add": 30.0,
    # assumed: TFLite int8 softmax: fixed-point exp, running sum, reciprocal, two passes
    "softmax": 60.0,
    # assumed: the integer division of the window sum in average pooling
    "divide": 20.0,
}


@dataclass(frozen=True)
class HostWork:
    """One host loop: ``elements`` iterations, each costing ``ops`` ALU operations and moving
    ``read_bytes``/``write_bytes`` through the host's outermost memory."""

    stage: str
    elements: int
    ops: float
    read_bytes: float
    write_bytes: float


def stage_cycles(work: HostWork, module: ExecModule) -> float:
    """Modelled cycles of one host loop on ``module``."""
    memory = module.memory_for(len(module.levels) - 1, "I")
    per_element = (
        work.ops / HOST_OPS_PER_CYCLE
        + work.read_bytes / memory.read_bw
        + work.write_bytes / memory.write_bw
    )
    return work.elements * per_element


def requantize_work(elements: int) -> HostWork:
    """TFLite requantization of ``elements`` int32 accumulators into int8."""
    return HostWork("requantization", elements, OPS_PER_ELEMENT["requantize"], 4, 1)


def _pool_work(layer: AveragePool | MaxPool, elements: int) -> HostWork:
    window = layer.kernel[0] * layer.kernel[1]
    divide = OPS_PER_ELEMENT["divide"] if isinstance(layer, AveragePool) else 0.0
    return HostWork("kernel", elements, window + divide, window, 1)


def host_layer_work(layer: Layer, graph: Graph) -> tuple[HostWork, ...]:
    """The streamed loops of a host layer (compute layers: only their requantization)."""
    elements = graph.tensor(layer.output).size
    if isinstance(layer, Reshape):
        return ()
    if isinstance(layer, Conv2D | FullyConnected):
        return (requantize_work(elements),)
    if isinstance(layer, AveragePool | MaxPool):
        return (_pool_work(layer, elements),)
    if isinstance(layer, Add):
        return (HostWork("kernel", elements, OPS_PER_ELEMENT["add"], 2, 1),)
    if isinstance(layer, Softmax):
        return (HostWork("kernel", elements, OPS_PER_ELEMENT["softmax"], 1, 1),)
    # Pad, Concat, Transpose: data movement
    return (HostWork("kernel", elements, OPS_PER_ELEMENT["copy"], 1, 1),)


def host_mac_cycles(layer: Layer, graph: Graph, module: ExecModule) -> float | None:
    """The cost model's cycles of a convolution or fully connected layer on the host module
    (None for layers without a loop nest)."""
    workload = workload_of(graph, layer)
    if workload is None or not isinstance(layer, Conv2D | FullyConnected):
        return None
    found = search_below(workload, module, inf, HOST_SEARCH_BUDGET_S)
    return None if found is None else float(found.cost.total_cycles)


def host_layer_stages(layer: Layer, graph: Graph, module: ExecModule) -> dict[str, float]:
    """Modelled host cycles of a layer that runs on the host, by stage."""
    stages: dict[str, float] = {}
    macs = host_mac_cycles(layer, graph, module)
    if macs is not None:
        stages["multiply-accumulate (cost model)"] = macs
    for work in host_layer_work(layer, graph):
        stages[work.stage] = stage_cycles(work, module)
    if stages:
        stages["call overhead"] = float(module.timing.get("layer_overhead", 0.0))
    return stages
