"""Built-in models, built in code: the four MLPerf Tiny networks as int8 QDQ ONNX, and a float CNN.

`build(name)` returns the `onnx.ModelProto` (deterministic: the same bytes every call);
`materialize(name)` writes `<name>.onnx` into a cache directory and returns its path.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import onnx

from nnmap import cache as nnmap_cache
from nnmap.errors import ModelFormatError
from nnmap.zoo import autoencoder, cnn_fp32, kws, resnet8, vww

__all__ = ["build", "cache_dir", "describe", "materialize", "names"]

_MODELS: dict[str, tuple[Callable[[], onnx.ModelProto], str]] = {
    "kws": (kws.build, kws.DESCRIPTION),
    "vww": (vww.build, vww.DESCRIPTION),
    "resnet8": (resnet8.build, resnet8.DESCRIPTION),
    "autoencoder": (autoencoder.build, autoencoder.DESCRIPTION),
    "cnn_fp32": (cnn_fp32.build, cnn_fp32.DESCRIPTION),
}


def names() -> list[str]:
    """Names of the built-in models."""
    return list(_MODELS)


def _entry(name: str) -> tuple[Callable[[], onnx.ModelProto], str]:
    if name not in _MODELS:
        raise ModelFormatError(f"unknown zoo model {name!r}: choose one of {', '.join(_MODELS)}")
    return _MODELS[name]


def build(name: str) -> onnx.ModelProto:
    """The ONNX model `name`, built in memory."""
    return _entry(name)[0]()


def describe(name: str) -> str:
    """One line describing model `name`."""
    return _entry(name)[1]


def cache_dir() -> Path:
    """`$XDG_CACHE_HOME/nnmap/zoo`, by default `~/.cache/nnmap/zoo`."""
    return nnmap_cache.cache_dir("zoo")


def materialize(name: str, directory: Path | None = None) -> Path:
    """Write `<name>.onnx` into `directory` (default `cache_dir()`) atomically; reuse if equal."""
    data = build(name).SerializeToString()
    directory = cache_dir() if directory is None else Path(directory)
    path = directory / f"{name}.onnx"
    if path.is_file() and path.read_bytes() == data:
        return path
    directory.mkdir(parents=True, exist_ok=True)
    nnmap_cache.write_atomically(path, data)
    return path
