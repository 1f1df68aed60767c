"""hw/ components in Amaranth's simulator: MAC arrays and the window generator against
NumPy, with and without random stalls, and their throughput without stalls."""

import numpy as np
import pytest

from hw.act_buffer import sub_bank_address
from hw.depthwise import DepthwiseLanes
from hw.pointwise import PointwiseArray
from hw.window import window_request
from hw.window_harness import WindowHarness

from .pysim import run_stream

PAUSES = [(0.0, 0.0), (0.3, 0.0), (0.0, 0.4), (0.3, 0.4)]


def _ints(view):
    """A payload view as nested Python ints."""
    try:
        return [_ints(item) for item in view]
    except TypeError:
        return int(view)


@pytest.mark.parametrize("idle, stall", PAUSES)
def test_pointwise_array_accumulates_runs(idle, stall):
    pe, rng = 4, np.random.default_rng(3)
    beats, expected = [], []
    for run_length in [1, 3, 2, 5]:
        act = rng.integers(-128, 128, (run_length, pe))
        weights = rng.integers(-128, 128, (run_length, pe, pe))
        bias = rng.integers(-2**20, 2**20, pe)
        for k in range(run_length):
            beats.append({"act": act[k].tolist(), "weights": weights[k].tolist(),
                          "bias": bias.tolist() if k == 0 else [0] * pe,
                          "first": k == 0, "last": k == run_length - 1})
        expected.append((bias + np.einsum("ki,kio->o", act, weights)).tolist())
    out, cycles = run_stream(PointwiseArray(pe), beats, expect=len(expected), idle=idle,
                             stall=stall, unpack=_ints, seed=int(idle * 10 + stall * 100))
    assert out == expected
    if idle == stall == 0:
        assert cycles == len(beats) + PointwiseArray.LATENCY


def test_pointwise_array_saturation_corner():
    pe = 8
    beats = [{"act": [-128] * pe, "weights": [[-128] * pe] * pe, "bias": [2**31 - 1 - 2**17] * pe,
              "first": 1, "last": 1}]
    out, _ = run_stream(PointwiseArray(pe), beats, expect=1, unpack=_ints)
    assert out == [[2**31 - 1 - 2**17 + pe * 2**14] * pe]


@pytest.mark.parametrize("idle, stall", PAUSES)
def test_depthwise_lanes(idle, stall):
    pe, rng = 4, np.random.default_rng(5)
    window = rng.integers(-128, 128, (20, 9, pe))
    window[0] = -128
    weights = rng.integers(-128, 128, (20, 9, pe))
    weights[0] = -128
    bias = rng.integers(-2**24, 2**24, (20, pe))
    beats = [{"window": window[k].tolist(), "weights": weights[k].tolist(), "bias": bias[k].tolist()}
             for k in range(20)]
    expected = (bias + np.einsum("ktc,ktc->kc", window, weights)).tolist()
    out, cycles = run_stream(DepthwiseLanes(pe), beats, expect=20, idle=idle, stall=stall,
                             unpack=_ints)
    assert out == expected
    if idle == stall == 0:
        assert cycles == 20 + DepthwiseLanes.LATENCY


@pytest.mark.parametrize("idle, stall", PAUSES)
@pytest.mark.parametrize("shape, stride, half", [((5, 7, 6), 1, 1), ((6, 6, 4), 2, 0), ((3, 4, 9), 2, 1)])
def test_window_generator_reads_any_window_with_padding(shape, stride, half, idle, stall):
    pe, depth, zp = 4, 64, -7
    H, W, C = shape
    blocks = -(-C // pe)
    rng = np.random.default_rng(H * W * C)
    x = rng.integers(-128, 128, (H, W, blocks * pe))
    # Every window of a layer padded by one pixel on every side, at this stride.
    requests = [(r, c, ib) for r in range(-1, H - 1, stride) for c in range(-1, W - 1, stride)
                for ib in range(blocks)]
    harness = WindowHarness(pe, depth, tag_bits=8)

    async def setup(ctx):
        ctx.set(harness.rows, H), ctx.set(harness.cols, W), ctx.set(harness.zero_point, zp)
        ctx.set(harness.row_pitch, -(-W // 3) * blocks), ctx.set(harness.col_pitch, blocks)
        ctx.set(harness.r_half, half)
        # The other half holds garbage that must never be read.
        for fill_half, data in ((half, x), (1 - half, 127 - x)):
            for r in range(H):
                for c in range(W):
                    for ib in range(blocks):
                        bank, addr = sub_bank_address(r, c, ib, W, blocks)
                        ctx.set(harness.w_stream.valid, 1)
                        ctx.set(harness.w_stream.payload, {
                            "half": fill_half, "bank": bank, "addr": addr,
                            "data": data[r, c, ib * pe:(ib + 1) * pe].tolist()})
                        await ctx.tick()
        ctx.set(harness.w_stream.valid, 0)

    beats = [window_request(r, c, ib, width=W, blocks=blocks, tag=k % 256)
             for k, (r, c, ib) in enumerate(requests)]
    out, _ = run_stream(harness, beats, expect=len(beats), idle=idle, stall=stall, setup=setup,
                        unpack=lambda p: (int(p.tag), _ints(p.taps)))
    padded = np.pad(x, ((1, 1), (1, 1), (0, 0)), constant_values=zp)
    for k, ((tag, taps), (r, c, ib)) in enumerate(zip(out, requests)):
        assert tag == k % 256
        want = padded[r + 1:r + 4, c + 1:c + 4, ib * pe:(ib + 1) * pe].reshape(9, pe)
        assert taps == want.tolist(), (r, c, ib)


def test_components_reject_bad_pe():
    for bad in (0, -3, 2.0, None):
        with pytest.raises(TypeError, match=f"pe must be a positive integer, not {bad!r}"):
            PointwiseArray(bad)
