"""Residual adds on Gemmini: TFLite's int8 Add done in the accumulator, and whether it is exact.

Gemmini adds two tensors as ``tiled_resadd`` of gemmini-rocc-tests' ``gemmini.h`` does: both int8
inputs are moved into the same accumulator rows (``mvin`` then ``mvin2`` with the accumulate bit),
each through the int8 mvin scaler of its load config (``config_ld`` with ``shrunk``: a float32
scale, rounded half to even, saturated to int8), and the int32 sums are moved out through the
accumulator scaler (``config_st``: a float32 scale, round half to even, ReLU, saturation to int8).
TFLite's Add subtracts the inputs' zero points and adds the output's, which Gemmini cannot do; the
offset is a constant of the layer, so it is moved into the accumulator first as an int8 bias row
(``mvin3`` from one constant row of DIM values with DRAM stride 0: one value per element); a
layer whose offset does not fit int8 stays on the host.

So Gemmini computes ``sat8(rne((bias + sat8(rne(a*sa)) + sat8(rne(b*sb))) * so))``, while TFLite
rescales each input in 32-bit fixed point and rounds once: in general the two differ. Which is
which is settled per layer by evaluating both on all 65,536 pairs of int8 inputs (the whole input
range of the layer: every output element depends on one pair only): ``choose_scales`` picks,
among a few candidate parameter sets, the one with the fewest differing pairs, and reports how
many differ. Zero differing pairs proves the layer bit-exact on Gemmini.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnmap.ir import Graph
from nnmap.ir.layers import Add
from nnmap.reference.kernels import add as tflite_add
from nnmap.targets.gemmini.instructions import NO_ACTIVATION, RELU, round_saturate

INT8_VALUES = np.arange(-128, 128, dtype=np.int64)


@dataclass(frozen=True)
class ResaddScales:
    """The hardware parameters of one residual add: the int8 mvin scales of the two inputs, the
    int8 bias moved into the accumulator first, the mvout scale and its activation (ReLU or
    none)."""

    a_scale: float
    b_scale: float
    bias: int
    out_scale: float
    activation: int


@dataclass(frozen=True)
class ResaddCheck:
    """Gemmini's resadd against TFLite's Add on every pair of int8 inputs: how many of the
    65,536 differ, and the first that does (a, b, Gemmini's output, TFLite's)."""

    scales: ResaddScales
    differing: int
    example: tuple[int, int, int, int] | None

    @property
    def exact(self) -> bool:
        return self.differing == 0

    def describe(self) -> str:
        if self.example is None:
            return "bit-exact with TFLite on all 65,536 input pairs"
        a, b, got, want = self.example
        return (
            f"Gemmini's float scaling differs from TFLite's Add on {self.differing:,} of 65,536 "
            f"input pairs (e.g. a={a}, b={b}: {got} vs {want})"
        )


def resadd(a: np.ndarray, b: np.ndarray, scales: ResaddScales) -> np.ndarray:
    """The numpy meaning of the instruction sequence: bias rows, ``mvin`` a and ``mvin2`` b into
    the accumulator through their int8 scalers, ``mvout`` through the accumulator scaler (the
    ``instructions`` meanings, element by element)."""
    total = np.full(np.broadcast(a, b).shape, scales.bias, dtype=np.int64)
    total = total + round_saturate(np.asarray(a), scales.a_scale, NO_ACTIVATION)
    total = total + round_saturate(np.asarray(b), scales.b_scale, NO_ACTIVATION)
    return round_saturate(total.astype(np.int32), scales.out_scale, scales.activation)


def activation_of(layer: Add) -> int | None:
    """Gemmini's store activation that gives the layer's output clamp (None: neither does)."""
    if layer.clamp.high < 127:
        return None
    if layer.clamp.low <= -128:
        return NO_ACTIVATION
    if layer.clamp.low == 0:
        return RELU  # Gemmini's ReLU clamps the int8 result at 0, where the layer's clamp is
    return None


def _candidates(layer: Add, graph: Graph, activation: int) -> list[ResaddScales]:
    """Parameter sets to try: the inputs scaled relative to the larger of the two real factors
    (so neither saturates), the output by that factor, the bias rounded either way."""
    first, second = (graph.tensor(name) for name in layer.inputs)
    out = graph.tensor(layer.output)
    real_a = float(first.scale or 1.0) / float(out.scale or 1.0)
    real_b = float(second.scale or 1.0) / float(out.scale or 1.0)
    unit = max(real_a, real_b)
    a_scale, b_scale = float(np.float32(real_a / unit)), float(np.float32(real_b / unit))
    offset = (
        int(out.zero_point or 0) / unit
        - int(first.zero_point or 0) * a_scale
        - int(second.zero_point or 0) * b_scale
    )
    found = []
    for out_scale in (unit, *np.nextafter(np.float32(unit), [np.float32(0), np.float32(2 * unit)])):
        for bias in sorted({int(np.floor(offset)), int(np.ceil(offset)), round(offset)}):
            if not -128 <= bias <= 127:
                continue
            found.append(ResaddScales(a_scale, b_scale, bias, float(np.float32(out_scale)),
                                      activation))
    return found


def _pairs() -> tuple[np.ndarray, np.ndarray]:
    a, b = np.meshgrid(INT8_VALUES, INT8_VALUES, indexing="ij")
    return a.reshape(-1), b.reshape(-1)


def tflite_outputs(layer: Add, graph: Graph) -> np.ndarray:
    """TFLite's Add of ``layer`` on all 65,536 int8 input pairs (a major, as ``_pairs``)."""
    first, second = (graph.tensor(name) for name in layer.inputs)
    a, b = _pairs()
    return tflite_add(layer, a, b, first, second, graph.tensor(layer.output)).astype(np.int64)


def check(scales: ResaddScales, want: np.ndarray) -> ResaddCheck:
    """``scales`` against TFLite's outputs ``want`` on all 65,536 int8 input pairs."""
    a, b = _pairs()
    got = resadd(a.astype(np.int8), b.astype(np.int8), scales).astype(np.int64)
    wrong = np.flatnonzero(got != want)
    if wrong.size == 0:
        return ResaddCheck(scales, 0, None)
    at = int(wrong[0])
    example = (int(a[at]), int(b[at]), int(got[at]), int(want[at]))
    return ResaddCheck(scales, int(wrong.size), example)


def _shape_refusal(layer: Add, graph: Graph) -> str | None:
    if layer.rescale is None:
        return "float Add: the Gemmini code generator lowers int8 adds only"
    shapes = {graph.tensor(name).shape for name in (*layer.inputs, layer.output)}
    if len(shapes) != 1:
        return "Add with broadcasting: Gemmini's resadd adds tensors of one shape"
    out = graph.tensor(layer.output)
    if activation_of(layer) is None:
        return (
            f"Add clamped to [{layer.clamp.low}, {layer.clamp.high}] with output zero point "
            f"{out.zero_point}: Gemmini's store path clamps to int8 or at 0 (ReLU) only"
        )
    return None


def choose_scales(layer: Add, graph: Graph) -> ResaddCheck | None:
    """The candidate parameters with the fewest input pairs that differ from TFLite's Add (the
    first exact one when there is one); None when no candidate's bias fits int8. The layer must
    pass ``_shape_refusal``."""
    activation = activation_of(layer)
    assert activation is not None, _shape_refusal(layer, graph)
    want = tflite_outputs(layer, graph)
    best: ResaddCheck | None = None
    for scales in _candidates(layer, graph, activation):
        checked = check(scales, want)
        if best is None or checked.differing < best.differing:
            best = checked
        if best.exact:
            break
    return best


def resadd_refusal(layer: Add, graph: Graph) -> str | None:
    """Why Gemmini's resadd cannot run ``layer`` at all (None: it can, at least approximately)."""
    reason = _shape_refusal(layer, graph)
    if reason is None and choose_scales(layer, graph) is None:
        return "Add whose zero-point offset exceeds one int8 bias row in the accumulator"
    return reason


def exactness_refusal(layer: Add, graph: Graph) -> str | None:
    """Why Gemmini's resadd is not bit-exact with TFLite for ``layer`` (None: it is, proven on
    every input pair); the layer must pass ``resadd_refusal``."""
    checked = choose_scales(layer, graph)
    assert checked is not None, resadd_refusal(layer, graph)
    return None if checked.exact else f"exact numerics: {checked.describe()}"
