"""The Graph: a flat, topologically ordered list of layers over named tensors."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from nnmap.ir.layers import Conv2D, FullyConnected, Layer
from nnmap.ir.tensor import Tensor


@dataclass(frozen=True, eq=False)
class Graph:
    name: str
    tensors: dict[str, Tensor]
    layers: tuple[Layer, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    def __post_init__(self) -> None:
        defined = set(self.inputs)
        for layer in self.layers:
            missing = [name for name in layer.inputs if name not in defined]
            if missing:
                raise ValueError(f"layer {layer.name} reads {missing[0]} before it is produced")
            defined.add(layer.output)
        for name in self.outputs:
            if name not in defined:
                raise ValueError(f"graph output {name} is never produced")

    def tensor(self, name: str) -> Tensor:
        return self.tensors[name]

    def input_tensors(self) -> list[Tensor]:
        return [self.tensors[name] for name in self.inputs]

    def output_tensors(self) -> list[Tensor]:
        return [self.tensors[name] for name in self.outputs]

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def producer(self, tensor_name: str) -> Layer | None:
        return next((layer for layer in self.layers if layer.output == tensor_name), None)

    def consumers(self, tensor_name: str) -> list[Layer]:
        return [layer for layer in self.layers if tensor_name in layer.inputs]

    def macs(self, layer: Layer) -> int:
        """Multiply-accumulates of a layer (0 for layers without weights)."""
        out = self.tensors[layer.output]
        if isinstance(layer, Conv2D):
            _, fy, fx, c_per_group = layer.weight.shape
            return out.size * fy * fx * c_per_group
        if isinstance(layer, FullyConnected):
            return out.size * layer.weight.shape[1]
        return 0

    @property
    def is_quantized(self) -> bool:
        return all(self.tensors[name].is_quantized for name in self.inputs + self.outputs)
