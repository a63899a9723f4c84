"""The intermediate representation: tensors, layers, graphs, quantization and workloads."""

from nnmap.ir.graph import Graph
from nnmap.ir.layers import (
    Add,
    AddRescale,
    AveragePool,
    Clamp,
    Concat,
    Conv2D,
    FullyConnected,
    Layer,
    MaxPool,
    Pad,
    Pool2D,
    Reshape,
    Softmax,
    SoftmaxScaling,
    Transpose,
)
from nnmap.ir.quant import FixedPointMultiplier, Requant, quantize_multiplier
from nnmap.ir.tensor import Tensor
from nnmap.ir.workload import LOOPS, Workload, conv_workload, gemm_workload, workload_of

__all__ = [
    "LOOPS",
    "Add",
    "AddRescale",
    "AveragePool",
    "Clamp",
    "Concat",
    "Conv2D",
    "FixedPointMultiplier",
    "FullyConnected",
    "Graph",
    "Layer",
    "MaxPool",
    "Pad",
    "Pool2D",
    "Requant",
    "Reshape",
    "Softmax",
    "SoftmaxScaling",
    "Tensor",
    "Transpose",
    "Workload",
    "conv_workload",
    "gemm_workload",
    "quantize_multiplier",
    "workload_of",
]
