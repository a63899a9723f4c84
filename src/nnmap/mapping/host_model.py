"""Modelled cycles of the host core's work: host layers and host stages of accelerator kernels.

The mapper needs the host's cycles without running anything, so they come from a model. Every
host loop is a ``HostWork``: ``elements`` iterations of ``ops`` operations each, of a stage
``kind`` (requantization, max pool, average pool, add, softmax, copy); the operation counts per
element are assumed (counted from TFLite's reference kernels), see ``OPS_PER_ELEMENT``.
Convolutions and fully connected layers on the host also have their multiply-accumulates.

- With a calibrated host core (``HostCore.calibration``, fitted by ``bench/calibrate_host.py``
  to nnmap's own host kernels emulated on that core): cycles per multiply-accumulate of the
  workload's kind, cycles per operation of the stage's kind (stages of a kind the calibration
  does not name, such as an accelerator kernel's im2col gather, are costed as copies: loads,
  index arithmetic and stores), and cycles per kernel call; converted from the core's clock to
  the target's.
- Otherwise, over the target's host ``ExecModule``: the multiply-accumulates by nnmap's cost
  model (the mapping search on the host module), every loop streamed element by element on an
  in-order core issuing one ALU operation per cycle, with each element's bytes moved at the
  bandwidth of the host's outermost memory (where whole tensors live), no overlap between the
  two, plus the module's per-layer call overhead.
"""

from __future__ import annotations

from dataclasses import dataclass

from nnmap.hw import ExecModule, Target
from nnmap.hw.host_core import HostCalibration
from nnmap.ir import Conv2D, FullyConnected, Graph, Layer
from nnmap.ir.layers import Add, AveragePool, MaxPool, Reshape, Softmax
from nnmap.ir.workload import Workload

HOST_OPS_PER_CYCLE = 1.0  # assumed: in-order scalar core, one ALU operation issued per cycle
OPS_PER_ELEMENT = {
    # assumed: index arithmetic, bounds test and select per gathered byte
    "gather": 4.0,
    # assumed: a gather nested as its input is laid out (rows, taps, channels): the index
    # arithmetic sits in the outer loops, the inner loop copies a tap's channels, one load and
    # one store per byte (bench/heterogeneous.py: nested gathers modelled at 4 ops per byte
    # were 3.8x their measured cycles)
    "nested gather": 1.0,
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
# the stage kind of loops a calibration does not name (data movement: loads, index, stores)
FALLBACK_KIND = "copy"
MAC_STAGE = "multiply-accumulate"


@dataclass(frozen=True)
class HostWork:
    """One host loop: ``elements`` iterations, each costing ``ops`` ALU operations and moving
    ``read_bytes``/``write_bytes`` through the host's outermost memory; ``stage`` names it in
    reports, ``kind`` says which calibrated cost applies."""

    stage: str
    elements: int
    ops: float
    read_bytes: float
    write_bytes: float
    kind: str = FALLBACK_KIND


def calibration_of(target: Target) -> HostCalibration | None:
    """The calibration of the target's host core, if it declares a calibrated one."""
    return None if target.host_core is None else target.host_core.calibration


def _at_target_clock(core_cycles: float, target: Target) -> float:
    assert target.host_core is not None
    return core_cycles * target.clock_hz / target.host_core.clock_hz


def streamed_cycles(work: HostWork, module: ExecModule) -> float:
    """Uncalibrated cycles of one host loop on ``module``: ALU operations at the assumed rate
    plus the element's bytes at the outermost memory's bandwidth."""
    memory = module.memory_for(len(module.levels) - 1, "I")
    per_element = (
        work.ops / HOST_OPS_PER_CYCLE
        + work.read_bytes / memory.read_bw
        + work.write_bytes / memory.write_bw
    )
    return work.elements * per_element


def stage_cycles(work: HostWork, target: Target) -> float:
    """Modelled cycles (target clock) of one host loop on the target's host."""
    calibration = calibration_of(target)
    if calibration is None:
        return streamed_cycles(work, target.host)
    per_op = calibration.op_cycles.get(work.kind, calibration.op_cycles[FALLBACK_KIND])
    return _at_target_clock(work.elements * work.ops * per_op, target)


def call_overhead(target: Target) -> float:
    """Modelled cycles (target clock) of calling one host kernel."""
    calibration = calibration_of(target)
    if calibration is None:
        return float(target.host.timing.get("layer_overhead", 0.0))
    return _at_target_clock(calibration.call_cycles, target)


def host_mac_stage(workload: Workload, target: Target, cost_model_cycles: float
                   ) -> tuple[str, float]:
    """The multiply-accumulate stage of a convolution or fully connected layer on the host:
    its name and cycles (target clock): calibrated when the host core is, else the cost model's
    ``cost_model_cycles``."""
    calibration = calibration_of(target)
    if calibration is None or workload.kind not in calibration.mac_cycles:
        return f"{MAC_STAGE} (cost model)", cost_model_cycles
    cycles = workload.macs * calibration.mac_cycles[workload.kind]
    return f"{MAC_STAGE} (calibrated)", _at_target_clock(cycles, target)


def requantize_work(elements: int) -> HostWork:
    """TFLite requantization of ``elements`` int32 accumulators into int8."""
    return HostWork("requantization", elements, OPS_PER_ELEMENT["requantize"], 4, 1,
                    "requantization")


def _pool_work(layer: AveragePool | MaxPool, elements: int) -> HostWork:
    window = layer.kernel[0] * layer.kernel[1]
    divide = OPS_PER_ELEMENT["divide"] if isinstance(layer, AveragePool) else 0.0
    kind = "average pool" if isinstance(layer, AveragePool) else "max pool"
    return HostWork("kernel", elements, window + divide, window, 1, kind)


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
        return (HostWork("kernel", elements, OPS_PER_ELEMENT["add"], 2, 1, "add"),)
    if isinstance(layer, Softmax):
        return (HostWork("kernel", elements, OPS_PER_ELEMENT["softmax"], 1, 1, "softmax"),)
    # Pad, Concat, Transpose: data movement
    return (HostWork("kernel", elements, OPS_PER_ELEMENT["copy"], 1, 1, "copy"),)
