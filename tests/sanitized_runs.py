"""The check shared by the per-target sanitizer tests: an artifact's C and its emulator built
with ``-fsanitize=address,undefined`` run a few random inputs without a report, refuse NULL
pointers, and give the ordinary build's outputs and emulated cycles bit for bit."""

from __future__ import annotations

import ctypes

import numpy as np

from nnmap.codegen.artifact import Artifact, LinkedEmulator
from nnmap.codegen.sanitize import run_sanitized
from nnmap.ir import Graph
from nnmap.verify import random_inputs

SAMPLES = 2


def assert_clean_under_sanitizers(artifact: Artifact, graph: Graph) -> None:
    batch = random_inputs(graph, SAMPLES, seed=3)
    samples = [[array[i : i + 1].reshape(shape)
                for array, shape in zip(batch, artifact.input_shapes, strict=True)]
               for i in range(SAMPLES)]
    run = run_sanitized(artifact, samples)
    assert run.report == "", run.report
    library = ctypes.CDLL(str(artifact.library()))
    for sample, outputs, cycles in zip(samples, run.outputs, run.cycles, strict=True):
        for actual, wanted in zip(outputs, artifact.run(sample), strict=True):
            np.testing.assert_array_equal(actual, wanted)
        for prefix in artifact.report["emulators"]:
            emulator = LinkedEmulator.linked(library, [prefix])
            if emulator is not None:
                assert cycles[prefix] == tuple(emulator.layer_cycles())
                assert cycles[prefix] and all(value > 0 for value in cycles[prefix])
