"""Numpy execution of a Graph with TFLite's integer semantics: the definition of the numerics."""

from nnmap.reference.run import run, run_batch, run_layer

__all__ = ["run", "run_batch", "run_layer"]
