"""``nnmap.compile``: a model (Graph, file or ``zoo:NAME``) to a built artifact of standalone C."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from nnmap.codegen.artifact import Artifact
from nnmap.codegen.generate import Progress, check_numerics, generate
from nnmap.errors import TargetError
from nnmap.frontend import load_model
from nnmap.ir import Graph
from nnmap.mapping.graph import LayerMapping
from nnmap.targets import get_target

TARGETS = ("host", "gemmini", "vta")


def compile(
    model: Graph | str | Path,
    target: str = "host",
    out_dir: str | Path = "nnmap_out",
    progress: Progress | None = None,
    layer_mappings: Sequence[LayerMapping] | None = None,
    numerics: str = "exact",
) -> Artifact:
    """Compile ``model`` for ``target`` into ``out_dir``: network.h/.c, one kernel per layer,
    weights.c, a Makefile and report.json, built once with gcc to check it and size it.

    ``progress(index, count, layer_name)`` is called before each layer is generated. For
    ``gemmini``, dense convolutions and fully connected layers the mapper places on Gemmini are
    emitted as gemmini.h calls and the artifact ships nnmap's emulator of them.
    ``layer_mappings`` replaces the mapper's choices (a baseline's mappings, for comparison).
    ``numerics``: "exact" (default) is bit-exact with TFLite Micro; "hardware" lets the
    accelerator rescale its results its own way (Gemmini: one float scale per mvout), which may
    deviate from TFLite Micro.
    """
    check_numerics(numerics)
    if target not in TARGETS:
        raise TargetError(f"target {target!r}: the C code generator supports {', '.join(TARGETS)}")
    graph = model if isinstance(model, Graph) else load_model(model)
    accelerated = None if target == "host" else get_target(target)
    return generate(
        graph,
        Path(out_dir),
        progress,
        target=accelerated,
        layer_mappings=layer_mappings,
        numerics=numerics,
    )
