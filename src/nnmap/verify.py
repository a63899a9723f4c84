"""Outside references to check nnmap against: TFLite Micro, LiteRT and onnxruntime.

All functions take batched inputs (a leading axis of N samples per model input) and return
batched outputs, so a whole test set is compared in one call.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnmap.errors import NnmapError
from nnmap.ir import Graph


@dataclass(frozen=True)
class Difference:
    """How far one output is from its reference."""

    max_abs: float
    share_differing: float

    @staticmethod
    def between(expected: np.ndarray, actual: np.ndarray) -> Difference:
        delta = np.abs(expected.astype(np.float64) - actual.astype(np.float64))
        return Difference(float(delta.max(initial=0.0)), float((delta > 0).mean()))


def random_inputs(graph: Graph, count: int, seed: int) -> list[np.ndarray]:
    """``count`` random samples per model input: uniform int8 or uint8, or standard normal
    float32."""
    rng = np.random.default_rng(seed)
    batches = []
    for tensor in graph.input_tensors():
        shape = (count, *tensor.shape[1:])
        if tensor.is_quantized:
            info = np.iinfo(tensor.dtype)
            batches.append(rng.integers(info.min, info.max + 1, size=shape, dtype=tensor.dtype))
        else:
            batches.append(rng.standard_normal(shape).astype(np.float32))
    return batches


def _samples(inputs: Sequence[np.ndarray]) -> Iterator[list[np.ndarray]]:
    for index in range(inputs[0].shape[0]):
        yield [array[index : index + 1] for array in inputs]


def _stack(per_sample: list[list[np.ndarray]]) -> list[np.ndarray]:
    return [np.concatenate(column) for column in zip(*per_sample, strict=True)]


def _require(module: str, package: str) -> None:
    try:
        __import__(module)
    except ImportError:
        raise NnmapError(
            f"{package} is not installed; run `make install` (it is in the test "
            "extra) to compare against it"
        ) from None


ARENA_MARGIN_BYTES = 64 * 1024


def tflite_micro_arena_bytes(path: Path) -> int:
    """An arena TFLite Micro can always plan a model in: every activation tensor without reuse,
    plus its own default guess (10x the file, for persistent buffers) and a margin."""
    from nnmap.frontend.tflite_reader import NUMPY_TYPES, read_tflite

    model = read_tflite(path)
    activations = sum(
        int(np.prod(tensor.shape, dtype=np.int64)) * np.dtype(NUMPY_TYPES[tensor.type_name])
        .itemsize
        for tensor in model.tensors
        if tensor.data is None and tensor.type_name in NUMPY_TYPES
    )
    return 10 * path.stat().st_size + activations + ARENA_MARGIN_BYTES


def tflite_micro_interpreter(path: Path) -> object:
    """TFLite Micro's Python interpreter for ``path`` with an arena large enough for it."""
    _require("tflite_micro", "tflite-micro")
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_file(str(path), arena_size=tflite_micro_arena_bytes(path))


def tflite_micro_outputs(
    path: Path, inputs: Sequence[np.ndarray], num_outputs: int = 1
) -> list[np.ndarray]:
    """Run TFLite Micro's interpreter (the numerics reference) on each sample."""
    interpreter: Any = tflite_micro_interpreter(path)
    results = []
    for sample in _samples(inputs):
        for index, array in enumerate(sample):
            interpreter.set_input(array, index)
        interpreter.invoke()
        results.append([interpreter.get_output(i) for i in range(num_outputs)])
    return _stack(results)


def litert_outputs(
    path: Path, inputs: Sequence[np.ndarray], reference_kernels: bool
) -> list[np.ndarray]:
    """Run LiteRT: its reference kernels, or the default (XNNPACK) ones."""
    _require("ai_edge_litert", "ai-edge-litert")
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.BUILTIN_REF if reference_kernels else OpResolverType.AUTO
    interpreter = Interpreter(
        model_path=str(path), experimental_op_resolver_type=resolver, num_threads=1
    )
    interpreter.allocate_tensors()
    ins, outs = interpreter.get_input_details(), interpreter.get_output_details()
    results = []
    for sample in _samples(inputs):
        for detail, array in zip(ins, sample, strict=True):
            interpreter.set_tensor(detail["index"], array)
        interpreter.invoke()
        results.append([interpreter.get_tensor(detail["index"]) for detail in outs])
    return _stack(results)


def onnxruntime_session(model: Path | bytes) -> Any:
    """An onnxruntime CPU session of ``model`` (a path or serialized bytes) with its quantized
    kernels at full precision: on AVX2 machines onnxruntime's default u8s8 kernels saturate
    16-bit intermediate sums (``vpmaddubsw``), which moves results by many LSBs."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.x64quantprecision", "1")
    source = model if isinstance(model, bytes) else str(model)
    return onnxruntime.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def onnxruntime_outputs(path: Path, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    session = onnxruntime_session(path)
    names = [item.name for item in session.get_inputs()]
    results = [
        session.run(None, dict(zip(names, sample, strict=True))) for sample in _samples(inputs)
    ]
    return _stack([list(outputs) for outputs in results])


def reference_outputs(
    path: Path, inputs: Sequence[np.ndarray], num_outputs: int
) -> tuple[str, list[np.ndarray]]:
    """The outside reference for a model file: TFLite Micro for .tflite, onnxruntime for .onnx."""
    if path.suffix.lower() == ".tflite":
        return "TFLite Micro", tflite_micro_outputs(path, inputs, num_outputs)
    return "onnxruntime", onnxruntime_outputs(path, inputs)


@contextlib.contextmanager
def captured_stderr() -> Iterator[list[str]]:
    """Capture what C code writes to file descriptor 2 (e.g. TFLite Micro's arena report)."""
    lines: list[str] = []
    with tempfile.TemporaryFile(mode="w+") as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            lines.extend(sink.read().splitlines())
