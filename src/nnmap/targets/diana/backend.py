"""DIANA's ``Backend``s: the digital array's (conv, depthwise, dense: what it lowers, its stream
model, its kernels, its emulator) and the analog core's, which lowers nothing and says why."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING

from nnmap.errors import NnmapError
from nnmap.hw import Backend, ExecModule
from nnmap.hw.backend import TensorLayout
from nnmap.ir import Conv2D, FullyConnected, Graph, Layer
from nnmap.ir.layers import Add
from nnmap.ir.quant import Requant
from nnmap.ir.workload import Workload, workload_of
from nnmap.mapping.graph import LayerMapping
from nnmap.mapping.host_model import OPS_PER_ELEMENT, HostWork, requantize_work
from nnmap.mapping.model import Cost, Mapping
from nnmap.mapping.stream_search import StreamModel
from nnmap.targets.diana import timing
from nnmap.targets.diana.add import ADD_STREAM, EXACT_REFUSAL, add_refusal
from nnmap.targets.diana.layout import PADDED, channels_first_layout, linked_work
from nnmap.targets.diana.numerics import ShiftRequant, exact_shift, hardware_shift
from nnmap.targets.diana.timing import DianaShape, DianaTile

if TYPE_CHECKING:
    from nnmap.codegen.layers import LayerCode

ACCUMULATOR_BYTES = 4


def digital_refusal(layer: Layer, graph: Graph) -> str | None:
    """Why nnmap's DIANA code generator does not lower ``layer`` (None: it does); the kernel
    sizes, strides and channel multiples are the module's SupportRule's."""
    if isinstance(layer, Add):
        return add_refusal(layer, graph)
    if not isinstance(layer, Conv2D | FullyConnected):
        return f"{layer.kind}: the digital array runs conv, depthwise, dense and add layers only"
    if not isinstance(layer.requant, Requant) or layer.weight.dtype.name != "int8":
        return f"{layer.kind}: the digital array runs int8 layers with TFLite scales only"
    if isinstance(layer, Conv2D):
        if layer.groups != 1 and not layer.is_depthwise:
            return f"grouped conv (groups={layer.groups}): the array runs groups 1 or depthwise"
        if layer.is_depthwise and layer.weight.shape[0] != layer.groups:
            return "depthwise multiplier above 1: the array runs one output per channel"
        if layer.stride[0] != layer.stride[1]:
            return f"stride {layer.stride}: the array takes one stride for both axes"
        if graph.tensor(layer.output).shape[0] != 1:
            return "batch above 1: nnmap's DIANA kernels run one sample of a conv"
    if layer.weight.shape[0] % 4:
        return f"{layer.weight.shape[0]} output channels: the array takes sizes divisible by 4"
    return None


def _cost(workload: Workload, mapping: Mapping, module: ExecModule) -> Cost:
    tile = DianaTile.of(workload, mapping)
    return timing.layer_cost(workload, tile, module, ACCUMULATOR_BYTES)


def _bound(workload: Workload, mapping: Mapping, module: ExecModule) -> float:
    return _cost(workload, mapping, module).total_cycles


def _candidates(workload: Workload, module: ExecModule) -> list[Mapping]:
    shape = DianaShape.of(workload)
    # the largest tiles first: of tiles the model costs alike, the search keeps the first (the
    # fewest host loop iterations)
    tiles = sorted(timing.candidate_tiles(shape, module, ACCUMULATOR_BYTES),
                   key=lambda tile: (-tile.k_tile, -tile.rows, not tile.channels_outer))
    return [timing.mapping_of(shape, tile, workload) for tile in tiles]


STREAM = StreamModel(_candidates, _bound, _cost)


class DianaBackend(Backend):
    """Conv, depthwise and dense layers as tiles on the digital 16x16 PE array, the input
    staged by the host, the int32 accumulators requantized by the host (exact numerics, unless
    the array's shift is proven TFLite's) or the array's shift and clip (hardware)."""

    emulator_prefix = "nnmap_digital"
    emulator_functions = ("nnmap_digital_", "digital_", "memcpy_dig", "global_sync_digital")

    def __init__(self) -> None:
        # proofs and shifts per layer object; the latest proof per workload (by its text), for
        # the questions asked with a workload only (host work, kernel cycles, notes)
        self._exact: weakref.WeakKeyDictionary[Layer, ShiftRequant | str] = (
            weakref.WeakKeyDictionary())
        self._hardware: weakref.WeakKeyDictionary[Layer, ShiftRequant] = (
            weakref.WeakKeyDictionary())
        self._by_workload: dict[str, ShiftRequant | str] = {}

    def array_requant(self, layer: Conv2D | FullyConnected, graph: Graph,
                      numerics: str) -> ShiftRequant | None:
        """The array's requantization of ``layer`` in ``numerics`` (None: int32 out, the host
        requantizes), found once per layer."""
        if numerics == "hardware":
            if layer not in self._hardware:
                self._hardware[layer] = hardware_shift(layer, graph)
            return self._hardware[layer]
        found = self.exactness(layer, graph)
        return None if isinstance(found, str) else found

    def exactness(self, layer: Conv2D | FullyConnected, graph: Graph) -> ShiftRequant | str:
        """The array's own requantization if proven TFLite's for ``layer``, else why not."""
        if layer not in self._exact:
            self._exact[layer] = exact_shift(layer, graph)
        found = self._exact[layer]
        workload = workload_of(graph, layer)
        if workload is not None:
            self._by_workload[repr(workload)] = found
        return found

    def _result_bytes(self, workload: Workload, numerics: str) -> int:
        if numerics == "hardware":
            return 1
        found = self._by_workload.get(repr(workload))
        return 1 if isinstance(found, ShiftRequant) else ACCUMULATOR_BYTES

    def refusal(self, layer: Layer, graph: Graph, module: ExecModule) -> str | None:
        reason = digital_refusal(layer, graph)
        if reason is None and isinstance(layer, Conv2D | FullyConnected):
            self.exactness(layer, graph)
        return reason

    def numerics_refusal(
        self, layer: Layer, graph: Graph, module: ExecModule, numerics: str
    ) -> str | None:
        """Exact numerics keep adds on the host (the array's sum is not TFLite's Add)."""
        return EXACT_REFUSAL if isinstance(layer, Add) and numerics == "exact" else None

    def stream_model(self, workload: Workload, module: ExecModule) -> StreamModel | None:
        return ADD_STREAM if workload.kind == "add" else STREAM

    def kernel_cycles(
        self, workload: Workload, mapping: Mapping, module: ExecModule, numerics: str
    ) -> float | None:
        result_bytes = self._result_bytes(workload, numerics)
        if result_bytes == ACCUMULATOR_BYTES or workload.kind == "add":
            return None
        tile = DianaTile.of(workload, mapping)
        return timing.layer_cost(workload, tile, module, result_bytes).total_cycles

    def kernel_note(self, workload: Workload, module: ExecModule) -> str:
        if workload.kind == "add":
            return "the array's sum and shift (hardware numerics)"
        found = self._by_workload.get(repr(workload))
        if isinstance(found, ShiftRequant):
            return f"exact on the array: its shift by {found.shift} is TFLite's (proven)"
        if found is None:
            return ""
        return f"not exact on the array ({found})"

    def host_work(
        self, workload: Workload, module: ExecModule, numerics: str
    ) -> tuple[HostWork, ...]:
        """The staging of the input (channels first, padded; not for dense layers), then
        TFLite's requantization of the int32 accumulators, or a clamping copy of the array's
        int8 results, into the channels-last output. An add leaves none (read and written in
        place)."""
        if workload.kind == "add":
            return ()
        shape = DianaShape.of(workload)
        outputs = shape.outputs * shape.rows * shape.width * shape.batch
        works = []
        if shape.kind != "dense":
            staged = shape.channels * shape.input_rows(shape.rows) * shape.padded_width
            works.append(HostWork("input staging", staged, OPS_PER_ELEMENT["gather"], 1, 1))
        if self._result_bytes(workload, numerics) == ACCUMULATOR_BYTES:
            works.append(requantize_work(outputs))
        else:
            works.append(HostWork("output copy", outputs, OPS_PER_ELEMENT["copy"], 1, 1))
        return tuple(works)

    def linked_host_work(
        self, workload: Workload, module: ExecModule, numerics: str,
        layouts: tuple[TensorLayout, ...],
    ) -> tuple[HostWork, ...]:
        """As ``host_work``, with the input or the output kept channels first (``layout``)."""
        shape = DianaShape.of(workload)
        outputs = shape.outputs * shape.rows * shape.width * shape.batch
        return linked_work(self.host_work(workload, module, numerics), layouts, outputs)

    def linked_scratch_bytes(
        self, workload: Workload, mapping: Mapping, module: ExecModule, numerics: str,
        layouts: tuple[TensorLayout, ...],
    ) -> int:
        """As ``scratch_bytes``, without the staging buffer when the input comes padded (the
        reader DMAs it as it is)."""
        scratch = self.scratch_bytes(workload, mapping, module, numerics)
        if any(layout.role == "input" and layout.name == PADDED for layout in layouts):
            shape = DianaShape.of(workload)
            scratch -= -(-shape.staged_bytes(DianaTile.of(workload, mapping).rows) // 16) * 16
        return scratch

    def tensor_layout(
        self, producer: Layer, consumers: Sequence[tuple[Layer, LayerMapping]], graph: Graph,
        module: ExecModule, numerics: str, asked: str | None,
    ) -> TensorLayout | None:
        """Channels first between two conv or depthwise layers on the array (``layout``)."""
        return channels_first_layout(producer, consumers, graph, asked)

    def scratch_bytes(
        self, workload: Workload, mapping: Mapping, module: ExecModule, numerics: str
    ) -> int:
        """The staged input and the results (int32 accumulators or int8), whole layer; an add
        needs none."""
        if workload.kind == "add":
            return 0
        shape = DianaShape.of(workload)
        tile = DianaTile.of(workload, mapping)
        result_bytes = self._result_bytes(workload, numerics)
        results = shape.output_bytes(shape.outputs, shape.rows, result_bytes) * shape.batch
        return -(-shape.staged_bytes(tile.rows) // 16) * 16 + -(-results // 16) * 16

    def lower(
        self, layer: Layer, graph: Graph, index: int, mapped: LayerMapping, module: ExecModule,
        numerics: str,
    ) -> LayerCode:
        from nnmap.targets.diana.add import add_layer_code
        from nnmap.targets.diana.layer import diana_kernel, diana_layer_code

        if isinstance(layer, Add):
            chunk = mapped.mapping.tile(0, "OX")
            return add_layer_code(layer, graph, index, chunk, module.name)
        assert isinstance(layer, Conv2D | FullyConnected), digital_refusal(layer, graph)
        shape = DianaShape.of(mapped.workload)
        tile = DianaTile.of(mapped.workload, mapped.mapping)
        requant = self.array_requant(layer, graph, numerics)
        kernel = diana_kernel(layer, graph, shape, tile, requant, mapped.layouts)
        return diana_layer_code(layer, graph, index, kernel, module.name)

    def emulator_files(self, module: ExecModule) -> dict[str, str]:
        from nnmap.targets.diana.build import emulator

        return emulator(module).files()


class AnalogBackend(Backend):
    """DIANA's analog in-memory core: declared, lowers no layer (``reason`` says why)."""

    emulator_prefix = "nnmap_analog"

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def refusal(self, layer: Layer, graph: Graph, module: ExecModule) -> str | None:
        return self.reason

    def _never(self) -> NnmapError:
        return NnmapError(f"the analog core lowers no layer: {self.reason}")

    def host_work(
        self, workload: Workload, module: ExecModule, numerics: str
    ) -> tuple[HostWork, ...]:
        raise self._never()

    def scratch_bytes(
        self, workload: Workload, mapping: Mapping, module: ExecModule, numerics: str
    ) -> int:
        raise self._never()

    def lower(
        self, layer: Layer, graph: Graph, index: int, mapped: LayerMapping, module: ExecModule,
        numerics: str,
    ) -> LayerCode:
        raise self._never()

    def emulator_files(self, module: ExecModule) -> dict[str, str]:
        raise self._never()
