"""The public pipeline: ``plan`` (every decision, as a value) and ``compile`` (a Plan emitted as
standalone C, built once). The targets, the mapper and the code generator behind them are
imported when first called, so importing nnmap (``nnmap inspect``) stays light."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from nnmap.frontend import load_model
from nnmap.ir import Graph

if TYPE_CHECKING:  # code generation loads TVM: imported when something is compiled
    from nnmap.codegen.artifact import Artifact
    from nnmap.hw import Target
    from nnmap.mapping.graph import LayerMapping
    from nnmap.plan.plan import Plan


def plan(
    model: Graph | str | Path,
    target: str | Path | Target = "host",
    numerics: str = "exact",
    layer_mappings: Sequence[LayerMapping] | None = None,
    place: str | None = None,
) -> Plan:
    """The Plan of ``model`` (a Graph, a file or ``zoo:NAME``) on ``target`` (a Target, or a
    spec such as ``NAME:key=value,...`` or a target file)."""
    from nnmap.plan.plan import make_plan
    from nnmap.targets import resolve_target

    graph = model if isinstance(model, Graph) else load_model(model)
    return make_plan(graph, resolve_target(target), numerics, layer_mappings, place=place)


def compile(
    model: Graph | str | Path | Plan,
    target: str | Path | Target = "host",
    out_dir: str | Path = "nnmap_out",
    progress: Callable[[int, int, str], None] | None = None,
    layer_mappings: Sequence[LayerMapping] | None = None,
    numerics: str = "exact",
    place: str | None = None,
) -> Artifact:
    """Compile ``model`` for ``target`` into ``out_dir``: network.h/.c, one kernel per layer,
    weights.c, a Makefile and report.json, built once with gcc to check it and size it.

    ``model`` may be a Plan already made (then ``target``, ``layer_mappings`` and ``numerics``
    are the Plan's). ``progress(index, count, layer_name)`` is called before each layer is
    generated. ``layer_mappings`` replaces the mapper's choices (a baseline's, for comparison).
    ``numerics``: "exact" (default) is bit-exact with TFLite Micro; "hardware" lets the
    accelerator rescale its results its own way, which may deviate from TFLite Micro.
    ``place`` names a module that takes every layer it can lower, whatever the cost.
    """
    from nnmap.codegen.generate import generate
    from nnmap.plan.plan import Plan

    chosen = (
        model if isinstance(model, Plan)
        else plan(model, target, numerics, layer_mappings, place)
    )
    return generate(chosen, Path(out_dir), progress)
