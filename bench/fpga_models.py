"""The three networks of the FPGA paper (arXiv 2203.04015) as int8 QDQ ONNX, built with the
zoo's QDQ builder (random He weights, calibrated on random inputs): LeNet-5 (32x32x1; SAME
padding, average pooling as LeCun's subsampling), MobileNetV1 1.0 (224x224x3) and ResNet-34
(224x224x3; the stem's 3x3/2 max pooling, which the builder lacks, is a 2x2/2 average pooling).
"""

from __future__ import annotations

from collections.abc import Callable

import onnx

from nnmap.zoo.qdq import Act, QdqGraph

MOBILENET_BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
                    *[(512, 1)] * 5, (1024, 2), (1024, 1)]
RESNET34_STAGES = [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]


def lenet5() -> onnx.ModelProto:
    g = QdqGraph("lenet5", 5)
    x = g.input((1, 32, 32))
    x = g.avgpool(g.conv(x, 6, (5, 5)), (2, 2))
    x = g.avgpool(g.conv(x, 16, (5, 5)), (2, 2))
    x = g.flatten(x)
    x = g.dense(g.dense(x, 120), 84)
    return g.model(g.softmax(g.dense(x, 10, relu=False)), "LeNet-5, int8 QDQ")


def mobilenet_v1() -> onnx.ModelProto:
    g = QdqGraph("mobilenet_v1", 224)
    x = g.conv(g.input((3, 224, 224)), 32, (3, 3), stride=2)
    for channels, stride in MOBILENET_BLOCKS:
        x = g.conv(x, x.value.shape[1], (3, 3), stride=stride, depthwise=True)
        x = g.conv(x, channels, (1, 1))
    x = g.flatten(g.avgpool(x, (7, 7)))
    return g.model(g.softmax(g.dense(x, 1000, relu=False)), "MobileNetV1 1.0 224, int8 QDQ")


def _basic_block(g: QdqGraph, x: Act, channels: int, stride: int) -> Act:
    y = g.conv(g.conv(x, channels, (3, 3), stride=stride), channels, (3, 3), relu=False)
    if stride != 1 or x.value.shape[1] != channels:
        x = g.conv(x, channels, (1, 1), stride=stride, relu=False)
    return g.add(x, y)


def resnet34() -> onnx.ModelProto:
    g = QdqGraph("resnet34", 34)
    x = g.conv(g.input((3, 224, 224)), 64, (7, 7), stride=2)
    x = g.avgpool(x, (2, 2))  # 112 -> 56, in place of the 3x3/2 max pooling
    for channels, blocks, stride in RESNET34_STAGES:
        for block in range(blocks):
            x = _basic_block(g, x, channels, stride if block == 0 else 1)
    x = g.flatten(g.avgpool(x, (7, 7)))
    return g.model(g.softmax(g.dense(x, 1000, relu=False)), "ResNet-34, int8 QDQ")


PAPER_MODELS: dict[str, Callable[[], onnx.ModelProto]] = {
    "lenet5": lenet5, "mobilenet_v1": mobilenet_v1, "resnet34": resnet34}
