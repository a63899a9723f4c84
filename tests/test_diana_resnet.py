"""The ResNet of MLPerf Tiny on DIANA: bit-identical with TFLite Micro in exact numerics on 50
random inputs."""

from __future__ import annotations

import pytest
from diana_models import check_bit_exact


def test_resnet_bit_exact_with_tflite_micro_on_diana(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    check_bit_exact("pretrainedResnet_quant", tmp_path_factory)
