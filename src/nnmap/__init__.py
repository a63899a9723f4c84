"""nnmap: compile quantized neural networks to standalone C for heterogeneous edge SoCs."""

from nnmap.compiler import compile, plan
from nnmap.errors import NnmapError
from nnmap.frontend import load_model
from nnmap.ir import Graph

__all__ = ["Graph", "NnmapError", "compile", "load_model", "plan"]
