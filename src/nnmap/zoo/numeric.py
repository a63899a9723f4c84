"""Float numpy versions of the zoo's layers (NCHW), used to calibrate activation scales."""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def same_pads(
    size: tuple[int, int], kernel: tuple[int, int], stride: int
) -> tuple[int, int, int, int]:
    """ONNX `pads` [top, left, bottom, right] equal to TF SAME: the odd pad goes bottom/right."""
    begin: list[int] = []
    end: list[int] = []
    for extent, k in zip(size, kernel, strict=True):
        total = max((math.ceil(extent / stride) - 1) * stride + k - extent, 0)
        begin.append(total // 2)
        end.append(total - total // 2)
    return begin[0], begin[1], end[0], end[1]


def conv2d(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    stride: int,
    pads: tuple[int, int, int, int],
    group: int,
) -> np.ndarray:
    """ONNX Conv: x [N,C,H,W], w [O,C/group,KH,KW], b [O] -> [N,O,OH,OW]."""
    n, channels = x.shape[:2]
    out_ch, cg, kh, kw = w.shape
    top, left, bottom, right = pads
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    win = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    oh, ow = win.shape[2:4]
    win = win.reshape(n, group, channels // group, oh, ow, kh, kw)
    wg = w.reshape(group, out_ch // group, cg, kh, kw)
    out = np.einsum("ngchwij,gocij->ngohw", win, wg, optimize=True)
    return out.reshape(n, out_ch, oh, ow) + b[None, :, None, None]


def avgpool(x: np.ndarray, kernel: tuple[int, int]) -> np.ndarray:
    """ONNX AveragePool with strides equal to the kernel and no padding."""
    win = sliding_window_view(x, kernel, axis=(2, 3))[:, :, :: kernel[0], :: kernel[1]]
    return win.mean(axis=(4, 5))


def softmax(x: np.ndarray) -> np.ndarray:
    """Softmax over the last axis."""
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
