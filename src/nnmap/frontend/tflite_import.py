"""``.tflite`` -> Graph, read straight from the flatbuffer (no TVM, no float round trip).

Every operator becomes integer layers with TFLite Micro's own quantization parameters:
per-tensor or per-axis scales as stored, multipliers computed as its Prepare functions do.
"""

from __future__ import annotations

import logging
from pathlib import Path

from nnmap.errors import NnmapError, UnsupportedOperatorError
from nnmap.frontend.tflite_context import TfliteImport
from nnmap.frontend.tflite_ops import ARITHMETIC_CONVERTERS
from nnmap.frontend.tflite_reader import TfliteModel, read_tflite
from nnmap.frontend.tflite_tensor_ops import TENSOR_CONVERTERS
from nnmap.ir import Graph

log = logging.getLogger(__name__)

CONVERTERS = {**ARITHMETIC_CONVERTERS, **TENSOR_CONVERTERS}


def supported_operators() -> list[str]:
    return sorted(CONVERTERS)


def check_operators(model: TfliteModel) -> None:
    """A one-line error naming the first operator nnmap has no converter for."""
    for op in model.operators:
        if op.name not in CONVERTERS:
            output = model.tensors[op.outputs[0]].name if op.outputs else "?"
            raise UnsupportedOperatorError(
                f"{model.path}: operator {op.name} (operator {op.index}, output tensor "
                f"{output}) is not supported by nnmap; supported TFLite operators: "
                f"{', '.join(supported_operators())}"
            )


def import_tflite(path: Path) -> Graph:
    model = read_tflite(path)
    check_operators(model)
    context = TfliteImport(model)
    for op in model.operators:
        try:
            CONVERTERS[op.name](context, op)
        except NnmapError:
            raise
        except Exception as error:  # a malformed operator (missing inputs, corrupt options)
            raise UnsupportedOperatorError(
                f"{context.where(op)}: cannot convert this operator "
                f"({type(error).__name__}: {error})"
            ) from None
    log.debug("imported %s: %d operators", path, len(model.operators))
    return context.graph(path.stem)
