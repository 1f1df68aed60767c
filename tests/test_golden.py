"""The int8 golden model against a naive pure-Python reference, and at its corners."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import examples

from model.golden import QuantLayer, accumulate, run_layer, run_network
from model.layers import Layer, LayerKind, Padding, mobilenet_v1
from model.numerics import (INT32_MAX, INT32_MIN, multiply_by_quantized_multiplier, requantize,
                            wrap_int32)
from model.quantize import random_input, random_mobilenet


# -- naive references ----------------------------------------------------------------------

def naive_accumulate(q: QuantLayer, x: np.ndarray) -> list:
    """Accumulators by the definition, one Python int at a time (nested lists HWC)."""
    layer = q.layer
    xs = x.reshape(layer.in_shape).tolist()
    w = None if q.weights is None else q.weights.tolist()
    bias = q.bias.tolist()
    top, left, _, _ = layer.padding.as_tuple()
    k, s = layer.kernel, layer.stride

    def pixel(iy, ix, c):
        if 0 <= iy < layer.in_h and 0 <= ix < layer.in_w:
            return xs[iy][ix][c]
        return q.in_zero_point  # padding is the input's code for real zero

    out = []
    for oy in range(layer.out_h):
        row = []
        for ox in range(layer.out_w):
            values = []
            for co in range(layer.out_c):
                acc = bias[co]
                if layer.kind is LayerKind.AVGPOOL:
                    acc += sum(xs[iy][ix][co] for iy in range(layer.in_h)
                               for ix in range(layer.in_w))
                for ky in range(k if layer.kind is not LayerKind.AVGPOOL else 0):
                    for kx in range(k):
                        iy, ix = oy * s + ky - top, ox * s + kx - left
                        if layer.kind is LayerKind.DEPTHWISE:
                            acc += pixel(iy, ix, co) * w[ky][kx][co]
                        elif layer.kind is LayerKind.CONV:
                            acc += sum(pixel(iy, ix, ci) * w[ky][kx][ci][co]
                                       for ci in range(layer.in_c))
                        else:  # pointwise / fc: w is (Cin, Cout)
                            acc += sum(pixel(iy, ix, ci) * w[ci][co]
                                       for ci in range(layer.in_c))
                values.append(wrap_int32(acc))
            row.append(values)
        out.append(row)
    return out


def exact_requantize(acc: int, m: int, s: int, zp: int, lo: int, hi: int) -> int:
    """TFLite's two steps as the C code writes them, then the zero point and the clamp."""
    return min(max(multiply_by_quantized_multiplier(acc, m, s) + zp, lo), hi)


def random_m0(rng: np.random.Generator, size: int) -> np.ndarray:
    """TFLite multipliers: 0 or in [2**30, 2**31)."""
    m0 = rng.integers(1 << 30, 1 << 31, size)
    return np.where(rng.random(size) < 0.05, 0, m0).astype(np.int32)


def make_quant(layer: Layer, rng: np.random.Generator, *, in_zero_point: int,
               bias_range: int = 1 << 20) -> QuantLayer:
    """A QuantLayer with uniformly random (valid) integer parameters."""
    c = layer.out_c
    weights = None
    if layer.kind is not LayerKind.AVGPOOL:
        weights = rng.integers(-128, 128, layer.weight_shape, dtype=np.int8)
    lo, hi = sorted(int(v) for v in rng.integers(-128, 128, 2))
    return QuantLayer(
        layer=layer, weights=weights,
        bias=rng.integers(-bias_range, bias_range, c).astype(np.int32),
        multiplier=random_m0(rng, c),
        shift=rng.integers(-31, 8, c).astype(np.int32),
        in_zero_point=in_zero_point, out_zero_point=int(rng.integers(-128, 128)),
        clamp_lo=lo, clamp_hi=hi, in_scale=0.05, out_scale=0.1)


def fixed_quant(layer: Layer, *, weight: int, bias: int = 0, in_zero_point: int = 0,
                multiplier: int = 1 << 30, shift: int = 0, out_zero_point: int = 0,
                lo: int = -128, hi: int = 127) -> QuantLayer:
    """A QuantLayer with every weight, bias, multiplier and shift the same value."""
    c = layer.out_c
    weights = None if layer.kind is LayerKind.AVGPOOL else \
        np.full(layer.weight_shape, weight, dtype=np.int8)
    return QuantLayer(layer, weights, np.full(c, bias, np.int32),
                      np.full(c, multiplier, np.int32), np.full(c, shift, np.int32),
                      in_zero_point, out_zero_point, lo, hi, 0.05, 0.1)


# -- random layers -------------------------------------------------------------------------

@st.composite
def layer_cases(draw, kind: LayerKind):
    """(Layer, seed): small random shapes, strides 1/2, paddings 0..2 on each side."""
    if kind is LayerKind.FC:
        h = w = 1
    else:
        h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    cin = draw(st.integers(1, 7))
    cout = cin if kind in (LayerKind.DEPTHWISE, LayerKind.AVGPOOL) else draw(st.integers(1, 7))
    if kind is LayerKind.AVGPOOL:
        return Layer("pool", kind, h, h, cin, cin, h), draw(st.integers(0, 2**32 - 1))
    k = 1 if kind in (LayerKind.POINTWISE, LayerKind.FC) else draw(st.integers(1, 3))
    stride = 1 if kind is LayerKind.FC else draw(st.integers(1, 2))
    style = "none" if kind is LayerKind.FC else \
        draw(st.sampled_from(["explicit", "same", "symmetric"]))
    if style == "same":
        padding = Padding.same(h, w, k, stride)
    elif style == "symmetric":
        padding = Padding.symmetric(k)
    elif style == "explicit":
        top, left = draw(st.integers(0, 2)), draw(st.integers(0, 2))
        # Top up bottom/right so the padded map holds one kernel (<= 2 since k <= 3).
        bottom = max(draw(st.integers(0, 2)), k - h - top)
        right = max(draw(st.integers(0, 2)), k - w - left)
        padding = Padding(top, left, bottom, right)
    else:
        padding = Padding()
    if h + padding.top + padding.bottom < k or w + padding.left + padding.right < k:
        padding = Padding(padding.top, padding.left, padding.bottom + k, padding.right + k)
    layer = Layer("l", kind, h, w, cin, cout, k, stride, padding)
    return layer, draw(st.integers(0, 2**32 - 1))


@pytest.mark.parametrize("kind", list(LayerKind), ids=lambda k: k.value)
@settings(max_examples=examples(40), deadline=None)
@given(data=st.data())
def test_accumulate_matches_naive_loops(kind, data):
    layer, seed = data.draw(layer_cases(kind))
    rng = np.random.default_rng(seed)
    q = make_quant(layer, rng, in_zero_point=int(rng.integers(-128, 128)))
    x = rng.integers(-128, 128, layer.in_shape, dtype=np.int8)
    acc = accumulate(q, x)
    assert acc.shape == layer.out_shape
    assert acc.dtype == np.int64
    assert acc.tolist() == naive_accumulate(q, x)


@pytest.mark.parametrize("kind", list(LayerKind), ids=lambda k: k.value)
@settings(max_examples=examples(25), deadline=None)
@given(data=st.data())
def test_run_layer_matches_exact_requantisation(kind, data):
    layer, seed = data.draw(layer_cases(kind))
    rng = np.random.default_rng(seed)
    q = make_quant(layer, rng, in_zero_point=int(rng.integers(-128, 128)))
    x = rng.integers(-128, 128, layer.in_shape, dtype=np.int8)
    expected = [[[exact_requantize(a, int(q.multiplier[c]), int(q.shift[c]),
                                   q.out_zero_point, q.clamp_lo, q.clamp_hi)
                  for c, a in enumerate(pixel)] for pixel in row]
                for row in naive_accumulate(q, x)]
    out = run_layer(q, x)
    assert out.dtype == np.int8 and out.shape == layer.out_shape
    assert out.tolist() == expected


def test_requantize_double_rounding():
    # M0 = 2**30, shift -1: x / 4. The first rounding (ties up) then the second (ties
    # away from zero): -1.5 -> -2, -0.5 -> -1, 0.5 -> 1, 1.5 -> 2, and 0.25 -> 0.5 -> 1
    # but -0.25 -> 0 (the first rounding takes -0.5 up to 0).
    acc = np.array([-6, -2, 2, 6, 1, -1])
    got = requantize(acc, np.full(6, 1 << 30), np.full(6, -1), 0, -128, 127)
    assert got.tolist() == [-2, -1, 1, 2, 1, 0]


# -- padding on real MobileNet layers ------------------------------------------------------

def test_mobilenet_padding_styles():
    same = mobilenet_v1(1.0, 224, padding="same")
    symmetric = mobilenet_v1(1.0, 224, padding="symmetric")
    # TensorFlow SAME: stride 2 on an even map puts the single pad row/column bottom/right.
    assert same["conv1"].padding.as_tuple() == (0, 0, 1, 1)
    assert same["dw2"].padding.as_tuple() == (0, 0, 1, 1)
    assert same["dw1"].padding.as_tuple() == (1, 1, 1, 1)
    for layer in symmetric:
        if layer.kind in (LayerKind.CONV, LayerKind.DEPTHWISE):
            assert layer.padding.as_tuple() == (1, 1, 1, 1), layer.name
    for a, b in zip(same, symmetric):
        assert a.out_shape == b.out_shape, a.name


@pytest.mark.parametrize("style", ["same", "symmetric"])
def test_stride2_padding_position(style):
    """Window sums at the corners show where the padding went (all weights 1)."""
    layer = mobilenet_v1(0.25, 32, padding=style)["dw2"]
    assert (layer.in_h, layer.stride, layer.out_h) == (16, 2, 8)
    z = 7  # padding code: visible in the sums because it is not 0
    q = fixed_quant(layer, weight=1, in_zero_point=z)
    x = np.random.default_rng(1).integers(-128, 128, layer.in_shape, dtype=np.int8)
    acc = accumulate(q, x)
    xi = x.astype(np.int64)
    assert acc.shape == layer.out_shape
    if style == "same":
        # First window is rows/cols 0..2 (no pad); last is 14, 15 and one pad.
        first = xi[0:3, 0:3].sum(axis=(0, 1))
        last = xi[14:16, 14:16].sum(axis=(0, 1)) + 5 * z
    else:
        # First window is one pad then rows/cols 0, 1; last is 13..15 (no pad).
        first = xi[0:2, 0:2].sum(axis=(0, 1)) + 5 * z
        last = xi[13:16, 13:16].sum(axis=(0, 1))
    assert acc[0, 0].tolist() == first.tolist()
    assert acc[-1, -1].tolist() == last.tolist()


@pytest.mark.parametrize("style", ["same", "symmetric"])
def test_network_output_shapes(style):
    net = mobilenet_v1(0.25, 32, padding=style)
    qlayers = random_mobilenet(net, seed=3, calibration_images=1)
    outputs = run_network(qlayers, random_input(net, 5))
    assert len(outputs) == len(net)
    for layer, out in zip(net, outputs):
        assert out.dtype == np.int8
        assert out.shape == layer.out_shape, layer.name


# -- saturation corners at MobileNet-1.0's largest reductions ------------------------------

def _corner_layers():
    net = mobilenet_v1(1.0, 224)
    conv1 = net["conv1"]
    pw = net["pw13"]  # Cin = 1024
    # Same reductions on small maps (the corners do not depend on the map size); conv1
    # and depthwise unpadded so every tap sees the input, not the padding.
    return {
        "conv1": Layer("conv1", LayerKind.CONV, 5, 5, conv1.in_c, 4, 3, 2),
        "dw": Layer("dw", LayerKind.DEPTHWISE, 4, 4, 8, 8, 3, 1),
        "pw": Layer("pw", LayerKind.POINTWISE, 2, 2, pw.in_c, 4, 1),
        "fc": Layer("fc", LayerKind.FC, 1, 1, net["fc"].in_c, 10, 1),
        "avgpool": Layer("avgpool", LayerKind.AVGPOOL, 7, 7, 16, 16, 7),
    }


def _reduction(layer: Layer) -> int:
    return layer.in_h * layer.in_w if layer.kind is LayerKind.AVGPOOL else layer.macs_per_output


def test_corner_reduction_sizes():
    sizes = {name: _reduction(layer) for name, layer in _corner_layers().items()}
    assert sizes == {"conv1": 27, "dw": 9, "pw": 1024, "fc": 1024, "avgpool": 49}


@pytest.mark.parametrize("name", list(_corner_layers()))
@pytest.mark.parametrize("x_value", [-128, 127])
@pytest.mark.parametrize("w_value", [-128, 127])
def test_saturation_corners(name, x_value, w_value):
    layer = _corner_layers()[name]
    n = _reduction(layer)
    x = np.full(layer.in_shape, x_value, dtype=np.int8)
    w = 1 if layer.kind is LayerKind.AVGPOOL else w_value
    # Raw products only (bias 0): the largest magnitude the MAC array can produce.
    q = fixed_quant(layer, weight=w, in_zero_point=x_value)
    acc = accumulate(q, x)
    assert np.all(acc == n * x_value * w)
    # The quantiser's worst case: input at one end, Z_in at the other, so every tap is
    # (x - Z_in) = +-255 and the bias holds -Z_in * sum(w).
    z_in = -128 if x_value == 127 else 127
    bias = -z_in * n * w
    q = fixed_quant(layer, weight=w, bias=bias, in_zero_point=z_in)
    expected = n * (x_value - z_in) * w
    assert np.all(accumulate(q, x) == expected)
    assert abs(expected) <= 1024 * 255 * 128 < 2**31 // 64  # six bits of headroom
    # A gain of 16 (M0 = 2**30, shift 5) saturates every output: exactly the clamp
    # bounds (the left shift stays inside int32 with the headroom above).
    for lo, hi in ((-128, 127), (-100, 90), (5, 5)):
        q = fixed_quant(layer, weight=w, bias=bias, in_zero_point=z_in,
                        multiplier=2**30, shift=5, out_zero_point=3, lo=lo, hi=hi)
        out = run_layer(q, x)
        assert out.shape == layer.out_shape
        assert np.all(out == (hi if expected > 0 else lo))


def test_accumulator_wraps_like_int32():
    layer = Layer("pw", LayerKind.POINTWISE, 2, 2, 8, 3, 1)
    x = np.full(layer.in_shape, 127, dtype=np.int8)
    q = fixed_quant(layer, weight=127, bias=INT32_MAX - 8 * 127 * 127 + 1)
    assert np.all(accumulate(q, x) == INT32_MIN)
    q = fixed_quant(layer, weight=127, bias=INT32_MAX - 8 * 127 * 127)
    assert np.all(accumulate(q, x) == INT32_MAX)
    q = fixed_quant(layer, weight=-128, bias=INT32_MIN + 8 * 127 * 128 - 1)
    assert np.all(accumulate(q, x) == INT32_MAX)


def test_full_size_matmul_is_exact():
    """The float64 BLAS path equals int64 arithmetic at MobileNet-1.0's widest layer."""
    layer = Layer("pw", LayerKind.POINTWISE, 7, 7, 1024, 64, 1)
    rng = np.random.default_rng(0)
    q = make_quant(layer, rng, in_zero_point=-128, bias_range=1 << 30)
    # Extreme codes make the partial sums as large as they get.
    x = rng.choice(np.array([-128, 127], np.int8), layer.in_shape)
    expected = np.einsum("hwc,cd->hwd", x.astype(np.int64), q.weights.astype(np.int64))
    assert np.array_equal(accumulate(q, x), wrap_int32(expected + q.bias))


# -- interface -----------------------------------------------------------------------------

def test_fc_accepts_flat_input():
    layer = Layer("fc", LayerKind.FC, 1, 1, 6, 4, 1)
    q = make_quant(layer, np.random.default_rng(2), in_zero_point=0)
    x = np.arange(-3, 3, dtype=np.int8)
    assert np.array_equal(run_layer(q, x), run_layer(q, x.reshape(1, 1, 6)))
    assert run_layer(q, x).shape == (1, 1, 4)


def test_input_validation_messages():
    layer = Layer("dw", LayerKind.DEPTHWISE, 4, 4, 2, 2, 3, 1, Padding(1, 1, 1, 1))
    q = fixed_quant(layer, weight=1)
    with pytest.raises(ValueError) as info:
        accumulate(q, np.zeros((4, 4, 2), np.int16))
    assert str(info.value) == ("layer 'dw': input must be an int8 array of shape (4, 4, 2), "
                               "not int16 (4, 4, 2)")
    with pytest.raises(ValueError) as info:
        accumulate(q, [[0]])
    assert str(info.value) == ("layer 'dw': input must be an int8 array of shape (4, 4, 2), "
                               "not list")


def test_quant_layer_validation_messages():
    layer = Layer("pw", LayerKind.POINTWISE, 2, 2, 3, 4, 1)
    good = fixed_quant(layer, weight=1)

    def message(**changes):
        with pytest.raises(ValueError) as info:
            dataclasses.replace(good, **changes)
        return str(info.value)

    assert message(weights=np.zeros((3, 4), np.int16)) == \
        "layer 'pw': weights must be an int8 array of shape (3, 4), not int16 (3, 4)"
    assert message(weights=None) == \
        "layer 'pw': weights must be an int8 array of shape (3, 4), not NoneType"
    assert message(bias=np.zeros(4, np.int64)) == \
        "layer 'pw': bias must be an int32 array of shape (4,), not int64 (4,)"
    assert message(multiplier=np.zeros(3, np.int32)) == \
        "layer 'pw': multiplier must be an int32 array of shape (4,), not int32 (3,)"
    assert message(shift=np.full(4, 8, np.int32)) == \
        "requant shift must be in [-31, 7], not [8, 8]"
    assert message(multiplier=np.full(4, -1, np.int32)) == \
        "requant multiplier must be in [0, 2**31), not -1"
    assert message(in_zero_point=128) == \
        "layer 'pw': in_zero_point must be in [-128, 127], not 128"
    assert message(out_zero_point=-129) == "zero point must be in [-128, 127], not -129"
    assert message(in_zero_point=1.5) == "layer 'pw': in_zero_point must be an integer, not 1.5"
    assert message(clamp_lo=10, clamp_hi=9) == \
        "clamp bounds must satisfy -128 <= lo <= hi <= 127, not lo=10, hi=9"
    assert message(in_scale=0.0) == "layer 'pw': in_scale must be a positive finite number, not 0.0"
    assert message(out_scale=float("nan")) == \
        "layer 'pw': out_scale must be a positive finite number, not nan"

    pool = Layer("pool", LayerKind.AVGPOOL, 3, 3, 4, 4, 3)
    with pytest.raises(ValueError) as info:
        dataclasses.replace(good, layer=pool)
    assert str(info.value) == "layer 'pool': avgpool takes no weights, not int8 (3, 4)"
    padded_pool = Layer("pool", LayerKind.AVGPOOL, 3, 3, 4, 4, 3, 1, Padding(1, 1, 1, 1))
    with pytest.raises(ValueError) as info:
        dataclasses.replace(good, layer=padded_pool, weights=None)
    assert str(info.value) == ("layer 'pool': avgpool must be global (no padding, stride 1), "
                               "not padding (1, 1, 1, 1) stride 1")


def test_run_network_checks_chaining():
    net = mobilenet_v1(0.25, 32)
    qlayers = random_mobilenet(net, seed=0, calibration_images=1)
    x = random_input(net, 0)
    outputs = run_network(qlayers, x)
    # Each output is the previous output through one layer.
    assert np.array_equal(outputs[0], run_layer(qlayers[0], x))
    assert np.array_equal(outputs[5], run_layer(qlayers[5], outputs[4]))
    broken = list(qlayers)
    broken[3] = dataclasses.replace(qlayers[3], in_zero_point=qlayers[2].out_zero_point + 1)
    with pytest.raises(ValueError, match=r"layer 'dw2': input quantisation .* differs from "
                                         r"the output of 'pw1'"):
        run_network(broken, x)
