"""The registry of built-in targets: one line per target generator.

``resolve_target(spec)`` turns a spec (``gemmini``, ``gemmini:dim=8,scratchpad_kib=64``,
``vta:log_block=5``, ``path/to/my_soc.py``) into a Target value; see ``nnmap.targets.spec``.
"""

from __future__ import annotations

from pathlib import Path

from nnmap.hw import Target
from nnmap.targets import host, spec
from nnmap.targets.diana.target import diana_target
from nnmap.targets.gap9.target import gap9_target
from nnmap.targets.gemmini.target import gemmini_target
from nnmap.targets.vta.target import vta_target

GENERATORS: dict[str, spec.Generator] = {
    "host": lambda: host.HOST,
    "gemmini": gemmini_target,
    "vta": vta_target,
    "diana": diana_target,
    "gap9": gap9_target,
}


def names() -> list[str]:
    """Names of the built-in targets."""
    return list(GENERATORS)


def resolve_target(target: str | Path | Target) -> Target:
    """The Target a spec names: a built-in generator with its parameters, or a user's file."""
    return spec.resolve(target, GENERATORS)


def get_target(name: str) -> Target:
    """The built-in target ``name`` in its default configuration (or any spec)."""
    return resolve_target(name)


__all__ = ["GENERATORS", "get_target", "names", "resolve_target"]
