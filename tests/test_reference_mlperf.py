"""nnmap's reference against TFLite Micro on the four MLPerf Tiny int8 models, bit for bit.

Also records how far a plain TVM llvm build of the imported (float-emulated QDQ) Relax module and
LiteRT's reference kernels are from TFLite Micro, to show what the integer lowering gains.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import MLPERF_MODELS, mlperf_model

import nnmap
from nnmap import reference, verify

SAMPLES = 200
SEED = 1234


def _tvm_llvm_outputs(path, inputs: list[np.ndarray]) -> np.ndarray:
    import tflite
    import tvm
    from tvm import relax
    from tvm.relax.frontend.tflite import from_tflite

    module = from_tflite(tflite.Model.GetRootAsModel(path.read_bytes(), 0))
    executable = tvm.compile(module, target="llvm")
    machine = relax.VirtualMachine(executable, tvm.cpu())
    outputs = [
        machine["main"](tvm.runtime.tensor(inputs[0][i : i + 1])).numpy()
        for i in range(inputs[0].shape[0])
    ]
    return np.concatenate(outputs)


@pytest.mark.parametrize("name", MLPERF_MODELS)
def test_reference_is_bit_exact_with_tflite_micro(name: str, record_line) -> None:
    path = mlperf_model(name)
    graph = nnmap.load_model(path)
    inputs = verify.random_inputs(graph, SAMPLES, SEED)
    expected = verify.tflite_micro_outputs(path, inputs)[0]
    ours = reference.run_batch(graph, inputs)[0]
    assert ours.dtype == np.int8
    assert np.array_equal(ours, expected.reshape(ours.shape)), (
        f"{name}: {np.count_nonzero(ours != expected.reshape(ours.shape))} values differ"
    )

    litert = verify.litert_outputs(path, [inputs[0][:20]], reference_kernels=True)
    tvm_plain = _tvm_llvm_outputs(path, [inputs[0][:20]])
    subset = expected[:20].reshape(tvm_plain.shape)
    record_line(
        f"{name}: nnmap reference 0 LSB on {SAMPLES} inputs; LiteRT reference kernels "
        f"{verify.Difference.between(subset, litert[0].reshape(subset.shape)).max_abs:g} "
        f"LSB, plain TVM llvm build "
        f"{verify.Difference.between(subset, tvm_plain).max_abs:g} LSB (20 inputs)"
    )


def test_single_sample_run_matches_batch() -> None:
    path = mlperf_model("kws_ref_model")
    graph = nnmap.load_model(path)
    batch = verify.random_inputs(graph, 3, 7)
    together = reference.run_batch(graph, batch)[0]
    for index in range(3):
        alone = reference.run(graph, [batch[0][index : index + 1]])[0]
        assert np.array_equal(alone, together[index : index + 1])
