"""AD: deep dense autoencoder for anomaly detection (MLPerf Tiny), int8 QDQ; see LAYERS.md."""

from __future__ import annotations

import onnx

from nnmap.zoo.qdq import QdqGraph

DESCRIPTION = (
    "autoencoder: MLPerf Tiny anomaly-detection dense autoencoder "
    "640-128x4-8-128x4-640, int8 QDQ, input [1,640], 264,192 MACs"
)
SEED = 1004

HIDDEN = [128, 128, 128, 128, 8, 128, 128, 128, 128]


def build() -> onnx.ModelProto:
    g = QdqGraph("autoencoder", SEED)
    x = g.input((640,))
    for width in HIDDEN:  # 0-8: FC + relu
        x = g.dense(x, width)
    return g.model(g.dense(x, 640, relu=False), DESCRIPTION)  # 9: FC 128 -> 640
