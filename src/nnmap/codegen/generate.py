"""``generate(graph, out_dir) -> Artifact``: write the C of an int8 graph, build it, then publish.

Everything is written into a temporary sibling directory and built there; only a successful build
is renamed to ``out_dir``, so a failure never leaves a half-written artifact behind.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from nnmap.codegen import driver
from nnmap.codegen.artifact import BUILD_DIR, REPORT, Artifact
from nnmap.codegen.build import build_id, code_bytes, compile_objects, link_shared
from nnmap.codegen.layers import LayerCode, layer_code
from nnmap.codegen.publish import publish, staging_folder
from nnmap.codegen.report import report
from nnmap.errors import MappingError, NnmapError, QuantizationError
from nnmap.ir import Dequantize, Graph, Quantize, Recast, Reshape, Transpose
from nnmap.plan.memory import MemoryPlan
from nnmap.plan.plan import LayerPlan, Plan, with_host_scratch

log = logging.getLogger(__name__)

MAX_ARENA_BYTES = 256 * 1024 * 1024
SOFTMAX_SOURCE = "nnmap_softmax.c"
RUNTIME_HOST = Path(__file__).resolve().parent.parent / "runtime" / "host"
Progress = Callable[[int, int, str], None]


BOUNDARY_KINDS = (Quantize, Dequantize, Recast, Transpose, Reshape)


def check_int8(graph: Graph) -> None:
    """The C flow computes in int8: a float or uint8 tensor may only be a model input or output
    and the boundary layers (Quantize, Dequantize, Recast, Transpose, Reshape) between it and the
    int8 layers; anything else gets a QuantizationError naming the first such tensor."""
    for name, tensor in graph.tensors.items():
        if tensor.dtype == "int8":
            continue
        producer = graph.producer(name)
        layers = [*graph.consumers(name), *([producer] if producer is not None else [])]
        if not all(isinstance(layer, BOUNDARY_KINDS) for layer in layers):
            raise QuantizationError(
                f"tensor {name} of {graph.name} is {tensor.dtype}: the C code generator "
                "compiles int8 models only (quantize the model to int8 first)"
            )


def _layer_code(plan: Plan, layer: LayerPlan) -> LayerCode | None:
    """The C of one planned layer: its module's backend lowers it, or a host kernel."""
    module = plan.module(layer)
    if not layer.on_accelerator or module.backend is None or layer.mapped is None:
        return layer_code(layer.layer, plan.graph, layer.index, plan.target.name)
    code = module.backend.lower(
        layer.layer, plan.graph, layer.index, layer.mapped, module, plan.numerics
    )
    if code.workspace_bytes > layer.scratch_bytes:
        raise NnmapError(
            f"layer {layer.layer.name}: its {module.name} kernel asks for {code.workspace_bytes} "
            f"B of scratch, the plan reserved {layer.scratch_bytes} B (a backend bug: report it)"
        )
    return code


def layer_codes(plan: Plan, progress: Progress | None = None) -> list[LayerCode]:
    """The C of every layer of ``plan``, as planned."""
    codes = []
    for layer in plan.layers:
        if progress is not None:
            progress(layer.index, len(plan.layers), layer.layer.name)
        code = _layer_code(plan, layer)
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


def source_files(plan: Plan, codes: Sequence[LayerCode]) -> tuple[dict[str, str], int]:
    """File name -> text of every source of the artifact, and the weight bytes."""
    graph, memory = plan.graph, plan.memory
    weights_h, weights_c, weight_bytes = driver.weights_sources(codes)
    files = {
        "network.h": driver.network_header(graph, memory, weight_bytes),
        "network.c": driver.network_source(graph, memory, codes),
        "nnmap_kernels.h": driver.kernels_header(codes),
        "weights.h": weights_h,
        "weights.c": weights_c,
        "Makefile": _makefile(plan),
    }
    for code in codes:
        if code.file_name is not None and code.definition is not None:
            files[code.file_name] = code.definition
    if any(code.definition is None for code in codes):
        files[SOFTMAX_SOURCE] = (RUNTIME_HOST / SOFTMAX_SOURCE).read_text()
    for module in plan.accelerator_modules():
        if module.backend is not None:
            emulator = module.backend.emulator_files(module)
            files.update({f"{driver.EMULATOR_DIR}/{name}": text for name, text in emulator.items()})
    return files, weight_bytes


def _makefile(plan: Plan) -> str:
    """The Makefile: its device flavour takes what every accelerator's backend needs."""
    builds = [
        module.backend.device_build(module)
        for module in plan.accelerator_modules()
        if module.backend is not None
    ]
    variables = {name: meaning for build in builds for name, meaning in build.variables}
    return driver.makefile(variables, " ".join(build.flags for build in builds if build.flags))


def generate(
    plan: Plan,
    out_dir: Path,
    progress: Progress | None = None,
    max_arena_bytes: int = MAX_ARENA_BYTES,
) -> Artifact:
    """Emit ``plan`` as C at ``out_dir``, build it once, and publish it: every layer where the
    plan puts it, with the mapping it holds. Nothing is searched or decided here: the memory
    plan only gains the workspace of host kernels, known once their C is generated."""
    graph = plan.graph
    check_int8(graph)
    _check_arena(graph, plan.memory, max_arena_bytes)
    codes = layer_codes(plan, progress)
    plan = with_host_scratch(plan, {code.layer.name: code.workspace_bytes for code in codes})
    _check_arena(graph, plan.memory, max_arena_bytes)
    files, weight_bytes = source_files(plan, codes)
    out_dir = Path(out_dir).resolve()
    staging = staging_folder(out_dir)
    try:
        for name, text in files.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_text(text)
        key = build_id(staging, driver.CFLAGS)
        objects = compile_objects(staging, staging / BUILD_DIR / key, driver.CFLAGS, out_dir)
        link_shared(objects, staging / BUILD_DIR / f"libnnmap_{key}.so", out_dir)
        sizes = {
            "arena_bytes": plan.memory.arena_bytes,
            "weight_bytes": weight_bytes,
            "code_bytes": code_bytes(objects),
        }
        (staging / REPORT).write_text(json.dumps(report(plan, codes, sizes), indent=1))
        publish(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("wrote %s (arena %d B, weights %d B)", out_dir, plan.memory.arena_bytes, weight_bytes)
    return Artifact(out_dir)
