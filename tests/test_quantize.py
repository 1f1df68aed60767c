"""The quantiser: folding, multipliers, accuracy against float, and random networks."""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import examples

from model.golden import QuantLayer, accumulate, run_layer, run_network
from model.layers import Activation, Layer, LayerKind, Padding, mobilenet_v1
from model.numerics import mean_multiplier
from model.quantize import (INPUT_SCALE, INPUT_ZERO_POINT, float_layer, fold_batch_norm,
                            quantize_layer, quantize_multiplier, quantize_weights,
                            random_input, random_mobilenet)


# -- batch norm ----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", [LayerKind.CONV, LayerKind.DEPTHWISE, LayerKind.POINTWISE])
def test_fold_batch_norm_equals_conv_then_bn(kind):
    cout = 3 if kind is LayerKind.DEPTHWISE else 5
    k = 1 if kind is LayerKind.POINTWISE else 3
    layer = Layer("l", kind, 6, 5, 3, cout, k, 2, Padding.same(6, 5, k, 2))
    rng = np.random.default_rng(0)
    x = rng.normal(size=layer.in_shape)
    w, b = rng.normal(size=layer.weight_shape), rng.normal(size=cout)
    gamma, beta = rng.uniform(0.5, 2, cout), rng.normal(size=cout)
    mean, var = rng.normal(size=cout), rng.uniform(0.1, 3, cout)
    wf, bf = fold_batch_norm(w, b, gamma, beta, mean, var, eps=1e-3)
    conv_then_bn = (float_layer(layer, x, w, b) - mean) / np.sqrt(var + 1e-3) * gamma + beta
    assert np.allclose(float_layer(layer, x, wf, bf), conv_then_bn, rtol=1e-12, atol=1e-12)
    # No bias before batch norm (MobileNet's convolutions have none) is bias zero.
    wn, bn = fold_batch_norm(w, None, gamma, beta, mean, var)
    assert np.array_equal(wn, wf) and np.allclose(bn, beta - mean * gamma / np.sqrt(var + 1e-3))


def test_fold_batch_norm_messages():
    ones = np.ones(4)
    with pytest.raises(ValueError) as info:
        fold_batch_norm(np.ones((3, 3, 4)), None, np.ones(3), ones, ones, ones)
    assert str(info.value) == "gamma must have shape (4,) to match the last axis of w, not (3,)"
    with pytest.raises(ValueError, match="^batch norm variance must be non-negative$"):
        fold_batch_norm(np.ones((3, 3, 4)), None, ones, ones, ones, -ones)


# -- multiplier ----------------------------------------------------------------------------

@settings(max_examples=examples(200), deadline=None)
@given(log2=st.floats(-31, 6.99, allow_nan=False))
def test_quantize_multiplier_normalised_round_trip(log2):
    real = 2.0**log2
    m, s = quantize_multiplier(real)
    assert 2**30 <= m < 2**31 and -30 <= s <= 7
    # TFLite's format: real ~= M0 * 2**(s - 31), M0 the nearest 31-bit integer.
    assert abs(Fraction(m, 2**(31 - s)) - Fraction(real)) <= Fraction(1, 2**(32 - s))


def test_quantize_multiplier_exact_values_and_edges():
    assert quantize_multiplier(1.0) == (2**30, 1)
    assert quantize_multiplier(0.5) == (2**30, 0)
    assert quantize_multiplier(0.75) == (3 * 2**29, 0)
    assert quantize_multiplier(0) == (0, 0)
    # Just below 2**-k rounds up to 2**31 at the natural shift: renormalised.
    assert quantize_multiplier(1.0 - 2**-40) == (2**30, 1)
    assert quantize_multiplier(127.9) == (round(127.9 / 128 * 2**31), 7)  # the largest shift
    # Below 2**-32 TFLite gives up: the multiplier is 0 (the output is the zero point).
    assert quantize_multiplier(2.0**-32) == (2**30, -31)
    assert quantize_multiplier(2.0**-33) == (0, 0)


@pytest.mark.parametrize("real, text", [
    (128.0, "requant multiplier 128.0 needs a left shift of 8; the hardware supports real "
            "multipliers below 2**7"),
    (1e6, "requant multiplier 1000000.0 needs a left shift of 20; the hardware supports real "
          "multipliers below 2**7"),
    (-0.5, "requant multiplier must be non-negative, not -0.5"),
    (float("nan"), "requant multiplier must be a finite real number, not nan"),
    (float("inf"), "requant multiplier must be a finite real number, not inf"),
    ("0.5", "requant multiplier must be a finite real number, not '0.5'"),
    (True, "requant multiplier must be a finite real number, not True"),
])
def test_quantize_multiplier_messages(real, text):
    with pytest.raises(ValueError) as info:
        quantize_multiplier(real)
    assert str(info.value) == text


# -- quantize_layer ------------------------------------------------------------------------

def test_quantize_weights_per_channel():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 3, 4, 6)) * np.array([1e-3, 0.1, 1, 10, 100, 0])
    w_q, scale = quantize_weights(w)
    assert w_q.dtype == np.int8 and w_q.shape == w.shape
    # Each non-zero channel reaches +-127 exactly and never -128 (symmetric).
    assert np.abs(w_q[..., :5]).max(axis=(0, 1, 2)).tolist() == [127] * 5
    assert w_q.min() >= -127
    # Rounding error at most half a step per channel.
    assert np.all(np.abs(w_q * scale - w) <= scale / 2 + 1e-15)
    # The all-zero channel is guarded: finite scale, zero weights.
    assert scale[5] == 1 / 127 and np.all(w_q[..., 5] == 0)


def test_quantize_layer_bias_folds_input_zero_point():
    layer = Layer("conv", LayerKind.CONV, 5, 5, 3, 4, 3, 1, Padding(1, 1, 1, 1))
    rng = np.random.default_rng(1)
    w, b = rng.normal(size=layer.weight_shape), rng.normal(size=4)
    q = quantize_layer(layer, w, b, 0.02, -37, 0.05, 11)
    w_q, w_scale = quantize_weights(w)
    assert np.array_equal(q.weights, w_q)
    expected = np.round(b / (0.02 * w_scale)) + 37 * w_q.astype(np.int64).sum(axis=(0, 1, 2))
    assert q.bias.tolist() == expected.astype(np.int64).tolist()
    # So the accumulator is sum(w_q * (x - Z_in)) + round(b / (s_in s_w)): an input of
    # all Z_in (real zero), padding included, leaves only the rounded float bias.
    x = np.full(layer.in_shape, -37, np.int8)
    acc = accumulate(q, x)
    assert np.all(acc == np.round(b / (0.02 * w_scale)).astype(np.int64))


@pytest.mark.parametrize("activation, out_scale, z_out, bounds", [
    (Activation.NONE, 0.05, 11, (-128, 127)),
    (Activation.RELU, 0.05, -128, (-128, 127)),
    (Activation.RELU, 0.05, -20, (-20, 127)),
    (Activation.RELU6, 6 / 255, -128, (-128, 127)),  # 6 is exactly the top code
    (Activation.RELU6, 0.05, -128, (-128, -8)),  # 6 / 0.05 = 120 codes above Z_out
    (Activation.RELU6, 0.01, -128, (-128, 127)),  # 6 is beyond the int8 range
])
def test_quantize_layer_clamp_bounds(activation, out_scale, z_out, bounds):
    layer = Layer("pw", LayerKind.POINTWISE, 2, 2, 3, 2, 1, activation=activation)
    q = quantize_layer(layer, np.ones((3, 2)), None, 0.1, 0, out_scale, z_out)
    assert (q.clamp_lo, q.clamp_hi) == bounds


def test_quantize_layer_avgpool():
    layer = Layer("pool", LayerKind.AVGPOOL, 7, 7, 5, 5, 7)
    q = quantize_layer(layer, None, None, 0.03, -128, 0.02, 0)
    assert q.weights is None
    assert q.bias.tolist() == [49 * 128] * 5
    m0, shift = mean_multiplier(0.03 / 0.02, 49)  # TFLite's MEAN
    assert (q.multiplier.tolist(), q.shift.tolist()) == ([m0] * 5, [shift] * 5)
    assert m0 == (quantize_multiplier(1.5)[0] << 5) // 49 and shift == 1 - 5
    with pytest.raises(ValueError) as info:
        quantize_layer(layer, np.ones(5), None, 0.03, -128, 0.02, 0)
    assert str(info.value) == "layer 'pool': avgpool takes no weights or bias"


def test_quantize_layer_messages():
    layer = Layer("pw", LayerKind.POINTWISE, 2, 2, 3, 2, 1)
    w = np.ones((3, 2))

    def message(*args):
        with pytest.raises(ValueError) as info:
            quantize_layer(layer, *args)
        return str(info.value)

    assert message(np.ones((2, 3)), None, 0.1, 0, 0.1, 0) == \
        "layer 'pw': float weights must have shape (3, 2), not (2, 3)"
    assert message(w, np.ones(3), 0.1, 0, 0.1, 0) == \
        "layer 'pw': float bias must have shape (2,), not (3,)"
    assert message(w, None, -0.1, 0, 0.1, 0) == \
        "in_scale must be a positive finite number, not -0.1"
    assert message(w, None, 0.1, 200, 0.1, 0) == \
        "in_zero_point must be an integer in [-128, 127], not 200"
    assert message(w, None, 0.1, 0, 0.1, 0.5) == \
        "out_zero_point must be an integer in [-128, 127], not 0.5"
    assert message(w, np.full(2, 1e9), 0.1, 0, 0.1, 0) == \
        "layer 'pw': quantised bias of channel 0 is 1270000000000, outside int32"
    # All-ones weights: s_w = 1/127, so M = 0.1 / 127 / 1e-8.
    assert message(w, None, 0.1, 0, 1e-8, 0) == (
        f"layer 'pw' channel 0: requant multiplier {0.1 * (1 / 127) / 1e-8!r} needs a left "
        f"shift of 17; the hardware supports real multipliers below 2**7")


# -- accuracy against the independent float reference --------------------------------------

def test_float_layer_agrees_with_golden_on_integers():
    """Two independent implementations, one exact case: integer data, Z_in = 0."""
    rng = np.random.default_rng(2)
    for layer in _accuracy_layers():
        w = None if layer.kind is LayerKind.AVGPOOL else \
            rng.integers(-128, 128, layer.weight_shape).astype(np.int8)
        bias = np.zeros(layer.out_c, np.int32) if w is None else \
            rng.integers(-1000, 1000, layer.out_c).astype(np.int32)
        x = rng.integers(-128, 128, layer.in_shape).astype(np.int8)
        q = QuantLayer(layer, w, bias, np.full(layer.out_c, 1 << 30, np.int32),
                       np.ones(layer.out_c, np.int32), 0, 0, -128, 127, 1.0, 1.0)
        linear = dataclasses.replace(layer, activation=Activation.NONE)
        reference = float_layer(linear, x, w, bias)
        if layer.kind is LayerKind.AVGPOOL:
            # The golden model sums; the float mean * 49 is off by float rounding only.
            reference = reference * layer.in_h * layer.in_w
            assert np.allclose(reference, np.round(reference), rtol=0, atol=1e-9)
            reference = np.round(reference)
        # Sums of integer products are exact in float64, so equality is exact.
        assert np.array_equal(accumulate(q, x), reference), layer.name


def _accuracy_layers():
    relu6, relu, none = Activation.RELU6, Activation.RELU, Activation.NONE
    return [
        Layer("conv1", LayerKind.CONV, 12, 12, 3, 8, 3, 2, Padding.same(12, 12, 3, 2), relu6),
        Layer("dw_s1", LayerKind.DEPTHWISE, 9, 9, 8, 8, 3, 1, Padding.symmetric(3), relu),
        Layer("dw_s2", LayerKind.DEPTHWISE, 10, 10, 8, 8, 3, 2, Padding.same(10, 10, 3, 2),
              relu6),
        Layer("dw_s2_sym", LayerKind.DEPTHWISE, 9, 9, 8, 8, 3, 2, Padding.symmetric(3), none),
        Layer("pw", LayerKind.POINTWISE, 5, 5, 64, 16, 1, activation=relu6),
        Layer("avgpool", LayerKind.AVGPOOL, 7, 7, 16, 16, 7),
        Layer("fc", LayerKind.FC, 1, 1, 256, 20, 1),
    ]


def _quantise_for_test(layer, rng):
    """Random float layer + int8 input with a non-zero Z_in, output scale from the range."""
    in_scale, z_in = 0.03, -20
    x = rng.integers(-128, 128, layer.in_shape).astype(np.int8)
    x_real = (x.astype(np.float64) - z_in) * in_scale
    w = b = None
    if layer.kind is not LayerKind.AVGPOOL:
        fan_in = math.prod(layer.weight_shape[:-1])
        w = rng.normal(0, math.sqrt(2 / fan_in), layer.weight_shape)
        b = rng.normal(0, 0.5, layer.out_c)
    y = float_layer(dataclasses.replace(layer, activation=Activation.NONE), x_real, w, b)
    if layer.activation is Activation.NONE:
        out_scale, z_out = np.abs(y).max() / 127, 0
    else:
        out_scale, z_out = max(y.max(), 0.1) / 255, -128
    q = quantize_layer(layer, w, b, in_scale, z_in, float(out_scale), z_out)
    return q, x, x_real, w, b


def _representable(q, y_real):
    """Clip a float output to what int8 codes with this scale/zero point can express."""
    return np.clip(y_real, (-128 - q.out_zero_point) * q.out_scale,
                   (127 - q.out_zero_point) * q.out_scale)


@pytest.mark.parametrize("index", range(len(_accuracy_layers())),
                         ids=[layer.name for layer in _accuracy_layers()])
def test_dequantised_output_within_one_lsb(index):
    layer = _accuracy_layers()[index]
    q, x, x_real, w, b = _quantise_for_test(layer, np.random.default_rng(index))
    w_deq = None
    if w is not None:
        w_q, w_scale = quantize_weights(w)
        w_deq = w_q * w_scale
        real_mult = q.in_scale * w_scale / q.out_scale
    else:
        real_mult = np.full(layer.out_c, q.in_scale / (layer.in_h * layer.in_w * q.out_scale))
    # Why one LSB: in output LSBs let r be the exact result with the dequantised weights
    # and input, M = s_in s_w / s_out, A the integer accumulator. The bias rounding moves
    # A*M off r by <= M/2; the 31-bit multiplier is within M * 2**-30 of M, negligible;
    # TFLite's two roundings add 1/2 + 2**-(r+1) for a right shift r >= 1 (MEAN's r is
    # small). With M <= 0.9 that totals < 0.97 + 2**-(r+1). The clamps are 1-Lipschitz,
    # except that ReLU6's top code round(6/s_out) sits within 1/2 LSB of real 6.
    assert np.all(real_mult <= 0.9) and np.all(q.multiplier >= 2**29)
    rounding = 0.5 + 2.0 ** (q.shift.max() - 1)
    reference = _representable(q, float_layer(layer, x_real, w_deq, b))
    got = (run_layer(q, x).astype(np.float64) - q.out_zero_point) * q.out_scale
    error = np.abs(got - reference) / q.out_scale
    assert error.max() <= rounding + 0.5 + 1e-9
    # Not vacuous: the outputs span the range and mostly land on the nearest code.
    assert len(np.unique(got)) > 10 and np.mean(error <= rounding + 1e-9) > 0.9

    # Against the original float weights each weight is off by <= s_w/2, so an output is
    # off by a further <= s_w/2 * sum|x| over its window (padding contributes 0). That
    # bound is computed per output with the float reference itself (weights of 1 on |x|).
    reference = _representable(q, float_layer(layer, x_real, w, b))
    error = np.abs(got - reference) / q.out_scale
    if w is None:
        assert error.max() <= rounding + 0.5 + 1e-9  # average pooling has no weights to round
    else:
        linear = dataclasses.replace(layer, activation=Activation.NONE)
        window_abs = float_layer(linear, np.abs(x_real), np.ones(layer.weight_shape), None)
        bound = 1 + w_scale / 2 * window_abs / q.out_scale
        assert np.all(error <= bound + 1e-9)
        # The worst case assumes every rounding error points the same way; they do not,
        # so the typical error stays small (0.18-0.27 LSB measured on these layers).
        assert np.mean(error) < 0.5


# -- random networks -----------------------------------------------------------------------

def activation_health(q, out: np.ndarray) -> dict:
    """Share of outputs at the int8 ceiling/floor and the number of distinct codes.

    For ReLU layers the floor is Z_out = real 0, where every negative pre-activation
    lands by design; there ``dead`` is the share at the floor, a different quantity.
    """
    rectified = q.layer.activation is not Activation.NONE
    return {
        "high": float(np.mean(out == 127)),
        "low": 0.0 if rectified else float(np.mean(out == -128)),
        "dead": float(np.mean(out == q.out_zero_point)) if rectified else 0.0,
        "distinct": len(np.unique(out)),
    }


# Thresholds, honestly: on images the calibration never saw, the worst layer of the
# networks below puts ~2.3% of its outputs at 127 (0.25-64's average pool: 6 of 256;
# its deep layers have 2x2 maps, so eight calibration images are only 32 samples per
# channel), typically < 0.5%; ReLU
# layers hold 35-50% exact zeros (pre-activations ~N(beta, gamma**2), beta ~ N(0.25,
# 0.5)); the fewest distinct codes in any layer is ~60.
MAX_SATURATED = 0.03
MAX_DEAD = 0.7
MIN_DISTINCT = 20


def _assert_healthy(q, out):
    health = activation_health(q, out)
    assert health["high"] < MAX_SATURATED, (q.layer.name, health)
    assert health["low"] < MAX_SATURATED, (q.layer.name, health)
    assert health["dead"] < MAX_DEAD, (q.layer.name, health)
    assert health["distinct"] > MIN_DISTINCT, (q.layer.name, health)


@pytest.mark.parametrize("alpha, resolution, padding", [
    (0.25, 64, "same"),
    pytest.param(0.5, 96, "symmetric", marks=pytest.mark.slow),
])
def test_random_mobilenet_activations_are_healthy(alpha, resolution, padding):
    net = mobilenet_v1(alpha, resolution, padding=padding)
    qlayers = random_mobilenet(net, seed=0)
    assert [q.layer for q in qlayers] == list(net)
    assert qlayers[0].in_scale == INPUT_SCALE and qlayers[0].in_zero_point == INPUT_ZERO_POINT
    for image_seed in (1000, 1001):  # images the calibration did not see
        for q, out in zip(qlayers, run_network(qlayers, random_input(net, image_seed))):
            _assert_healthy(q, out)


def test_health_check_catches_broken_calibration():
    """The thresholds above are not vacuous: a mis-scaled layer fails them."""
    net = mobilenet_v1(0.25, 64)
    qlayers = random_mobilenet(net, seed=0)
    outputs = run_network(qlayers, random_input(net, 1000))
    index = [q.layer.name for q in qlayers].index("pw5")
    q, x = qlayers[index], outputs[index - 1]
    _assert_healthy(q, outputs[index])
    too_hot = dataclasses.replace(q, shift=q.shift + 3)  # output scale 8x too small
    assert activation_health(too_hot, run_layer(too_hot, x))["high"] > MAX_SATURATED
    too_cold = dataclasses.replace(q, shift=q.shift - 4)  # output scale 16x too large
    assert activation_health(too_cold, run_layer(too_cold, x))["distinct"] <= MIN_DISTINCT
    fc = qlayers[-1]
    hot_fc = dataclasses.replace(fc, shift=fc.shift + 3)
    assert activation_health(hot_fc, run_layer(hot_fc, outputs[-2]))["low"] > MAX_SATURATED


def test_random_mobilenet_is_deterministic_and_seeded():
    net = mobilenet_v1(0.25, 32)
    a, b = random_mobilenet(net, seed=7), random_mobilenet(net, seed=7)
    c = random_mobilenet(net, seed=8)
    for qa, qb in zip(a, b):
        assert qa.out_scale == qb.out_scale and np.array_equal(qa.bias, qb.bias)
    assert not np.array_equal(a[0].weights, c[0].weights)


def test_random_mobilenet_messages():
    net = mobilenet_v1(0.25, 32)
    with pytest.raises(ValueError) as info:
        random_mobilenet(net, calibration_images=0)
    assert str(info.value) == "calibration_images must be a positive integer, not 0"
    with pytest.raises(ValueError, match="^network has no layers$"):
        random_mobilenet([])


def test_random_input_is_image_like():
    net = mobilenet_v1(0.25, 64)
    x = random_input(net, 3)
    assert x.dtype == np.int8 and x.shape == (64, 64, 3)
    assert np.array_equal(x, random_input(net["conv1"], 3))
    assert not np.array_equal(x, random_input(net, 4))
    assert len(np.unique(x)) > 150  # spans most of the int8 range
    # Spatially correlated, like a photograph (neighbouring pixels agree).
    xf = x.astype(np.float64)
    assert np.corrcoef(xf[:, 1:].ravel(), xf[:, :-1].ravel())[0, 1] > 0.5
    layer = Layer("pw", LayerKind.POINTWISE, 3, 5, 7, 2, 1)
    assert random_input(layer, 0).shape == (3, 5, 7)
    with pytest.raises(TypeError) as info:
        random_input(42, 0)
    assert str(info.value) == "random_input needs a Network, Layer or QuantLayer, not int"
