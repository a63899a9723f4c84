"""nnmap's schedule space for the host's convolution, depthwise and fully connected kernels.

A point of the space is a ``KernelSchedule``: four integer knobs applied with TVM's schedule
primitives to the kernel's TE compute (``nnmap.codegen.kernels``), never changing what is
computed, only the loop nest around it (so every point keeps TFLite's numerics bit for bit):

- ``pixels``: output pixels (along the row; dense: input rows) accumulated together, a register
  block whose int32 accumulators live across the reduction;
- ``channels``: output channels per block (the innermost, vectorized loop);
- ``pixels_inside``: 1 puts the pixel loop inside the reduction loops (every weight loaded once
  for the block's pixels), 0 outside (one pixel's whole window, then the next);
- ``unroll``: 1 unrolls the pixel loop of the block;
- ``microkernel``: 1 turns each tap's ``C x channels`` block into the host micro-kernel
  (``nnmap.codegen.host_microkernel``; kernels of schedule "mac_rows", pixels outside).

A fully connected layer's reduction stays innermost unless ``pixels_inside`` (then the block
of outputs is innermost). nnmap's fixed schedule (``nnmap.codegen.emit_c``) is measured beside
the space and stored with an empty schedule.
Why a space of nnmap's own rather than MetaSchedule: nnmap emits C through TVM's C backend and
strips the packed-function ABI; MetaSchedule's builders and runners measure LLVM-built modules
through TVM's runtime, not the C a user ships. A small explicit space is enumerated in a fixed
order, which makes a tuning run resumable from the database alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

from tvm import s_tir, te

from nnmap.codegen.host_microkernel import (
    DENSE_CHANNEL_BLOCK,
    padded_rows_per_output_row,
    tensorize_rows,
)
from nnmap.codegen.kernels import KernelDef

TUNABLE_SCHEDULES = ("mac_rows", "reduce_inner", "dot_inner")
PIXEL_BLOCKS = (1, 2, 4, 5, 8)
CHANNEL_BLOCKS = (8, 16, 32, 64)


@dataclass(frozen=True)
class KernelSchedule:
    """The knobs of one point of the space (see the module's docstring)."""

    pixels: int
    channels: int
    pixels_inside: int
    unroll: int
    microkernel: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    @staticmethod
    def from_dict(knobs: dict[str, int]) -> KernelSchedule:
        return KernelSchedule(knobs["pixels"], knobs["channels"], knobs["pixels_inside"],
                              knobs["unroll"], knobs.get("microkernel", 0))


def is_tunable(kernel: KernelDef) -> bool:
    """Whether ``kernel`` has a schedule space: convolutions, fully connected layers (and
    pooling, whose window reduction has the same loop structure)."""
    return kernel.schedule in TUNABLE_SCHEDULES


def workload_key(kernel: KernelDef) -> str:
    """The exact identity of a kernel's computation: its schedule kind, its parameters' shapes
    and a digest of its unscheduled TE compute (strides, padding, zero points, requantization)."""
    shapes = ",".join("x".join(str(int(d)) for d in t.shape) for t in kernel.tensors)
    text = te.create_prim_func(list(kernel.tensors)).script()
    return f"{kernel.schedule}:{shapes}:{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def _pixel_and_channel_extents(kernel: KernelDef) -> tuple[int, int]:
    output_shape = [int(d) for d in kernel.tensors[-1].shape]
    return output_shape[-2], output_shape[-1]


def candidates(kernel: KernelDef) -> list[KernelSchedule]:
    """Every point of ``kernel``'s space but its default, in a fixed order (only blocks that
    divide the loops they split, so no point adds bounds checks)."""
    pixels_extent, channels_extent = _pixel_and_channel_extents(kernel)
    pixel_blocks = [p for p in PIXEL_BLOCKS if pixels_extent % p == 0]
    channel_blocks = sorted({c for c in (*CHANNEL_BLOCKS, channels_extent)
                             if channels_extent % c == 0 and c <= channels_extent})
    points = []
    for pixels in pixel_blocks:
        for channels in channel_blocks:
            for pixels_inside in (1, 0):
                for unroll in (0, 1) if pixels > 1 else (0,):
                    for micro in (1, 0) if kernel.schedule == "mac_rows" and not pixels_inside \
                            else (0,):
                        points.append(
                            KernelSchedule(pixels, channels, pixels_inside, unroll, micro))
    return [p for p in points if p != default_point(kernel)]


def default_point(kernel: KernelDef) -> KernelSchedule:
    """nnmap's fixed schedule of a "mac_rows" kernel as a point of the space: one pixel, every
    output channel (a fully connected layer's in blocks of ``DENSE_CHANNEL_BLOCK``), the
    micro-kernel."""
    _, channels = _pixel_and_channel_extents(kernel)
    dense = len(kernel.tensors[-1].shape) == 2
    if dense and channels > DENSE_CHANNEL_BLOCK and channels % DENSE_CHANNEL_BLOCK == 0:
        channels = DENSE_CHANNEL_BLOCK
    return KernelSchedule(1, channels, 0, 0, 1)


def apply_schedule(sch: s_tir.Schedule, kernel: KernelDef, point: KernelSchedule) -> None:
    """Block the accumulation's pixel and channel loops, order its loops as ``point`` says, and
    requantize each block right after it is accumulated."""
    out, acc = sch.get_sblock("out"), sch.get_sblock("acc")
    spatial_count = len(kernel.tensors[-1].shape)
    loops = sch.get_loops(acc)
    outer, (pixel, channel), reductions = (
        loops[: spatial_count - 2], loops[spatial_count - 2: spatial_count], loops[spatial_count:])
    pixel_outer, pixel_inner = sch.split(pixel, [None, point.pixels])
    channel_outer, channel_inner = sch.split(channel, [None, point.channels])
    if point.pixels_inside:
        inner = [*reductions, pixel_inner, channel_inner]
    elif kernel.schedule != "dot_inner":
        inner = [pixel_inner, *reductions, channel_inner]
    else:
        inner = [pixel_inner, channel_inner, *reductions]
    sch.reorder(*outer, pixel_outer, channel_outer, *inner)
    sch.reverse_compute_at(out, channel_outer)
    sch.decompose_reduction(acc, inner[0])
    if kernel.schedule == "mac_rows" and len(kernel.tensors[1].shape) == 4:
        padded_rows_per_output_row(sch, pixel_outer, int(kernel.tensors[1].shape[0]))
    if point.unroll:
        sch.unroll(pixel_inner)
    if point.microkernel:
        rows = int(kernel.tensors[1].shape[-2])
        tensorize_rows(sch, rows, point.channels)
