"""Declarative support rules for ``ExecModule.supports``: which workloads a module can run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SupportRule:
    """Accepts a workload when every listed constraint holds; otherwise says which one fails.

    ``kernels`` lists the allowed (FY, FX) of convolutions (None: any), ``strides`` the allowed
    strides on either axis, ``out_channel_multiple`` what K * groups must be a multiple of.
    ``refuse_all`` declares a module that runs nothing (e.g. a core for another number format).
    """

    kinds: tuple[str, ...]
    kernels: tuple[tuple[int, int], ...] | None = None
    strides: tuple[int, ...] | None = None
    dilation_one: bool = True
    out_channel_multiple: int = 1
    refuse_all: str | None = None

    def __call__(self, workload: Any) -> str | None:
        if self.refuse_all is not None:
            return self.refuse_all
        if workload.kind not in self.kinds:
            return f"{workload.kind} layers are not supported (only {', '.join(self.kinds)})"
        if workload.kind in ("conv", "depthwise"):
            kernel = (workload["FY"], workload["FX"])
            if self.kernels is not None and kernel not in self.kernels:
                allowed = ", ".join(f"{y}x{x}" for y, x in self.kernels)
                return f"kernel {kernel[0]}x{kernel[1]} is not supported (only {allowed})"
            if self.strides is not None and any(s not in self.strides for s in workload.stride):
                return f"stride {workload.stride} is not supported (only {self.strides})"
            if self.dilation_one and workload.dilation != (1, 1):
                return f"dilation {workload.dilation} is not supported (only 1)"
        channels = workload["K"] * workload.groups
        if channels % self.out_channel_multiple:
            return f"{channels} output channels is not a multiple of {self.out_channel_multiple}"
        return None


ANY_LAYER = SupportRule(kinds=("conv", "depthwise", "dense", "pool", "add"), dilation_one=False)
