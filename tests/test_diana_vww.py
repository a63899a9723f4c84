"""VWW of MLPerf Tiny on DIANA: bit-identical with TFLite Micro in exact numerics on 50 random
inputs (one large model per file keeps each file's run short)."""

from __future__ import annotations

import pytest
from diana_models import check_bit_exact


def test_vww_bit_exact_with_tflite_micro_on_diana(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    check_bit_exact("vww_96_int8", tmp_path_factory)
