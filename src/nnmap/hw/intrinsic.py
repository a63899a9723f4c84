"""Accelerator instructions declared once: a Python function whose body is the meaning, and a
decorator that records the public C call it stands for (Exo-style). Each target with its own
instructions keeps one ``IntrinsicTable``; the numpy meanings check the C emulators, the C forms
are what generated code calls.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nnmap.hw.model import Instruction


@dataclass(frozen=True)
class Operand:
    """One argument of an instruction: its name and role (a DRAM address, a size, a config...)."""

    name: str
    role: str


@dataclass(frozen=True)
class Intrinsic:
    """One instruction: its public C name, operands in C order, the unit running it, its meaning."""

    name: str
    c_name: str
    operands: tuple[Operand, ...]
    unit: str
    meaning: Callable[..., None]
    doc: str
    # Roles whose one Python operand stands for several C arguments (e.g. a micro-op kernel).
    expanded_roles: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def c_parameters(self) -> tuple[str, ...]:
        groups = [self.expanded_roles.get(op.role, (op.name,)) for op in self.operands]
        return tuple(name for group in groups for name in group)

    def c_call(self, *args: str) -> str:
        parameters = self.c_parameters()
        if len(args) != len(parameters):
            raise ValueError(f"{self.c_name} takes {len(parameters)} arguments")
        return f"{self.c_name}({', '.join(args)})"

    def instruction(self) -> Instruction:
        return Instruction(self.name, self.c_name, self.doc)


class IntrinsicTable:
    """The instructions of one accelerator, filled by the ``define`` decorator at import time."""

    def __init__(
        self,
        units: tuple[str, ...],
        roles: tuple[str, ...],
        expanded_roles: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.units = units
        self.roles = roles
        self.expanded_roles = expanded_roles or {}
        self.entries: dict[str, Intrinsic] = {}

    def define(
        self, c_name: str, unit: str, **operand_roles: str
    ) -> Callable[[Callable[..., None]], Any]:
        """Register ``fn(state, *operands)`` as the meaning of ``c_name``.

        ``operand_roles`` maps a role to the space-separated names of the operands having it.
        """
        roles = {name: role for role, names in operand_roles.items() for name in names.split()}

        def register(fn: Callable[..., None]) -> Callable[..., None]:
            names = tuple(inspect.signature(fn).parameters)[1:]
            valid = set(names) == set(roles) and set(operand_roles) <= set(self.roles)
            if not valid or unit not in self.units:
                raise ValueError(
                    f"intrinsic {fn.__name__}: every operand needs one role of {self.roles} "
                    f"and the unit one of {self.units}"
                )
            doc = (fn.__doc__ or "").strip().splitlines()[0]
            operands = tuple(Operand(name, roles[name]) for name in names)
            self.entries[fn.__name__] = Intrinsic(
                fn.__name__, c_name, operands, unit, fn, doc, self.expanded_roles
            )
            return fn

        return register

    def instructions(self) -> tuple[Instruction, ...]:
        """The table as ``Instruction`` values, for a target's ``instructions``."""
        return tuple(entry.instruction() for entry in self.entries.values())
