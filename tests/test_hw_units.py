"""hw/ components in Amaranth's simulator: MAC arrays, the window generator and the DMA's
burst cutter against NumPy or Python, with and without random stalls, and their
throughput without stalls."""

import re

import numpy as np
import pytest
from amaranth.hdl import Const, Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from hw.act_buffer import sub_bank_address
from hw.bursts import BurstSplitter, block_beats, cut_run
from hw.depthwise import DepthwiseLanes
from hw.pointwise import PointwiseArray
from hw.products import (booth_terms, lut_product, packed_products, times_constant, tree_sum,
                         unpack_products)
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


# (pe, packed, lut_multipliers): every way a product can be built, in one array too.
MAPPINGS = [(4, False, 0), (5, True, 0), (5, False, 7), (5, True, 6), (4, False, 16)]


@pytest.mark.parametrize("pe, packed, lut", MAPPINGS)
@pytest.mark.parametrize("idle, stall", PAUSES)
def test_pointwise_array_accumulates_runs(idle, stall, pe, packed, lut):
    rng = np.random.default_rng(3)
    beats, expected = [], []
    for run_length in [1, 3, 2, 5]:
        act = rng.integers(-128, 128, (run_length, pe))
        weights = rng.integers(-128, 128, (run_length, pe, pe))
        act[0, 0], weights[0, 0] = -128, -128  # the one product that needs 16 signed bits
        bias = rng.integers(-2**20, 2**20, pe)
        for k in range(run_length):
            beats.append({"act": act[k].tolist(), "weights": weights[k].tolist(),
                          "bias": bias.tolist() if k == 0 else [0] * pe,
                          "first": k == 0, "last": k == run_length - 1})
        expected.append((bias + np.einsum("ki,kio->o", act, weights)).tolist())
    dut = PointwiseArray(pe, packed=packed, lut_multipliers=lut)
    out, cycles = run_stream(dut, beats, expect=len(expected), idle=idle,
                             stall=stall, unpack=_ints, seed=int(idle * 10 + stall * 100))
    assert out == expected
    if idle == stall == 0:
        assert cycles == len(beats) + PointwiseArray.latency(pe)


@pytest.mark.parametrize("pe, packed, lut", [(4, False, 0), (5, True, 6), (8, False, 0)])
@pytest.mark.parametrize("idle", [0.0, 0.4])
def test_pointwise_array_free_running_gives_the_same_stream(idle, pe, packed, lut):
    """``PointwiseArray(..., free_running=True)`` (its stages advance every cycle, for a
    consumer that takes every beat): the same sums in the same cycles as the array
    whose stages wait for ``ready``, with gaps in its input too."""
    rng = np.random.default_rng(11)
    beats = []
    for run_length in [2, 1, 4, 3, 1, 1]:
        for k in range(run_length):
            beats.append({"act": rng.integers(-128, 128, pe).tolist(),
                          "weights": rng.integers(-128, 128, (pe, pe)).tolist(),
                          "bias": rng.integers(-2**20, 2**20, pe).tolist(),
                          "first": k == 0, "last": k == run_length - 1})
    runs = [run_stream(PointwiseArray(pe, packed=packed, lut_multipliers=lut, free_running=free),
                       beats, expect=6, idle=idle, unpack=_ints, seed=7) for free in (False, True)]
    assert runs[0] == runs[1]
    with pytest.raises(TypeError, match="free_running must be a bool"):
        PointwiseArray(pe, free_running=1)


def test_pointwise_multiplier_count():
    assert PointwiseArray.multipliers(16) == 256
    assert PointwiseArray.multipliers(16, packed=True) == 128
    assert PointwiseArray.column_groups(5, True) == [(0, 1), (2, 3), (4,)]
    assert PointwiseArray.multipliers(5, packed=True) == 15


def test_pointwise_array_saturation_corner():
    pe = 8
    beats = [{"act": [-128] * pe, "weights": [[-128] * pe] * pe, "bias": [2**31 - 1 - 2**17] * pe,
              "first": 1, "last": 1}]
    out, _ = run_stream(PointwiseArray(pe), beats, expect=1, unpack=_ints)
    assert out == [[2**31 - 1 - 2**17 + pe * 2**14] * pe]


@pytest.mark.parametrize("lut", [0, 13, 36])
@pytest.mark.parametrize("idle, stall", PAUSES)
def test_depthwise_lanes(idle, stall, lut):
    pe, rng = 4, np.random.default_rng(5)
    window = rng.integers(-128, 128, (20, 9, pe))
    window[0] = -128
    weights = rng.integers(-128, 128, (20, 9, pe))
    weights[0] = -128
    bias = rng.integers(-2**24, 2**24, (20, pe))
    beats = [{"window": window[k].tolist(), "weights": weights[k].tolist(), "bias": bias[k].tolist()}
             for k in range(20)]
    expected = (bias + np.einsum("ktc,ktc->kc", window, weights)).tolist()
    out, cycles = run_stream(DepthwiseLanes(pe, lut_multipliers=lut), beats, expect=20, idle=idle, stall=stall,
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


@pytest.mark.parametrize("make, message", [
    (lambda: PointwiseArray(4, lut_multipliers=17), "lut_multipliers must be an integer in 0..16, not 17"),
    (lambda: PointwiseArray(4, packed=True, lut_multipliers=9),
     "lut_multipliers must be an integer in 0..8, not 9"),
    (lambda: PointwiseArray(4, packed=1), "packed must be a bool, not 1"),
    (lambda: DepthwiseLanes(2, lut_multipliers=-1), "lut_multipliers must be an integer in 0..18, not -1"),
])
def test_multiplier_options_rejected(make, message):
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        make()


@pytest.mark.slow
def test_booth_and_packed_products_exhaustively():
    """Every int8 pair through hw.products' LUT multiplier and DSP packing (with the
    high weight at its extremes and in between), evaluated by Amaranth's simulator. The
    Booth terms' sum is exact in a wider adder (the depthwise lanes add a LUT product's
    terms, ``registered_terms``, in their 32-bit tree), not only modulo 2**16."""
    m = Module()
    b, w_hi = Signal(signed(8)), Signal(signed(8))
    outs = []
    for a_value in range(-128, 128):
        a = Const(a_value, signed(8))
        booth, lo, hi = Signal(signed(16)), Signal(signed(16)), Signal(signed(16))
        wide = Signal(signed(32))
        packed_lo, packed_hi = unpack_products(packed_products(a, b, w_hi))
        m.d.comb += [booth.eq(lut_product(a, b)), lo.eq(packed_lo), hi.eq(packed_hi),
                     wide.eq(tree_sum(booth_terms(a, b)))]
        outs.append((a_value, booth, lo, hi, wide))
    wrong = []

    async def testbench(ctx):
        for hi_value in (-128, -1, 0, 1, 85, 127):
            ctx.set(w_hi, hi_value)
            for b_value in range(-128, 128):
                ctx.set(b, b_value)
                for a_value, booth, lo, hi, wide in outs:
                    got = (ctx.get(booth), ctx.get(lo), ctx.get(hi), ctx.get(wide))
                    product = a_value * b_value
                    if got != (product, product, a_value * hi_value, product):
                        wrong.append((a_value, b_value, hi_value, got))
    sim = Simulator(m)
    sim.add_testbench(testbench)
    sim.run()
    assert wrong == []


def test_times_constant():
    for k in (0, 1, 7, 9, 16, 56, 255):
        m = Module()
        x, y = Signal(12), Signal(24)
        m.d.comb += y.eq(times_constant(x, k))
        seen = []

        async def testbench(ctx):
            for value in (0, 1, 5, 4095):
                ctx.set(x, value)
                seen.append(ctx.get(y))
        sim = Simulator(m)
        sim.add_testbench(testbench)
        sim.run()
        assert seen == [v * k for v in (0, 1, 5, 4095)]


# -- requantisers --------------------------------------------------------------------------

def _requant_beats(lanes, count, seed):
    from model.numerics import requantize

    rng = np.random.default_rng(seed)
    beats, expected = [], []
    for _ in range(count):
        acc = rng.integers(-2**31, 2**31, lanes)
        m0 = rng.integers(2**30, 2**31, lanes)
        shift = rng.integers(-31, 8, lanes)
        # most results near the int8 range, so the clamp does not hide them
        shift = np.where(rng.random(lanes) < 0.7, np.clip(
            31 - np.array([int(abs(int(a) * int(m))).bit_length() for a, m in zip(acc, m0)]) + 6,
            -31, 7), shift)
        zp, (lo, hi) = int(rng.integers(-128, 128)), sorted(int(v) for v in rng.integers(-128, 128, 2))
        beats.append({"acc": acc.tolist(), "multiplier": m0.tolist(), "shift": shift.tolist(),
                      "zero_point": zp, "lo": lo, "hi": hi})
        expected.append(requantize(acc, m0, shift, zp, lo, hi).tolist())
    return beats, expected


@pytest.mark.parametrize("lanes, share", [(4, 1), (4, 2), (8, 4), (6, 3)])
@pytest.mark.parametrize("idle, stall", PAUSES)
def test_requantizer_shared_or_not(lanes, share, idle, stall):
    """The shared requantiser gives the plain one's results: one beat every ``share``
    cycles, its declared latency, any stall pattern."""
    from hw.requant import requantizer

    beats, expected = _requant_beats(lanes, 40, seed=lanes * 10 + share)
    dut = requantizer(lanes, share)
    out, cycles = run_stream(dut, beats, expect=len(expected), idle=idle, stall=stall,
                             unpack=_ints, seed=int(idle * 10 + stall * 100))
    assert out == expected
    if idle == stall == 0:
        assert cycles == share * (len(beats) - 1) + 1 + dut.LATENCY


def test_shared_requantizer_rejects_bad_share():
    from hw.requant import SharedRequantizer

    with pytest.raises(ValueError, match=r"^share must be an integer >= 2 that divides lanes \(6\), not 4$"):
        SharedRequantizer(6, 4)


# -- the handshake queue -------------------------------------------------------------------

@pytest.mark.parametrize("depth", [2, 3, 4, 8])
@pytest.mark.parametrize("p_write, p_read", [(0.9, 0.9), (0.5, 0.5), (0.9, 0.3), (0.3, 0.9)])
def test_queue_is_sync_fifo_buffered_cycle_for_cycle(depth, p_write, p_read):
    """hw.queue.Queue beside Amaranth's SyncFIFOBuffered under the same random writes and
    reads (data offered in every cycle, also when no write is asked for, so a slot
    written while free must not leak): the same w_rdy, r_rdy, level and head in every
    cycle, ``room`` as the reference's level says; and what leaves is what went in, in order (a deque)."""
    import collections
    import random

    from amaranth.lib.fifo import SyncFIFOBuffered

    from hw.queue import Queue

    width = 8
    m = Module()
    room_for = max(1, depth // 2)
    dut = m.submodules.dut = Queue(width=width, depth=depth, room_for=room_for)
    ref = m.submodules.ref = SyncFIFOBuffered(width=width, depth=depth)
    w_en, r_en, w_data = Signal(), Signal(), Signal(width)
    m.d.comb += [dut.w_en.eq(w_en), ref.w_en.eq(w_en), dut.w_data.eq(w_data),
                 ref.w_data.eq(w_data), dut.r_en.eq(r_en), ref.r_en.eq(r_en)]
    rng = random.Random(depth * 1000 + int(p_write * 10) * 10 + int(p_read * 10))
    mismatches, written, read = [], [], []

    async def testbench(ctx):
        model = collections.deque()
        for cycle in range(2000):
            # Phases of a full and an empty queue as well as the mixed rates.
            phase = (cycle // 200) % 3
            pw = (p_write, 1.0, 0.0)[phase] if phase else p_write
            pr = (p_read, 0.0, 1.0)[phase] if phase else p_read
            ctx.set(w_en, rng.random() < pw)
            ctx.set(r_en, rng.random() < pr)
            ctx.set(w_data, rng.randrange(1 << width))
            got = {name: (ctx.get(getattr(dut, name)), ctx.get(getattr(ref, name)))
                   for name in ("w_rdy", "r_rdy", "level")}
            got["room"] = (ctx.get(dut.room), int(ctx.get(ref.level) <= depth - room_for))
            if ctx.get(ref.r_rdy):
                got["r_data"] = (ctx.get(dut.r_data), ctx.get(ref.r_data))
            if any(a != b for a, b in got.values()):
                mismatches.append((cycle, got))
            if ctx.get(dut.w_en) and ctx.get(dut.w_rdy):
                model.append(ctx.get(w_data))
                written.append(ctx.get(w_data))
            if ctx.get(dut.r_en) and ctx.get(dut.r_rdy):
                value = ctx.get(dut.r_data)
                read.append(value)
                if not model or model.popleft() != value:
                    mismatches.append((cycle, "order", value))
            await ctx.tick()

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    assert mismatches == []
    assert len(read) > 100 and read == written[:len(read)]


def test_queue_rejects_depth_below_two():
    from hw.queue import Queue

    with pytest.raises(ValueError, match="depth >= 2"):
        Queue(width=4, depth=1)
    with pytest.raises(ValueError, match="room_for must be in 1..4, not 5"):
        Queue(width=4, depth=4, room_for=5)


def _cut_runs(runs, beat_bytes):
    """The bursts ``hw.bursts.cut_run`` says ``runs`` (address, beats) are cut into."""
    return [burst for addr, beats in runs for burst in cut_run(addr, beats, beat_bytes)]


@pytest.mark.parametrize("beat_bytes", [1, 4, 16, 32])
@pytest.mark.parametrize("idle, stall", PAUSES)
def test_burst_splitter_cuts_runs_at_blocks(beat_bytes, idle, stall):
    """Runs of every kind (within a block, up to a boundary, across several blocks and
    4 KiB pages, single beats back to back) come out as AXI4-legal bursts covering each
    run in order; unstalled, the first burst comes LATENCY cycles after the first run and
    then one burst a cycle."""
    rng = np.random.default_rng(beat_bytes)
    block = block_beats(beat_bytes)
    runs = [(0, 1), (beat_bytes, 1), (4096 - beat_bytes, 1), (4096 - beat_bytes, 2),
            (64, block), (0, block), (0, 3 * block + 5), (4096 - 3 * beat_bytes, 700)]
    runs += [(int(rng.integers(0, 2**20)) * beat_bytes, int(rng.integers(1, 1200)))
             for _ in range(8)]
    runs += [(int(rng.integers(0, 2**20)) * beat_bytes, 1) for _ in range(4)]
    expected = _cut_runs(runs, beat_bytes)
    for addr, beats in expected:
        assert 1 <= beats <= 256 and addr // 4096 == (addr + beats * beat_bytes - 1) // 4096
    dut = BurstSplitter(beat_bytes, 24)
    out, cycles = run_stream(dut, [{"addr": a, "beats": n} for a, n in runs], expect=len(expected),
                             idle=idle, stall=stall, seed=beat_bytes, i_stream=dut.run,
                             o_stream=dut.burst, unpack=lambda p: (int(p.addr), int(p.len) + 1))
    assert out == expected
    if idle == stall == 0:
        assert cycles == BurstSplitter.LATENCY + len(expected)


def test_block_ram_write_and_read_latency():
    """BlockRam's declared stages: a slice written with ``w_en`` at edge E is in the memory
    at E + write_latency (a read at E + 1 still returns the old word, one at E + 2 the new
    one), and a read's word reaches ``r_data`` the edge after ``r_en`` when ``r_oe`` is high."""
    from hw.bram import BlockRam

    declared = [BlockRam(16, 8, 8), BlockRam(16, 8, write_registers=False)]
    for unused in declared:  # built to read a declared latency, not a forgotten design
        unused._MustUse__silence = True  # Amaranth's own switch (amaranth._unused.MustUse)
    assert [ram.write_latency for ram in declared] == [1, 0]
    ram = BlockRam(16, 8, 8)

    async def bench(ctx):
        ctx.set(ram.r_en, 1), ctx.set(ram.r_oe, 1), ctx.set(ram.r_addr, 5)
        ctx.set(ram.w_addr, 5), ctx.set(ram.w_data, 0xABCD), ctx.set(ram.w_en, 0b01)
        await ctx.tick()  # edge E: the write registers take the low slice
        ctx.set(ram.w_en, 0)
        await ctx.tick()  # E + 1: the memory is written; the read at this edge sees 0
        await ctx.tick()  # E + 2: that read in r_data; this edge's read sees the slice
        assert ctx.get(ram.r_data) == 0
        await ctx.tick()
        assert ctx.get(ram.r_data) == 0x00CD  # the high slice was not enabled

    sim = Simulator(ram)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("pe", [4, 8, 12, 16, 28, 32])
@pytest.mark.parametrize("idle, stall", [(0.0, 0.0), (0.3, 0.4)])
def test_conv_gather_picks_the_im2col_word_of_each_block(pe, idle, stall):
    """``hw.conv_gather.ConvGather``: for each window and each of its ``conv_blocks(pe)``
    blocks, lane ``j`` of the word is channel ``ib * pe + j`` of the pixel's im2col vector
    in ``sw.program.im2col``'s order (tap ``3 * dy + dx`` major, colour minor), 0 beyond
    the 27 channels; lanes of a tap beyond the 3 colours are never selected. pe 28 and
    32 are the one-block case (the window taken once a pixel)."""
    from hw.conv_gather import IMAGE_CHANNELS, ConvGather, conv_blocks
    from model.layers import Activation, Layer, LayerKind, Padding
    from model.quantize import random_mobilenet
    from sw.program import im2col

    rng = np.random.default_rng(pe)
    blocks = conv_blocks(pe)
    assert blocks == -(-27 // pe)
    # One 3x3 window is a 3x3 image with its conv1 at stride 1, no padding: the im2col
    # vector of its one output pixel is the reference order.
    layer = Layer("conv1", LayerKind.CONV, 3, 3, IMAGE_CHANNELS, 4, 3, 1, Padding(),
                  Activation.RELU6)
    q = random_mobilenet([layer], seed=1)[0]
    beats, expected = [], []
    for pixel in range(5):
        image = rng.integers(-128, 128, (3, 3, IMAGE_CHANNELS))
        vector = im2col(q, image.astype(np.int8))[0, 0].astype(int).tolist()
        taps = rng.integers(-128, 128, (9, pe))  # lanes >= 3: garbage, never selected
        taps[:, :IMAGE_CHANNELS] = image.reshape(9, IMAGE_CHANNELS)
        vector += [0] * (blocks * pe - len(vector))
        for ib in range(blocks):
            run_end = int(ib == blocks - 1)
            beats.append({"taps": taps.tolist(),
                          "tag": {"ib": ib, "run_end": run_end, "tile_end": 0}})
            expected.append((vector[ib * pe:(ib + 1) * pe], run_end))
    out, cycles = run_stream(
        ConvGather(pe), beats, expect=len(expected), idle=idle, stall=stall,
        seed=pe, unpack=lambda v: (_ints(v.data), int(v.run_end)))
    assert out == expected
    if idle == stall == 0:
        assert cycles == len(beats) + ConvGather.LATENCY
