"""TFLite Micro's own example models (../shared/models/tflm), read straight from the flatbuffer:
reference and host C bit-identical with TFLite Micro; the LSTM and SVDF models refused in one
line naming their operator."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_file

import nnmap
from nnmap import reference, verify
from nnmap.errors import UnsupportedOperatorError

MODELS = [
    "hello_world_int8",
    "micro_speech_quantized",
    "person_detect",
    "mobilenet_v2_quantized_1x3x224x224",
    "simple_add_model",
]
REFUSED = {"trained_lstm_int8": "UNIDIRECTIONAL_SEQUENCE_LSTM", "keyword_scrambled_8bit": "SVDF"}
SAMPLES = 20


def tflm_model(name: str) -> Path:
    return shared_file("models", "tflm", f"{name}.tflite")


@pytest.mark.parametrize("name", MODELS)
def test_reference_and_host_c_bit_exact_with_tflite_micro(
    name: str, tmp_path: Path, record_line
) -> None:
    path = tflm_model(name)
    graph = nnmap.load_model(path)
    inputs = verify.random_inputs(graph, SAMPLES, 3)
    expected = verify.tflite_micro_outputs(path, inputs, len(graph.outputs))
    ours = reference.run_batch(graph, inputs)
    artifact = nnmap.compile(path, target="host", out_dir=tmp_path / "out")
    host = artifact.run_batch(inputs)
    for tensor, theirs, mine, compiled in zip(graph.output_tensors(), expected, ours, host,
                                              strict=True):
        assert mine.shape == theirs.shape == (SAMPLES, *tensor.shape[1:])
        assert np.array_equal(mine, theirs), f"{name}: reference differs from TFLite Micro"
        assert np.array_equal(compiled.reshape(theirs.shape), theirs), f"{name}: host C differs"
    kinds = sorted({layer.kind for layer in graph})
    record_line(f"tflm {name}: reference and host C 0 LSB on {SAMPLES} inputs ({kinds})")


def test_output_shapes_are_the_models() -> None:
    import tflite

    for name in MODELS:
        path = tflm_model(name)
        model = tflite.Model.GetRootAsModel(path.read_bytes(), 0).Subgraphs(0)
        graph = nnmap.load_model(path)
        declared = [tuple(model.Tensors(int(i)).ShapeAsNumpy()) for i in model.OutputsAsNumpy()]
        assert [t.shape for t in graph.output_tensors()] == declared


def test_several_inputs_are_fed() -> None:
    graph = nnmap.load_model(tflm_model("simple_add_model"))
    assert len(graph.inputs) == 2
    first, second = verify.random_inputs(graph, 2, 0)
    together = reference.run_batch(graph, [first, second])[0]
    swapped = reference.run_batch(graph, [second, first])[0]
    assert not np.array_equal(together, swapped)  # both inputs matter (different scales)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_unsupported_operator_is_one_line(name: str) -> None:
    path = tflm_model(name)
    with pytest.raises(UnsupportedOperatorError) as error:
        nnmap.load_model(path)
    message = str(error.value)
    assert "\n" not in message and REFUSED[name] in message and path.name in message


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_cli_refuses_with_exit_2(name: str) -> None:
    path = tflm_model(name)
    result = subprocess.run([sys.executable, "-m", "nnmap", "inspect", str(path)],
                            capture_output=True, text=True, timeout=120)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2
    assert len(lines) == 1 and REFUSED[name] in lines[0] and path.name in lines[0]


def test_inspect_does_not_import_tvm() -> None:
    path = tflm_model("person_detect")
    script = (
        "import sys\n"
        "from nnmap.cli import main\n"
        f"sys.argv = ['nnmap', 'inspect', {str(path)!r}]\n"
        "main()\n"
        "assert 'tvm' not in sys.modules, 'inspect imported TVM'\n"
        "heavy = [m for m in ('nnmap.targets', 'nnmap.mapping', 'nnmap.plan.plan', 'onnx')\n"
        "         if m in sys.modules]\n"
        "assert not heavy, f'inspect imported {heavy}'\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Conv2D" in result.stdout
