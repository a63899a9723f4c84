"""nnmap: compile quantized neural networks to standalone C for heterogeneous edge SoCs."""

from __future__ import annotations

from typing import Any

from nnmap.errors import NnmapError
from nnmap.frontend import load_model
from nnmap.ir import Graph

__all__ = ["Graph", "NnmapError", "compile", "load_model"]


def __getattr__(name: str) -> Any:
    """``nnmap.compile`` is imported on first use: it loads TVM, which importing a model or
    ``nnmap inspect`` never needs."""
    if name == "compile":
        from nnmap.compiler import compile

        return compile
    raise AttributeError(f"module 'nnmap' has no attribute {name!r}")
