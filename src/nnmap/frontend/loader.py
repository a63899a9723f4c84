"""``load_model``: pick the importer by extension, turn every failure into a one-line error."""

from __future__ import annotations

import logging
from pathlib import Path

from nnmap.errors import ModelFormatError, NnmapError
from nnmap.ir import Graph

log = logging.getLogger(__name__)

ZOO_PREFIX = "zoo:"


def resolve_model_path(spec: str | Path) -> Path:
    """A model path, or ``zoo:NAME`` materialised as an ONNX file in the user's cache."""
    text = str(spec)
    if text.startswith(ZOO_PREFIX):
        from nnmap import zoo

        return zoo.materialize(text[len(ZOO_PREFIX) :])
    path = Path(text)
    if not path.is_file():
        raise ModelFormatError(
            f"{path}: no such model file (give a .tflite/.onnx path or zoo:NAME)"
        )
    return path


def load_model(spec: str | Path) -> Graph:
    """Import a model file (``.tflite`` int8, ``.onnx`` QDQ int8 or fp32) or a ``zoo:`` name;
    every error names the file."""
    path = resolve_model_path(spec)
    try:
        return _import(path)
    except NnmapError as error:
        if str(path) in str(error):
            raise
        raise type(error)(f"{path}: {error}") from None


def _import(path: Path) -> Graph:
    suffix = path.suffix.lower()
    if suffix == ".tflite":
        from nnmap.frontend.tflite_import import import_tflite

        return import_tflite(path)
    if suffix == ".onnx":
        from nnmap.frontend.onnx_import import import_onnx

        return import_onnx(path)
    raise ModelFormatError(
        f"{path}: unknown model extension {suffix!r} (expected .tflite or .onnx)"
    )
