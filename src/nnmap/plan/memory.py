"""The static memory plan: where every activation tensor lives while the network runs.

Model inputs stay in the caller's input buffers and model outputs are written straight into the
caller's output buffers; every other tensor gets an offset in one arena. Tensors related by a
Reshape share their storage (an alias group). Each group lives from the layer that produces it to
the last layer that reads it; layers may also ask for a scratch workspace that lives only while
they run. Offsets are assigned greedily, largest buffer first, each at the lowest aligned offset
that does not overlap a buffer whose lifetime overlaps its own (first fit).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from nnmap.errors import UnsupportedOperatorError
from nnmap.ir import Graph, Reshape

ARENA, INPUT, OUTPUT = "arena", "input", "output"
ALIGNMENT = 16


@dataclass(frozen=True)
class Placement:
    """A tensor's storage: ``region`` (arena, input or output), which buffer, and byte offset."""

    region: str
    index: int
    offset: int


@dataclass(frozen=True)
class Buffer:
    """A block of arena bytes needed from layer ``first`` to layer ``last`` (inclusive)."""

    name: str
    size: int
    first: int
    last: int

    def overlaps_in_time(self, other: Buffer) -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass(frozen=True, eq=False)
class MemoryPlan:
    """Placements of all tensors, offsets of per-layer scratch buffers, and the arena size."""

    placements: Mapping[str, Placement]
    scratch_offsets: Mapping[str, int]
    arena_bytes: int

    def placement(self, tensor: str) -> Placement:
        return self.placements[tensor]


def alias_roots(graph: Graph) -> dict[str, str]:
    """For every tensor, the tensor that owns its storage (Reshape outputs share their input's)."""
    roots = {name: name for name in graph.inputs}
    for layer in graph.layers:
        is_alias = isinstance(layer, Reshape)
        roots[layer.output] = roots[layer.inputs[0]] if is_alias else layer.output
    return roots


def aligned(size: int) -> int:
    """``size`` rounded up to the arena's alignment (every buffer starts aligned)."""
    return -(-size // ALIGNMENT) * ALIGNMENT


# TVM's C code keeps a constant-size buffer of fewer bytes than this on the kernel's stack
# instead of asking for workspace (kMaxStackAlloca in TVM's runtime/device_api.h).
TVM_STACK_ALLOCA_BYTES = 1024


def workspace_bytes(size: int) -> int:
    """Arena bytes a TVM kernel's buffer of ``size`` bytes takes: none when TVM puts it on the
    stack, else ``size`` aligned."""
    return 0 if size < TVM_STACK_ALLOCA_BYTES else aligned(size)


def first_fit(buffers: list[Buffer]) -> tuple[dict[str, int], int]:
    """Offsets by greedy-by-size, first-fit placement; returns the offsets and the arena size."""
    placed: list[tuple[Buffer, int]] = []
    offsets: dict[str, int] = {}
    for buffer in sorted(buffers, key=lambda b: (-b.size, b.first, b.name)):
        busy = sorted(
            (offset, offset + other.size)
            for other, offset in placed
            if other.overlaps_in_time(buffer)
        )
        candidate = 0
        for start, end in busy:
            if candidate + buffer.size <= start:
                break
            candidate = max(candidate, aligned(end))
        offsets[buffer.name] = candidate
        placed.append((buffer, candidate))
    arena = max((offset + b.size for b, offset in placed), default=0)
    return offsets, aligned(arena)


def _group_lifetimes(graph: Graph, roots: dict[str, str]) -> dict[str, tuple[int, int]]:
    lifetimes: dict[str, tuple[int, int]] = {name: (-1, -1) for name in graph.inputs}
    for index, layer in enumerate(graph.layers):
        for name in layer.inputs:
            first, _ = lifetimes[roots[name]]
            lifetimes[roots[name]] = (first, index)
        if roots[layer.output] == layer.output:
            lifetimes[layer.output] = (index, index)
    return lifetimes


def _external_regions(graph: Graph, roots: dict[str, str]) -> dict[str, tuple[str, int]]:
    regions: dict[str, tuple[str, int]] = {root: (INPUT, i) for i, root in enumerate(graph.inputs)}
    for index, name in enumerate(graph.outputs):
        root = roots[name]
        if root in regions:
            raise UnsupportedOperatorError(
                f"model output {name} is the storage of another model input or output "
                f"({root}); the host target needs every output produced by its own layer"
            )
        regions[root] = (OUTPUT, index)
    return regions


def plan_memory(graph: Graph, scratch_bytes: Mapping[str, int] | None = None,
                tensor_bytes: Mapping[str, int] | None = None) -> MemoryPlan:
    """Plan the arena of ``graph``; ``scratch_bytes`` maps layer names to workspace sizes,
    ``tensor_bytes`` tensors kept in a larger layout than the graph's to their storage."""
    roots = alias_roots(graph)
    regions = _external_regions(graph, roots)
    lifetimes = _group_lifetimes(graph, roots)
    buffers = [
        Buffer(root, max(graph.tensor(root).nbytes, (tensor_bytes or {}).get(root, 0)),
               *lifetimes[root])
        for root in lifetimes
        if root not in regions
    ]
    scratch = {name: size for name, size in (scratch_bytes or {}).items() if size > 0}
    for index, layer in enumerate(graph.layers):
        if layer.name in scratch:
            buffers.append(Buffer(f"scratch:{layer.name}", scratch[layer.name], index, index))
    offsets, arena = first_fit(buffers)
    placements = {}
    for name, root in roots.items():
        region, index = regions.get(root, (ARENA, 0))
        placements[name] = Placement(region, index, offsets.get(root, 0))
    scratch_offsets = {name: offsets[f"scratch:{name}"] for name in scratch}
    return MemoryPlan(placements, scratch_offsets, arena)
