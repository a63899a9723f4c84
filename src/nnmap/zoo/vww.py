"""VWW: MobileNetV1 alpha=0.25 person detection (MLPerf Tiny), int8 QDQ; see LAYERS.md."""

from __future__ import annotations

import onnx

from nnmap.zoo.qdq import QdqGraph

DESCRIPTION = (
    "vww: MLPerf Tiny MobileNetV1-0.25 visual wake words, int8 QDQ, "
    "input [1,3,96,96], 2 classes, 7,489,664 MACs"
)
SEED = 1002

# (pointwise output channels, depthwise stride) of the 13 depthwise-separable blocks
BLOCKS = [
    (16, 1),
    (32, 2),
    (32, 1),
    (64, 2),
    (64, 1),
    (128, 2),
    (128, 1),
    (128, 1),
    (128, 1),
    (128, 1),
    (128, 1),
    (256, 2),
    (256, 1),
]


def build() -> onnx.ModelProto:
    g = QdqGraph("vww", SEED)
    x = g.input((3, 96, 96))
    x = g.conv(x, 8, (3, 3), stride=2)  # 0: 96x96x3 -> 48x48x8
    for out_ch, stride in BLOCKS:  # 1-26
        x = g.conv(x, x.value.shape[1], (3, 3), stride=stride, depthwise=True)
        x = g.conv(x, out_ch, (1, 1))
    x = g.avgpool(x, (3, 3))  # 27: 3x3x256 -> 1x1x256
    x = g.flatten(x)  # 28
    x = g.dense(x, 2, relu=False)  # 29: FC 256 -> 2
    return g.model(g.softmax(x), DESCRIPTION)  # 30
