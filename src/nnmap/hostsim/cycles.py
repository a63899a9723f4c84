"""Cycles from counted block edges: instructions by class times the core's costs, plus load-use
stalls, branch directions and mispredictions, load/store-multiple registers and cache misses,
charged to the function that owned each block."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from nnmap.hostsim.counter import Edges
from nnmap.hostsim.decode import BlockProfile
from nnmap.hw.host_core import HostCore

EVENTS = (
    "load_use",
    "load_subword_use",
    "branch_taken",
    "branch_not_taken",
    "branch_mispredict",
    "extra_registers",
    "cache_accesses",
    "cache_misses",
)


@dataclass(frozen=True)
class FunctionCycles:
    """One function's share of a run: executed ``instructions`` by class, pipeline ``events``
    (see ``EVENTS``) and the resulting ``cycles``; ``excluded`` functions (accelerator emulators)
    are not host work."""

    name: str
    cycles: float
    classes: Mapping[str, int] = field(hash=False)
    events: Mapping[str, int] = field(hash=False)
    excluded: bool = False

    @property
    def instructions(self) -> int:
        """Executed instructions."""
        return sum(self.classes.values())


@dataclass(frozen=True)
class HostCycles:
    """The host cycles of one run on ``core``: ``total`` over the non-excluded functions, and
    every function's share (excluded ones included, marked)."""

    core: str
    clock_hz: float
    functions: tuple[FunctionCycles, ...]

    @property
    def host_functions(self) -> tuple[FunctionCycles, ...]:
        """The functions counted as host work."""
        return tuple(function for function in self.functions if not function.excluded)

    @property
    def total(self) -> float:
        """Host cycles of the run."""
        return sum(function.cycles for function in self.host_functions)

    @property
    def seconds(self) -> float:
        """Host time of the run at the core's clock."""
        return self.total / self.clock_hz

    @property
    def instructions(self) -> int:
        """Host instructions executed."""
        return sum(function.instructions for function in self.host_functions)

    @property
    def classes(self) -> dict[str, int]:
        """Host instructions by class."""
        total: Counter[str] = Counter()
        for function in self.host_functions:
            total.update(function.classes)
        return dict(total)

    def of(self, name: str) -> FunctionCycles:
        """The share of the function ``name`` (KeyError if it never ran)."""
        for function in self.functions:
            if function.name == name:
                return function
        raise KeyError(name)


def function_cycles(core: HostCore, classes: Mapping[str, int], events: Mapping[str, int]) -> float:
    """Cycles of a function's instruction mix and events on ``core``."""
    costs = core.costs
    branches = classes.get("branch", 0)
    undecided = branches - events["branch_taken"] - events["branch_not_taken"]
    cycles = sum(
        count * getattr(costs, kind) for kind, count in classes.items() if kind != "branch"
    )
    cycles += events["branch_taken"] * costs.branch_taken
    cycles += (events["branch_not_taken"] + undecided) * costs.branch_not_taken
    cycles += events["branch_mispredict"] * costs.branch_mispredict
    cycles += events["load_use"] * costs.load_use_stall
    cycles += events["load_subword_use"] * costs.load_subword_use_stall
    cycles += events["extra_registers"] * costs.transfer_per_register
    if core.data_cache is not None:
        cycles += events["cache_misses"] * core.data_cache.miss_penalty
    return float(cycles)


def tally(
    edges: Edges, profile: Callable[[int, int], BlockProfile]
) -> tuple[dict[int, Counter[str]], dict[int, Counter[str]]]:
    """Instruction classes and events per owner index, from the edges and the block profiles."""
    classes: dict[int, Counter[str]] = defaultdict(Counter)
    events: dict[int, Counter[str]] = defaultdict(Counter)
    directions: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
    ends = {
        int(address): profile(int(address), int(size))
        for address, size in zip(edges.address, edges.size, strict=True)
    }
    for previous, address, size, owner, count in zip(
        edges.previous, edges.address, edges.size, edges.owner, edges.count, strict=True
    ):
        block = profile(int(address), int(size))
        owner, count = int(owner), int(count)
        for kind, number in block.classes.items():
            classes[owner][kind] += number * count
        events[owner]["load_use"] += block.load_use * count
        events[owner]["load_subword_use"] += block.load_subword_use * count
        events[owner]["extra_registers"] += block.extra_registers * count
        before = ends.get(int(previous))
        if before is not None and before.conditional_end:
            taken = int(int(address) != before.fall_through)
            events[owner]["branch_taken" if taken else "branch_not_taken"] += count
            directions[(owner, before.address)][taken] += count
    for (owner, _), (not_taken, taken) in directions.items():
        events[owner]["branch_mispredict"] += min(taken, not_taken)
    return classes, events


def host_cycles(
    core: HostCore,
    edges: Edges,
    profile: Callable[[int, int], BlockProfile],
    owner_names: Sequence[str],
    cache_counts: tuple[np.ndarray, np.ndarray],
    excluded_prefixes: Sequence[str],
) -> HostCycles:
    """The cycles of a run: ``owner_names[i - 1]`` names owner index i (0: code run before any
    owner, named ``<entry>``); functions starting with an excluded prefix are marked excluded."""
    classes, events = tally(edges, profile)
    accesses, misses = cache_counts
    names = ("<entry>", *owner_names)
    functions = []
    for owner in sorted(set(classes) | set(events)):
        owner_events = {name: events[owner][name] for name in EVENTS}
        owner_events["cache_accesses"] = int(accesses[owner])
        owner_events["cache_misses"] = int(misses[owner])
        name = names[owner]
        functions.append(
            FunctionCycles(
                name=name,
                cycles=function_cycles(core, classes[owner], owner_events),
                classes=dict(classes[owner]),
                events=owner_events,
                excluded=name.startswith(tuple(excluded_prefixes)),
            )
        )
    return HostCycles(core=core.name, clock_hz=core.clock_hz, functions=tuple(functions))
