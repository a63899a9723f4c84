"""A Conv2D (groups 1) or FullyConnected layer as one kernel whose GEMM runs on Gemmini.

Exact mode: the kernel gathers the input window of every output pixel (im2col, the input zero
point for padding, zeros past the edges) into a staging buffer padded to whole DIM x DIM tiles,
runs the GEMM on Gemmini (int32 accumulators, moved out at full width), and adds the folded
bias to the int32 results and requantizes them on the host with TFLite's fixed-point arithmetic,
as the host kernels do. All three stages are one TE compute, scheduled and emitted to C by TVM.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tvm
import tvm_ffi
from tvm import ir, s_tir, te, tirx

from nnmap.codegen.accel_gemm import conv_gather, gemm_operands, requantized
from nnmap.codegen.kernels import (
    ACTIVATION,
    CONSTANT,
    OUTPUT,
    KernelDef,
    KernelParam,
)
from nnmap.ir import Conv2D, FullyConnected, Graph, Tensor
from nnmap.targets.gemmini import tensor_intrinsics as gi
from nnmap.targets.gemmini.instructions import INTRINSICS
from nnmap.targets.gemmini.schedule import schedule_gemm
from nnmap.targets.gemmini.tensor_intrinsics import GemminiIntrinsics
from nnmap.targets.gemmini.tiling import GemmShape, GemmTiles, pad_to

GEMMINI_SCHEDULE = "gemmini"
# Schedules the GEMM in place with the intrinsics of the target's geometry; may return the final
# function (e.g. with loop-carried variables bound after scheduling), else the schedule's
# function is taken as it is.
ScheduleGemm = Callable[
    [s_tir.Schedule, GemmTiles, ir.expr.Var, GemminiIntrinsics], tirx.PrimFunc | None
]


def padded(matrix: np.ndarray, rows: int, cols: int, dtype: str) -> np.ndarray:
    """``matrix`` zero-padded to ``rows`` x ``cols``."""
    out = np.zeros((rows, cols), dtype=dtype)
    out[: matrix.shape[0], : matrix.shape[1]] = matrix
    return out


def _staged_input(
    layer: Conv2D | FullyConnected,
    inp: Tensor,
    out: Tensor,
    data: te.Tensor,
    shape: GemmShape,
    rows: int,
    depth: int,
    zp_in: int,
) -> te.Tensor:
    if isinstance(layer, Conv2D):
        gather = conv_gather(layer, inp, out, data, zp_in)
    else:

        def gather(m: tirx.PrimExpr, r: tirx.PrimExpr) -> tirx.PrimExpr:
            return data[m, r]

    def value(m: tirx.PrimExpr, r: tirx.PrimExpr) -> tirx.PrimExpr:
        inside = tirx.all(m < rows, r < depth)
        return te.if_then_else(inside, gather(m, r), tirx.const(0, "int8"))

    return te.compute((shape.m, shape.r), value, name="staged")


def gemm_geometry(
    layer: Conv2D | FullyConnected, graph: Graph, dim: int, m_tile: int | None = None
) -> tuple[GemmShape, int, int]:
    """The padded GEMM of a layer (M to a multiple of ``m_tile``, by default ``dim``; N and R
    to multiples of ``dim``), its output rows (pixels) and its output channels."""
    channels = int(layer.weight.shape[0])
    depth = int(layer.weight.size) // channels
    rows = graph.tensor(layer.output).size // channels
    m = pad_to(rows, m_tile or dim)
    return GemmShape(m, pad_to(channels, dim), pad_to(depth, dim), rows), rows, channels


def reads_input_directly(layer: Conv2D | FullyConnected, shape: GemmShape, dim: int) -> bool:
    """Whether the GEMM's input mvins read the layer's input tensor as it is, with no staging
    copy: a fully connected layer of one m block (at most DIM rows: each mvin moves the real
    rows only) whose depth is whole DIM columns (each mvin reads whole rows of the tensor)."""
    depth = int(layer.weight.size) // int(layer.weight.shape[0])
    return isinstance(layer, FullyConnected) and shape.m == dim and shape.r == depth


@dataclass(frozen=True)
class GemmStage:
    """A layer's GEMM in TE: the input, the constant operands, and ``gemm`` over the gathered
    input (padded to whole tiles), before its results are scaled back to int8."""

    shape: GemmShape
    rows: int
    channels: int
    out_shape: tuple[int, ...]
    data: te.Tensor
    weight: te.Tensor
    bias: te.Tensor
    gemm: te.Tensor


def gemm_stage(
    layer: Conv2D | FullyConnected, graph: Graph, dim: int, m_tile: int
) -> GemmStage:
    """The gather and the GEMM of a layer (without its bias), M padded to whole m tiles; a
    layer whose input mvins read its input as it is (``reads_input_directly``) has no gather:
    its GEMM reads the input tensor, declared as its whole m block (the mvins read its real
    rows only)."""
    inp, out = graph.tensor(layer.inputs[0]), graph.tensor(layer.output)
    shape, rows, channels = gemm_geometry(layer, graph, dim, m_tile)
    depth = int(layer.weight.size) // channels
    weight = te.placeholder((shape.r, shape.n), "int8", name="weight")
    bias = te.placeholder((shape.n,), "int32", name="bias")
    if reads_input_directly(layer, shape, dim):
        data = te.placeholder((shape.m, shape.r), "int8", name="data")
        staged = data
    else:
        data_shape = inp.shape if isinstance(layer, Conv2D) else (rows, depth)
        data = te.placeholder(data_shape, "int8", name="data")
        zp_in = int(inp.zero_point or 0)
        staged = _staged_input(layer, inp, out, data, shape, rows, depth, zp_in)
    r = te.reduce_axis((0, shape.r), "r")
    gemm = te.compute(
        (shape.m, shape.n),
        lambda m, n: te.sum(staged[m, r].astype("int32") * weight[r, n].astype("int32"), axis=r),
        name="gemm",
    )
    out_shape = out.shape if isinstance(layer, Conv2D) else (rows, channels)
    return GemmStage(shape, rows, channels, out_shape, data, weight, bias, gemm)


def kernel_def(
    stage: GemmStage,
    extra: tuple[te.Tensor, ...],
    result: te.Tensor,
    constants: dict[str, np.ndarray],
) -> KernelDef:
    """The kernel of a GEMM stage: data, weight, bias, the ``extra`` constants, the output."""
    tensors = (stage.data, stage.weight, stage.bias, *extra, result)
    roles = (ACTIVATION, CONSTANT, CONSTANT, *(CONSTANT for _ in extra), OUTPUT)
    params = tuple(
        KernelParam(t.op.name, str(t.dtype), role) for t, role in zip(tensors, roles, strict=True)
    )
    return KernelDef(params, tensors, GEMMINI_SCHEDULE, constants)


def gemm_kernel(
    layer: Conv2D | FullyConnected, graph: Graph, dim: int, m_tile: int
) -> tuple[KernelDef, GemmShape]:
    """The layer's TE pipeline (gather, GEMM, bias and requantization) and its GEMM shape."""
    assert layer.requant is not None
    stage = gemm_stage(layer, graph, dim, m_tile)
    shape, channels = stage.shape, stage.channels
    zp_in = int(graph.tensor(layer.inputs[0]).zero_point or 0)
    zp_out = int(graph.tensor(layer.output).zero_point or 0)
    mult = te.placeholder((channels,), "int32", name="mult")
    shift = te.placeholder((channels,), "int32", name="shift")
    result = requantized(
        stage.gemm, stage.out_shape, layer.requant, layer.clamp, zp_out, mult, shift, stage.bias
    )
    matrix, bias = gemm_operands(layer, zp_in)
    constants = {
        "weight": padded(matrix, shape.r, shape.n, "int8"),
        "bias": padded(bias[None, :], 1, shape.n, "int32")[0],
        "mult": np.ascontiguousarray(
            np.broadcast_to(layer.requant.multiplier, (channels,)), dtype=np.int32
        ),
        "shift": np.ascontiguousarray(
            np.broadcast_to(layer.requant.shift, (channels,)), dtype=np.int32
        ),
    }
    return kernel_def(stage, (mult, shift), result, constants), shape


def _moves_out(stmt: tirx.Stmt) -> bool:
    """Whether ``stmt`` issues a Gemmini mvout."""
    mvout = INTRINSICS["mvout"].c_name
    found: list[ir.expr.Call] = []

    def seen(call: ir.expr.Call) -> ir.expr.Call:
        if call.op.name == "tirx.call_extern" and str(call.args[0].value) == mvout:
            found.append(call)
        return call

    tvm_ffi.structural_map(stmt, [(ir.expr.Call, seen)])
    return bool(found)


def _last_mvout_nest(body: tirx.Stmt) -> tirx.Stmt:
    """The outermost loop (or condition) that issues the kernel's last mvouts: the CPU may read
    their results only after a fence behind it."""
    node = body
    while True:
        if isinstance(node, s_tir.SBlockRealize):
            node = node.block
        elif isinstance(node, tirx.SeqStmt):
            node = [child for child in node.seq if _moves_out(child)][-1]
        elif isinstance(node, tirx.For | tirx.IfThenElse):
            return node
        else:
            node = node.body


def _fenced(func: tirx.PrimFunc) -> tirx.PrimFunc:
    """``func`` with ``gemmini_fence()`` right behind its last mvout nest, before the host stage
    that reads the results (mvouts complete asynchronously), and nowhere inside the stream."""
    nest = _last_mvout_nest(func.body)

    def fence_behind(seq: tirx.SeqStmt) -> tirx.Stmt:
        children = list(seq.seq)
        at = next((i for i, child in enumerate(children) if child.same_as(nest)), None)
        if at is None:
            return seq
        return tirx.SeqStmt([*children[: at + 1], gi.fence_call(), *children[at + 1 :]])

    if nest.same_as(func.body):
        return func.with_body(tirx.SeqStmt([func.body, gi.fence_call()]))
    return func.with_body(tvm_ffi.structural_map(func.body, [(tirx.SeqStmt, fence_behind)]))


def _with_prologue(func: tirx.PrimFunc, shape: GemmShape) -> tirx.PrimFunc:
    """Issue the layer's Gemmini configuration before the kernel, and the fence between its
    last mvouts and the host stage that reads them."""
    configs = gi.config_calls(shape.input_width, shape.n, shape.n * 4)
    fenced = _fenced(func)
    return fenced.with_body(tirx.SeqStmt([*configs, fenced.body]))


def gather_loops(
    layer: Conv2D | FullyConnected, graph: Graph
) -> tuple[int, tuple[int, int]] | None:
    """How a convolution's gather nests as its input is laid out: output pixels per output row,
    and (taps per kernel row, channels) per reduction row (None: a fully connected layer copies
    its rows as they are)."""
    if not isinstance(layer, Conv2D):
        return None
    _, _, taps, channels = layer.weight.shape
    return int(graph.tensor(layer.output).shape[2]), (int(taps), int(channels))


def _nest_gather(sch: s_tir.Schedule, loops: tuple[int, tuple[int, int]]) -> None:
    """Split the gather's pixel loop into output rows and its reduction loop into kernel rows,
    taps and channels: the index arithmetic (a division and a remainder by the row width and by
    the tap size per gathered byte) moves out of the inner loops, which copy a tap's channels.
    Where the GEMM pads a loop to whole tiles past a multiple of the factors, TVM guards the
    last part with a bounds test; measured on Rocket that still beats the flat loop (ResNet-8's
    first convolution, 27 values padded to 32 per pixel: 1.35 M -> 0.31 M host cycles)."""
    row_width, tap = loops
    pixels, reduction = sch.get_loops(sch.get_sblock("staged"))
    sch.split(pixels, factors=[None, row_width])
    sch.split(reduction, factors=[None, *tap])


def scheduled_gemm_module(
    kernel: KernelDef,
    shape: GemmShape,
    tiles: GemmTiles,
    symbol: str,
    intrinsics: GemminiIntrinsics,
    schedule: ScheduleGemm = schedule_gemm,
    gather: tuple[int, tuple[int, int]] | None = None,
) -> tvm.IRModule:
    """The kernel's PrimFunc under ``symbol``: host stages as they are (the gather nested as
    ``gather`` says, see ``gather_loops``), the GEMM tensorized by ``schedule`` into
    ``intrinsics``."""
    func = te.create_prim_func(list(kernel.tensors)).with_attr("global_symbol", symbol)
    sch = s_tir.Schedule(tvm.IRModule({symbol: func}))
    sch.work_on(symbol)
    if gather is not None:
        _nest_gather(sch, gather)
    returned = schedule(sch, tiles, func.params[2], intrinsics)
    scheduled = returned if returned is not None else sch.mod[symbol]
    return tvm.IRModule({symbol: _with_prologue(scheduled, shape)})
