"""The candidate space of the search: spatial unrollings, tile sizes, loop orders, buffering.

The exhaustive tests enumerate the same space, so the search's optimum is checked against it.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import chain, combinations, permutations, product

from nnmap.hw import ExecModule
from nnmap.ir.workload import LOOPS
from nnmap.mapping.problem import Problem

DIVISORS = 6  # how many of the largest divisors of a loop are tried as tiles
SPLITS = 8  # near-even splits into 1..SPLITS tiles are tried
Spatial = tuple[tuple[str, str, int], ...]
Signature = tuple[tuple[bool, frozenset[int]], ...]


def spatial_options(problem: Problem) -> list[Spatial]:
    """Every assignment of a loop to each array axis, factors clipped to what the loop needs."""
    axes = problem.module.array.axes
    seen: set[tuple[int, ...]] = set()
    options = []
    for loops in product(*(axis.loops for axis in axes)):
        used = dict.fromkeys(LOOPS, 1)
        spatial = []
        for axis, loop in zip(axes, loops, strict=True):
            size = problem.sizes[LOOPS.index(loop)]
            factor = max(1, min(axis.size, -(-size // used[loop])))
            used[loop] *= factor
            spatial.append((axis.name, loop, factor))
        key = tuple(used[loop] for loop in LOOPS)
        if key not in seen:
            seen.add(key)
            options.append(tuple(spatial))
    return options


@lru_cache(maxsize=4096)
def tile_candidates(size: int, lanes: int) -> tuple[int, ...]:
    """Tile sizes tried for a loop of ``size`` unrolled ``lanes`` wide, ascending.

    The largest divisors, multiples of the unrolling by powers of two, the near-even splits
    ceil(size/k) and those splits rounded up to the unrolling; edge tiles are allowed.
    """
    values = {1, size}
    values.update(sorted(d for d in range(1, size + 1) if size % d == 0)[-DIVISORS:])
    multiple = lanes
    while multiple < size:
        values.add(multiple)
        multiple *= 2
    for parts in range(1, SPLITS + 1):
        even = -(-size // parts)
        values.add(even)
        values.add(min(size, -(-even // lanes) * lanes))
    return tuple(sorted(values))


@lru_cache(maxsize=4096)
def representative_orders(
    active: tuple[int, ...], relevant: tuple[tuple[int, ...], ...]
) -> tuple[tuple[str, ...], ...]:
    """One loop order (outermost first) per distinct reuse signature of the ``active`` loops.

    Only loops that step more than once matter; for each operand what counts is whether any of its
    relevant loops is among them and which irrelevant loops sit outside its innermost relevant
    one. Orders with the same signature cost the same, so one of each is enough.
    """
    idle = tuple(d for d in range(len(LOOPS)) if d not in active)
    found: dict[Signature, tuple[str, ...]] = {}
    for order in permutations(active):
        signature = order_signature(order, relevant)
        if signature not in found:
            found[signature] = tuple(LOOPS[d] for d in idle + order)
    return tuple(found.values())


def order_signature(order: tuple[int, ...], relevant: tuple[tuple[int, ...], ...]) -> Signature:
    signature = []
    for dims in relevant:
        last = max((i for i, d in enumerate(order) if d in dims), default=-1)
        outside = frozenset(d for d in order[: max(last, 0)] if d not in dims)
        signature.append((last >= 0, outside))
    return tuple(signature)


def buffering_options(
    module: ExecModule, level: int, operands: tuple[str, ...]
) -> list[frozenset[str]]:
    """Subsets of the operands that may be double-buffered at ``level``."""
    allowed = [op for op in operands if module.memory_for(level, op).double_buffer]
    subsets = chain.from_iterable(combinations(allowed, n) for n in range(len(allowed) + 1))
    return [frozenset(subset) for subset in subsets]
