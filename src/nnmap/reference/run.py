"""``run(graph, inputs)``: execute a Graph in numpy, the executable definition of its numerics."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nnmap.errors import NnmapError
from nnmap.ir import (
    Add,
    AveragePool,
    Concat,
    Constant,
    Conv2D,
    Dequantize,
    Elementwise,
    FullyConnected,
    Graph,
    Layer,
    Lookup,
    MaxPool,
    Pad,
    Quantize,
    Recast,
    Reduce,
    Reshape,
    Resize,
    Slice,
    Softmax,
    Transpose,
)
from nnmap.ir.tensor import Tensor
from nnmap.reference import host_kernels, kernels
from nnmap.reference.softmax import softmax_int8


def _host_only_layer(layer: Layer, args: list[np.ndarray], ins: list[Tensor], out: Tensor
                     ) -> np.ndarray | None:
    """The kinds of ``nnmap.ir.host_layers`` (None for any other kind)."""
    if isinstance(layer, Constant):
        return layer.value
    if isinstance(layer, Reduce):
        return host_kernels.reduce(layer, args[0], ins[0], out)
    if isinstance(layer, Elementwise):
        return host_kernels.elementwise(layer, args[0], args[1], ins[0], ins[1], out)
    if isinstance(layer, Lookup):
        return layer.table[args[0].astype(np.int64) + 128]
    if isinstance(layer, Slice):
        return host_kernels.slice_values(layer, args[0], out)
    if isinstance(layer, Resize):
        return host_kernels.resize(layer, args[0], out)
    if isinstance(layer, Dequantize):
        return host_kernels.dequantize(args[0], ins[0])
    if isinstance(layer, Quantize):
        return host_kernels.quantize(args[0], out, layer.half_to_even)
    if isinstance(layer, Recast):
        return host_kernels.recast(args[0], ins[0], out)
    return None


def run_layer(graph: Graph, layer: Layer, values: dict[str, np.ndarray]) -> np.ndarray:
    """One layer on batched values of its inputs (a dict from tensor name to array)."""
    args = [values[name] for name in layer.inputs]
    ins = [graph.tensor(name) for name in layer.inputs]
    out = graph.tensor(layer.output)
    host_only = _host_only_layer(layer, args, ins, out)
    if host_only is not None:
        return host_only
    batch = args[0].shape[0]
    if isinstance(layer, Conv2D):
        return kernels.conv2d(layer, args[0], ins[0], out)
    if isinstance(layer, FullyConnected):
        return kernels.fully_connected(layer, args[0], ins[0], out)
    if isinstance(layer, Add):
        return kernels.add(layer, args[0], args[1], ins[0], ins[1], out)
    if isinstance(layer, AveragePool):
        return kernels.average_pool(layer, args[0], out)
    if isinstance(layer, MaxPool):
        return kernels.max_pool(layer, args[0], out)
    if isinstance(layer, Softmax):
        if layer.scaling is None and out.is_quantized:
            return host_kernels.softmax_dequantized(args[0], layer.beta, ins[0], out)
        if layer.scaling is None:
            return kernels.softmax_float(args[0], layer.beta)
        return softmax_int8(args[0], layer.scaling)
    if isinstance(layer, Reshape):
        return args[0].reshape((batch, *out.shape[1:]))
    if isinstance(layer, Pad):
        fill = ins[0].quant[1] if ins[0].is_quantized else 0
        fill = fill if layer.value is None else layer.value
        return np.pad(args[0], layer.pads, constant_values=fill)
    if isinstance(layer, Transpose):
        return np.transpose(args[0], layer.perm)
    if isinstance(layer, Concat):
        return kernels.concat(args, ins, out, layer.axis)
    raise NnmapError(f"layer {layer.name}: the reference has no kernel for {layer.kind}")


def run_batch(graph: Graph, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Run a batch: each input has a leading axis of N samples in place of the model's batch 1."""
    values: dict[str, np.ndarray] = {}
    for name, array in zip(graph.inputs, inputs, strict=True):
        tensor = graph.tensor(name)
        if tuple(array.shape[1:]) != tuple(tensor.shape[1:]):
            raise NnmapError(
                f"input {name}: expected samples of shape {tensor.shape[1:]}, got {array.shape[1:]}"
            )
        values[name] = np.asarray(array, dtype=tensor.dtype)
    for layer in graph.layers:
        try:
            values[layer.output] = run_layer(graph, layer, values)
        except NnmapError:
            raise
        except Exception as error:  # shapes of a corrupt model that do not fit together
            raise NnmapError(
                f"{graph.name}: layer {layer.name} ({layer.kind}) cannot run on its tensors "
                f"({type(error).__name__}: {str(error)[:120]}); is the model file corrupt?"
            ) from None
    return [values[name] for name in graph.outputs]


def run(graph: Graph, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Run one inference: ``inputs`` have exactly the model's input shapes (batch 1)."""
    for name, array in zip(graph.inputs, inputs, strict=True):
        if tuple(np.shape(array)) != graph.tensor(name).shape:
            raise NnmapError(
                f"input {name}: expected shape {graph.tensor(name).shape}, got {np.shape(array)}"
            )
    return run_batch(graph, inputs)
