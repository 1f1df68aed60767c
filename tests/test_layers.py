"""The layer table: MobileNet-v1 structure, multipliers, padding and validation."""

import pytest

from model.layers import (Activation, Layer, LayerKind, Padding, PaddingStyle, mobilenet_v1,
                          scale_channels)


def test_table1_structure_at_alpha1_224():
    net = mobilenet_v1(1.0, 224)
    assert [layer.name for layer in net][:3] == ["conv1", "dw1", "pw1"]
    assert len(net) == 29  # conv1, 13 x (dw, pw), avgpool, fc
    kinds = [layer.kind for layer in net]
    assert kinds.count(LayerKind.DEPTHWISE) == 13 and kinds.count(LayerKind.POINTWISE) == 13
    conv1 = net["conv1"]
    assert (conv1.in_shape, conv1.out_shape, conv1.stride) == ((224, 224, 3), (112, 112, 32), 2)
    # Table 1's input sizes, in order, for the depthwise layers.
    dw_inputs = [(layer.in_h, layer.in_c, layer.stride) for layer in net
                 if layer.kind is LayerKind.DEPTHWISE]
    assert dw_inputs == [(112, 32, 1), (112, 64, 2), (56, 128, 1), (56, 128, 2), (28, 256, 1),
                         (28, 256, 2)] + [(14, 512, 1)] * 5 + [(14, 512, 2), (7, 1024, 1)]
    assert net["pw13"].out_shape == (7, 7, 1024)
    assert net["avgpool"].kernel == 7 and net["avgpool"].out_shape == (1, 1, 1024)
    assert net["fc"].in_c == 1024 and net["fc"].out_c == 1000


def test_last_depthwise_is_stride_1_not_the_papers_typo():
    net = mobilenet_v1(1.0, 224)
    assert net["dw13"].stride == 1
    assert net["dw13"].in_shape == net["dw13"].out_shape == (7, 7, 1024)


def test_every_layer_chains_into_the_next():
    for alpha, res, style in [(1.0, 224, "same"), (0.25, 32, "symmetric"), (0.6, 96, "same")]:
        net = mobilenet_v1(alpha, res, padding=style)
        for a, b in zip(net.layers, net.layers[1:]):
            if b.kind is LayerKind.FC:
                assert a.out_shape == (1, 1, b.in_c)
            else:
                assert a.out_shape == b.in_shape


@pytest.mark.parametrize("style", ["same", "symmetric"])
@pytest.mark.parametrize("res", [32, 64, 96, 224])
def test_final_map_is_resolution_over_32(style, res):
    net = mobilenet_v1(0.5, res, padding=style)
    assert net["pw13"].out_h == net["pw13"].out_w == res // 32


def test_same_padding_stride2_even_input_pads_bottom_right_only():
    assert Padding.same(112, 112, 3, 2).as_tuple() == (0, 0, 1, 1)
    assert Padding.same(7, 7, 3, 2).as_tuple() == (1, 1, 1, 1)  # odd input: symmetric
    assert Padding.same(14, 14, 3, 1).as_tuple() == (1, 1, 1, 1)
    assert Padding.symmetric(3).as_tuple() == (1, 1, 1, 1)
    net = mobilenet_v1(1.0, 224, padding=PaddingStyle.SAME)
    assert net["dw2"].padding.as_tuple() == (0, 0, 1, 1)
    assert mobilenet_v1(1.0, 224, padding="symmetric")["dw2"].padding.as_tuple() == (1, 1, 1, 1)


def test_width_multiplier_scales_channels_but_not_rgb_or_classes():
    net = mobilenet_v1(0.25, 128)
    assert net["conv1"].in_c == 3 and net["conv1"].out_c == 8
    assert net["pw13"].out_c == 256 and net["fc"].out_c == 1000
    assert scale_channels(32, 0.75) == 24
    assert scale_channels(100, 0.29) == 29  # exact, not 28 from 0.29 * 100 = 28.999...
    assert scale_channels(32, 0.01) == 1


@pytest.mark.parametrize("alpha, message", [
    (0, "alpha must be in (0, 1], not 0"),
    (1.5, "alpha must be in (0, 1], not 1.5"),
    (-0.5, "alpha must be in (0, 1], not -0.5"),
    ("x", "alpha must be a number in (0, 1], not 'x'"),
    (None, "alpha must be a number in (0, 1], not None"),
])
def test_bad_alpha(alpha, message):
    with pytest.raises(ValueError) as info:
        mobilenet_v1(alpha, 224)
    assert str(info.value) == message


@pytest.mark.parametrize("res", [0, 16, 100, 230, 224.0, True])
def test_bad_resolution(res):
    with pytest.raises(ValueError) as info:
        mobilenet_v1(1.0, res)
    assert str(info.value) == f"resolution must be a multiple of 32 from 32 up, not {res!r}"


def test_layer_validation_messages():
    with pytest.raises(ValueError, match=r"layer 'x': in_c must be a positive integer, not 0"):
        Layer("x", LayerKind.POINTWISE, 4, 4, 0, 8, 1)
    with pytest.raises(ValueError, match=r"depthwise needs out_c == in_c, not 8 != 4"):
        Layer("x", LayerKind.DEPTHWISE, 4, 4, 4, 8, 3)
    with pytest.raises(ValueError, match=r"pointwise needs kernel 1, not 3"):
        Layer("x", LayerKind.POINTWISE, 4, 4, 4, 8, 3)
    with pytest.raises(ValueError, match=r"padding top must be a non-negative integer, not -1"):
        Padding(-1, 0, 0, 0)
    with pytest.raises(ValueError, match=r"padded input smaller than the 3x3 kernel"):
        Layer("x", LayerKind.DEPTHWISE, 2, 2, 4, 4, 3)


def test_counts_per_layer_kind():
    conv = Layer("c", LayerKind.CONV, 8, 8, 3, 4, 3, 2, Padding(0, 0, 1, 1), Activation.RELU)
    assert conv.out_shape == (4, 4, 4)
    assert conv.mult_adds == 4 * 4 * 4 * 27 and conv.params == 108
    dw = Layer("d", LayerKind.DEPTHWISE, 5, 7, 6, 6, 3, 1, Padding.symmetric(3))
    assert dw.out_shape == (5, 7, 6) and dw.mult_adds == 5 * 7 * 6 * 9 and dw.params == 54
    pw = Layer("p", LayerKind.POINTWISE, 5, 7, 6, 10, 1)
    assert pw.mult_adds == 5 * 7 * 6 * 10 and pw.params == 60 and pw.biases == 10
    pool = Layer("a", LayerKind.AVGPOOL, 3, 3, 6, 6, 3)
    assert pool.mult_adds == 0 and pool.params == 0 and pool.out_shape == (1, 1, 6)
    fc = Layer("f", LayerKind.FC, 1, 1, 6, 5, 1)
    assert fc.mult_adds == 30 and fc.weight_shape == (6, 5)
    assert (pw.in_bytes, pw.out_bytes, pw.weight_bytes) == (210, 350, 60)
