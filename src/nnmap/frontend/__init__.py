"""Model import: .tflite and .onnx files (and zoo: names) to a Graph of integer layers."""

from nnmap.frontend.loader import load_model, resolve_model_path

__all__ = ["load_model", "resolve_model_path"]
