"""What artifacts are compared with: TFLite Micro's outputs and arena, nnmap's reference."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nnmap.errors import NnmapError
from nnmap.ir import Graph
from nnmap.verify import captured_stderr, tflite_micro_interpreter, tflite_micro_outputs

_ARENA_HEAD = re.compile(r"Arena allocation head (\d+) bytes")


def tflite_micro_arena_head(path: Path) -> int:
    """Bytes of TFLite Micro's planned activation buffers ("Arena allocation head") for a model."""
    interpreter: Any = tflite_micro_interpreter(path)
    with captured_stderr() as lines:
        interpreter.print_allocations()
    for line in lines:
        match = _ARENA_HEAD.search(line)
        if match:
            return int(match.group(1))
    raise NnmapError(f"{path}: TFLite Micro printed no 'Arena allocation head' line")


def reference_outputs_for(path: Path, graph: Graph, inputs: Sequence[np.ndarray]
                          ) -> tuple[str, list[np.ndarray]]:
    """TFLite Micro's outputs for a .tflite file, nnmap's reference for anything else."""
    if path.suffix.lower() == ".tflite":
        return "TFLite Micro", tflite_micro_outputs(path, inputs, len(graph.outputs))
    from nnmap.reference.run import run_batch

    return "nnmap reference", run_batch(graph, inputs)
