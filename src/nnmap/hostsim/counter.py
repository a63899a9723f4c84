"""The C block counter (``support/block_counter.c``): built once with the host C compiler, cached
by content hash, and attached to a unicorn engine as its block and memory hooks."""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import unicorn
from unicorn.unicorn_py3.unicorn import uclib

from nnmap.cache import cache_dir
from nnmap.codegen.build import run_compiler
from nnmap.hostsim.decode import HostSimulationError
from nnmap.hw.host_core import DataCache

logger = logging.getLogger(__name__)

COUNTER_SOURCE = Path(__file__).parent / "support" / "block_counter.c"
CFLAGS = ("-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared")
EDGE_CAPACITY = 1 << 18


def build_counter_library(out_dir: Path | None = None) -> Path:
    """Compile the block counter into a shared library; an unchanged build is reused."""
    out_dir = Path(out_dir) if out_dir is not None else cache_dir("hostsim")
    out_dir.mkdir(parents=True, exist_ok=True)
    compiler = os.environ.get("CC", "gcc")
    digest = hashlib.sha256(" ".join((compiler, *CFLAGS)).encode())
    digest.update(COUNTER_SOURCE.read_bytes())
    library = out_dir / f"libnnmap_block_counter_{digest.hexdigest()[:16]}.so"
    if library.exists():
        return library
    partial = library.with_suffix(f".{os.getpid()}.tmp")
    command = [compiler, *CFLAGS, str(COUNTER_SOURCE), "-o", str(partial)]
    logger.info("building the block counter: %s", " ".join(command))
    run_compiler(command, f"{compiler} failed on the host simulation block counter")
    partial.replace(library)
    return library


@cache
def counter_library() -> ctypes.CDLL:
    """The loaded block counter, with its function prototypes."""
    library = ctypes.CDLL(str(build_counter_library()))
    u64_array = ctypes.POINTER(ctypes.c_uint64)
    u32_array = ctypes.POINTER(ctypes.c_uint32)
    library.nnmap_counter_new.restype = ctypes.c_void_p
    library.nnmap_counter_new.argtypes = [
        ctypes.c_uint64, u64_array, u64_array, ctypes.POINTER(ctypes.c_uint8), ctypes.c_uint32,
        ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32,
    ]  # fmt: skip
    library.nnmap_counter_free.argtypes = [ctypes.c_void_p]
    library.nnmap_counter_clear.argtypes = [ctypes.c_void_p]
    library.nnmap_counter_limit.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_void_p]
    library.nnmap_counter_overflowed.argtypes = [ctypes.c_void_p]
    library.nnmap_counter_edge_count.argtypes = [ctypes.c_void_p]
    library.nnmap_counter_edge_count.restype = ctypes.c_uint64
    library.nnmap_counter_edges.argtypes = [
        ctypes.c_void_p, u64_array, u64_array, u32_array, u32_array, u64_array,
    ]  # fmt: skip
    library.nnmap_counter_cache.argtypes = [ctypes.c_void_p, u64_array, u64_array]
    return library


@dataclass(frozen=True)
class Edges:
    """Executed block transitions: ``count[i]`` times the block at ``address[i]`` (``size[i]``
    bytes) ran right after the block at ``previous[i]`` (0: the entry) for owner ``owner[i]``."""

    previous: np.ndarray
    address: np.ndarray
    size: np.ndarray
    owner: np.ndarray
    count: np.ndarray


def as_pointer(array: np.ndarray, kind: type) -> ctypes._Pointer:
    """A ctypes pointer to a contiguous numpy array's data."""
    return array.ctypes.data_as(ctypes.POINTER(kind))


class BlockCounter:
    """Counts the blocks one unicorn engine executes, charging them to owner address ranges
    (start, end, excluded): an excluded owner keeps all it runs, its callees included, and its
    data accesses bypass the cache model."""

    def __init__(self, owner_ranges: Sequence[tuple[int, int, bool]], data_cache: DataCache | None):
        self.library = counter_library()
        starts = np.array([start for start, _, _ in owner_ranges], dtype=np.uint64)
        ends = np.array([end for _, end, _ in owner_ranges], dtype=np.uint64)
        excluded = np.array([flag for _, _, flag in owner_ranges], dtype=np.uint8)
        self.owner_count = len(owner_ranges)
        geometry = (
            (data_cache.line_bytes, data_cache.sets, data_cache.ways) if data_cache else (1, 0, 0)
        )
        handle = self.library.nnmap_counter_new(
            EDGE_CAPACITY,
            as_pointer(starts, ctypes.c_uint64),
            as_pointer(ends, ctypes.c_uint64),
            as_pointer(excluded, ctypes.c_uint8),
            self.owner_count,
            *geometry,
        )
        if not handle:
            raise HostSimulationError("out of memory creating the host simulation block counter")
        self.handle = ctypes.c_void_p(handle)
        self.has_cache = data_cache is not None

    def close(self) -> None:
        """Release the C counter."""
        if self.handle:
            self.library.nnmap_counter_free(self.handle)
            self.handle = ctypes.c_void_p(0)

    def attach(self, engine: unicorn.Uc) -> None:
        """Install the counter's C hooks on ``engine`` (blocks, and data accesses with a cache)."""
        self._hook(engine, unicorn.UC_HOOK_BLOCK, self.library.nnmap_counter_block)
        if self.has_cache:
            accesses = unicorn.UC_HOOK_MEM_READ | unicorn.UC_HOOK_MEM_WRITE
            self._hook(engine, accesses, self.library.nnmap_counter_memory)

    def _hook(self, engine: unicorn.Uc, kind: int, function: ctypes._CFuncPtr) -> None:  # type: ignore[name-defined]
        handle = ctypes.c_size_t()
        status = uclib.uc_hook_add(
            engine._uch,
            ctypes.byref(handle),
            kind,
            ctypes.cast(function, ctypes.c_void_p),
            self.handle,
            ctypes.c_uint64(1),
            ctypes.c_uint64(0),
        )
        if status != unicorn.UC_ERR_OK:
            raise HostSimulationError(f"unicorn refused the block counter hook (error {status})")

    def limit(self, max_blocks: int) -> None:
        """Stop the emulation (``uc_emu_stop``) after ``max_blocks`` blocks of one call."""
        stop = ctypes.cast(uclib.uc_emu_stop, ctypes.c_void_p)
        self.library.nnmap_counter_limit(self.handle, max_blocks, stop)

    def clear(self) -> None:
        """Start a new call: forget earlier edges, accesses and misses (the cache keeps its
        lines); the next block is reached from no block."""
        self.library.nnmap_counter_clear(self.handle)

    def edges(self) -> Edges:
        """Every counted edge. Raises HostSimulationError when the table overflowed."""
        if self.library.nnmap_counter_overflowed(self.handle):
            raise HostSimulationError(
                f"the program ran more than {EDGE_CAPACITY * 3 // 4} distinct block transitions"
            )
        count = int(self.library.nnmap_counter_edge_count(self.handle))
        arrays = Edges(
            previous=np.zeros(count, dtype=np.uint64),
            address=np.zeros(count, dtype=np.uint64),
            size=np.zeros(count, dtype=np.uint32),
            owner=np.zeros(count, dtype=np.uint32),
            count=np.zeros(count, dtype=np.uint64),
        )
        self.library.nnmap_counter_edges(
            self.handle,
            as_pointer(arrays.previous, ctypes.c_uint64),
            as_pointer(arrays.address, ctypes.c_uint64),
            as_pointer(arrays.size, ctypes.c_uint32),
            as_pointer(arrays.owner, ctypes.c_uint32),
            as_pointer(arrays.count, ctypes.c_uint64),
        )
        return arrays

    def cache_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """(data accesses, cache misses) per owner index (0: before any owner ran)."""
        accesses = np.zeros(self.owner_count + 1, dtype=np.uint64)
        misses = np.zeros(self.owner_count + 1, dtype=np.uint64)
        self.library.nnmap_counter_cache(
            self.handle, as_pointer(accesses, ctypes.c_uint64), as_pointer(misses, ctypes.c_uint64)
        )
        return accesses, misses
