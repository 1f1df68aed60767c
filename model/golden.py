"""The int8 golden model: the bit-exact specification every RTL layer must match.

Feature maps are HWC int8 arrays (no batch axis). Weights follow ``Layer.weight_shape``:
conv ``(k, k, Cin, Cout)``, depthwise ``(k, k, C)``, pointwise and fc ``(Cin, Cout)``,
average pooling none.

Accumulation
    ``acc[y, x, c] = bias[c] + sum(w * x_padded)`` over the layer's taps, with plain
    int8 x int8 products. The input is padded with ``Z_in`` (``in_zero_point``, the input
    code for real 0) on the explicit sides ``(top, left, bottom, right)`` of
    ``layer.padding``: TensorFlow "SAME" (stride 2 on an even map pads only bottom/right,
    e.g. ``(0, 0, 1, 1)``) and symmetric (``(1, 1, 1, 1)`` for 3x3) are both just padding
    values. Because the quantiser folds ``-Z_in * sum(w)`` into the bias, a padded tap
    contributes ``w * Z_in - w * Z_in = 0``: padding with ``Z_in`` is exact zero padding
    in the real domain. Global average pooling sums the whole map per channel and adds
    the bias (``-H * W * Z_in``); the division by ``H * W`` lives in the multiplier.
    Accumulation is modulo 2**32, as in the RTL and in TFLite's int32 accumulators: the
    final value equals TFLite's whenever TFLite's does not overflow.

Requantisation (TFLite's reference kernels; :mod:`model.numerics` implements it and
proves its rewrite), per output channel ``c``::

    x    = acc * 2**max(shift[c], 0)                    in int32 (wraps)
    h    = SaturatingRoundingDoublingHighMul(x, M0[c])  round(x * M0 / 2**31), ties up
    y    = RoundingDivideByPOT(h, max(-shift[c], 0))    ties away from zero
    out  = min(max(y + Z_out, LO), HI)

``0 <= M0[c] < 2**31``, ``-31 <= shift[c] <= 7``. The clamp bounds
express the activation: ReLU is ``LO = Z_out``, ReLU6 is ``LO = Z_out, HI = min(127,
Z_out + round(6 / s_out))``, none is ``-128, 127``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .layers import Layer, LayerKind
from .numerics import INT8_MAX, INT8_MIN, check_requant_params, requantize, wrap_int32

__all__ = ["QuantLayer", "accumulate", "run_layer", "run_network"]


def _describe(array) -> str:
    """``"int16 (3, 4)"`` for an array, the type name for anything else (error messages)."""
    if isinstance(array, np.ndarray):
        return f"{array.dtype} {array.shape}"
    return type(array).__name__


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


# eq=False: the generated __eq__/__hash__ would compare numpy arrays element-wise and
# fail; identity semantics are what a parameter record needs.
@dataclass(frozen=True, eq=False)
class QuantLayer:
    """One layer with its int8 parameters: everything the accelerator needs to run it.

    Parameters
    ----------
    layer : Layer
        Shapes, stride, padding and activation.
    weights : numpy.ndarray of int8, shape ``layer.weight_shape``, or None
        None exactly for average pooling.
    bias : numpy.ndarray of int32, shape ``(out_c,)``
        Includes the input zero-point correction ``-Z_in * sum(w)``.
    multiplier : numpy.ndarray of int32, shape ``(out_c,)``
        TFLite's ``M0``: in ``[2**30, 2**31)`` from QuantizeMultiplier, or 0; MEAN's
        folded multiplier may be smaller (any value in ``[0, 2**31)`` is legal).
    shift : numpy.ndarray of int32, shape ``(out_c,)``
        TFLite's exponent, in ``[-31, 7]`` (negative: right shift).
    in_zero_point, out_zero_point : int
        Codes of real 0 at the input and the output, in ``[-128, 127]``.
    clamp_lo, clamp_hi : int
        Output clamp (the activation), ``-128 <= lo <= hi <= 127``.
    in_scale, out_scale : float
        Real value of one input / output code step. Kept only to dequantise for
        reference comparisons; the integer model never reads them.
    """

    layer: Layer
    weights: np.ndarray | None
    bias: np.ndarray
    multiplier: np.ndarray
    shift: np.ndarray
    in_zero_point: int
    out_zero_point: int
    clamp_lo: int
    clamp_hi: int
    in_scale: float
    out_scale: float

    def __post_init__(self):
        layer = self.layer
        if not isinstance(layer, Layer):
            raise TypeError(f"layer must be a Layer, not {type(layer).__name__}")
        name = layer.name
        if layer.kind is LayerKind.AVGPOOL:
            if self.weights is not None:
                raise ValueError(f"layer {name!r}: avgpool takes no weights, "
                                 f"not {_describe(self.weights)}")
            # Global pooling: one output pixel; padding would average in fake pixels.
            if layer.padding.as_tuple() != (0, 0, 0, 0) or layer.stride != 1:
                raise ValueError(f"layer {name!r}: avgpool must be global (no padding, "
                                 f"stride 1), not padding {layer.padding.as_tuple()} "
                                 f"stride {layer.stride}")
        elif not (isinstance(self.weights, np.ndarray) and self.weights.dtype == np.int8
                  and self.weights.shape == layer.weight_shape):
            raise ValueError(f"layer {name!r}: weights must be an int8 array of shape "
                             f"{layer.weight_shape}, not {_describe(self.weights)}")
        for field in ("bias", "multiplier", "shift"):
            value = getattr(self, field)
            if not (isinstance(value, np.ndarray) and value.dtype == np.int32
                    and value.shape == (layer.out_c,)):
                raise ValueError(f"layer {name!r}: {field} must be an int32 array of shape "
                                 f"({layer.out_c},), not {_describe(value)}")
        for field in ("in_zero_point", "out_zero_point", "clamp_lo", "clamp_hi"):
            value = getattr(self, field)
            if not _is_int(value):
                raise ValueError(f"layer {name!r}: {field} must be an integer, not {value!r}")
        if not INT8_MIN <= self.in_zero_point <= INT8_MAX:
            raise ValueError(f"layer {name!r}: in_zero_point must be in [{INT8_MIN}, "
                             f"{INT8_MAX}], not {self.in_zero_point}")
        for field in ("in_scale", "out_scale"):
            value = getattr(self, field)
            if not (isinstance(value, numbers.Real) and not isinstance(value, bool)
                    and math.isfinite(value) and value > 0):
                raise ValueError(f"layer {name!r}: {field} must be a positive finite "
                                 f"number, not {value!r}")
        check_requant_params(self.multiplier, self.shift, self.out_zero_point,
                             self.clamp_lo, self.clamp_hi)


def _check_input(q: QuantLayer, x) -> np.ndarray:
    layer = q.layer
    if isinstance(x, np.ndarray) and layer.kind is LayerKind.FC and x.shape == (layer.in_c,):
        x = x.reshape(1, 1, layer.in_c)
    if not (isinstance(x, np.ndarray) and x.dtype == np.int8 and x.shape == layer.in_shape):
        raise ValueError(f"layer {layer.name!r}: input must be an int8 array of shape "
                         f"{layer.in_shape}, not {_describe(x)}")
    return x


def _windows(x: np.ndarray, q: QuantLayer) -> np.ndarray:
    """View of every kernel window: shape ``(out_h, out_w, C, k, k)``, padded with Z_in."""
    layer = q.layer
    top, left, bottom, right = layer.padding.as_tuple()
    padded = np.pad(x, ((top, bottom), (left, right), (0, 0)),
                    constant_values=np.int8(q.in_zero_point))
    k, s = layer.kernel, layer.stride
    view = np.lib.stride_tricks.sliding_window_view(padded, (k, k), axis=(0, 1))
    view = view[::s, ::s]
    assert view.shape[:2] == (layer.out_h, layer.out_w)
    return view


def accumulate(q: QuantLayer, x: np.ndarray) -> np.ndarray:
    """Raw int32 accumulators of layer ``q`` on int8 input ``x``, before requantisation.

    Parameters
    ----------
    q : QuantLayer
    x : numpy.ndarray of int8, shape ``q.layer.in_shape``
        HWC input codes. For fc, ``(Cin,)`` is accepted too.

    Returns
    -------
    numpy.ndarray of int64, shape ``q.layer.out_shape``
        Every value inside int32 (the sum modulo 2**32).
    """
    layer = q.layer
    x = _check_input(q, x)
    bias = q.bias.astype(np.int64)
    if layer.kind is LayerKind.AVGPOOL:
        acc = x.astype(np.int64).sum(axis=(0, 1)).reshape(1, 1, layer.out_c) + bias
    elif layer.kind is LayerKind.DEPTHWISE:
        windows = _windows(x, q).astype(np.int64)
        acc = np.einsum("hwcij,ijc->hwc", windows, q.weights.astype(np.int64)) + bias
    else:
        # conv, pointwise and fc are one im2col matrix product. float64 BLAS is exact
        # here: every product is an integer of magnitude <= 2**14 and every partial sum
        # of at most k*k*Cin of them stays far below 2**53, so no rounding can occur in
        # any summation order, and it is ~100x faster than numpy's integer matmul.
        k, cin = layer.kernel, layer.in_c
        windows = _windows(x, q).transpose(0, 1, 3, 4, 2)  # (oh, ow, ky, kx, cin)
        patches = windows.reshape(layer.out_h * layer.out_w, k * k * cin).astype(np.float64)
        weights = q.weights.reshape(k * k * cin, layer.out_c).astype(np.float64)
        assert k * k * cin * 2**14 < 2**53
        acc = (patches @ weights).astype(np.int64).reshape(layer.out_shape) + bias
    return wrap_int32(acc)


def run_layer(q: QuantLayer, x: np.ndarray) -> np.ndarray:
    """Int8 output of layer ``q`` on int8 input ``x`` (shape ``q.layer.out_shape``)."""
    return requantize(accumulate(q, x), q.multiplier, q.shift, q.out_zero_point,
                      q.clamp_lo, q.clamp_hi)


def run_network(qlayers: Sequence[QuantLayer], x: np.ndarray) -> list[np.ndarray]:
    """Run layers in order from int8 input ``x``; return every layer's int8 output.

    Consecutive layers must agree on the quantisation of the map between them (the
    producer's output zero point and scale are the consumer's input ones); a mismatch
    means the parameters were not made for this chain, so it raises ValueError.
    """
    outputs = []
    for index, q in enumerate(qlayers):
        if index:
            prev = qlayers[index - 1]
            if q.in_zero_point != prev.out_zero_point or \
                    not math.isclose(q.in_scale, prev.out_scale, rel_tol=1e-9):
                raise ValueError(
                    f"layer {q.layer.name!r}: input quantisation (scale {q.in_scale!r}, "
                    f"zero point {q.in_zero_point}) differs from the output of "
                    f"{prev.layer.name!r} (scale {prev.out_scale!r}, zero point "
                    f"{prev.out_zero_point})")
        x = run_layer(q, x)
        outputs.append(x)
    return outputs
