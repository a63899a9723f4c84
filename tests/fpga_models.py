"""A small int8 network with every layer kind the FPGA flow runs (conv, depthwise, pointwise,
residual add, average pooling, dense, softmax), built with the zoo's QDQ builder."""

from __future__ import annotations

from pathlib import Path

import onnx

from nnmap.frontend import load_model
from nnmap.ir import Graph
from nnmap.zoo.qdq import QdqGraph


def small_network() -> onnx.ModelProto:
    g = QdqGraph("fpga_small", 7)
    x = g.input((3, 8, 8))
    x = g.conv(x, 8, (3, 3))
    y = g.conv(x, 8, (3, 3), depthwise=True)
    y = g.conv(y, 8, (1, 1), relu=False)
    x = g.add(x, y)
    x = g.avgpool(x, (2, 2))
    x = g.conv(x, 16, (3, 3), stride=2)
    x = g.flatten(x)
    x = g.dense(x, 10, relu=False)
    return g.model(g.softmax(x), "a small network for the FPGA flow's tests")


def small_graph(folder: Path) -> tuple[Path, Graph]:
    """The small network written to ``folder`` and loaded."""
    path = folder / "fpga_small.onnx"
    onnx.save(small_network(), path)
    return path, load_model(path)


def repeated_graph(folder: Path) -> Graph:
    """Three ReLU convolutions, the last two alike (shapes, zero points, clamp): one kernel
    can serve both."""
    g = QdqGraph("fpga_repeated", 11)
    x = g.conv(g.input((3, 6, 6)), 8, (3, 3))
    x = g.conv(g.conv(x, 8, (3, 3)), 8, (3, 3))
    x = g.dense(g.flatten(x), 10, relu=False)
    path = folder / "fpga_repeated.onnx"
    onnx.save(g.model(g.softmax(x), "alike layers for shared kernels"), path)
    return load_model(path)
