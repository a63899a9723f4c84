"""The embedding search: a CP-SAT model over which loop sits on which instruction axes.

Variables: for every loop of the layer, one boolean per option (a legal set of axes from
``rules.legal_axis_sets`` with a factor from ``rules.factor_candidates``, or outside the calls),
exactly one chosen. Constraints: on every axis the product of the factors placed there fits the
axis (an exact product constraint). The proxy objective is the logarithm of the number of calls
(fixed-point); the solver first finds its optimum, then enumerates every legal embedding within
``near`` times that many calls, twice: among the embeddings whose input tile the accelerator's
loads reach (the rules of ``layout``, as constraints) and among all. Those are ranked by their
cycles: calls times the instruction's cycles per call plus what the host must move for an
operand the loads cannot reach (``layout.layouts``), at ``host_cycles_per_element``. The legal
embeddings are counted exactly by dynamic programming over the same options (enumerating them
all would take seconds).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from nnmap.embedding.dataflow import EMBEDDED_LOOPS, InstructionDataflow, loop_extents
from nnmap.embedding.embedding import Embedding, Placement
from nnmap.embedding.layout import (
    NEEDS_ALL_CHANNELS,
    NOT_ON_REDUCTION,
    REDUCTION,
    ROWS,
    OperandLayout,
    layouts,
)
from nnmap.embedding.rules import factor_candidates, legal_axis_sets
from nnmap.ir.workload import Workload

LOG_SCALE = 1000  # fixed-point scale of the log-calls objective
SOLVER_WORKERS = 1  # one search thread: enumeration needs it, and the models are small


@dataclass(frozen=True)
class RankedEmbedding:
    embedding: Embedding
    layouts: tuple[OperandLayout, ...]
    cycles: float

    @property
    def moved(self) -> int:
        return sum(layout.moved for layout in self.layouts)


@dataclass(frozen=True)
class EmbeddingSearch:
    """The result: ranked near-best embeddings, how many legal ones exist, the solve time
    (``reason`` says why there are none)."""

    workload: str
    instruction: str
    ranked: tuple[RankedEmbedding, ...]
    legal: int
    solve_seconds: float
    reason: str | None = None

    @property
    def best(self) -> RankedEmbedding | None:
        return self.ranked[0] if self.ranked else None


@dataclass(frozen=True)
class _Option:
    loop: str
    placement: Placement | None  # None: the loop runs outside the calls


class _Model:
    """The CP-SAT model of one layer and one instruction."""

    def __init__(
        self, extents: dict[str, int], instruction: InstructionDataflow, reached: bool = False
    ) -> None:
        self.model = cp_model.CpModel()
        self.extents = extents
        self.instruction = instruction
        self.choices: list[tuple[_Option, cp_model.IntVar]] = []
        cost_terms = []
        for loop in (loop for loop in EMBEDDED_LOOPS if extents[loop] > 1):
            literals = []
            for option in self._options(loop):
                literal = self.model.new_bool_var(f"{loop}_{len(self.choices)}")
                self.choices.append((option, literal))
                literals.append(literal)
                factor = option.placement.factor if option.placement else 1
                calls = -(-extents[loop] // factor)
                cost_terms.append(round(LOG_SCALE * math.log(calls)) * literal)
            self.model.add_exactly_one(literals)
        self.log_calls = sum(cost_terms)
        self._fit_axes()
        if reached:
            self._reach_input()

    def _options(self, loop: str) -> list[_Option]:
        options = [_Option(loop, None)]
        for axes in legal_axis_sets(loop, self.instruction):
            capacity = min(self.instruction.axis(name).size for name in axes)
            for factor in factor_candidates(self.extents[loop], capacity)[1:]:
                options.append(_Option(loop, Placement(loop, axes, factor)))
        return options

    def _fit_axes(self) -> None:
        for axis in self.instruction.axes:
            per_loop: dict[str, list] = {}
            for option, literal in self.choices:
                if option.placement and axis.name in option.placement.axes:
                    per_loop.setdefault(option.loop, []).append(
                        (option.placement.factor - 1) * literal
                    )
            factors = []
            for loop, terms in per_loop.items():
                factor = self.model.new_int_var(1, axis.size, f"{loop}_on_{axis.name}")
                self.model.add(factor == 1 + sum(terms))
                factors.append(factor)
            if len(factors) > 1:
                usage = self.model.new_int_var(1, axis.size, f"usage_{axis.name}")
                self.model.add_multiplication_equality(usage, factors)

    def _on(self, operands: frozenset[str], loop: str | None = None) -> list[cp_model.IntVar]:
        """The literals placing ``loop`` (any loop) on the axis indexing exactly ``operands``."""
        names = {axis.name for axis in self.instruction.axes if axis.operands == operands}
        return [
            literal for option, literal in self.choices
            if option.placement and names & set(option.placement.axes)
            and loop in (None, option.loop)
        ]

    def _reach_input(self) -> None:
        """Only embeddings whose input tile the loads reach (the rules of ``layout``)."""
        for option, literal in self.choices:
            placement = option.placement
            if placement and placement.diagonal and all(
                "I" in self.instruction.axis(name).operands for name in placement.axes
            ):
                self.model.add(literal == 0)
        for loop in NOT_ON_REDUCTION:
            for literal in self._on(REDUCTION, loop):
                self.model.add(literal == 0)
        all_channels = [
            literal for option, literal in self.choices
            if option.loop == "C" and option.placement
            and option.placement.factor == self.extents["C"]
        ]
        for loop in NEEDS_ALL_CHANNELS:
            for literal in self._on(REDUCTION, loop):
                if self.extents["G"] > 1:
                    self.model.add(literal == 0)
                elif self.extents["C"] > 1:
                    self.model.add_bool_or(all_channels).only_enforce_if(literal)
        self.model.add(sum(self._on(ROWS)) <= 1)

    def embedding(self, value: Callable[[cp_model.IntVar], bool]) -> Embedding:
        chosen = [o.placement for o, lit in self.choices if o.placement and value(lit)]
        return Embedding(self.instruction, tuple(self.extents.items()), tuple(chosen))


    def count_legal(self) -> int:
        """How many legal embeddings there are: the option choices whose factors fit every axis
        (dynamic programming over the loops; the state, an array indexed by each axis's usage,
        holds how many choices so far reach it)."""
        axes = self.instruction.axes
        ways = np.zeros(tuple(axis.size + 1 for axis in axes), dtype=np.int64)
        ways[(1,) * len(axes)] = 1
        for loop in dict.fromkeys(option.loop for option, _ in self.choices):
            grown = np.zeros_like(ways)
            for option, _ in self.choices:
                if option.loop != loop:
                    continue
                placement = option.placement
                factors = [
                    placement.factor if placement and axis.name in placement.axes else 1
                    for axis in axes
                ]
                source = [
                    np.arange(1, axis.size // f + 1) for axis, f in zip(axes, factors, strict=True)
                ]
                target = [used * f for used, f in zip(source, factors, strict=True)]
                grown[np.ix_(*target)] += ways[np.ix_(*source)]
            ways = grown
        return int(ways.sum())


class _Collector(cp_model.CpSolverSolutionCallback):
    def __init__(self, model: _Model, limit: int) -> None:
        super().__init__()
        self.model, self.limit = model, limit
        self.found: list[Embedding] = []

    def on_solution_callback(self) -> None:
        self.found.append(self.model.embedding(self.boolean_value))
        if len(self.found) >= self.limit:
            self.stop_search()


def _solver(enumerate_all: bool) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = SOLVER_WORKERS
    solver.parameters.enumerate_all_solutions = enumerate_all
    return solver


def _enumerate(model: _Model, limit: int) -> list[Embedding]:
    collector = _Collector(model, limit)
    _solver(True).solve(model.model, collector)
    return collector.found


def _rank(embedding: Embedding, host_cycles_per_element: float) -> RankedEmbedding:
    needs = layouts(embedding)
    moved = sum(layout.moved for layout in needs)
    cycles = embedding.calls * embedding.instruction.cycles_per_call
    return RankedEmbedding(embedding, needs, cycles + moved * host_cycles_per_element)


def search_embeddings(
    workload: Workload,
    instruction: InstructionDataflow,
    *,
    host_cycles_per_element: float,
    near: float = 1.5,
    keep: int = 8,
    limit: int = 2000,
) -> EmbeddingSearch:
    """The best ``keep`` legal embeddings of ``workload`` into ``instruction`` (see the module);
    at most ``limit`` near-best ones are enumerated."""
    start = time.perf_counter()
    if not workload.has_weights:
        return EmbeddingSearch(workload.name, instruction.name, (), 0, 0.0,
                               f"{workload.kind} has no weights: not a product of two operands")
    extents = loop_extents(workload)
    found = [e for reached in (True, False) for e in _near_best(extents, instruction, reached,
                                                               near, limit)]
    ranked = sorted((_rank(e, host_cycles_per_element) for e in found), key=lambda r: r.cycles)
    return EmbeddingSearch(
        workload.name, instruction.name, tuple(ranked[:keep]),
        _Model(extents, instruction).count_legal(), time.perf_counter() - start,
    )


def _near_best(
    extents: dict[str, int], instruction: InstructionDataflow, reached: bool, near: float,
    limit: int,
) -> list[Embedding]:
    """The embeddings within ``near`` times the fewest calls (among those whose input the loads
    reach, when ``reached``)."""
    optimum = _Model(extents, instruction, reached)
    optimum.model.minimize(optimum.log_calls)
    solver = _solver(False)
    if solver.solve(optimum.model) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return []
    bound = round(solver.objective_value) + round(LOG_SCALE * math.log(near))
    near_best = _Model(extents, instruction, reached)
    near_best.model.add(near_best.log_calls <= bound)
    return _enumerate(near_best, limit)
