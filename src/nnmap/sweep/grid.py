"""The design points of a sweep: ``--grid dim=8,16,32 --grid scratchpad_kib=64,256`` crossed into
target spec strings such as ``NAME:key=value,key=value``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product

from nnmap.errors import NnmapError


class SweepError(NnmapError):
    """A sweep request is malformed (a grid axis, the output file or the scheduler)."""


@dataclass(frozen=True)
class GridAxis:
    """One swept parameter of the target and the values it takes."""

    name: str
    values: tuple[str, ...]


def parse_axis(text: str) -> GridAxis:
    """``name=v1,v2,...`` -> GridAxis; a malformed axis raises SweepError naming it."""
    name, equals, values_text = text.partition("=")
    values = tuple(value.strip() for value in values_text.split(","))
    if not equals or not name.strip() or not all(values):
        raise SweepError(
            f"--grid {text!r}: write NAME=V1,V2,... (e.g. --grid dim=8,16,32)"
        )
    if len(set(values)) != len(values):
        raise SweepError(f"--grid {text!r}: a value is listed twice")
    return GridAxis(name.strip(), values)


def expand_grid(target: str, axes: Sequence[str]) -> list[str]:
    """Every target spec of the grid, first axis varying slowest; no axes: just ``target``."""
    parsed = [parse_axis(text) for text in axes]
    names = [axis.name for axis in parsed]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise SweepError(f"--grid {repeated[0]} is given twice: list all its values in one --grid")
    if ":" in target and parsed:
        raise SweepError(
            f"--target {target!r}: give the plain target name when sweeping with --grid"
        )
    if not parsed:
        return [target]
    specs = []
    for values in product(*(axis.values for axis in parsed)):
        fields = ",".join(f"{name}={value}" for name, value in zip(names, values, strict=True))
        specs.append(f"{target}:{fields}")
    return specs
