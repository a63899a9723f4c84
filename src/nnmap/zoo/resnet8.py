"""ResNet-8 CIFAR-10 image classification (MLPerf Tiny), int8 QDQ; see LAYERS.md."""

from __future__ import annotations

import onnx

from nnmap.zoo.qdq import Act, QdqGraph

DESCRIPTION = (
    "resnet8: MLPerf Tiny ResNet-8 CIFAR-10, int8 QDQ, input [1,3,32,32], "
    "10 classes, 3 residual Adds, 12,501,632 MACs"
)
SEED = 1003


def _stack(g: QdqGraph, x: Act, out_ch: int, stride: int) -> Act:
    """conv a (relu), conv b (none), shortcut (identity or 1x1 projection), Add, relu."""
    y = g.conv(x, out_ch, (3, 3), stride=stride)
    y = g.conv(y, out_ch, (3, 3), relu=False)
    if stride != 1:
        x = g.conv(x, out_ch, (1, 1), stride=stride, relu=False)
    return g.add(x, y)


def build() -> onnx.ModelProto:
    g = QdqGraph("resnet8", SEED)
    x = g.input((3, 32, 32))
    x = g.conv(x, 16, (3, 3))  # 0: 32x32x3 -> 32x32x16
    x = _stack(g, x, 16, 1)  # 1-3
    x = _stack(g, x, 32, 2)  # 4-7: -> 16x16x32
    x = _stack(g, x, 64, 2)  # 8-11: -> 8x8x64
    x = g.avgpool(x, (8, 8))  # 12
    x = g.flatten(x)  # 13
    x = g.dense(x, 10, relu=False)  # 14: FC 64 -> 10
    return g.model(g.softmax(x), DESCRIPTION)  # 15
