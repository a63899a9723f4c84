"""An Artifact: a directory of standalone C for one model and its report, built and run."""

from __future__ import annotations

import ctypes
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnmap.codegen.build import build_id, compile_objects, link_shared
from nnmap.codegen.driver import CFLAGS, NULL_ARGUMENT_STATUS
from nnmap.codegen.report import summarize
from nnmap.errors import NnmapError
from nnmap.hw.host_core import HostCore

log = logging.getLogger(__name__)

REPORT = "report.json"
BUILD_DIR = "build"


@dataclass(frozen=True)
class LinkedEmulator:
    """An accelerator emulator linked into an artifact's library, through its control functions
    ``<prefix>_reset``, ``_error``, ``_layer_count`` and ``_layer_cycles``."""

    library: ctypes.CDLL
    prefix: str

    @staticmethod
    def linked(library: ctypes.CDLL, prefixes: Sequence[str]) -> LinkedEmulator | None:
        """The emulator linked into ``library`` among those named ``prefixes``, if any."""
        prefix = next((p for p in prefixes if hasattr(library, f"{p}_reset")), None)
        return None if prefix is None else LinkedEmulator(library, prefix)

    def _function(self, name: str) -> Any:
        return getattr(self.library, f"{self.prefix}_{name}")

    def reset(self) -> None:
        self._function("reset")()

    def check(self, artifact: Path) -> None:
        error = self._function("error")
        error.restype = ctypes.c_char_p
        message = error()
        if message:
            emulator = self.prefix.removeprefix("nnmap_")
            raise NnmapError(f"{artifact}: the {emulator} emulator reports {message.decode()}")

    def layer_cycles(self) -> list[int]:
        """The cycles of every layer marked since the last reset, in the order they ran."""
        self._function("layer_count").restype = ctypes.c_size_t
        cycles = self._function("layer_cycles")
        cycles.restype, cycles.argtypes = ctypes.c_uint64, (ctypes.c_size_t,)
        return [int(cycles(i)) for i in range(self._function("layer_count")())]


@dataclass(frozen=True)
class Artifact:
    """The directory written by ``nnmap.compile``: network.h/.c, kernels, weights.c, Makefile,
    report.json. Libraries built from it are cached under ``build/``, keyed by a source hash."""

    path: Path

    @property
    def report(self) -> dict[str, Any]:
        return dict(json.loads((self.path / REPORT).read_text()))

    @property
    def input_shapes(self) -> list[tuple[int, ...]]:
        return [tuple(t["shape"]) for t in self.report["inputs"]]

    @property
    def output_shapes(self) -> list[tuple[int, ...]]:
        return [tuple(t["shape"]) for t in self.report["outputs"]]

    @property
    def input_dtypes(self) -> list[str]:
        """The element types ``run`` takes: the model's own (int8, uint8 or float32)."""
        return [t.get("dtype", "int8") for t in self.report["inputs"]]

    @property
    def output_dtypes(self) -> list[str]:
        return [t.get("dtype", "int8") for t in self.report["outputs"]]

    def library(self, cflags: str = CFLAGS) -> Path:
        """The shared library built from the artifact with ``cflags`` (built once, then cached)."""
        key = build_id(self.path, cflags)
        library = self.path / BUILD_DIR / f"libnnmap_{key}.so"
        if not library.exists():
            log.info("building %s with %s", library, cflags)
            objects = compile_objects(self.path, self.path / BUILD_DIR / key, cflags, self.path)
            link_shared(objects, library, self.path)
        return library

    def _checked_inputs(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        shapes = self.input_shapes
        if len(inputs) != len(shapes):
            raise NnmapError(
                f"{self.path}: the model takes {len(shapes)} input(s), got {len(inputs)}"
            )
        arrays = []
        for i, (array, shape, dtype) in enumerate(zip(inputs, shapes, self.input_dtypes,
                                                      strict=True)):
            if tuple(np.shape(array)) != shape:
                raise NnmapError(f"input {i}: expected shape {shape}, got {np.shape(array)}")
            arrays.append(np.ascontiguousarray(array, dtype=dtype))
        return arrays

    def run(self, inputs: Sequence[np.ndarray], cflags: str = CFLAGS) -> list[np.ndarray]:
        """One inference through the compiled C (via ctypes): inputs and outputs in the model's
        shapes and element types (float32 where the model quantizes at its boundary)."""
        arrays = self._checked_inputs(inputs)
        outputs = [np.zeros(shape, dtype=dtype)
                   for shape, dtype in zip(self.output_shapes, self.output_dtypes, strict=True)]
        library = ctypes.CDLL(str(self.library(cflags)))
        emulator = LinkedEmulator.linked(library, self.report.get("emulators", ()))
        if emulator is not None:
            emulator.reset()
        entry = library.nnmap_run
        entry.restype = ctypes.c_int
        pointers = [ctypes.c_void_p(a.ctypes.data) for a in arrays + outputs]
        status = entry(*pointers)
        if status == NULL_ARGUMENT_STATUS:
            raise NnmapError(f"{self.path}: nnmap_run refused a NULL input or output pointer")
        if status != 0:
            raise NnmapError(f"{self.path}: nnmap_run failed in layer {status - 1}")
        if emulator is not None:
            emulator.check(self.path)
        return outputs

    def measure_cycles(self, inputs: Sequence[np.ndarray], cflags: str = CFLAGS
                       ) -> dict[str, int]:
        """Run one inference and return the emulated cycles of every accelerator layer (by layer
        name), also recorded as ``emulated_cycles`` in report.json, with each layer's utilization
        and total and the network's latency recomputed from them."""
        self.run(inputs, cflags)
        library = ctypes.CDLL(str(self.library(cflags)))
        emulator = LinkedEmulator.linked(library, self.report.get("emulators", ()))
        measured = [] if emulator is None else emulator.layer_cycles()
        entries = self.report
        # The driver marks accelerator layers in graph order; the emulator may truncate names.
        accelerated = [layer for layer in entries["layers"] if layer["module"] != "host"]
        for layer, cycles in zip(accelerated, measured, strict=True):
            layer["emulated_cycles"] = cycles
        (self.path / REPORT).write_text(json.dumps(summarize(entries), indent=1))
        return {layer["name"]: layer["emulated_cycles"] for layer in accelerated}

    def measure_host_cycles(self, core: HostCore, inputs: Sequence[np.ndarray]) -> float:
        """Run one inference of the artifact cross-compiled for the host ``core`` on the
        instruction-set emulator and record each layer's host cycles as measured (converted to
        the target's clock) in report.json, the modelled ones kept beside them; returns the
        host cycles of the whole network at the target's clock. Its outputs must be the x86
        build's, bit for bit."""
        from nnmap.hostsim.network import measure_network

        entries = self.report
        kernels = [layer["kernel"] for layer in entries["layers"] if layer["kernel"]]
        outputs = [int(np.prod(shape)) * np.dtype(dtype).itemsize
                   for shape, dtype in zip(self.output_shapes, self.output_dtypes, strict=True)]
        measured = measure_network(self.path, core, self._checked_inputs(inputs), outputs,
                                   kernels, entries.get("emulator_functions", ()))
        expected = tuple(output.tobytes() for output in self.run(inputs))
        if measured.outputs != expected:
            raise NnmapError(f"{self.path}: the build for {core.name} computes other outputs "
                             "than the x86 build")
        scale = entries["clock_hz"] / core.clock_hz
        for layer in entries["layers"]:
            modelled = layer.get("host_modelled_cycles", layer["host_cycles"])
            layer["host_modelled_cycles"] = modelled
            layer["host_cycles"] = measured.kernels.get(layer["kernel"], 0.0) * scale
        entries["host_core"] = {"name": core.name, "clock_hz": core.clock_hz,
                                "driver_cycles": measured.driver * scale}
        (self.path / REPORT).write_text(json.dumps(summarize(entries), indent=1))
        return measured.total * scale

    def run_batch(self, inputs: Sequence[np.ndarray], cflags: str = CFLAGS) -> list[np.ndarray]:
        """Run N samples: each input has a leading axis of N in place of the batch of 1."""
        count = len(inputs[0])
        results = [
            self.run(
                [x[i : i + 1].reshape(s) for x, s in zip(inputs, self.input_shapes, strict=True)],
                cflags,
            )
            for i in range(count)
        ]
        return [np.concatenate([r[j] for r in results]) for j in range(len(self.output_shapes))]
