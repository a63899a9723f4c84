"""``nnmap inspect`` and ``nnmap verify`` on built-in and shared models."""

from __future__ import annotations

import subprocess
import sys

from conftest import mlperf_model


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nnmap", *args], capture_output=True, text=True, timeout=300
    )


def test_inspect_zoo_model_prints_layers_and_totals() -> None:
    result = _cli("inspect", "zoo:kws")
    assert result.returncode == 0, result.stderr
    assert "Conv2D" in result.stdout and "Softmax" in result.stdout
    assert "2,656,768" in result.stdout  # total MACs of DS-CNN (LAYERS.md)


def test_verify_tflite_against_tflite_micro() -> None:
    path = mlperf_model("pretrainedResnet_quant")
    result = _cli("verify", str(path), "--inputs", "5", "--seed", "1")
    assert result.returncode == 0, result.stderr
    assert "TFLite Micro" in result.stdout
    assert "0 LSB" in result.stdout and "0.00%" in result.stdout


def test_verify_zoo_against_onnxruntime() -> None:
    result = _cli("verify", "zoo:autoencoder", "--inputs", "5")
    assert result.returncode == 0, result.stderr
    assert "onnxruntime" in result.stdout and "LSB" in result.stdout
