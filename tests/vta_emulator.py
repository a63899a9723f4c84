"""A ctypes driver of nnmap's VTA runtime emulator that mirrors every call with its numpy meaning
in ``nnmap.targets.vta.instructions``, and small builders of micro-op kernels, for the tests."""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from nnmap.targets import get_target
from nnmap.targets.vta import instructions as vi
from nnmap.targets.vta.instructions import Uop, UopKernel, UopLoop, VtaConfig, VtaState

VTA = get_target("vta").module("vta")
CONFIG = VtaConfig.from_module(VTA)

U32, I32, VP = ctypes.c_uint32, ctypes.c_int32, ctypes.c_void_p
H2D, D2H = 1, 2  # VTABufferCopy kinds (VTA_MEMCPY_H2D, VTA_MEMCPY_D2H)
FINIT = ctypes.CFUNCTYPE(ctypes.c_int, VP)
SIGNATURES = {
    "VTATLSCommandHandle": ([], VP),
    "VTALoadBuffer2D": ([VP, VP, *[U32] * 10], None),
    "VTAStoreBuffer2D": ([VP, U32, U32, VP, U32, U32, U32, U32], None),
    "VTAPushGEMMOp": ([ctypes.POINTER(VP), FINIT, VP, ctypes.c_int], ctypes.c_int),
    "VTAPushALUOp": ([ctypes.POINTER(VP), FINIT, VP, ctypes.c_int], ctypes.c_int),
    "VTAUopLoopBegin": ([U32] * 4, None),
    "VTAUopPush": ([*[U32] * 7, I32], None),
    "VTAUopLoopEnd": ([], None),
    "VTADepPush": ([VP, ctypes.c_int, ctypes.c_int], ctypes.c_int),
    "VTADepPop": ([VP, ctypes.c_int, ctypes.c_int], ctypes.c_int),
    "VTASynchronize": ([VP, U32], None),
    "VTABufferAlloc": ([ctypes.c_size_t], VP),
    "VTABufferCopy": ([VP, ctypes.c_size_t, VP, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_int],
                      None),
    "nnmap_vta_error": ([], ctypes.c_char_p),
    "nnmap_vta_reset": ([], None),
    "nnmap_vta_cycles": ([], ctypes.c_uint64),
    "nnmap_vta_stage_busy": ([ctypes.c_int], ctypes.c_uint64),
    "nnmap_vta_layer_begin": ([ctypes.c_char_p], None),
    "nnmap_vta_layer_end": ([], None),
    "nnmap_vta_layer_count": ([], ctypes.c_size_t),
    "nnmap_vta_layer_name": ([ctypes.c_size_t], ctypes.c_char_p),
    "nnmap_vta_layer_cycles": ([ctypes.c_size_t], ctypes.c_uint64),
    "nnmap_vta_sram": ([U32], VP),
    "nnmap_vta_sram_entries": ([U32], U32),
}


def open_library(library: Path) -> ctypes.CDLL:
    """The emulator's shared library with every runtime call's C signature declared."""
    handle = ctypes.CDLL(str(library))
    for name, (args, result) in SIGNATURES.items():
        function = getattr(handle, name)
        function.argtypes, function.restype = args, result
    return handle


class Emulator:
    """Drives the C emulator and the numpy meanings with the same calls."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        lib.nnmap_vta_reset()
        self.lib, self.cmd, self.state = lib, lib.VTATLSCommandHandle(), VtaState.empty(CONFIG)
        self.handles: dict[UopKernel, ctypes.c_void_p] = {}
        self.alive: list[object] = []  # DRAM arrays and callbacks the C side still points to
        self.stored: dict[int, np.ndarray] = {}
        self.buffers: dict[int, int] = {}  # id of a DRAM array -> its VTABufferAlloc handle
        self.stored_buffers: list[tuple[np.ndarray, int]] = []

    def buffer(self, dram: np.ndarray) -> int:
        """The VTA buffer mirroring ``dram`` (allocated and copied in on first use)."""
        if id(dram) not in self.buffers:
            handle = self.lib.VTABufferAlloc(dram.nbytes)
            self.lib.VTABufferCopy(dram.ctypes.data, 0, handle, 0, dram.nbytes, H2D)
            self.buffers[id(dram)] = handle
        return self.buffers[id(dram)]

    def load(self, dram: np.ndarray, *args: int) -> None:
        self.alive.append(dram)
        self.lib.VTALoadBuffer2D(self.cmd, self.buffer(dram), *args)
        vi.load_2d(self.state, None, dram, *args)

    def store(self, sram_index: int, dram: np.ndarray, *args: int) -> None:
        """C stores into ``dram`` (through its VTA buffer, copied back after each sync), the
        meaning into its mirror ``self.stored[id(dram)]``."""
        self.alive.append(dram)
        handle = self.buffer(dram)
        self.stored_buffers.append((dram, handle))
        self.lib.VTAStoreBuffer2D(self.cmd, sram_index, vi.MEM_OUT, handle, *args)
        mirror = self.stored.setdefault(id(dram), dram.copy())
        vi.store_2d(self.state, None, sram_index, vi.MEM_OUT, mirror, *args)

    def push(self, kernel: UopKernel) -> int:
        handle = self.handles.setdefault(kernel, VP())
        finit = FINIT(lambda _signature: self._record(kernel))
        self.alive.append(finit)
        push_op = self.lib.VTAPushGEMMOp if kernel.mode == vi.MODE_GEMM else self.lib.VTAPushALUOp
        status = int(push_op(ctypes.byref(handle), finit, None, 0))
        (vi.push_gemm if kernel.mode == vi.MODE_GEMM else vi.push_alu)(self.state, kernel)
        return status

    def _record(self, kernel: UopKernel) -> int:
        for loop in kernel.loops:
            self.lib.VTAUopLoopBegin(loop.extent, loop.dst_factor, loop.src_factor, loop.wgt_factor)
        for uop in kernel.uops:
            fields = (kernel.mode, kernel.reset, uop.dst, uop.src, uop.wgt, kernel.opcode)
            self.lib.VTAUopPush(*fields, kernel.use_imm, kernel.imm)
        for _ in kernel.loops:
            self.lib.VTAUopLoopEnd()
        return 0

    def token(self, push: bool, q_from: int, q_to: int) -> None:
        (self.lib.VTADepPush if push else self.lib.VTADepPop)(self.cmd, q_from, q_to)

    def sync(self) -> None:
        self.lib.VTASynchronize(self.cmd, 1_000_000)
        for dram, handle in self.stored_buffers:
            self.lib.VTABufferCopy(handle, 0, dram.ctypes.data, 0, dram.nbytes, D2H)

    def error(self) -> str:
        return self.lib.nnmap_vta_error().decode()

    def sram(self, memory_type: int) -> np.ndarray:
        reference = self.state.sram(memory_type)
        size = reference.size * reference.itemsize
        raw = (ctypes.c_uint8 * size).from_address(self.lib.nnmap_vta_sram(memory_type))
        return np.frombuffer(memoryview(raw), dtype=reference.dtype).reshape(reference.shape)

    def assert_same_buffers(self) -> None:
        assert self.error() == ""
        for dram in self.alive:
            if isinstance(dram, np.ndarray) and id(dram) in self.stored:
                np.testing.assert_array_equal(dram, self.stored[id(dram)])
        for memory in (vi.MEM_INP, vi.MEM_WGT, vi.MEM_ACC, vi.MEM_OUT):
            np.testing.assert_array_equal(self.sram(memory), self.state.sram(memory))


def random_int8(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.integers(-128, 128, size=shape, dtype=np.int8)


INP_SHAPE, WGT_SHAPE = (CONFIG.batch, CONFIG.block_in), (CONFIG.block_out, CONFIG.block_in)
ACC_SHAPE = (CONFIG.batch, CONFIG.block_out)


def gemm(uops: list[tuple[int, int, int]], loops: tuple[UopLoop, ...] = (), reset=False):
    return UopKernel(vi.MODE_GEMM, tuple(Uop(*u) for u in uops), loops, reset=reset)


def alu(opcode: int, uops: list[tuple[int, int]], use_imm=False, imm=0, loops=()) -> UopKernel:
    uop_values = tuple(Uop(d, s) for d, s in uops)
    return UopKernel(vi.MODE_ALU, uop_values, loops, False, opcode, use_imm, imm)
