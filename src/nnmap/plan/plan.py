"""``make_plan(graph, target) -> Plan`` (``nnmap.plan`` in the public API): every decision of
a compile, made once, as a value.

A Plan holds, per layer, the module that runs it, its mapping, its modelled cycles (the
accelerator kernel and the host stages) and why it runs there; and the static memory plan of
every tensor and of every kernel's scratch. Code generation emits a Plan and decides nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from nnmap.errors import NnmapError
from nnmap.hw import ExecModule, Target
from nnmap.ir import Graph, Layer
from nnmap.ir.layers import COMPUTE_KINDS, Reshape
from nnmap.mapping.graph import LayerMapping, host_stages, kernel_cycles, map_graph
from nnmap.mapping.host_model import call_overhead, host_layer_work, host_mac_stage, stage_cycles
from nnmap.plan.memory import MemoryPlan, plan_memory
from nnmap.tuning.lookup import MEASURED_STAGE, measured_cycles

HOST = "host"
NUMERICS = ("exact", "hardware")


def check_numerics(numerics: str) -> None:
    if numerics not in NUMERICS:
        raise NnmapError(
            f"numerics {numerics!r}: choose one of {', '.join(NUMERICS)} (exact: bit-exact with "
            "TFLite Micro; hardware: the accelerator's own rescaling)"
        )


@dataclass(frozen=True)
class LayerPlan:
    """One layer's place in the Plan: ``module`` is "host" or the accelerator that runs it;
    ``mapped`` its mapping (None for layers without a loop nest); ``accelerator_cycles`` the
    modelled cycles of its accelerator kernel; ``host_stages`` its modelled host cycles by
    stage; ``scratch_bytes`` the host scratch its kernel uses while it runs."""

    index: int
    layer: Layer
    module: str
    reason: str
    mapped: LayerMapping | None = None
    accelerator_cycles: float | None = None
    host_stages: Mapping[str, float] = field(default_factory=dict)
    scratch_bytes: int = 0

    @property
    def on_accelerator(self) -> bool:
        return self.module != HOST

    @property
    def host_cycles(self) -> float:
        return sum(self.host_stages.values())


@dataclass(frozen=True, eq=False)
class Plan:
    """A compile's decisions: the graph, the target, the numerics, one LayerPlan per layer and
    the memory plan."""

    graph: Graph
    target: Target
    numerics: str
    layers: tuple[LayerPlan, ...]
    memory: MemoryPlan

    def module(self, layer: LayerPlan) -> ExecModule:
        """The ExecModule that runs ``layer`` (the target's host for host layers)."""
        return self.target.host if not layer.on_accelerator else self.target.module(layer.module)

    def accelerator_modules(self) -> tuple[ExecModule, ...]:
        """The accelerator modules some layer of the plan runs on, in the target's order."""
        used = {layer.module for layer in self.layers if layer.on_accelerator}
        return tuple(module for module in self.target.accelerators if module.name in used)


def _reason(
    layer: Layer, target: Target, unmapped: Mapping[str, str], host_reasons: Mapping[str, str]
) -> str:
    if layer.name in host_reasons:
        return f"{layer.kind} on the host: {host_reasons[layer.name]}"
    if layer.name in unmapped:
        return f"host C, not mapped: {unmapped[layer.name]}"
    if isinstance(layer, Reshape):
        return "Reshape: a storage alias, no kernel"
    if not isinstance(layer, COMPUTE_KINDS):
        return f"{layer.kind}: not an accelerator layer"
    if not target.accelerators:
        return "host target: no accelerator"
    return f"{layer.kind}: no loop nest to map"


def _layer_plan(
    index: int, layer: Layer, graph: Graph, mapped: LayerMapping | None, target: Target,
    numerics: str, unmapped: Mapping[str, str], host_reasons: Mapping[str, str],
) -> LayerPlan:
    if mapped is None:
        works = host_layer_work(layer, graph)
        stages = {work.stage: stage_cycles(work, target) for work in works}
        if stages:
            stages["call overhead"] = call_overhead(target)
        return LayerPlan(index, layer, HOST, _reason(layer, target, unmapped, host_reasons),
                         host_stages=stages)
    module = target.module(mapped.module)
    workload, mapping = mapped.workload, mapped.mapping
    stages = dict(host_stages(module, workload, target, numerics, layer, graph, mapped.layouts))
    cycles = kernel_cycles(module, workload, mapping, mapped.cost, numerics)
    if module.backend is None:
        measured = measured_cycles(layer, graph, target)
        if measured is not None:  # a tuned kernel: its measured time replaces the model
            stages = {MEASURED_STAGE: measured}
        else:
            name, cycles = host_mac_stage(workload, target, cycles)
            stages = {name: cycles, **stages}
        return LayerPlan(index, layer, HOST, mapped.reason, mapped, host_stages=stages)
    scratch = module.backend.linked_scratch_bytes(workload, mapping, module, numerics,
                                                  mapped.layouts)
    return LayerPlan(index, layer, module.name, mapped.reason, mapped, cycles, stages, scratch)


def _asked_layout(mapped: LayerMapping, tensor: str) -> str | None:
    return next((layout.name for layout in mapped.layouts
                 if layout.role == "output" and layout.tensor == tensor), None)


def _link(graph: Graph, target: Target, numerics: str, layer: Layer,
          by_layer: dict[str, LayerMapping]) -> None:
    """Keep ``layer``'s output in its module's own layout when the layer and every consumer of
    its output run on that module and its backend chooses so (``by_layer`` updated)."""
    mapped = by_layer.get(layer.name)
    if mapped is None or mapped.module == target.host.name:
        return
    module = target.module(mapped.module)
    consumers = graph.consumers(layer.output)
    placed = [by_layer.get(consumer.name) for consumer in consumers]
    pairs = [(consumer, other) for consumer, other in zip(consumers, placed, strict=True)
             if other is not None and other.module == module.name]
    layout = None
    if module.backend is not None and pairs and len(pairs) == len(consumers) and (
            layer.output not in graph.outputs):
        layout = module.backend.tensor_layout(layer, pairs, graph, module, numerics,
                                              _asked_layout(mapped, layer.output))
    kept = tuple(known for known in mapped.layouts if known.role != "output")
    by_layer[layer.name] = replace(mapped, layouts=kept + ((layout,) if layout else ()))
    if layout is None:
        return
    written = f"{mapped.reason}; its output written {layout.name} for its readers"
    by_layer[layer.name] = replace(by_layer[layer.name], reason=written)
    for consumer, other in pairs:
        by_layer[consumer.name] = replace(other, layouts=(
            *other.layouts, replace(layout, role="input")),
            reason=f"{other.reason}; its input read {layout.name}")


def linked_mappings(graph: Graph, target: Target, numerics: str,
                    mappings: Sequence[LayerMapping]) -> dict[str, LayerMapping]:
    """Per layer name its mapping, with the tensors kept in a module's own layout between two
    of its layers (a backend's choice, once every layer is placed) in ``layouts``."""
    by_layer = {mapped.layer: mapped for mapped in mappings}
    for layer in graph.layers:
        _link(graph, target, numerics, layer, by_layer)
    return by_layer


def _tensor_bytes(layers: Sequence[LayerPlan]) -> dict[str, int]:
    """Tensors written in a layout of their module's own, to their storage in it."""
    return {layout.tensor: layout.nbytes for layer in layers if layer.mapped is not None
            for layout in layer.mapped.layouts if layout.role == "output"}


def make_plan(
    graph: Graph,
    target: Target,
    numerics: str = "exact",
    mappings: Sequence[LayerMapping] | None = None,
    budget_s: float = 2.0,
    place: str | None = None,
) -> Plan:
    """Decide everything about compiling ``graph`` for ``target``: per layer its module (the
    cheapest by whole cost among the modules whose backend can lower it), mapping and modelled
    cycles, then the static memory plan. ``mappings`` replaces the mapper's choices (a
    baseline's, for comparison). A layer no module's memories can hold runs as host C, its
    reason saying why it was not mapped. ``place`` names a module that takes every layer it can
    lower, whatever the cost. Where a layer and every reader of its output run on one
    accelerator, that accelerator's backend may keep the tensor in its own layout."""
    check_numerics(numerics)
    unmapped: dict[str, str] = {}
    host_reasons: dict[str, str] = {}
    if mappings is None:
        mappings = map_graph(graph, target, budget_s, numerics, place, unmapped, host_reasons)
    by_layer = linked_mappings(graph, target, numerics, mappings)
    layers = tuple(
        _layer_plan(
            index, layer, graph, by_layer.get(layer.name), target, numerics, unmapped, host_reasons
        )
        for index, layer in enumerate(graph.layers)
    )
    memory = plan_memory(graph, {lp.layer.name: lp.scratch_bytes for lp in layers},
                         _tensor_bytes(layers))
    return Plan(graph, target, numerics, layers, memory)


def with_host_scratch(plan: Plan, workspace_bytes: Mapping[str, int]) -> Plan:
    """``plan`` with the scratch its host layers' kernels ask for (layer name -> workspace
    bytes), the arena re-planned so each scratch is disjoint from every tensor alive while its
    layer runs. A host kernel's workspace is known once its C is generated; accelerator layers
    keep what their backend reserved."""
    grown = {
        layer.layer.name: workspace_bytes[layer.layer.name]
        for layer in plan.layers
        if not layer.on_accelerator
        and workspace_bytes.get(layer.layer.name, 0) > layer.scratch_bytes
    }
    if not grown:
        return plan
    layers = tuple(
        replace(layer, scratch_bytes=grown[layer.layer.name]) if layer.layer.name in grown
        else layer
        for layer in plan.layers
    )
    memory = plan_memory(plan.graph, {lp.layer.name: lp.scratch_bytes for lp in layers},
                         _tensor_bytes(layers))
    return replace(plan, layers=layers, memory=memory)


__all__ = ["HOST", "LayerPlan", "Plan", "check_numerics", "make_plan", "with_host_scratch"]
