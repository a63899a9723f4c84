"""Target specs: ``NAME``, ``NAME:key=value,...`` or a path to a user's target file -> Target.

A built-in target is a generator (a function whose keyword parameters are the hardware's
configuration, each with its default); a spec names one and overrides some of its parameters.
A target file is a Python file that defines ``TARGET`` (a Target value) or ``target()`` (a
function returning one). Every mistake is a TargetError naming the key, value or file.
"""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from nnmap.errors import TargetError
from nnmap.hw import Target

Generator = Callable[..., Target]


def _value(generator: str, key: str, text: str, default: object) -> int | float:
    kind = float if isinstance(default, float) else int
    try:
        return kind(text)
    except ValueError:
        wanted = "a number" if kind is float else "a whole number"
        raise TargetError(f"target {generator}: {key}={text!r} is not {wanted}") from None


def parse_parameters(generator: str, text: str, function: Generator) -> dict[str, int | float]:
    """``key=value,...`` -> keyword arguments of ``function``; unknown keys are named."""
    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(function).parameters.items()
    }
    values: dict[str, int | float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, equals, raw = item.partition("=")
        key = key.strip()
        if not equals or not key:
            raise TargetError(f"target {generator}: {item!r} is not key=value")
        if key not in defaults:
            known = ", ".join(defaults) or "none"
            raise TargetError(f"target {generator}: unknown key {key!r} (known: {known})")
        values[key] = _value(generator, key, raw.strip(), defaults[key])
    return values


def canonical_name(generator: str, values: Mapping[str, int | float]) -> str:
    """The spec that rebuilds a configuration: the generator's name and its parameters."""
    if not values:
        return generator
    return f"{generator}:" + ",".join(f"{key}={value}" for key, value in values.items())


def load_target_file(path: Path) -> Target:
    """The Target defined by a user's Python file (``TARGET`` or ``target()``)."""
    if not path.is_file():
        raise TargetError(f"{path}: no such target file")
    spec = importlib.util.spec_from_file_location(f"nnmap_user_target_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise TargetError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except TargetError as error:
        raise TargetError(f"{path}: {error}") from None
    except Exception as error:
        raise TargetError(f"{path}: failed to load: {type(error).__name__}: {error}") from None
    found = getattr(module, "TARGET", None)
    if found is None and callable(getattr(module, "target", None)):
        found = module.target()
    if not isinstance(found, Target):
        raise TargetError(f"{path}: define TARGET (a nnmap.hw.Target) or target() returning one")
    return found


def resolve(spec: str | Path | Target, generators: Mapping[str, Generator]) -> Target:
    """The Target a spec names (a Target is returned as it is)."""
    if isinstance(spec, Target):
        return spec
    text = str(spec)
    if text.endswith(".py") or "/" in text:
        return load_target_file(Path(text))
    name, _, parameters = text.partition(":")
    if name not in generators:
        known = ", ".join(generators)
        raise TargetError(f"unknown target {name!r}; known targets: {known} (or a .py file)")
    values = parse_parameters(name, parameters, generators[name])
    target = generators[name](**values)
    return replace(target, name=canonical_name(name, values))
