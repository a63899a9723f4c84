"""KWS: DS-CNN keyword spotting (MLPerf Tiny), int8 QDQ; see shared/models/mlperf_tiny/LAYERS.md."""

from __future__ import annotations

import onnx

from nnmap.zoo.qdq import QdqGraph

DESCRIPTION = (
    "kws: MLPerf Tiny DS-CNN keyword spotting, int8 QDQ, input [1,1,49,10] MFCC, "
    "12 classes, 2,656,768 MACs"
)
SEED = 1001


def build() -> onnx.ModelProto:
    g = QdqGraph("kws", SEED)
    x = g.input((1, 49, 10))
    x = g.conv(x, 64, (10, 4), stride=2)  # 0: 49x10x1 -> 25x5x64
    for _ in range(4):  # 1-8: depthwise-separable blocks
        x = g.conv(x, 64, (3, 3), depthwise=True)
        x = g.conv(x, 64, (1, 1))
    x = g.avgpool(x, (25, 5))  # 9: -> 1x1x64
    x = g.flatten(x)  # 10: -> 64
    x = g.dense(x, 12, relu=False)  # 11: FC 64 -> 12
    return g.model(g.softmax(x), DESCRIPTION)  # 12
