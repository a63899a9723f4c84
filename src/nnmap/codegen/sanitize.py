"""An artifact's C built and run under AddressSanitizer and UndefinedBehaviorSanitizer.

The generated C and the accelerator emulators compiled into it are built with the artifact's
own warnings-as-errors flags plus ``-fsanitize=address,undefined`` into a standalone program
around ``nnmap_run`` (the sanitizers' runtime cannot be loaded into Python through ctypes). The
program first calls ``nnmap_run`` with a NULL in each pointer position (each must be refused
with NNMAP_ERROR_NULL_ARGUMENT), then runs every sample read from stdin, in buffers of exactly
the model's input and output sizes (so a read or write past one is caught), and writes the
outputs and each linked emulator's per-layer cycles to stdout.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnmap.codegen.artifact import BUILD_DIR, Artifact
from nnmap.codegen.build import COMPILER, build_id, compile_objects, run_compiler
from nnmap.codegen.driver import CFLAGS

SANITIZERS = "-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g"
SANITIZED_CFLAGS = f"{CFLAGS} {SANITIZERS}"
# Every report ends the program with a non-zero status; leaks are reported too.
SANITIZER_ENVIRONMENT = {
    "ASAN_OPTIONS": "detect_leaks=1:halt_on_error=1:exitcode=86",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
}
REPORT_MARKERS = ("runtime error:", "AddressSanitizer", "LeakSanitizer")
HARNESS = "sanitize_main.c"


@dataclass(frozen=True)
class SanitizedRun:
    """What the sanitized program gave: per sample its outputs and, per linked emulator
    (by prefix), the cycles of each accelerator layer; ``report`` is the sanitizers' or the
    program's complaint (empty when there is none)."""

    outputs: tuple[tuple[np.ndarray, ...], ...]
    cycles: tuple[dict[str, tuple[int, ...]], ...]
    report: str


def _emulator_declarations(prefixes: Sequence[str]) -> list[str]:
    """Weak declarations: an emulator that is not linked in reads as a NULL function."""
    return [
        line
        for prefix in prefixes
        for line in (
            f"__attribute__((weak)) void {prefix}_reset(void);",
            f"__attribute__((weak)) const char *{prefix}_error(void);",
            f"__attribute__((weak)) size_t {prefix}_layer_count(void);",
            f"__attribute__((weak)) uint64_t {prefix}_layer_cycles(size_t index);",
        )
    ]


def _call(inputs: int, outputs: int, null_at: int | None = None) -> str:
    arguments = [f"inputs[{i}]" for i in range(inputs)] + [f"outputs[{i}]" for i in range(outputs)]
    if null_at is not None:
        arguments[null_at] = "NULL"
    return f"nnmap_run({', '.join(arguments)})"


def _per_sample(prefixes: Sequence[str], call: str) -> list[str]:
    resets = [f"    if ({p}_reset) {p}_reset();" for p in prefixes]
    checks = [
        line
        for p in prefixes
        for line in (
            f"    if ({p}_error && {p}_error() && {p}_error()[0] != '\\0') {{",
            f'      fprintf(stderr, "the {p} emulator reports %s\\n", {p}_error());',
            "      return 5;",
            "    }",
        )
    ]
    cycles = [f"    write_cycles({p}_layer_count, {p}_layer_cycles);" for p in prefixes]
    return [
        *resets,
        f"    int status = {call};",
        "    if (status != 0) {",
        '      fprintf(stderr, "nnmap_run returned %d\\n", status);',
        "      return 3;",
        "    }",
        *checks,
        "    for (size_t i = 0; i < NNMAP_OUTPUT_COUNT; i++) {",
        "      fwrite(outputs[i], 1, output_bytes[i], stdout);",
        "    }",
        *cycles,
    ]


WRITE_CYCLES = """
static void write_cycles(size_t (*count)(void), uint64_t (*cycles)(size_t)) {
  uint64_t header[2] = {count != NULL, count != NULL ? count() : 0};
  fwrite(header, sizeof header, 1, stdout);
  for (uint64_t i = 0; i < header[1]; i++) {
    uint64_t value = cycles(i);
    fwrite(&value, sizeof value, 1, stdout);
  }
}
"""
READ_SAMPLE = """
static int read_sample(void **buffers) {
  for (size_t i = 0; i < NNMAP_INPUT_COUNT; i++) {
    if (fread(buffers[i], 1, input_bytes[i], stdin) != input_bytes[i]) {
      return 0;
    }
  }
  return 1;
}
"""


def harness_source(input_count: int, output_count: int, prefixes: Sequence[str]) -> str:
    """The C program around ``nnmap_run`` (see the module's docstring)."""
    sizes = ", ".join(f"NNMAP_INPUT{i}_BYTES" for i in range(input_count))
    output_sizes = ", ".join(f"NNMAP_OUTPUT{i}_BYTES" for i in range(output_count))
    null_checks = [
        line
        for position in range(input_count + output_count)
        for line in (
            f"  if ({_call(input_count, output_count, position)} != NNMAP_ERROR_NULL_ARGUMENT) {{",
            f'    fprintf(stderr, "nnmap_run accepted a NULL as argument {position}\\n");',
            "    return 4;",
            "  }",
        )
    ]
    return "\n".join([
        "/* Generated by nnmap: the network under the sanitizers, samples from stdin. */",
        "#include <stdint.h>",
        "#include <stdio.h>",
        "#include <stdlib.h>",
        '#include "network.h"',
        "",
        *_emulator_declarations(prefixes),
        f"static const size_t input_bytes[] = {{{sizes}}};",
        f"static const size_t output_bytes[] = {{{output_sizes}}};",
        WRITE_CYCLES if prefixes else "",
        READ_SAMPLE,
        "/* Static: an early return leaves them reachable, not leaked. */",
        "static void *inputs[NNMAP_INPUT_COUNT];",
        "static void *outputs[NNMAP_OUTPUT_COUNT];",
        "",
        "int main(void) {",
        "  for (size_t i = 0; i < NNMAP_INPUT_COUNT; i++) inputs[i] = malloc(input_bytes[i]);",
        "  for (size_t i = 0; i < NNMAP_OUTPUT_COUNT; i++) outputs[i] = malloc(output_bytes[i]);",
        *null_checks,
        "  while (read_sample(inputs)) {",
        *_per_sample(prefixes, _call(input_count, output_count)),
        "  }",
        "  for (size_t i = 0; i < NNMAP_INPUT_COUNT; i++) free(inputs[i]);",
        "  for (size_t i = 0; i < NNMAP_OUTPUT_COUNT; i++) free(outputs[i]);",
        "  return 0;",
        "}",
        "",
    ])


def sanitized_program(artifact: Artifact) -> Path:
    """The artifact's C and its emulators built with the sanitizers into a program (cached under
    the artifact's build folder, keyed by the sources' hash); BuildError on failure."""
    report = artifact.report
    source = harness_source(len(report["inputs"]), len(report["outputs"]),
                            report.get("emulators", ()))
    key = build_id(artifact.path, f"{SANITIZED_CFLAGS}\n{source}")
    program = artifact.path / BUILD_DIR / f"sanitized_{key}"
    if program.exists():
        return program
    build_dir = artifact.path / BUILD_DIR / f"sanitized_{key}.objects"
    objects = compile_objects(artifact.path, build_dir, SANITIZED_CFLAGS, artifact.path)
    harness = build_dir / HARNESS
    harness.write_text(source)
    harness_object = build_dir / "sanitize_main.o"
    run_compiler([COMPILER, *SANITIZED_CFLAGS.split(), f"-I{artifact.path}", "-c", str(harness),
                  "-o", str(harness_object)],
                 f"gcc failed on the sanitized harness of {artifact.path}")
    partial = program.with_suffix(".partial")
    run_compiler([COMPILER, *SANITIZERS.split(), *map(str, objects), str(harness_object), "-o",
                  str(partial), "-lm"], f"linking the sanitized program of {artifact.path} failed")
    partial.replace(program)
    return program


def _sanitizer_report(stderr: str, returncode: int) -> str:
    lines = stderr.strip().splitlines()
    marked = [i for i, line in enumerate(lines) if any(m in line for m in REPORT_MARKERS)]
    if marked:
        return "\n".join(lines[marked[0] : marked[0] + 12])
    if returncode != 0:
        return "\n".join(lines[:12]) or f"exit status {returncode}"
    return ""


def _parse(data: bytes, artifact: Artifact, samples: int) -> tuple[list, list]:
    outputs, cycles, at = [], [], 0
    for _ in range(samples):
        arrays = []
        for shape, dtype in zip(artifact.output_shapes, artifact.output_dtypes, strict=True):
            size = int(np.prod(shape)) * np.dtype(dtype).itemsize
            arrays.append(np.frombuffer(data[at : at + size], dtype=dtype).reshape(shape))
            at += size
        outputs.append(tuple(arrays))
        per_emulator = {}
        for prefix in artifact.report.get("emulators", ()):
            linked, count = np.frombuffer(data[at : at + 16], dtype=np.uint64)
            values = np.frombuffer(data[at + 16 : at + 16 + 8 * int(count)], dtype=np.uint64)
            at += 16 + 8 * int(count)
            if linked:
                per_emulator[prefix] = tuple(int(v) for v in values)
        cycles.append(per_emulator)
    return outputs, cycles


def run_sanitized(artifact: Artifact, samples: Sequence[Sequence[np.ndarray]],
                  timeout: float = 900.0) -> SanitizedRun:
    """Run ``samples`` (each one array per model input) through the sanitized program."""
    program = sanitized_program(artifact)
    stdin = b"".join(
        np.ascontiguousarray(array, dtype=dtype).tobytes()
        for sample in samples
        for array, dtype in zip(sample, artifact.input_dtypes, strict=True)
    )
    result = subprocess.run([str(program)], input=stdin, capture_output=True, timeout=timeout,
                            env={**os.environ, **SANITIZER_ENVIRONMENT}, check=False)
    report = _sanitizer_report(result.stderr.decode(errors="replace"), result.returncode)
    if report:
        return SanitizedRun((), (), report)
    outputs, cycles = _parse(result.stdout, artifact, len(samples))
    return SanitizedRun(tuple(outputs), tuple(cycles), "")
