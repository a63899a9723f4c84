"""GraphBuilder: collects tensors and layers while a Relax function is lowered, tracking layouts.

Graph tensors of images are NHWC. A Relax value from an NCHW model (ONNX) is stored either as the
model has it ("native") or already transposed to NHWC; a Transpose layer is inserted only where a
consumer needs the other form and the move is not a no-op.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tvm import relax

from nnmap.errors import UnsupportedOperatorError
from nnmap.ir import Graph, Layer, Reshape, Tensor, Transpose

TO_NHWC = (0, 2, 3, 1)
TO_NCHW = (0, 3, 1, 2)


@dataclass(frozen=True)
class Stored:
    """Where a Relax value lives: a graph tensor, and whether it holds an NCHW value as NHWC."""

    tensor: str
    as_nhwc: bool = False


class GraphBuilder:
    def __init__(
        self, name: str, source: str, model_layout: str, bindings: Sequence[relax.Binding] = ()
    ) -> None:
        self.name = name
        self.source = source
        self.model_layout = model_layout  # "NHWC" (TFLite) or "NCHW" (ONNX)
        self.tensors: dict[str, Tensor] = {}
        self.layers: list[Layer] = []
        self.values: dict[relax.Var, Stored] = {}
        self._counts: Counter[str] = Counter()
        self._converted: dict[tuple[str, bool], str] = {}
        # bound value -> its variable
        self.var_of: dict[relax.Expr, relax.Var] = {b.value: b.var for b in bindings}

    def bind_inputs(
        self, params: Sequence[relax.Var], tensor_of: Callable[[relax.Var], Tensor]
    ) -> list[str]:
        """Declare the function's parameters as the graph's input tensors; their names."""
        names = []
        for param in params:
            tensor = self.new_tensor(tensor_of(param))
            self.bind(param, tensor.name)
            names.append(tensor.name)
        return names

    def fresh(self, kind: str) -> str:
        index = self._counts[kind]
        self._counts[kind] += 1
        return f"{kind}_{index}"

    def unsupported(self, what: str, where: str) -> UnsupportedOperatorError:
        return UnsupportedOperatorError(
            f"{self.source}: {what} at {where} cannot be lowered to an integer layer; "
            "re-export the model with supported ops (conv, dense, add, pool, softmax, reshape)"
        )

    def new_tensor(self, tensor: Tensor) -> Tensor:
        self.tensors[tensor.name] = tensor
        return tensor

    def add_layer(self, layer: Layer) -> None:
        self.layers.append(layer)

    def stored(self, expr: relax.Expr, where: str) -> Stored:
        var = expr if isinstance(expr, relax.Var) else self.var_of.get(expr)
        if var is None or var not in self.values:
            raise self.unsupported(f"an input computed by {str(expr)[:60]!r}", where)
        return self.values[var]

    def _relayout(self, source: str, perm: tuple[int, ...], to_nhwc: bool) -> str:
        key = (source, to_nhwc)
        if key in self._converted:
            return self._converted[key]
        tensor = self.tensors[source]
        shape = tuple(tensor.shape[axis] for axis in perm)
        channels, pixels = (
            (tensor.shape[1], tensor.shape[2] * tensor.shape[3])
            if to_nhwc
            else (tensor.shape[3], tensor.shape[1] * tensor.shape[2])
        )
        moved = channels == 1 or pixels == 1  # same memory order: a free reshape
        kind = "reshape" if moved else "transpose"
        out = self.new_tensor(
            Tensor(
                self.fresh(f"{source}_{'nhwc' if to_nhwc else 'nchw'}"),
                shape,
                tensor.dtype,
                tensor.scale,
                tensor.zero_point,
            )
        )
        name = self.fresh(kind)
        if moved:
            self.add_layer(Reshape(name=name, inputs=(source,), output=out.name))
        else:
            self.add_layer(Transpose(name=name, inputs=(source,), output=out.name, perm=perm))
        self._converted[key] = out.name
        return out.name

    def nhwc(self, var: relax.Expr, where: str) -> str:
        """The tensor holding ``var`` as NHWC (for image ops)."""
        stored = self.stored(var, where)
        if self.model_layout == "NHWC" or stored.as_nhwc:
            return stored.tensor
        return self._relayout(stored.tensor, TO_NHWC, True)

    def native(self, var: relax.Expr, where: str) -> str:
        """The tensor holding ``var`` in the model's own layout (for reshapes, outputs)."""
        stored = self.stored(var, where)
        if not stored.as_nhwc:
            return stored.tensor
        return self._relayout(stored.tensor, TO_NCHW, False)

    def bind(self, var: relax.Var, tensor: str, as_nhwc: bool = False) -> None:
        self.values[var] = Stored(tensor, as_nhwc)

    def image_output(self, var: relax.Var, template: Tensor, nchw_shape: tuple[int, ...]) -> Tensor:
        """Create the NHWC output tensor of an image op whose Relax value is ``nchw_shape``."""
        as_nhwc = self.model_layout == "NCHW"
        shape = tuple(nchw_shape[axis] for axis in TO_NHWC) if as_nhwc else nchw_shape
        tensor = self.new_tensor(
            Tensor(
                self.fresh(f"{template.name}_out"),
                shape,
                template.dtype,
                template.scale,
                template.zero_point,
            )
        )
        self.bind(var, tensor.name, as_nhwc)
        return tensor

    def graph(self, inputs: list[str], outputs: list[str]) -> Graph:
        return Graph(
            self.name, dict(self.tensors), tuple(self.layers), tuple(inputs), tuple(outputs)
        )
