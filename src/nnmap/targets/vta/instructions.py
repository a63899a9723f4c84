"""VTA's instructions, declared once: each is a Python function whose body is its meaning.

A meaning is numpy over an explicit ``VtaState`` (input, weight, accumulator, output and micro-op
buffers, the dependency-token queues). The ``intrinsic`` decorator records the public C function
of VTA's runtime API that issues it (``include/vta/runtime/runtime.h``), its argument names in the
function's order and each argument's role, so code generators, the C emulator's tests and the cost
model read one table. Facts from shared/reference/vta.md ("ISA", "The VTA runtime C API").

Every GEMM and ALU write of an accumulator entry also writes the output buffer entry with the
same index, narrowed to int8 by keeping the low 8 bits (VTA truncates; it does not saturate, so
requantization clips with MIN/MAX first). STORE copies output buffer entries to DRAM.

Dependency tokens: ``dep_push(q_from, q_to)`` is sent when stage ``q_from`` finishes its
previous instruction, ``dep_pop(q_from, q_to)`` makes stage ``q_to``'s next instruction wait for
one. These sequential meanings need every push before its pop in program order (the order TVM
emits); the C emulator runs the stages concurrently and accepts any deadlock-free order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnmap.hw import ExecModule
from nnmap.hw.intrinsic import IntrinsicTable

MEM_UOP, MEM_WGT, MEM_INP, MEM_ACC, MEM_OUT = 0, 1, 2, 3, 4
ALU_MIN, ALU_MAX, ALU_ADD, ALU_SHR, ALU_MUL = 0, 1, 2, 3, 4
MODE_GEMM, MODE_ALU = 0, 1
Q_LOAD, Q_COMPUTE, Q_STORE = 1, 2, 3
TOKEN_QUEUES = ((1, 2), (2, 1), (2, 3), (3, 2))  # (from, to) between neighbouring stages
STAGES = ("load", "compute", "store", "host")
ROLES = ("dram", "sram", "size", "config", "kernel", "queue")
KERNEL_C_ARGS = ("uop_handle", "finit", "signature", "nbytes")
IMM_MIN, IMM_MAX = -(1 << 15), (1 << 15) - 1  # vta.md: 16-bit immediate


class VtaProgramError(ValueError):
    """A VTA program is malformed: an index outside a buffer, or a token popped before pushed."""


@dataclass(frozen=True)
class VtaConfig:
    """Buffer geometry of one VTA module, derived from its target description."""

    batch: int
    block_in: int
    block_out: int
    inp_entries: int
    wgt_entries: int
    acc_entries: int
    out_entries: int
    uop_entries: int

    @staticmethod
    def from_module(module: ExecModule) -> VtaConfig:
        axes = {axis.name: axis.size for axis in module.array.axes}
        batch, block_in, block_out = axes["batch"], axes["block_in"], axes["block_out"]
        inp, wgt, acc = (module.memory_for(0, operand) for operand in ("I", "W", "O"))
        return VtaConfig(
            batch=batch,
            block_in=block_in,
            block_out=block_out,
            inp_entries=inp.size // (batch * block_in),
            wgt_entries=wgt.size // (block_out * block_in),
            acc_entries=acc.size // (batch * block_out * module.array.acc_bytes),
            out_entries=int(module.timing["out_buffer_bytes"]) // (batch * block_out),
            uop_entries=int(module.timing["uop_buffer_entries"]),
        )

    def uop_fields(self) -> tuple[int, int, int]:
        """Bit widths of a packed uop's (dst, src, wgt) indices, low bits first."""
        widths = (self.acc_entries, self.inp_entries, self.wgt_entries)
        return tuple((n - 1).bit_length() for n in widths)  # type: ignore[return-value]


@dataclass(frozen=True)
class Uop:
    """One micro-op: accumulator (dst), input or second-accumulator (src) and weight indices."""

    dst: int
    src: int
    wgt: int = 0

    def pack(self, config: VtaConfig) -> int:
        dst_bits, src_bits, _ = config.uop_fields()
        return self.dst | (self.src << dst_bits) | (self.wgt << (dst_bits + src_bits))


@dataclass(frozen=True)
class UopLoop:
    """``VTAUopLoopBegin(extent, dst_factor, src_factor, wgt_factor)``."""

    extent: int
    dst_factor: int
    src_factor: int
    wgt_factor: int = 0


@dataclass(frozen=True)
class UopKernel:
    """A micro-op kernel: up to two loops (outer first) around a list of uops."""

    mode: int
    uops: tuple[Uop, ...]
    loops: tuple[UopLoop, ...] = ()
    reset: bool = False
    opcode: int = 0
    use_imm: bool = False
    imm: int = 0

    def __post_init__(self) -> None:
        if len(self.loops) > 2 or not self.uops:
            raise VtaProgramError("a uop kernel has 1+ uops inside at most two loops")
        if self.mode == MODE_ALU and (self.reset or not ALU_MIN <= self.opcode <= ALU_MUL):
            raise VtaProgramError(f"ALU kernel: opcode {self.opcode} not in 0..4, or reset set")
        if not IMM_MIN <= self.imm <= IMM_MAX:
            raise VtaProgramError(f"immediate {self.imm} does not fit 16 bits")

    def iterations(self) -> list[tuple[int, int, int]]:
        """(dst, src, wgt) of every uop execution, loops outermost first."""
        outer, inner = (*self.loops, UopLoop(1, 0, 0), UopLoop(1, 0, 0))[:2]
        return [
            (
                uop.dst + i * outer.dst_factor + j * inner.dst_factor,
                uop.src + i * outer.src_factor + j * inner.src_factor,
                uop.wgt + i * outer.wgt_factor + j * inner.wgt_factor,
            )
            for i in range(outer.extent)
            for j in range(inner.extent)
            for uop in self.uops
        ]

    def render_finit(self, name: str) -> str:
        """C text of the ``int name(void *signature)`` callback that records this kernel."""
        lines = [f"static int {name}(void *signature) {{", "    (void)signature;"]
        for loop in self.loops:
            args = (loop.extent, loop.dst_factor, loop.src_factor, loop.wgt_factor)
            lines.append(f"    VTAUopLoopBegin({', '.join(f'{a}u' for a in args)});")
        for uop in self.uops:
            pushed = (self.mode, int(self.reset), uop.dst, uop.src, uop.wgt, self.opcode)
            fields = ", ".join(f"{a}u" for a in pushed)
            lines.append(f"    VTAUopPush({fields}, {int(self.use_imm)}u, {self.imm});")
        lines += ["    VTAUopLoopEnd();"] * len(self.loops)
        lines += ["    return 0;", "}"]
        return "\n".join(lines)


@dataclass
class VtaState:
    """Everything an instruction can read or write (mutable: instructions update it in place)."""

    inp: np.ndarray
    wgt: np.ndarray
    acc: np.ndarray
    out: np.ndarray
    uop: np.ndarray
    tokens: dict[tuple[int, int], int] = field(
        default_factory=lambda: dict.fromkeys(TOKEN_QUEUES, 0)
    )

    @staticmethod
    def empty(config: VtaConfig) -> VtaState:
        """Zeroed buffers of ``config``'s sizes; no tokens in flight."""
        batch, block_in, block_out = config.batch, config.block_in, config.block_out
        return VtaState(
            inp=np.zeros((config.inp_entries, batch, block_in), np.int8),
            wgt=np.zeros((config.wgt_entries, block_out, block_in), np.int8),
            acc=np.zeros((config.acc_entries, batch, block_out), np.int32),
            out=np.zeros((config.out_entries, batch, block_out), np.int8),
            uop=np.zeros(config.uop_entries, np.uint32),
        )

    def sram(self, memory_type: int) -> np.ndarray:
        buffers = {MEM_UOP: self.uop, MEM_WGT: self.wgt, MEM_INP: self.inp}
        buffers.update({MEM_ACC: self.acc, MEM_OUT: self.out})
        if memory_type not in buffers:
            raise VtaProgramError(f"memory type {memory_type} is not one of 0..4")
        return buffers[memory_type]


TABLE = IntrinsicTable(STAGES, ROLES, {"kernel": KERNEL_C_ARGS})
INTRINSICS = TABLE.entries
intrinsic = TABLE.define
instructions = TABLE.instructions


def _check_span(buffer: np.ndarray, first: int, count: int, what: str) -> None:
    if first < 0 or first + count > buffer.shape[0]:
        raise VtaProgramError(
            f"{what} entries {first}..{first + count - 1} outside 0..{len(buffer) - 1}"
        )


def narrow(values: np.ndarray) -> np.ndarray:
    """int32 accumulator -> int8 output as VTA does: keep the low 8 bits."""
    return values.astype(np.int8)


@intrinsic(
    "VTALoadBuffer2D",
    "load",
    config="cmd dst_memory_type",
    dram="dram src_elem_offset",
    size="x_size y_size x_stride x_pad_before y_pad_before x_pad_after y_pad_after",
    sram="dst_sram_index",
)
def load_2d(
    state: VtaState,
    cmd: Any,
    dram: np.ndarray,
    src_elem_offset: int,
    x_size: int,
    y_size: int,
    x_stride: int,
    x_pad_before: int,
    y_pad_before: int,
    x_pad_after: int,
    y_pad_after: int,
    dst_sram_index: int,
    dst_memory_type: int,
) -> None:
    """DRAM elements (rows x_stride apart) -> consecutive SRAM entries, zero padding on the fly."""
    sram = state.sram(dst_memory_type)
    if dst_memory_type == MEM_OUT:
        raise VtaProgramError("the output buffer is written by GEMM/ALU, not loaded")
    rows, cols = y_pad_before + y_size + y_pad_after, x_pad_before + x_size + x_pad_after
    _check_span(sram, dst_sram_index, rows * cols, "load destination")
    tile = np.zeros((rows, cols, *sram.shape[1:]), dtype=sram.dtype)
    for y in range(y_size):
        start = src_elem_offset + y * x_stride
        _check_span(dram, start, x_size, "load source")
        tile[y_pad_before + y, x_pad_before : x_pad_before + x_size] = dram[start : start + x_size]
    sram[dst_sram_index : dst_sram_index + rows * cols] = tile.reshape(-1, *sram.shape[1:])


@intrinsic(
    "VTAStoreBuffer2D",
    "store",
    sram="src_sram_index",
    config="cmd src_memory_type",
    dram="dram dst_elem_offset",
    size="x_size y_size x_stride",
)
def store_2d(
    state: VtaState,
    cmd: Any,
    src_sram_index: int,
    src_memory_type: int,
    dram: np.ndarray,
    dst_elem_offset: int,
    x_size: int,
    y_size: int,
    x_stride: int,
) -> None:
    """Consecutive output buffer entries -> DRAM rows x_stride elements apart."""
    if src_memory_type != MEM_OUT:
        raise VtaProgramError(f"stores read the output buffer (4), not memory {src_memory_type}")
    _check_span(state.out, src_sram_index, x_size * y_size, "store source")
    for y in range(y_size):
        start = dst_elem_offset + y * x_stride
        _check_span(dram, start, x_size, "store destination")
        first = src_sram_index + y * x_size
        dram[start : start + x_size] = state.out[first : first + x_size]


def _check_kernel(state: VtaState, kernel: UopKernel, mode: int) -> list[tuple[int, int, int]]:
    if kernel.mode != mode:
        raise VtaProgramError(f"kernel of mode {kernel.mode} pushed as mode {mode}")
    steps = kernel.iterations()
    src_buffer = state.inp if mode == MODE_GEMM else state.acc
    for dst, src, wgt in steps:
        _check_span(state.acc, dst, 1, "accumulator")
        if mode == MODE_ALU and kernel.use_imm:
            continue
        _check_span(src_buffer, src, 1, "source")
        if mode == MODE_GEMM:
            _check_span(state.wgt, wgt, 1, "weight")
    return steps


def _write_acc(state: VtaState, dst: int, values: np.ndarray) -> None:
    state.acc[dst] = values.astype(np.int32)
    state.out[dst] = narrow(state.acc[dst])


@intrinsic("VTAPushGEMMOp", "compute", kernel="kernel")
def push_gemm(state: VtaState, kernel: UopKernel) -> None:
    """acc[dst] = 0 (reset) or acc[dst] += inp[src] @ wgt[wgt].T, for every uop iteration."""
    for dst, src, wgt in _check_kernel(state, kernel, MODE_GEMM):
        if kernel.reset:
            _write_acc(state, dst, np.zeros_like(state.acc[dst]))
            continue
        product = state.inp[src].astype(np.int64) @ state.wgt[wgt].astype(np.int64).T
        _write_acc(state, dst, state.acc[dst].astype(np.int64) + product)


def alu(opcode: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One ALU opcode on int32 values (as int64); the caller wraps to int32."""
    a, b = a.astype(np.int64), np.broadcast_to(b, a.shape).astype(np.int64)
    if opcode == ALU_MIN:
        return np.minimum(a, b)
    if opcode == ALU_MAX:
        return np.maximum(a, b)
    if opcode == ALU_ADD:
        return a + b
    if opcode == ALU_MUL:
        return a * b
    right = a >> np.minimum(np.maximum(b, 0), 31)
    left = a << np.minimum(np.maximum(-b, 0), 31)
    return np.where(b >= 0, right, left)


@intrinsic("VTAPushALUOp", "compute", kernel="kernel")
def push_alu(state: VtaState, kernel: UopKernel) -> None:
    """acc[dst] = op(acc[dst], imm or acc[src]); SHR by a negative amount shifts left."""
    for dst, src, _ in _check_kernel(state, kernel, MODE_ALU):
        operand = np.array(kernel.imm) if kernel.use_imm else state.acc[src]
        _write_acc(state, dst, alu(kernel.opcode, state.acc[dst], operand))


def _token_queue(q_from: int, q_to: int) -> tuple[int, int]:
    if (q_from, q_to) not in TOKEN_QUEUES:
        raise VtaProgramError(f"no token queue from stage {q_from} to stage {q_to}")
    return q_from, q_to


@intrinsic("VTADepPush", "host", config="cmd", queue="q_from q_to")
def dep_push(state: VtaState, cmd: Any, q_from: int, q_to: int) -> None:
    """Stage ``q_from`` sends one token to stage ``q_to`` after its previous instruction."""
    state.tokens[_token_queue(q_from, q_to)] += 1


@intrinsic("VTADepPop", "host", config="cmd", queue="q_from q_to")
def dep_pop(state: VtaState, cmd: Any, q_from: int, q_to: int) -> None:
    """Stage ``q_to``'s next instruction waits for one token from stage ``q_from``."""
    queue = _token_queue(q_from, q_to)
    if state.tokens[queue] == 0:
        raise VtaProgramError(f"deadlock: stage {q_to} pops a token stage {q_from} never pushed")
    state.tokens[queue] -= 1


@intrinsic("VTASynchronize", "host", config="cmd wait_cycles")
def synchronize(state: VtaState, cmd: Any, wait_cycles: int) -> None:
    """Run what was queued; every pushed token must have been popped."""
    left = {queue: count for queue, count in state.tokens.items() if count}
    if left:
        raise VtaProgramError(f"tokens pushed but never popped (from, to): {left}")
