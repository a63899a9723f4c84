"""A depthwise Conv2D as one kernel whose block-diagonal GEMM runs on VTA (exact numerics).

The layout is the one the cost model planned from the embedding solver's results
(``depthwise.chosen_layout``). In VTA's blocked layouts: ``staged[m, block * r_blocks + rb, i]``
(the host's gather, ``nnmap.codegen.accel_depthwise``), the block-diagonal constant
``weight[nb, rb, o, i]`` and ``gemm[m, nb, o] = bias + sum staged[m, nb * r_blocks + rb, i] *
weight[nb, rb, o, i]``: each channel block reads its own reduction blocks, one block per tile
(``VtaTile.input_blocks``). The results leave VTA as byte planes and are requantized on the
host, as for the dense layers (``lower.exact_kernel``).
"""

from __future__ import annotations

from tvm import te, tirx

from nnmap.codegen.accel_depthwise import depthwise_gather, depthwise_taps, folded_column_bias
from nnmap.codegen.kernels import KernelDef
from nnmap.hw import ExecModule
from nnmap.ir import Conv2D, Graph
from nnmap.mapping.graph import LayerMapping
from nnmap.targets.vta.depthwise import chosen_layout, layer_tile
from nnmap.targets.vta.geometry import VtaGemm, result_planes
from nnmap.targets.vta.lower import GemmStage, _blocked_bias, _blocked_weight, exact_kernel


def depthwise_vta_kernel(
    layer: Conv2D, graph: Graph, mapped: LayerMapping, module: ExecModule
) -> tuple[KernelDef, VtaGemm]:
    """The layer's TE pipeline on VTA and its tiled block-diagonal GEMM."""
    inp, out = graph.tensor(layer.inputs[0]), graph.tensor(layer.output)
    zp_in, zp_out = int(inp.zero_point or 0), int(out.zero_point or 0)
    layout = chosen_layout(mapped.workload, module)
    tile = layer_tile(mapped.workload, mapped.mapping, module)
    matrix = layout.weight_matrix(depthwise_taps(layer))
    bias = folded_column_bias(layer, layout, zp_in)
    axes = {axis.name: axis.size for axis in module.array.axes}
    rows = out.size // layout.channels
    gemm = VtaGemm(
        **vars(tile), rows=rows, channels=layout.width, depth=layout.depth,
        planes=result_planes(matrix, bias), block_in=axes["block_in"],
        block_out=axes["block_out"],
    )
    bi, bo = gemm.block_in, gemm.block_out
    data = te.placeholder(inp.shape, "int8", name="data")
    weight = te.placeholder((gemm.n_blocks, gemm.r_blocks, bo, bi), "int8", name="weight")
    bias_in = te.placeholder((gemm.n_blocks, bo), "int32", name="bias")
    gather = depthwise_gather(layer, graph, layout, data, rows, zp_in)

    def value(m: tirx.PrimExpr, q: tirx.PrimExpr, i: tirx.PrimExpr) -> tirx.PrimExpr:
        return gather(m, q // gemm.r_blocks, q % gemm.r_blocks * bi + i)

    staged = te.compute(
        (gemm.rows_padded, gemm.input_blocks * gemm.r_blocks, bi), value, name="staged"
    )
    rb, i = te.reduce_axis((0, gemm.r_blocks), "rb"), te.reduce_axis((0, bi), "i")
    acc = te.compute(
        (gemm.rows_padded, gemm.n_blocks, bo),
        lambda m, nb, o: te.sum(
            staged[m, nb * gemm.r_blocks + rb, i].astype("int32")
            * weight[nb, rb, o, i].astype("int32"),
            axis=[rb, i],
        ),
        name="gemm",
    )
    constants = {"weight": _blocked_weight(matrix, gemm), "bias": _blocked_bias(bias, gemm)}
    stage = GemmStage(data, weight, bias_in, acc, out.shape, constants, gemm)
    return exact_kernel(layer, stage, zp_out, column=layout.column_of_channel), gemm
