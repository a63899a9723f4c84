"""``generate(graph, out_dir) -> Artifact``: write the C of an int8 graph, build it, then publish.

Everything is written into a temporary sibling directory and built there; only a successful build
is renamed to ``out_dir``, so a failure never leaves a half-written artifact behind.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from nnmap.codegen import driver
from nnmap.codegen.accelerators import ACCELERATORS, accelerator_code
from nnmap.codegen.artifact import BUILD_DIR, REPORT, Artifact
from nnmap.codegen.build import build_id, code_bytes, compile_objects, link_shared
from nnmap.codegen.layers import LayerCode, layer_code
from nnmap.codegen.placement import HOST, layer_entry, summarize
from nnmap.errors import MappingError, NnmapError, QuantizationError
from nnmap.hw import Target
from nnmap.ir import Graph, Layer
from nnmap.mapping.graph import LayerMapping, map_graph
from nnmap.plan.memory import MemoryPlan, plan_memory

log = logging.getLogger(__name__)

MAX_ARENA_BYTES = 256 * 1024 * 1024
SOFTMAX_SOURCE = "nnmap_softmax.c"
RUNTIME_HOST = Path(__file__).resolve().parent.parent / "runtime" / "host"
NUMERICS = ("exact", "hardware")
Progress = Callable[[int, int, str], None]


def check_int8(graph: Graph) -> None:
    """The host C flow is int8 only: float tensors get a QuantizationError naming the first one."""
    for name, tensor in graph.tensors.items():
        if tensor.dtype != "int8":
            raise QuantizationError(
                f"tensor {name} of {graph.name} is {tensor.dtype}: the host C target compiles "
                "int8 models only (quantize the model to int8 first)"
            )


def check_numerics(numerics: str) -> None:
    if numerics not in NUMERICS:
        raise NnmapError(
            f"numerics {numerics!r}: choose one of {', '.join(NUMERICS)} (exact: bit-exact with "
            "TFLite Micro; hardware: the accelerator's own rescaling)"
        )


def _layer_code(layer: Layer, graph: Graph, index: int,
                mappings: dict[str, LayerMapping], numerics: str) -> LayerCode | None:
    accelerated = accelerator_code(layer, graph, index, mappings.get(layer.name), numerics)
    return accelerated if accelerated is not None else layer_code(layer, graph, index)


def layer_codes(graph: Graph, progress: Progress | None = None,
                mappings: dict[str, LayerMapping] | None = None,
                numerics: str = "exact") -> list[LayerCode]:
    """The C of every layer; layers ``mappings`` places on an accelerator run there."""
    codes = []
    for index, layer in enumerate(graph.layers):
        if progress is not None:
            progress(index, len(graph.layers), layer.name)
        code = _layer_code(layer, graph, index, mappings or {}, numerics)
        if code is not None:
            codes.append(code)
    return codes


def _check_arena(graph: Graph, plan: MemoryPlan, limit: int) -> None:
    if plan.arena_bytes <= limit:
        return
    largest = max(graph.tensors.values(), key=lambda t: t.nbytes)
    raise MappingError(
        f"{graph.name}: the activation arena needs {plan.arena_bytes} bytes, over "
        f"the host limit of {limit} (largest tensor {largest.name}, "
        f"{largest.nbytes} bytes)"
    )


def source_files(
    graph: Graph, plan: MemoryPlan, codes: Sequence[LayerCode]
) -> tuple[dict[str, str], int]:
    """File name -> text of every source of the artifact, and the weight bytes."""
    weights_h, weights_c, weight_bytes = driver.weights_sources(codes)
    files = {
        "network.h": driver.network_header(graph, plan, weight_bytes),
        "network.c": driver.network_source(graph, plan, codes),
        "nnmap_kernels.h": driver.kernels_header(codes),
        "weights.h": weights_h,
        "weights.c": weights_c,
        "Makefile": driver.MAKEFILE,
    }
    for code in codes:
        if code.file_name is not None and code.definition is not None:
            files[code.file_name] = code.definition
    if any(code.definition is None for code in codes):
        files[SOFTMAX_SOURCE] = (RUNTIME_HOST / SOFTMAX_SOURCE).read_text()
    for module in sorted({code.module for code in codes} & ACCELERATORS.keys()):
        files.update(ACCELERATORS[module].runtime_files())
    return files, weight_bytes


def _tensor_entries(graph: Graph, names: Sequence[str]) -> list[dict[str, Any]]:
    return [
        {
            "name": n,
            "shape": list(graph.tensor(n).shape),
            "scale": graph.tensor(n).scale,
            "zero_point": graph.tensor(n).zero_point,
        }
        for n in names
    ]


def report(
    graph: Graph, plan: MemoryPlan, codes: Sequence[LayerCode], sizes: dict[str, int],
    target: Target | None = None, mappings: dict[str, LayerMapping] | None = None,
    numerics: str = "exact",
) -> dict[str, Any]:
    """report.json: sizes, tensors, and per layer its module, why, cycles and memory placement."""
    by_name = {code.layer.name: code for code in codes}
    layers = []
    for index, layer in enumerate(graph.layers):
        placement = plan.placement(layer.output)
        code = by_name.get(layer.name)
        mapped = (mappings or {}).get(layer.name)
        module = code.module if code else HOST
        layers.append(
            {
                "index": index,
                "name": layer.name,
                "kind": layer.kind,
                "macs": graph.macs(layer),
                **layer_entry(layer, graph, module, mapped, target, numerics),
                "kernel": code.symbol if code else None,
                "file": code.file_name if code else None,
                "output": {
                    "tensor": layer.output,
                    "region": placement.region,
                    "index": placement.index,
                    "offset": placement.offset,
                    "bytes": graph.tensor(layer.output).nbytes,
                },
                "scratch_offset": plan.scratch_offsets.get(layer.name),
            }
        )
    return summarize({
        "model": graph.name,
        "target": target.name if target else HOST,
        "numerics": numerics,
        "clock_hz": target.clock_hz if target else None,
        **sizes,
        "inputs": _tensor_entries(graph, graph.inputs),
        "outputs": _tensor_entries(graph, graph.outputs),
        "macs": sum(entry["macs"] for entry in layers),
        "layers": layers,
    })


def _publish(staging: Path, out_dir: Path) -> None:
    if out_dir.exists() and not (out_dir / REPORT).exists() and any(out_dir.iterdir()):
        raise NnmapError(f"{out_dir} exists and is not an nnmap artifact: choose another -o")
    retired = None
    if out_dir.exists():
        retired = out_dir.with_name(f".{out_dir.name}.old-{time.time_ns()}")
        out_dir.rename(retired)
    staging.rename(out_dir)
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)


def generate(
    graph: Graph,
    out_dir: Path,
    progress: Progress | None = None,
    max_arena_bytes: int = MAX_ARENA_BYTES,
    target: Target | None = None,
    layer_mappings: Sequence[LayerMapping] | None = None,
    numerics: str = "exact",
) -> Artifact:
    """Generate, build and publish the artifact of ``graph`` at ``out_dir``.

    With a ``target`` that has accelerators, each compute layer goes where the mapper puts it
    (``nnmap.mapping.graph.map_graph``, or ``layer_mappings`` when given, e.g. a baseline's)
    when an accelerator code generator exists for it. ``numerics`` is "exact" (bit-exact with
    TFLite Micro) or "hardware" (accelerators rescale their outputs their own way).
    """
    check_numerics(numerics)
    check_int8(graph)
    if target is not None and layer_mappings is None:
        layer_mappings = map_graph(graph, target)
    mappings = {m.layer: m for m in layer_mappings or ()}
    codes = layer_codes(graph, progress, mappings, numerics)
    plan = plan_memory(graph, {code.layer.name: code.workspace_bytes for code in codes})
    _check_arena(graph, plan, max_arena_bytes)
    files, weight_bytes = source_files(graph, plan, codes)
    out_dir = Path(out_dir).resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        for name, text in files.items():
            (staging / name).write_text(text)
        key = build_id(staging, driver.CFLAGS)
        objects = compile_objects(staging, staging / BUILD_DIR / key, driver.CFLAGS, out_dir)
        link_shared(objects, staging / BUILD_DIR / f"libnnmap_{key}.so", out_dir)
        sizes = {
            "arena_bytes": plan.arena_bytes,
            "weight_bytes": weight_bytes,
            "code_bytes": code_bytes(objects),
        }
        entries = report(graph, plan, codes, sizes, target, mappings, numerics)
        (staging / REPORT).write_text(json.dumps(entries, indent=1))
        _publish(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("wrote %s (arena %d B, weights %d B)", out_dir, plan.arena_bytes, weight_bytes)
    return Artifact(out_dir)
