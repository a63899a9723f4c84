"""nnmap's emulation of DIANA's digital-array runtime, call by call: memcpy_dig,
digital_conv_2d, digital_depthwise_conv_2d and digital_fully_connected against numpy, and each
call's cycles against the formulas worked by hand from diana.md's numbers."""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
import pytest

from nnmap.targets import resolve_target
from nnmap.targets.diana.build import emulator
from nnmap.targets.diana.timing import DianaShape, kernel_cycles

MODULE = resolve_target("diana").module("digital")
FIELDS = ("c", "k", "cx", "cy", "fx", "fy", "ox", "oy", "activation_function", "output_shift",
          "dilation", "stride", "ox_unroll", "padding", "output_bits")


class LayerParameters(ctypes.Structure):
    _fields_ = [(name, ctypes.c_int) for name in FIELDS]


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    built = ctypes.CDLL(str(emulator(MODULE).build_library(tmp_path_factory.mktemp("diana"))))
    built.nnmap_digital_error.restype = ctypes.c_char_p
    built.nnmap_digital_cycles.restype = ctypes.c_uint64
    for name in ("nnmap_digital_test_activations", "nnmap_digital_test_weights"):
        getattr(built, name).restype = ctypes.POINTER(ctypes.c_int8)
    built.memcpy_dig.argtypes = (ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_int,
                                 ctypes.c_int)
    return built


def _load(library: ctypes.CDLL, data: np.ndarray, offset: int, memory: int) -> None:
    data = np.ascontiguousarray(data)
    library.memcpy_dig(data.ctypes.data, offset, data.nbytes, 0, memory)


def _store(library: ctypes.CDLL, offset: int, count: int, dtype: str) -> np.ndarray:
    out = np.zeros(count, dtype=dtype)
    library.memcpy_dig(out.ctypes.data, offset, out.nbytes, 1, 1)
    return out


def _stream(weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Groups of 16 output channels: 16 int32 biases, then the group's weights (rows of taps)."""
    k, taps = weights.shape
    groups = -(-k // 16)
    padded = np.zeros((groups * 16, taps), dtype=np.int8)
    padded[:k] = weights
    biases = np.zeros(groups * 16, dtype="<i4")
    biases[:k] = bias
    return np.concatenate([part for g in range(groups) for part in (
        biases[g * 16:(g + 1) * 16].view(np.uint8), padded[g * 16:(g + 1) * 16].reshape(-1)
        .view(np.uint8))])


def _run(library: ctypes.CDLL, call: str, params: dict[str, int], output: int) -> int:
    values = {**dict.fromkeys(FIELDS, 0), "dilation": 1, "stride": 1, "output_bits": 32,
              **params}
    layer = LayerParameters(**values)
    before = library.nnmap_digital_cycles()
    getattr(library, call)(None, ctypes.c_uint32(0), ctypes.c_uint32(0), None,
                           ctypes.c_uint32(output), ctypes.byref(layer))
    assert library.nnmap_digital_error() is None
    return int(library.nnmap_digital_cycles() - before)


def test_memcpy_dig_moves_bytes_and_costs_a_call_plus_8_bytes_per_cycle(
        library: ctypes.CDLL) -> None:
    library.nnmap_digital_reset()
    data = np.arange(-50, 50, dtype=np.int8)
    _load(library, data, 4096, 1)
    assert library.nnmap_digital_cycles() == 70 + 13  # ~70 per call, 100 B at 8 B/cycle
    np.testing.assert_array_equal(_store(library, 4096, 100, "int8"), data)
    _load(library, data, 64, 0)
    weights = np.ctypeslib.as_array(library.nnmap_digital_test_weights(), (65536,))
    np.testing.assert_array_equal(weights[64:164], data)
    assert library.nnmap_digital_error() is None


def test_memcpy_dig_refuses_bytes_beyond_the_weight_memory(library: ctypes.CDLL) -> None:
    library.nnmap_digital_reset()
    _load(library, np.zeros(16, dtype=np.int8), 65536 - 8, 0)
    assert b"out of range" in library.nnmap_digital_error()
    library.nnmap_digital_reset()


def _conv_reference(x: np.ndarray, w: np.ndarray, bias: np.ndarray, stride: int,
                    pad: tuple[int, int, int]) -> np.ndarray:
    """x [C, H, W], w [K, C, FY, FX], pad (left/right, top, bottom) of zeros -> [K, OY, OX]."""
    side, top, bottom = pad
    padded = np.pad(x.astype(np.int64), ((0, 0), (top, bottom), (side, side)))
    k, _, fy, fx = w.shape
    oy = (padded.shape[1] - fy) // stride + 1
    ox = (padded.shape[2] - fx) // stride + 1
    out = np.zeros((k, oy, ox), dtype=np.int64) + bias[:, None, None]
    for y in range(fy):
        for x_ in range(fx):
            window = padded[:, y:y + stride * oy:stride, x_:x_ + stride * ox:stride]
            out += np.einsum("chw,kc->khw", window, w[:, :, y, x_].astype(np.int64))
    return out


def test_conv_2d_matches_numpy_with_padding_stride_and_a_partial_group(
        library: ctypes.CDLL) -> None:
    rng = np.random.default_rng(3)
    c, k, h, w_, f, stride = 5, 20, 9, 11, 3, 2
    x = rng.integers(-128, 128, (c, h, w_), dtype=np.int8)
    w = rng.integers(-128, 128, (k, c, f, f), dtype=np.int8)
    bias = rng.integers(-5000, 5000, k)
    expected = _conv_reference(x, w, bias, stride, (1, 1, 0))
    _, oy, ox = expected.shape
    library.nnmap_digital_reset()
    _load(library, x, 0, 1)
    _load(library, _stream(w.reshape(k, -1), bias), 0, 0)
    params = {"c": c, "k": k, "cx": w_, "cy": h, "fx": f, "fy": f, "ox": ox, "oy": oy,
              "stride": stride, "padding": 1 | (1 << 8)}
    cycles = _run(library, "digital_conv_2d", params, 1024)
    got = _store(library, 1024, k * oy * ox, "int32").reshape(k, oy, ox)
    np.testing.assert_array_equal(got, expected)
    # 2 groups of 16 channels x 4 rows x 1 column group = 8 passes of 5 x 3 x (3 + 2) + 23
    assert cycles == 500 + 8 * (5 * 3 * 5 + 23)
    shape = DianaShape("conv", c, k, oy, ox, f, f, stride, 1)
    assert kernel_cycles(shape, k, oy, MODULE) == cycles


def test_conv_2d_output_shift_clips_to_int8_or_relu(library: ctypes.CDLL) -> None:
    x = np.array([[[1, 2, 3, 4]]], dtype=np.int8)  # one channel, one row
    w = np.array([[[[100]]], [[[-100]]]], dtype=np.int8)  # two 1x1 kernels
    bias = np.array([8, 8])
    library.nnmap_digital_reset()
    _load(library, x, 0, 1)
    _load(library, _stream(w.reshape(2, 1), bias), 0, 0)
    base = {"c": 1, "k": 2, "cx": 4, "cy": 1, "fx": 1, "fy": 1, "ox": 4, "oy": 1,
            "output_bits": 8, "output_shift": 2}
    _run(library, "digital_conv_2d", base, 256)
    got = _store(library, 256, 8, "int8").reshape(2, 4)
    accumulators = np.array([[108, 208, 308, 408], [-92, -192, -292, -392]])
    np.testing.assert_array_equal(got, np.clip(accumulators >> 2, -128, 127))
    _run(library, "digital_conv_2d", {**base, "activation_function": 1}, 256)
    got = _store(library, 256, 8, "int8").reshape(2, 4)
    np.testing.assert_array_equal(got, np.clip(accumulators >> 2, 0, 127))


def test_depthwise_conv_2d_matches_numpy_and_fills_4_of_16_rows(library: ctypes.CDLL) -> None:
    rng = np.random.default_rng(4)
    channels, h, w_, f = 6, 7, 19, 3
    x = rng.integers(-128, 128, (channels, h, w_), dtype=np.int8)
    w = rng.integers(-128, 128, (channels, f, f), dtype=np.int8)
    bias = rng.integers(-300, 300, channels)
    expected = np.stack([_conv_reference(x[i:i + 1], w[i][None, None], bias[i:i + 1], 1,
                                         (0, 0, 0))[0] for i in range(channels)])
    _, oy, ox = expected.shape
    library.nnmap_digital_reset()
    _load(library, x, 0, 1)
    _load(library, _stream(w.reshape(channels, -1), bias), 0, 0)
    params = {"c": channels, "k": channels, "cx": w_, "cy": h, "fx": f, "fy": f, "ox": ox,
              "oy": oy}
    cycles = _run(library, "digital_depthwise_conv_2d", params, 2048)
    got = _store(library, 2048, expected.size, "int32").reshape(expected.shape)
    np.testing.assert_array_equal(got, expected)
    # 6 channels x 4 slots = 2 groups of 16 rows, 5 rows, 17 columns = 2 groups: 20 passes
    assert cycles == 500 + 20 * (3 * 5 + 23)


def test_fully_connected_matches_numpy_and_costs_3c_plus_23_per_16_outputs(
        library: ctypes.CDLL) -> None:
    rng = np.random.default_rng(5)
    c, k = 40, 33
    x = rng.integers(-128, 128, c, dtype=np.int8)
    w = rng.integers(-128, 128, (k, c), dtype=np.int8)
    bias = rng.integers(-9000, 9000, k)
    library.nnmap_digital_reset()
    _load(library, x, 0, 1)
    _load(library, _stream(w, bias), 0, 0)
    params = {"c": c, "k": k, "fx": 1, "fy": 1, "ox": 1, "oy": 1}
    cycles = _run(library, "digital_fully_connected", params, 64)
    got = _store(library, 64, k, "int32")
    np.testing.assert_array_equal(got, w.astype(np.int64) @ x.astype(np.int64) + bias)
    assert cycles == 500 + 3 * (3 * 40 + 23)


def test_element_wise_sum_shifts_and_clips_and_costs_a_call_plus_16_per_cycle(
        library: ctypes.CDLL) -> None:
    rng = np.random.default_rng(6)
    x = rng.integers(-128, 128, 100, dtype=np.int8)
    y = rng.integers(-128, 128, 100, dtype=np.int8)
    library.nnmap_digital_reset()
    _load(library, x, 0, 1)
    _load(library, y, 128, 1)
    layer = LayerParameters(**{**dict.fromkeys(FIELDS, 0), "k": 100, "oy": 1, "ox": 1,
                               "output_shift": 1, "dilation": 1, "stride": 1,
                               "output_bits": 8})
    before = library.nnmap_digital_cycles()
    library.digital_element_wise_sum(None, ctypes.c_uint32(0), None, ctypes.c_uint32(128),
                                     ctypes.c_uint32(256), ctypes.byref(layer))
    assert library.nnmap_digital_error() is None
    assert library.nnmap_digital_cycles() - before == 500 + 7  # 100 elements at 16 per cycle
    expected = np.clip((x.astype(np.int64) + y) >> 1, -128, 127)
    np.testing.assert_array_equal(_store(library, 256, 100, "int8"), expected)


def test_a_kernel_whose_output_does_not_follow_its_input_is_an_error(
        library: ctypes.CDLL) -> None:
    library.nnmap_digital_reset()
    layer = LayerParameters(**{**dict.fromkeys(FIELDS, 0), "c": 1, "k": 1, "cx": 4, "cy": 4,
                               "fx": 3, "fy": 3, "ox": 4, "oy": 4, "dilation": 1, "stride": 1,
                               "output_bits": 32})
    library.digital_conv_2d(None, ctypes.c_uint32(0), ctypes.c_uint32(0), None,
                            ctypes.c_uint32(64), ctypes.byref(layer))
    assert b"does not follow" in library.nnmap_digital_error()
    library.nnmap_digital_reset()


def test_the_emulator_ships_its_parameters(tmp_path: Path) -> None:
    files = emulator(MODULE).files()
    assert {"digital_lib.h", "digital_emulator.c", "digital_params.h"} <= set(files)
    assert "#define NNMAP_DIGITAL_WEIGHT_BYTES 65536" in files["digital_params.h"]
