"""How far an artifact's outputs are from a reference: for ``numerics="hardware"`` runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Deviation:
    """Over all outputs of N samples: the largest |difference| (LSBs of integer outputs, the
    value itself of float outputs), the share of values that differ, and the share of samples
    whose first output has the same arg-max (top-1 class)."""

    max_abs: int | float
    share_differing: float
    top1_agreement: float

    @staticmethod
    def between(expected: Sequence[np.ndarray], actual: Sequence[np.ndarray]) -> Deviation:
        deltas = [
            np.abs(e.astype(np.float64) - a.astype(np.float64)) if e.dtype.kind == "f"
            else np.abs(e.astype(np.int64) - a.astype(np.int64))
            for e, a in zip(expected, actual, strict=True)
        ]
        count = sum(d.size for d in deltas)
        differing = sum(int((d > 0).sum()) for d in deltas)
        samples = len(expected[0])
        wanted = expected[0].reshape(samples, -1).argmax(axis=1)
        got = actual[0].reshape(samples, -1).argmax(axis=1)
        return Deviation(
            max(d.max(initial=0).item() for d in deltas),
            differing / count if count else 0.0,
            float((wanted == got).mean()) if samples else 1.0,
        )
