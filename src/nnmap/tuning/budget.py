"""How much a tuning run may measure."""

from __future__ import annotations

from dataclasses import dataclass

from nnmap.errors import NnmapError


class TuningBudgetError(NnmapError):
    """A tuning budget that is not positive."""


@dataclass(frozen=True)
class Budget:
    """Candidates per workload (``trials``) and/or wall seconds for the whole run."""

    trials: int | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.trials is not None and self.trials < 1:
            raise TuningBudgetError(f"--trials {self.trials}: give at least 1 trial")
        if self.seconds is not None and self.seconds <= 0:
            raise TuningBudgetError(f"--minutes {self.seconds / 60:g}: give a positive budget")
