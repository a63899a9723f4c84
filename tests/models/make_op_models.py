"""Make the per-operator TFLite test models in tests/models/ops/ with TensorFlow's converter.

Run once, by hand, in a separate environment that has tensorflow-cpu (it is a tool for this
script, not a dependency of nnmap or of `make test`):

    python3 -m venv /tmp/tfvenv && /tmp/tfvenv/bin/pip install tensorflow-cpu==2.21.0
    /tmp/tfvenv/bin/python tests/models/make_op_models.py

Every model is tiny and fully int8-quantized (int8 inputs and outputs, per-channel weights)
from random calibration data; the .tflite files are committed next to this script.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf

OUT_DIR = Path(__file__).resolve().parent / "ops"
CALIBRATION_SAMPLES = 64
SEED = 7

Spec = list[tuple[int, ...]]


def _weight_values(*shape: int) -> np.ndarray:
    rng = np.random.default_rng(abs(hash(shape)) % 2**32)
    return rng.normal(0, 0.5, size=shape).astype(np.float32)


def _weights(*shape: int) -> tf.Tensor:
    return tf.constant(_weight_values(*shape))


def convert(name: str, function: Callable[..., object], shapes: Spec,
            float_boundary: bool = False) -> None:
    """Quantize ``function`` (taking float inputs of ``shapes``) to a full-integer model."""
    signature = [tf.TensorSpec(shape, tf.float32) for shape in shapes]
    concrete = tf.function(function, input_signature=signature).get_concrete_function()
    rng = np.random.default_rng(SEED)

    def calibration() -> object:
        for _ in range(CALIBRATION_SAMPLES):
            yield [rng.normal(0, 1, size=shape).astype(np.float32) for shape in shapes]

    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = calibration
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if not float_boundary:
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    OUT_DIR.mkdir(exist_ok=True)
    (OUT_DIR / f"{name}.tflite").write_bytes(converter.convert())
    print(f"wrote {name}.tflite")  # noqa: T201


def _conv(x: tf.Tensor, out: int, kernel: int, stride: int = 1, padding: str = "SAME"
          ) -> tf.Tensor:
    weight = _weights(kernel, kernel, int(x.shape[-1]), out)
    return tf.nn.conv2d(x, weight, stride, padding) + _weights(out)


def _depthwise(x: tf.Tensor, multiplier: int, stride: int = 1) -> tf.Tensor:
    weight = _weights(3, 3, int(x.shape[-1]), multiplier)
    bias = _weights(int(x.shape[-1]) * multiplier)
    return tf.nn.depthwise_conv2d(x, weight, [1, stride, stride, 1], "SAME") + bias


def _dense(x: tf.Tensor, out: int) -> tf.Tensor:
    return tf.matmul(x, _weights(int(x.shape[-1]), out)) + _weights(out)


def make_models() -> None:
    convert("conv_fused_activations", lambda x: tf.nn.relu(_depthwise(
        tf.nn.relu6(_conv(x, 8, 3, stride=2)), 2)), [(1, 9, 9, 3)])
    convert("conv_valid_dilated", lambda x: tf.clip_by_value(tf.nn.conv2d(
        x, _weights(3, 3, 4, 6), 1, "VALID", dilations=2), -1.0, 1.0), [(1, 10, 10, 4)])
    convert("classifier_head", lambda x: tf.nn.softmax(_dense(tf.nn.relu(_dense(
        tf.reduce_mean(_conv(x, 12, 3), axis=[1, 2]), 16)), 5)), [(1, 6, 6, 3)])
    convert("mean_keepdims_sum", lambda x: (tf.reduce_mean(x, axis=[1, 2], keepdims=True),
                                            tf.reduce_sum(x, axis=[3])), [(1, 5, 7, 4)])
    convert("dense_3d_keep_dims", lambda x: _dense(x, 6), [(1, 4, 10)])
    convert("pooling", lambda x: (tf.nn.max_pool2d(x, 3, 2, "SAME"),
                                  tf.nn.avg_pool2d(x, 2, 2, "VALID")), [(1, 8, 8, 5)])
    convert("add_relu_two_inputs", lambda a, b: tf.nn.relu(a + b), [(1, 4, 4, 6), (1, 4, 4, 6)])
    convert("add_broadcast_relu6", lambda a, b: tf.nn.relu6(a + b), [(1, 4, 4, 6), (1, 1, 1, 6)])
    convert("add_constant", lambda x: x + _weights(6), [(1, 3, 3, 6)])
    convert("sub_broadcast", lambda a, b: a - b, [(1, 4, 4, 6), (1, 4, 1, 6)])
    convert("mul_broadcast_relu", lambda a, b: tf.nn.relu(a * b), [(1, 3, 5, 4), (1, 1, 5, 1)])
    convert("mul_constant", lambda x: x * _weights(4), [(1, 3, 3, 4)])
    convert("maximum_minimum", lambda a, b: (tf.maximum(a, b), tf.minimum(a, 0.5 * b)),
            [(1, 6, 4), (1, 6, 4)])
    convert("logistic", tf.sigmoid, [(1, 4, 16)])
    convert("tanh", tf.tanh, [(1, 4, 16)])
    convert("hard_swish", lambda x: x * tf.nn.relu6(x + 3.0) / 6.0, [(1, 4, 16)])
    convert("leaky_relu", lambda x: tf.nn.leaky_relu(x, 0.2), [(1, 4, 16)])
    convert("relu_relu6", lambda x: (tf.nn.relu(x), tf.nn.relu6(x)), [(1, 4, 16)])
    convert("relu_n1_to_1", lambda x: tf.clip_by_value(x, -1.0, 1.0), [(1, 4, 16)])
    prelu = tf.keras.layers.PReLU(
        alpha_initializer=tf.keras.initializers.Constant(_weight_values(3, 3, 6)))
    prelu.build((1, 3, 3, 6))
    convert("prelu", prelu, [(1, 3, 3, 6)])
    convert("prelu_decomposed", lambda x: tf.maximum(x, 0.0) + _weights(6)
            * tf.minimum(x, 0.0), [(1, 3, 3, 6)])
    convert("reshape_squeeze_expand", lambda x: tf.expand_dims(tf.squeeze(tf.reshape(
        tf.nn.relu(x), (1, 4, 1, 6)), axis=2), axis=1), [(1, 2, 2, 6)])
    convert("pad_padv2", lambda x: (tf.pad(x, [[0, 0], [1, 2], [0, 1], [0, 0]]),
                                    tf.pad(x, [[0, 0], [2, 0], [1, 1], [0, 0]],
                                           constant_values=0.75)), [(1, 4, 4, 3)])
    convert("concatenation", lambda a, b: tf.concat([a, 2.0 * b], axis=3),
            [(1, 3, 3, 4), (1, 3, 3, 2)])
    convert("transpose", lambda x: tf.transpose(x, [0, 3, 1, 2]), [(1, 3, 4, 5)])
    convert("strided_slice", lambda x: (x[:, 1:7:2, ::3, 1:], x[:, 2, :, :]),
            [(1, 8, 6, 4)])
    convert("slice", lambda x: tf.slice(x, [0, 1, 0, 2], [1, 3, -1, 2]), [(1, 5, 4, 6)])
    convert("split_split_v", lambda x: (*tf.split(x, 3, axis=3),
                                        *tf.split(x, [1, 3, 2], axis=1)), [(1, 6, 4, 6)])
    convert("resize_nearest", lambda x: (
        tf.compat.v1.image.resize_nearest_neighbor(x, (7, 9)),
        tf.compat.v1.image.resize_nearest_neighbor(x, (8, 6), align_corners=True),
        tf.compat.v1.image.resize_nearest_neighbor(x, (9, 11), half_pixel_centers=True)),
        [(1, 4, 5, 3)])
    convert("resize_bilinear", lambda x: (
        tf.compat.v1.image.resize_bilinear(x, (7, 9)),
        tf.compat.v1.image.resize_bilinear(x, (8, 6), align_corners=True),
        tf.compat.v1.image.resize_bilinear(x, (9, 11), half_pixel_centers=True)),
        [(1, 4, 5, 3)])
    convert("float_boundary", lambda x: tf.nn.relu(_conv(x, 4, 3)), [(1, 5, 5, 2)],
            float_boundary=True)


if __name__ == "__main__":
    make_models()
