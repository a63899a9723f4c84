"""nnmap: compile quantized neural networks to standalone C for heterogeneous edge SoCs.

Importing nnmap does not load TVM, nor the targets and the mapper: ``compile`` and ``plan``
import them when called, which importing a model or ``nnmap inspect`` never needs."""

import nnmap.plan  # noqa: F401  (the plan stage's package, bound before the plan function)
from nnmap.compiler import compile, plan
from nnmap.errors import NnmapError
from nnmap.frontend import load_model
from nnmap.ir import Graph

__all__ = ["Graph", "NnmapError", "compile", "load_model", "plan"]
