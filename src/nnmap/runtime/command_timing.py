"""Timing command lists on an emulator's own timing engine, through ctypes, with no data moved.

Each emulator exports ``<prefix>_time_commands(words, commands, busy, occupancy)``: it resets its
timing engine, runs an encoded command list through the functions the emulator calls per
instruction and returns the total cycles, the busy cycles of each unit and, on request, each
command's occupancy of its unit. The cost models encode which commands a stream has; how long
they take is defined once, in the emulator's C.

The library is the emulator itself, built from its parameters header rendered from the module
given, in the user's cache directory, once per process and configuration (and reused across
processes by its content hash).
"""

from __future__ import annotations

import ctypes
import hashlib
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from nnmap.cache import cache_dir
from nnmap.hw import ExecModule
from nnmap.runtime.emulator_build import Emulator

MALFORMED = 2**64 - 1  # what a time_commands entry returns for a list it cannot run
_LOCK = threading.Lock()
_TIMERS: dict[tuple[str, str, str], CommandTimer] = {}
Engine = TypeVar("Engine")



@dataclass(frozen=True)
class Timed:
    """A command list's cycles, the busy cycles of each unit and (when asked) of each command."""

    cycles: int
    busy: tuple[int, ...]
    occupancy: tuple[int, ...] = ()


class CommandTimer:
    """The ``time_commands`` entry of one emulator library: commands of ``words`` uint32 words,
    ``units`` busy counters. One per configuration, so it hashes by identity."""

    def __init__(self, library: Path, symbol: str, words: int, units: int) -> None:
        self.library = library
        self.words = words
        self.units = units
        self._function = getattr(ctypes.CDLL(str(library)), symbol)
        self._function.restype = ctypes.c_uint64
        self._function.argtypes = (
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_void_p,
            ctypes.c_void_p,
        )

    def time(self, commands: np.ndarray, occupancy: bool = False) -> Timed:
        """Time ``commands`` (an (n, words) uint32 array); ``occupancy``: also per command."""
        words = np.ascontiguousarray(commands, dtype=np.uint32)
        if words.ndim != 2 or words.shape[1] != self.words:
            raise ValueError(f"commands must be an (n, {self.words}) array, got {words.shape}")
        busy = np.zeros(self.units, dtype=np.uint64)
        each = np.zeros(len(words), dtype=np.uint64) if occupancy else None
        cycles = self._function(
            words.ctypes.data,
            len(words),
            busy.ctypes.data,
            None if each is None else each.ctypes.data,
        )
        if cycles == MALFORMED:
            raise RuntimeError(f"{self.library.name} rejected a command list as malformed")
        each_cycles = () if each is None else tuple(each.tolist())
        return Timed(int(cycles), tuple(busy.tolist()), each_cycles)


def command_timer(emulator: Emulator, symbol: str, words: int, units: int) -> CommandTimer:
    """The timer of ``emulator`` (built with its module's parameters), built and loaded at most
    once per process and configuration."""
    params = emulator.render_params()
    key = (emulator.name, symbol, params)
    with _LOCK:
        timer = _TIMERS.get(key)
        if timer is None:
            digest = hashlib.sha256(params.encode()).hexdigest()[:16]
            library = emulator.build_library(cache_dir("emulators") / f"{emulator.name}-{digest}")
            timer = _TIMERS[key] = CommandTimer(library, symbol, words, units)
    return timer


def per_module(build: Callable[[ExecModule], Engine]) -> Callable[[ExecModule], Engine]:
    """``build`` called once per module object (modules hold dicts, so they are told apart by
    identity, for as long as they live): the cost model asks for a module's engine per
    candidate."""
    built: dict[int, tuple[weakref.ref[ExecModule], Engine]] = {}

    def forget(key: int, reference: weakref.ref[ExecModule]) -> None:
        if key in built and built[key][0] is reference:
            del built[key]

    def cached(module: ExecModule) -> Engine:
        entry = built.get(id(module))
        if entry is not None and entry[0]() is module:
            return entry[1]
        key = id(module)
        value = build(module)
        built[key] = (weakref.ref(module, lambda reference: forget(key, reference)), value)
        return value

    return cached
