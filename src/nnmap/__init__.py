"""nnmap: compile quantized neural networks to standalone C for heterogeneous edge SoCs.

Importing nnmap does not load TVM: code generation imports it when something is compiled, which
importing a model, planning it or ``nnmap inspect`` never needs."""

from nnmap.compiler import compile, plan
from nnmap.errors import NnmapError
from nnmap.frontend import load_model
from nnmap.ir import Graph

__all__ = ["Graph", "NnmapError", "compile", "load_model", "plan"]
