"""``.tflite`` -> Graph through TVM's Relax TFLite frontend and the integer pattern rewrites."""

from __future__ import annotations

import logging
from pathlib import Path

from nnmap.errors import ModelFormatError, QuantizationError, UnsupportedOperatorError
from nnmap.frontend.lower import lower_function
from nnmap.ir import Graph

log = logging.getLogger(__name__)


def _parse(path: Path, data: bytes) -> object:
    import tflite

    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelFormatError(
            f"{path}: not a TFLite flatbuffer (missing the TFL3 identifier); "
            "is the file truncated or of another format?"
        )
    try:
        model = tflite.Model.GetRootAsModel(data, 0)
        model.Subgraphs(0).OperatorsLength()
    except Exception as error:
        raise ModelFormatError(f"{path}: truncated or corrupt TFLite file ({error})") from None
    return model


def _check_int8(path: Path, model: object) -> None:
    import tflite

    subgraph = model.Subgraphs(0)  # type: ignore[attr-defined]
    for index in list(subgraph.InputsAsNumpy()) + list(subgraph.OutputsAsNumpy()):
        tensor = subgraph.Tensors(int(index))
        if tensor.Type() != tflite.TensorType.INT8:
            raise QuantizationError(
                f"{path}: tensor {tensor.Name().decode()} is not int8; nnmap needs a fully "
                "int8-quantized TFLite model (convert with full-integer quantization)"
            )


def import_tflite(path: Path) -> Graph:
    from tvm.relax.frontend.tflite import from_tflite

    data = path.read_bytes()
    model = _parse(path, data)
    _check_int8(path, model)
    try:
        module = from_tflite(model)
    except Exception as error:  # the frontend raises OpNotImplemented and friends
        first_line = (
            str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
        )
        raise UnsupportedOperatorError(
            f"{path}: TVM's TFLite importer failed: {first_line}"
        ) from None
    log.debug("imported %s through Relax", path)
    return lower_function(module["main"], path.stem, str(path), "NHWC")
