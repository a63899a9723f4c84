"""Mutation fuzzing of the model importers: what byte-mutated TFLite and ONNX files do to nnmap.

For each format, ``--mutants`` copies of shipped models (TFLite Micro's example models and
nnmap's zoo as ONNX) get random byte flips, overwrites, truncations or duplicated spans, and each
goes through ``nnmap.load_model`` in a worker process with a memory limit. Every outcome is
classified: ``imported`` (a Graph came back), ``error`` (nnmap's one-line error naming the
file), ``unnamed`` (nnmap's error, but without the file's name), ``traceback``
(any other exception: a bug), ``crash`` (the worker died) or ``hang`` (no answer within
``--timeout`` seconds). Prints the table, writes bench/results/fuzz.json, and exits 1 if any
mutant crashed, hung, raised a traceback or an error without the file's name. ``make test``
runs a short round (tests/test_fuzz.py).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
TFLM = ROOT.parent / "shared" / "models" / "tflm"
SEEDS = {
    "tflite": [
        "hello_world_int8.tflite", "simple_add_model.tflite", "micro_speech_quantized.tflite"
    ],
    "onnx": ["zoo:autoencoder", "zoo:kws"],
}
MEMORY_LIMIT = 2 << 30  # bytes of address space per worker beyond what importing nnmap takes
OUTCOMES = ("imported", "error", "unnamed", "traceback", "crash", "hang")

# The worker: reads a path per line, answers one JSON line per path.
WORKER = """
import json, resource, sys, traceback
import nnmap
from nnmap.errors import NnmapError
soft, hard = resource.getrlimit(resource.RLIMIT_AS)
used = int(open('/proc/self/statm').read().split()[0]) * resource.getpagesize()
resource.setrlimit(resource.RLIMIT_AS, (used + int(sys.argv[1]), hard))
for line in sys.stdin:
    try:
        nnmap.load_model(line.strip())
        answer = {"outcome": "imported"}
    except NnmapError as error:
        text = str(error)
        outcome = ("traceback" if "\\n" in text
                   else "error" if line.strip() in text else "unnamed")
        answer = {"outcome": outcome, "detail": text[:200]}
    except BaseException as error:
        answer = {"outcome": "traceback", "detail": repr(error)[:200],
                  "where": traceback.format_exc().splitlines()[-3][:200]}
    print(json.dumps(answer), flush=True)
"""


def seed_bytes(name: str) -> bytes:
    if name.startswith("zoo:"):
        from nnmap.frontend.loader import resolve_model_path

        return resolve_model_path(name).read_bytes()
    return (TFLM / name).read_bytes()


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to eight random edits: flipped bits, overwritten bytes, a truncation or a copied span."""
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        kind = rng.choice(("flip", "byte", "word", "truncate", "duplicate"))
        at = rng.randrange(len(buffer))
        if kind == "flip":
            buffer[at] ^= 1 << rng.randrange(8)
        elif kind == "byte":
            buffer[at] = rng.randrange(256)
        elif kind == "word":
            value = rng.choice((0, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, rng.getrandbits(32)))
            buffer[at : at + 4] = value.to_bytes(4, "little")
        elif kind == "truncate":
            del buffer[max(at, 1) :]
        else:
            span = buffer[at : at + rng.randint(1, 64)]
            buffer[rng.randrange(len(buffer)) : 0] = span
    return bytes(buffer)


class Worker:
    """A worker process that imports models; restarted after a crash or a hang."""

    def __init__(self) -> None:
        self.process = self._start()

    @staticmethod
    def _start() -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-c", WORKER, str(MEMORY_LIMIT)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1,
        )

    def ask(self, path: Path, timeout: float) -> dict:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{path}\n")
        self.process.stdin.flush()
        answer = _read_line(self.process, timeout)
        if answer is not None:
            return json.loads(answer)
        outcome = "hang" if self.process.poll() is None else "crash"
        code = self.process.poll()
        self.process.kill()
        self.process.wait()
        self.process = self._start()
        return {"outcome": outcome, "detail": f"exit code {code}" if outcome == "crash" else ""}

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


def _read_line(process: subprocess.Popen, timeout: float) -> str | None:
    import selectors

    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return None
    line = process.stdout.readline()
    return line or None


def fuzz(kind: str, mutants: int, seed: int, timeout: float) -> tuple[Counter, list[dict]]:
    rng = random.Random(f"{kind}-{seed}")
    seeds = [seed_bytes(name) for name in SEEDS[kind]]
    outcomes: Counter = Counter()
    bad: list[dict] = []
    worker = Worker()
    # The first answer includes importing nnmap: give it time.
    worker.ask(Path("/nonexistent.tflite"), 120)
    with tempfile.TemporaryDirectory() as scratch:
        for index in range(mutants):
            path = Path(scratch) / f"mutant_{index}.{kind}"
            path.write_bytes(mutate(rng.choice(seeds), rng))
            answer = worker.ask(path, timeout)
            outcomes[answer["outcome"]] += 1
            if answer["outcome"] not in ("imported", "error"):
                bad.append({"format": kind, "mutant": index, **answer})
    worker.close()
    return outcomes, bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mutants", type=int, default=1000, help="mutants per format")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per mutant")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "fuzz.json")
    args = parser.parse_args()
    table = Table(title=f"mutation fuzzing of load_model ({args.mutants} mutants per format)")
    for column in ("format", *OUTCOMES):
        table.add_column(column, justify="right")
    results, failures = {}, []
    for kind in SEEDS:
        outcomes, bad = fuzz(kind, args.mutants, args.seed, args.timeout)
        results[kind] = {outcome: outcomes[outcome] for outcome in OUTCOMES}
        failures += bad
        table.add_row(kind, *(str(outcomes[outcome]) for outcome in OUTCOMES))
    console = Console()
    console.print(table)
    for failure in failures[:20]:
        console.print(failure, highlight=False)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"outcomes": results, "failures": failures}, indent=1))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
