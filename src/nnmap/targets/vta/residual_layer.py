"""The LayerCode of a residual Add placed on VTA (``residual_kernel.add_source``)."""

from __future__ import annotations

import re

from nnmap.codegen.layers import Argument, LayerCode, layer_id
from nnmap.hw import ExecModule
from nnmap.ir import Graph
from nnmap.ir.layers import Add
from nnmap.targets.vta.instructions import VtaConfig
from nnmap.targets.vta.residual import AluAdd
from nnmap.targets.vta.residual_kernel import add_bias, add_prototype, add_source, add_weights


def add_layer_code(
    layer: Add, graph: Graph, index: int, program: AluAdd, module: ExecModule
) -> LayerCode:
    """The C of ``layer`` on VTA: both inputs, the identity weights and bias, the output."""
    config = VtaConfig.from_module(module)
    symbol = f"nnmap_{layer_id(index, layer)}"
    name = re.sub(r"[^A-Za-z0-9_./:;-]", "_", layer.name)
    comment = (
        f"layer {name} (Add) on VTA: Q_a a + Q_b b + D built digit by digit by the GEMM core and "
        f"the ALU, shifted by {program.shift}; equal to TFLite's Add on every int8 input pair"
    )
    elements = graph.tensor(layer.output).size
    arguments = (
        Argument("input", layer.inputs[0]),
        Argument("input", layer.inputs[1]),
        Argument("constant", f"{symbol}_weight"),
        Argument("constant", f"{symbol}_bias"),
        Argument("output", layer.output),
    )
    constants = {
        f"{symbol}_weight": add_weights(program, config),
        f"{symbol}_bias": add_bias(program, config),
    }
    return LayerCode(
        layer, index, symbol, add_prototype(symbol), f"{layer_id(index, layer)}.c",
        add_source(symbol, comment, elements, program, config), arguments, constants,
        module=module.name,
    )
