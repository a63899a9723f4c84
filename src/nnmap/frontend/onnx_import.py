"""``.onnx`` -> Graph through TVM's Relax ONNX frontend (int8 QDQ or fp32 models)."""

from __future__ import annotations

from pathlib import Path

from nnmap.errors import ModelFormatError, UnsupportedOperatorError
from nnmap.frontend.lower import lower_function
from nnmap.ir import Graph


def _read(path: Path) -> object:
    import onnx

    try:
        model = onnx.load_model_from_string(path.read_bytes())
        onnx.checker.check_model(model)
    except Exception as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelFormatError(f"{path}: not a valid ONNX model ({message[:160]})") from None
    if len(model.graph.node) == 0:
        raise ModelFormatError(f"{path}: the ONNX graph has no nodes (truncated or empty file?)")
    return model


def import_onnx(path: Path) -> Graph:
    from tvm.relax.frontend.onnx import from_onnx

    model = _read(path)
    try:
        module = from_onnx(model, keep_params_in_input=False)
    except Exception as error:
        text = str(error).strip()
        last = text.splitlines()[-1] if text else type(error).__name__
        raise UnsupportedOperatorError(f"{path}: TVM's ONNX importer failed: {last}") from None
    return lower_function(module["main"], path.stem, str(path), "NCHW")
