"""Float to int8: batch-norm folding, quantisation, a float reference and random networks.

The quantiser produces :class:`model.golden.QuantLayer` records whose integer numerics
are defined in :mod:`model.numerics`: int8 activations with a zero point, int8
symmetric per-output-channel weights (zero point 0, codes -127..127), int32 bias that
already holds the input zero-point correction ``-Z_in * sum(w_q)``, and a per-channel
multiplier/shift pair approximating ``s_in * s_w[c] / s_out``.

:func:`float_layer` is a deliberately plain float64 implementation of every layer kind
(explicit loops over kernel taps, zero padding with ``np.pad``). It shares no code with
:func:`model.golden.accumulate`, so agreement between the two is evidence, not tautology.

:func:`random_mobilenet` builds a random but realistic quantised network (He-initialised
weights, batch norm folded, per-layer calibration) so the RTL and the driver can be
exercised on activations that look like a trained network's: neither vanishing nor
saturating.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np

from .golden import QuantLayer, run_layer
from .layers import Activation, Layer, LayerKind, Network
from .numerics import (INT8_MAX, INT8_MIN, INT32_MAX, INT32_MIN, mean_multiplier,
                       quantize_multiplier, wrap_int32)

__all__ = [
    "WEIGHT_QMAX",
    "INPUT_SCALE",
    "INPUT_ZERO_POINT",
    "fold_batch_norm",
    "quantize_multiplier",
    "quantize_weights",
    "quantize_layer",
    "float_layer",
    "random_input",
    "random_mobilenet",
]

# Symmetric weights use -127..127 so that negating a weight never overflows and the
# scale is the same for both signs (the golden model still accepts -128).
WEIGHT_QMAX = 127

# Network input: images normalised to [-1, 1) as code / 128 (TFLite's MobileNet input
# quantisation, uint8 zero point 128 expressed in int8).
INPUT_SCALE = 1 / 128
INPUT_ZERO_POINT = 0


# -- batch norm ----------------------------------------------------------------------------

def fold_batch_norm(w, b, gamma, beta, mean, var, eps: float = 1e-3):
    """Fold inference batch norm into the preceding convolution.

    ``BN(conv(x, w) + b) = conv(x, w * f) + (b - mean) * f + beta`` with
    ``f = gamma / sqrt(var + eps)``, per output channel.

    Parameters
    ----------
    w : array, last axis = output channel (for depthwise, the channel)
    b : array ``(C,)`` or None (no bias before batch norm, as in MobileNet)
    gamma, beta, mean, var : arrays ``(C,)``
    eps : float
        Keras' default 1e-3, which MobileNet-v1 checkpoints use.

    Returns
    -------
    (w_folded, b_folded) : float64 arrays of the shapes of ``w`` and ``(C,)``
    """
    w = np.asarray(w, dtype=np.float64)
    channels = w.shape[-1]
    b = np.zeros(channels) if b is None else np.asarray(b, dtype=np.float64)
    params = {"b": b, "gamma": gamma, "beta": beta, "mean": mean, "var": var}
    for name, value in params.items():
        if np.shape(value) != (channels,):
            raise ValueError(f"{name} must have shape ({channels},) to match the last axis "
                             f"of w, not {np.shape(value)}")
    var = np.asarray(var, dtype=np.float64)
    if np.any(var < 0):
        raise ValueError("batch norm variance must be non-negative")
    factor = np.asarray(gamma, dtype=np.float64) / np.sqrt(var + eps)
    return w * factor, (b - np.asarray(mean, dtype=np.float64)) * factor + np.asarray(beta)


# -- layers --------------------------------------------------------------------------------

def _check_scale(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, not {value!r}")
    return float(value)


def _check_zero_point(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
            or not INT8_MIN <= value <= INT8_MAX:
        raise ValueError(f"{name} must be an integer in [{INT8_MIN}, {INT8_MAX}], not {value!r}")
    return int(value)


def quantize_weights(w_float) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-output-channel int8 weights (last axis = output channel).

    Returns ``(w_q, scale)`` with ``w_q = round(w / scale)`` in ``[-127, 127]`` and
    ``scale[c] = max|w[..., c]| / 127``. An all-zero channel gets ``scale = 1/127`` (as if
    its largest weight were 1): its weights are 0 whatever the scale, and a finite scale
    keeps its bias and multiplier well defined.
    """
    w = np.asarray(w_float, dtype=np.float64)
    reduce_axes = tuple(range(w.ndim - 1))
    absmax = np.abs(w).max(axis=reduce_axes)
    scale = np.where(absmax > 0, absmax, 1.0) / WEIGHT_QMAX
    w_q = np.clip(np.round(w / scale), -WEIGHT_QMAX, WEIGHT_QMAX).astype(np.int8)
    return w_q, scale


def activation_range(activation: Activation, out_scale: float, out_zero_point: int):
    """Clamp codes ``(lo, hi)`` for the activation: TFLite's
    ``CalculateActivationRangeQuantized`` (``Z + round(6 / s)`` in float32, ties away from
    zero, within -128..127)."""
    def quantize(real):
        ratio = float(np.float32(real) / np.float32(out_scale))
        return out_zero_point + int(math.copysign(math.floor(abs(ratio) + 0.5), ratio))

    if activation is Activation.RELU:
        return max(INT8_MIN, quantize(0.0)), INT8_MAX
    if activation is Activation.RELU6:
        return max(INT8_MIN, quantize(0.0)), min(INT8_MAX, quantize(6.0))
    return INT8_MIN, INT8_MAX


def quantize_layer(layer: Layer, w_float, b_float, in_scale: float, in_zero_point: int,
                   out_scale: float, out_zero_point: int) -> QuantLayer:
    """Quantise one float layer (batch norm already folded) to a :class:`QuantLayer`.

    Parameters
    ----------
    layer : Layer
    w_float : array of ``layer.weight_shape``, or None for avgpool
    b_float : array ``(out_c,)``, or None (zero bias; must be None for avgpool)
    in_scale, in_zero_point : float, int
        Quantisation of the input map: ``real = in_scale * (code - in_zero_point)``.
    out_scale, out_zero_point : float, int
        Quantisation of the output map.

    Notes
    -----
    ``bias[c] = round(b[c] / (in_scale * s_w[c])) - in_zero_point * sum(w_q[..., c])``
    (modulo 2**32): the second term cancels ``Z_in`` in every tap, padded taps included,
    so the accumulator is ``sum(w_q * (x - Z_in)) + round(b / (s_in s_w))``, TFLite's.
    Multiplier and shift are TFLite's ``QuantizeMultiplier`` of the real multiplier. Average pooling
    has ``bias = -H*W*Z_in`` and multiplier ``in_scale / (H*W*out_scale)``.
    """
    if not isinstance(layer, Layer):
        raise TypeError(f"layer must be a Layer, not {type(layer).__name__}")
    in_scale = _check_scale("in_scale", in_scale)
    out_scale = _check_scale("out_scale", out_scale)
    in_zero_point = _check_zero_point("in_zero_point", in_zero_point)
    out_zero_point = _check_zero_point("out_zero_point", out_zero_point)
    out_c = layer.out_c
    lo, hi = activation_range(layer.activation, out_scale, out_zero_point)

    if layer.kind is LayerKind.AVGPOOL:
        if w_float is not None or b_float is not None:
            raise ValueError(f"layer {layer.name!r}: avgpool takes no weights or bias")
        window = layer.in_h * layer.in_w
        weights = None
        bias = np.full(out_c, -window * in_zero_point, dtype=np.int64)
        try:
            pair = mean_multiplier(in_scale / out_scale, window)
        except ValueError as error:
            raise ValueError(f"layer {layer.name!r}: {error}") from None
        return QuantLayer(layer=layer, weights=None, bias=bias.astype(np.int32),
                          multiplier=np.full(out_c, pair[0], np.int32),
                          shift=np.full(out_c, pair[1], np.int32), in_zero_point=in_zero_point,
                          out_zero_point=out_zero_point, clamp_lo=int(lo), clamp_hi=int(hi),
                          in_scale=in_scale, out_scale=out_scale)
    else:
        w = np.asarray(w_float, dtype=np.float64)
        if w.shape != layer.weight_shape:
            raise ValueError(f"layer {layer.name!r}: float weights must have shape "
                             f"{layer.weight_shape}, not {w.shape}")
        b = np.zeros(out_c) if b_float is None else np.asarray(b_float, dtype=np.float64)
        if b.shape != (out_c,):
            raise ValueError(f"layer {layer.name!r}: float bias must have shape ({out_c},), "
                             f"not {b.shape}")
        weights, w_scale = quantize_weights(w)
        reduce_axes = tuple(range(weights.ndim - 1))
        weight_sums = weights.astype(np.int64).sum(axis=reduce_axes)
        bias = np.round(b / (in_scale * w_scale)).astype(np.int64)
        bad = np.flatnonzero((bias < INT32_MIN) | (bias > INT32_MAX))
        if bad.size:
            raise ValueError(f"layer {layer.name!r}: quantised bias of channel {bad[0]} is "
                             f"{bias[bad[0]]}, outside int32")
        bias = wrap_int32(bias - in_zero_point * weight_sums)
        real_multipliers = in_scale * w_scale / out_scale

    pairs = []
    for channel, real in enumerate(real_multipliers):
        try:
            pairs.append(quantize_multiplier(float(real)))
        except ValueError as error:
            raise ValueError(f"layer {layer.name!r} channel {channel}: {error}") from None
    multiplier, shift = (np.array(column, dtype=np.int32) for column in zip(*pairs))
    return QuantLayer(layer=layer, weights=weights, bias=bias.astype(np.int32),
                      multiplier=multiplier, shift=shift, in_zero_point=in_zero_point,
                      out_zero_point=out_zero_point, clamp_lo=int(lo), clamp_hi=int(hi),
                      in_scale=in_scale, out_scale=out_scale)


# -- float reference -----------------------------------------------------------------------

def _activate(y: np.ndarray, activation: Activation) -> np.ndarray:
    if activation is Activation.RELU:
        return np.maximum(y, 0.0)
    if activation is Activation.RELU6:
        return np.clip(y, 0.0, 6.0)
    return y


def float_layer(layer: Layer, x_float, w_float, b_float) -> np.ndarray:
    """Float64 reference of one layer: zero padding, explicit loop over kernel taps.

    Parameters
    ----------
    layer : Layer
    x_float : array of ``layer.in_shape`` (``(Cin,)`` accepted for fc)
    w_float : array of ``layer.weight_shape`` (None for avgpool)
    b_float : array ``(out_c,)`` or None

    Returns
    -------
    float64 array of ``layer.out_shape``, activation applied.
    """
    x = np.asarray(x_float, dtype=np.float64)
    if layer.kind is LayerKind.FC and x.shape == (layer.in_c,):
        x = x.reshape(1, 1, layer.in_c)
    if x.shape != layer.in_shape:
        raise ValueError(f"layer {layer.name!r}: input must have shape {layer.in_shape}, "
                         f"not {x.shape}")
    bias = np.zeros(layer.out_c) if b_float is None else np.asarray(b_float, np.float64)

    if layer.kind is LayerKind.AVGPOOL:
        y = x.mean(axis=(0, 1)).reshape(1, 1, layer.out_c)
    else:
        w = np.asarray(w_float, dtype=np.float64)
        top, left, bottom, right = layer.padding.as_tuple()
        padded = np.pad(x, ((top, bottom), (left, right), (0, 0)))
        k, s, oh, ow = layer.kernel, layer.stride, layer.out_h, layer.out_w
        if layer.kind in (LayerKind.POINTWISE, LayerKind.FC):
            w = w.reshape(1, 1, layer.in_c, layer.out_c)
        y = np.zeros(layer.out_shape)
        for ky in range(k):
            for kx in range(k):
                # Input pixel (oy*s + ky, ox*s + kx) of the padded map feeds output (oy, ox).
                tap = padded[ky:ky + s * (oh - 1) + 1:s, kx:kx + s * (ow - 1) + 1:s, :]
                if layer.kind is LayerKind.DEPTHWISE:
                    y += tap * w[ky, kx, :]
                else:
                    y += tap @ w[ky, kx]
    return _activate(y + bias, layer.activation)


# -- random networks -----------------------------------------------------------------------

def random_input(network_or_layer, seed: int = 0, *, scale: float = INPUT_SCALE,
                 zero_point: int = INPUT_ZERO_POINT) -> np.ndarray:
    """An image-like int8 input for a network (its first layer) or a single layer.

    A random low-frequency field (bilinear upsampling of a coarse grid) plus pixel
    noise, in ``[-1, 1)`` and quantised with ``scale`` / ``zero_point`` (default: the
    built-in networks' ``INPUT_SCALE`` / ``INPUT_ZERO_POINT``; an imported model's input
    tensor gives its own): spatially correlated like a photograph, and spanning most of
    the int8 range.

    Parameters
    ----------
    network_or_layer : Network, Layer, QuantLayer, or a sequence of Layer/QuantLayer
    seed : int
    scale, zero_point : the input tensor's quantisation
    """
    target = network_or_layer
    if isinstance(target, Network) or (isinstance(target, (list, tuple)) and target):
        target = target[0]
    if isinstance(target, QuantLayer):
        target = target.layer
    if not isinstance(target, Layer):
        raise TypeError(f"random_input needs a Network, Layer or QuantLayer, "
                        f"not {type(network_or_layer).__name__}")
    h, w, c = target.in_shape
    rng = np.random.default_rng(seed)
    grid_h, grid_w = max(2, h // 8), max(2, w // 8)
    coarse = rng.uniform(-1.0, 1.0, (grid_h, grid_w, c))

    def upsample(a, size, axis):
        pos = np.linspace(0, a.shape[axis] - 1, size)
        i0 = np.minimum(np.floor(pos).astype(int), a.shape[axis] - 2)
        frac = (pos - i0).reshape([-1 if d == axis else 1 for d in range(a.ndim)])
        return np.take(a, i0, axis) * (1 - frac) + np.take(a, i0 + 1, axis) * frac

    field = upsample(upsample(coarse, h, 0), w, 1) + rng.normal(0.0, 0.15, (h, w, c))
    codes = np.round(np.clip(field, -1.0, 1.0) / scale) + zero_point
    return np.clip(codes, INT8_MIN, INT8_MAX).astype(np.int8)


def _output_quantisation(y: np.ndarray, activation: Activation) -> tuple[float, int]:
    """Output (scale, zero point) covering the observed float range ``y``.

    ReLU/ReLU6 outputs are non-negative: [0, max] (capped at 6 for ReLU6) maps onto the
    full -128..127 with real 0 at -128. Linear outputs are signed: symmetric around 0.
    """
    if activation in (Activation.RELU, Activation.RELU6):
        top = float(y.max())
        if activation is Activation.RELU6:
            top = min(top, 6.0)
        if top <= 0:  # a dead layer: any scale represents all-zero exactly
            top = 1.0
        return top / (INT8_MAX - INT8_MIN), INT8_MIN
    amax = float(np.abs(y).max())
    return (amax if amax > 0 else 1.0) / INT8_MAX, 0


def random_mobilenet(network, seed: int = 0, calibration_images: int = 8) -> list[QuantLayer]:
    """A random, realistically calibrated int8 network for ``network``'s layers.

    For each layer in order: He-initialised float weights (normal, std
    ``sqrt(2 / fan_in)``); for conv/depthwise/pointwise a batch norm whose running mean
    and variance are the observed per-channel statistics of the convolution output
    (jittered), with random ``gamma`` in [0.5, 1.5] and ``beta`` ~ N(0.25, 0.5) -- so, as in
    a trained network, each channel's pre-activation is roughly N(beta, gamma**2); the fc
    layer gets a small random bias instead. The folded float layer runs on the
    dequantised int8 input of the calibration images, the output scale and zero point
    are chosen from the observed range (see ``_output_quantisation``), the layer is
    quantised, and the golden model's int8 output feeds the next layer.

    Parameters
    ----------
    network : Network or sequence of Layer
    seed : int
    calibration_images : int
        Number of :func:`random_input` images used to calibrate.
    """
    layers = list(network)
    if not layers:
        raise ValueError("network has no layers")
    if isinstance(calibration_images, bool) or not isinstance(calibration_images, int) \
            or calibration_images < 1:
        raise ValueError(f"calibration_images must be a positive integer, "
                         f"not {calibration_images!r}")
    rng = np.random.default_rng(seed)
    image_seeds = rng.integers(0, 2**32, calibration_images)
    xs = [random_input(layers[0], int(s)) for s in image_seeds]
    in_scale, in_zero_point = INPUT_SCALE, INPUT_ZERO_POINT
    qlayers = []
    for layer in layers:
        x_float = [(x.astype(np.float64) - in_zero_point) * in_scale for x in xs]
        if layer.kind is LayerKind.AVGPOOL:
            w = b = None
        else:
            fan_in = math.prod(layer.weight_shape[:-1])
            w = rng.normal(0.0, math.sqrt(2.0 / fan_in), layer.weight_shape)
            if layer.kind is LayerKind.FC:
                b = rng.normal(0.0, 0.1, layer.out_c)
            else:
                linear = dataclasses.replace(layer, activation=Activation.NONE)
                raw = np.stack([float_layer(linear, x, w, None) for x in x_float])
                axes = tuple(range(raw.ndim - 1))
                mean, std = raw.mean(axis=axes), raw.std(axis=axes)
                gamma = rng.uniform(0.5, 1.5, layer.out_c)
                beta = rng.normal(0.25, 0.5, layer.out_c)
                bn_mean = mean + rng.normal(0.0, 0.1, layer.out_c) * std
                bn_var = std**2 * rng.uniform(0.8, 1.25, layer.out_c)
                w, b = fold_batch_norm(w, None, gamma, beta, bn_mean, bn_var)
        y = np.stack([float_layer(layer, x, w, b) for x in x_float])
        out_scale, out_zero_point = _output_quantisation(y, layer.activation)
        q = quantize_layer(layer, w, b, in_scale, in_zero_point, out_scale, out_zero_point)
        qlayers.append(q)
        xs = [run_layer(q, x) for x in xs]
        in_scale, in_zero_point = out_scale, out_zero_point
    return qlayers
