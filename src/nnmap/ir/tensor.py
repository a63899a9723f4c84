"""Tensors of a Graph: named activations with their shape, type and quantization."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tensor:
    """An activation tensor (NHWC for images). ``scale``/``zero_point`` are None for float32."""

    name: str
    shape: tuple[int, ...]
    dtype: str  # "int8", "float32", or "uint8" (an input or output of an integer-only model)
    scale: float | None = None
    zero_point: int | None = None

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
