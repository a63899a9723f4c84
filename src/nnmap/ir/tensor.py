"""Tensors of a Graph: named activations with their shape, type and quantization."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nnmap.errors import QuantizationError

ZERO_POINT_RANGE = {"int8": (-128, 127), "uint8": (0, 255)}


@dataclass(frozen=True)
class Tensor:
    """An activation tensor (NHWC for images). ``scale``/``zero_point`` are None for float32."""

    name: str
    shape: tuple[int, ...]
    dtype: str  # "int8", "float32", or "uint8" (an input or output of an integer-only model)
    scale: float | None = None
    zero_point: int | None = None

    def __post_init__(self) -> None:
        if self.scale is not None and not (math.isfinite(self.scale) and self.scale > 0):
            raise QuantizationError(
                f"tensor {self.name}: quantization scale {self.scale} is not a positive finite "
                "number; re-quantize the model"
            )
        bounds = ZERO_POINT_RANGE.get(self.dtype)
        if self.zero_point is not None and bounds is not None and not (
            bounds[0] <= self.zero_point <= bounds[1]
        ):
            low, high = bounds
            raise QuantizationError(
                f"tensor {self.name}: zero point {self.zero_point} is outside {self.dtype}'s "
                f"{low}..{high}; re-quantize the model"
            )

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(self.dtype).itemsize

    @property
    def quant(self) -> tuple[float, int]:
        """Scale and zero point of a quantized tensor."""
        if self.scale is None or self.zero_point is None:
            raise ValueError(f"tensor {self.name} is {self.dtype}, not quantized")
        return self.scale, self.zero_point

    @property
    def is_quantized(self) -> bool:
        return self.dtype in ("int8", "uint8")

    def describe_quant(self) -> str:
        if not self.is_quantized:
            return self.dtype
        return f"{self.dtype} s={self.scale:.4g} zp={self.zero_point}"
