"""Element-wise adds on DIANA's digital array (HTVM's element-wise add pattern): the two int8
inputs summed and shifted by the array (``digital_element_wise_sum``), in chunks that fit L1,
read and written in place (an element-wise sum does not care about the layout).

The array sums without per-input scales, so TFLite's Add (each input rescaled by its own
multiplier first) is not its arithmetic: adds run there in hardware numerics only, with the
shift nearest the scales' ratio (output scale over the inputs' geometric mean).

Cycles per chunk of n elements: three DMA calls (two in, one out; see ``timing.dma_cycles``) and
one kernel call, ``kernel_call`` plus n / ``sum_elements_per_cycle`` (assumed: 16, one element
per PE column per cycle; no public number).
"""

from __future__ import annotations

import re
from math import ceil, log2

from nnmap.codegen.layers import Argument, LayerCode, layer_id
from nnmap.hw import ExecModule
from nnmap.ir import Graph
from nnmap.ir.layers import Add, AddRescale
from nnmap.ir.workload import LOOPS, Workload
from nnmap.mapping.model import Cost, Mapping
from nnmap.mapping.stream_search import StreamModel
from nnmap.targets.diana.timing import ALIGN, dma_cycles

EXACT_REFUSAL = ("add: TFLite's Add rescales each input by its own multiplier before the sum; "
                 "the array only sums and shifts (hardware numerics run it there)")


def add_refusal(layer: Add, graph: Graph) -> str | None:
    """Why the array cannot run ``layer`` at all (None: in hardware numerics it can)."""
    out = graph.tensor(layer.output)
    shapes = {graph.tensor(name).shape for name in layer.inputs}
    if len(layer.inputs) != 2 or shapes != {out.shape}:
        return "add: the array sums two tensors of the output's shape (no broadcasting)"
    if not isinstance(layer.rescale, AddRescale):
        return "add: the array runs int8 adds with TFLite scales only"
    if out.size % 4:
        return f"add of {out.size} elements: the array takes sizes divisible by 4"
    return None


def add_shift(layer: Add, graph: Graph) -> tuple[int, bool]:
    """The array's shift for ``layer`` and whether its ReLU clips at 0."""
    first, second = (graph.tensor(name).scale or 1.0 for name in layer.inputs)
    ratio = (graph.tensor(layer.output).scale or 1.0) / (first * second) ** 0.5
    return int(min(31, max(0, round(log2(ratio))))), layer.clamp.low >= 0


def chunk_elements(module: ExecModule) -> int:
    """The most elements per chunk: three aligned buffers (two inputs, the sum) in L1."""
    activations = module.levels[0][0]
    return activations.size // 3 // ALIGN * ALIGN


def _chunk_cycles(count: int, module: ExecModule) -> tuple[int, int]:
    """(compute, transfer) cycles of one chunk of ``count`` elements."""
    compute = int(module.timing["kernel_call"]) + ceil(
        count / module.timing["sum_elements_per_cycle"])
    return compute, 3 * dma_cycles(count, module)


def add_cost(workload: Workload, mapping: Mapping, module: ExecModule) -> Cost:
    size, chunk = workload["OX"], mapping.tile(0, "OX")
    full, edge = divmod(size, chunk)
    compute = transfer = 0
    for count, times in ((chunk, full), (edge, 1 if edge else 0)):
        cycles = _chunk_cycles(count, module)
        compute += times * cycles[0]
        transfer += times * cycles[1]
    activations = module.levels[0][0]
    l2 = module.levels[-1][0]
    return Cost(macs=0, compute_cycles=float(compute), transfer_cycles=(float(transfer),),
                transfer_bytes=(3.0 * size,), total_cycles=float(compute + transfer),
                utilization=0.0, spatial_utilization=0.0,
                footprint=(((activations.name, 3 * chunk, activations.size),),
                           ((l2.name, 3 * size, l2.size),)),
                energy_pj=None)


def add_candidates(workload: Workload, module: ExecModule) -> list[Mapping]:
    chunk = min(workload["OX"], chunk_elements(module))
    sizes = {**dict.fromkeys(LOOPS, 1), "OX": chunk}
    return [Mapping((), (tuple(sizes[loop] for loop in LOOPS),), (("OX",),), (frozenset(),))]


def _bound(workload: Workload, mapping: Mapping, module: ExecModule) -> float:
    return add_cost(workload, mapping, module).total_cycles


ADD_STREAM = StreamModel(add_candidates, _bound, add_cost)


def add_layer_code(layer: Add, graph: Graph, index: int, chunk: int,
                   module_name: str) -> LayerCode:
    """The C of ``layer`` on the array: per chunk, both inputs in, the sum, the result out."""
    size = graph.tensor(layer.output).size
    shift, relu = add_shift(layer, graph)
    symbol = f"nnmap_{layer_id(index, layer)}"
    second, output = -(-chunk // ALIGN) * ALIGN, 2 * (-(-chunk // ALIGN) * ALIGN)
    prototype = (f"int32_t {symbol}(const int8_t *restrict x, const int8_t *restrict y, "
                 "int8_t *restrict output)")
    name = re.sub(r"[^A-Za-z0-9_./:;-]", "_", layer.name)
    move = ("memcpy_dig((void *)(uintptr_t)({}), {}, (uint32_t)count, {}, "
            "DIGITAL_ACTIVATION_MEMORY);")
    lines = [
        f"/* layer {name} (Add) on DIANA's digital array: the sum shifted by {shift} "
        "(hardware numerics) */",
        "#include <stdint.h>",
        '#include "digital_lib.h"',
        "",
        f"{prototype} {{",
        f"  Layer_parameters layer = {{1, 0, 1, 1, 1, 1, 1, 1, {int(relu)}, {shift}, 1, 1, 0, "
        "0, 8};",
        f"  for (int32_t chunk = 0; chunk < {ceil(size / chunk)}; ++chunk) {{",
        f"    int32_t count = {size} - chunk * {chunk};",
        f"    count = count < {chunk} ? count : {chunk};",
        "    " + move.format(f"x + chunk * {chunk}", 0, "DIGITAL_TO_L1"),
        "    " + move.format(f"y + chunk * {chunk}", second, "DIGITAL_TO_L1"),
        "    global_sync_digital();",
        "    layer.k = count;",
        f"    digital_element_wise_sum(0, 0, 0, {second}, {output}, &layer);",
        "    global_sync_digital();",
        "    " + move.format(f"output + chunk * {chunk}", output, "DIGITAL_TO_L2"),
        "    global_sync_digital();",
        "  }",
        "  return 0;",
        "}",
        "",
    ]
    arguments = (Argument("input", layer.inputs[0]), Argument("input", layer.inputs[1]),
                 Argument("output", layer.output))
    return LayerCode(layer, index, symbol, prototype, f"{layer_id(index, layer)}.c",
                     "\n".join(lines), arguments, module=module_name)
