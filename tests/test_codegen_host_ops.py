"""Host kernels of the float boundary (Quantize, Dequantize) against nnmap's reference, built
with TVM's llvm target (compiled models at a float boundary: test_frontend_onnx_qdq.py)."""

from __future__ import annotations

import numpy as np
import pytest
import tvm
from tvm import te

from nnmap.codegen.emit_c import plain_kernel_source
from nnmap.codegen.host_ops import dequantize, quantize
from nnmap.codegen.kernels import CONSTANT
from nnmap.ir import Quantize, Tensor
from nnmap.reference import host_kernels

SIZE = 4096


def _run(kernel, data: np.ndarray, out_dtype: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The kernel built for llvm and run; its plain C must generate too."""
    source = plain_kernel_source(kernel, "nnmap_boundary", "boundary kernel")
    assert "float" in source.prototype
    func = te.create_prim_func(list(kernel.tensors))
    built = tvm.compile(tvm.IRModule({"main": func}), target="llvm")
    result = tvm.runtime.tensor(np.zeros(SIZE, dtype=out_dtype))
    constants = [tvm.runtime.tensor(kernel.constants[param.name])
                 for param in kernel.params if param.role == CONSTANT]
    built["main"](tvm.runtime.tensor(data), *constants, result)
    return result.numpy()


@pytest.mark.parametrize("half_to_even", [True, False])
def test_quantize_kernel_matches_reference(half_to_even: bool) -> None:
    rng = np.random.default_rng(1)
    inp = Tensor("x", (1, SIZE), "float32")
    out = Tensor("q", (1, SIZE), "int8", 0.05, -3)
    values = rng.normal(0, 3, SIZE).astype(np.float32)
    values[:64] = (np.arange(64, dtype=np.float32) - 32) * np.float32(0.025)  # exact ties
    layer = Quantize(name="q", inputs=("x",), output="q", half_to_even=half_to_even)
    expected = host_kernels.quantize(values[None], out, half_to_even)[0]
    assert np.array_equal(_run(quantize(layer, inp, out), values, "int8"), expected)


def test_dequantize_kernel_matches_reference() -> None:
    inp = Tensor("q", (1, SIZE), "int8", 0.0371, 7)
    out = Tensor("y", (1, SIZE), "float32")
    values = np.resize(np.arange(-128, 128, dtype=np.int8), SIZE)
    expected = host_kernels.dequantize(values[None], inp)[0]
    assert np.array_equal(_run(dequantize(inp, out), values, "float32"), expected)
