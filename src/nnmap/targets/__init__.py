"""Built-in targets, one file each, and the registry that finds them by name."""

from __future__ import annotations

from nnmap.errors import TargetError
from nnmap.hw import Target
from nnmap.targets import diana, gap9, gemmini, host, vta

_TARGETS: dict[str, Target] = {
    target.name: target
    for target in (host.HOST, gemmini.TARGET, vta.TARGET, diana.TARGET, gap9.TARGET)
}


def names() -> list[str]:
    """Names of the built-in targets."""
    return list(_TARGETS)


def get_target(name: str) -> Target:
    """The built-in target called ``name``; an unknown name lists the known ones."""
    try:
        return _TARGETS[name]
    except KeyError:
        raise TargetError(f"unknown target {name!r}; known targets: {', '.join(names())}") from None


__all__ = ["get_target", "names"]
