"""Output maps kept on chip (issue #12 item 1): the activation writer (``hw.act_writer``)
and the store router (``hw.store_router``) in Amaranth's simulator, against Python,
with random descriptors, words, load DMA beats and stalls."""

import random

import pytest
from amaranth.sim import Simulator

from hw.act_buffer import sub_bank_address
from hw.act_writer import ActWriter
from hw.command import Target
from hw.pointwise import discard_on_error
from hw.skid import queued_input, registered_input, skid_input
from hw.store_router import StoreRouter

PE, ADDR_BITS = 4, 11
MASK = (1 << 8 * PE) - 1


def _act_desc(rng):
    """A random tile of a random output map: ``rows x cols`` pixels from row 0, ``group``
    of the map's ``blocks`` blocks from ``block0``."""
    cols, rows, blocks = rng.randint(1, 8), rng.randint(1, 7), rng.randint(1, 4)
    block0 = rng.randrange(blocks)
    group = rng.randint(1, blocks - block0)
    pitch = -(-cols // 3) * blocks
    # base: the tile's rows from a later sub-bank row of the map (a multi-band step whose
    # output stays on chip, tiling.split_input)
    return {"half": rng.randrange(2), "cols": cols, "blocks": blocks,
            "row_pitch": pitch, "block0": block0, "base": rng.randrange(4) * pitch,
            "group": group, "pixels": rows * cols}


def _words(rng, act):
    n = act["pixels"] * act["group"]
    return [{"data": [rng.randrange(-128, 128) for _ in range(PE)], "last": int(k == n - 1)}
            for k in range(n)]


def _packed(data):
    return sum((v & 0xFF) << 8 * i for i, v in enumerate(data))


def _expected_writes(act, words):
    """(half, bank, addr, data) of every word, from the layout's definition."""
    out = []
    for k, word in enumerate(words):
        pixel, i = divmod(k, act["group"])
        r, c = divmod(pixel, act["cols"])
        bank, addr = sub_bank_address(r, c, act["block0"] + i, act["cols"], act["blocks"])
        out.append((act["half"], bank, act.get("base", 0) + addr, _packed(word["data"])))
    return out


@pytest.mark.parametrize("p_dma, p_idle, seed", [(0.0, 0.0, 1), (0.5, 0.0, 2), (0.3, 0.3, 3),
                                                  (0.9, 0.2, 4), (1.0, 0.0, 5)])
def test_act_writer_layout_and_backpressure(p_dma, p_idle, seed):
    """Every word lands in its pixel's sub-bank and address (``sub_bank_address``) of the
    descriptor's half, in order, none lost, under the engine's ``act_write.ready`` (low in
    a cycle with a load DMA beat for the activation buffer, ``p_dma`` of the cycles; with
    ``p_dma`` 1 the writer waits, then finishes once they stop); ``act_out.valid`` only
    changes when the beat is taken or a word is; ``writing`` covers every beat."""
    rng = random.Random(seed)
    descs = [_act_desc(rng) for _ in range(10)]
    tiles = [_words(rng, a) for a in descs]
    expected = [w for a, ws in zip(descs, tiles) for w in _expected_writes(a, ws)]
    words = [w for ws in tiles for w in ws]
    dut = ActWriter(PE, ADDR_BITS)
    got = []
    busy_until = 400 if p_dma == 1.0 else None

    async def bench(ctx):
        assert ctx.get(dut.idle)
        kd = kw = 0
        held = None  # a beat offered and not taken must stay
        for cycle in range(20000):
            blocked = rng.random() < p_dma and (busy_until is None or cycle < busy_until)
            ctx.set(dut.act_out.ready, not blocked)
            desc_on = kd < len(descs) and rng.random() >= p_idle
            ctx.set(dut.desc.valid, desc_on)
            if desc_on:
                ctx.set(dut.desc.payload, descs[kd])
            word_on = kw < len(words) and rng.random() >= p_idle
            ctx.set(dut.words.valid, word_on)
            if word_on:
                ctx.set(dut.words.payload, words[kw])
            if ctx.get(dut.act_out.valid):
                out = ctx.get(dut.act_out.payload)
                beat = (int(out.half), int(out.bank), int(out.addr),
                        _packed([int(v) for v in out.data]))
                assert Target(out.target) == Target.ACT and out.slice == 0
                assert ctx.get(dut.writing) >> int(out.half) & 1
                assert held is None or held == beat
                held = None if not blocked else beat
                if not blocked:
                    got.append(beat)
            else:
                assert held is None
            kd += bool(desc_on and ctx.get(dut.desc.ready))
            kw += bool(word_on and ctx.get(dut.words.ready))
            await ctx.tick()
            if len(got) == len(expected) and (busy_until is None or cycle >= busy_until):
                break
        ctx.set(dut.words.valid, 0)
        ctx.set(dut.desc.valid, 0)
        for _ in range(3):
            await ctx.tick()
        assert ctx.get(dut.idle) and not ctx.get(dut.writing) and not ctx.get(dut.act_out.valid)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert got == expected


def test_act_writer_throughput_and_writing():
    """With ``act_out`` always ready a word a cycle, each on ``act_out`` ``LATENCY`` cycles after
    it was taken; ``writing`` names the descriptor's half from its acceptance to its last
    beat, ``idle`` the rest."""
    act = {"half": 1, "cols": 5, "blocks": 3, "row_pitch": 6, "block0": 1, "base": 0,
           "group": 2, "pixels": 10}
    words = _words(random.Random(0), act)
    dut = ActWriter(PE, ADDR_BITS)
    log = []

    async def bench(ctx):
        ctx.set(dut.desc.payload, act)
        ctx.set(dut.desc.valid, 1)
        await ctx.tick()
        ctx.set(dut.desc.valid, 0)
        assert ctx.get(dut.writing) == 0b10 and not ctx.get(dut.idle)
        ctx.set(dut.act_out.ready, 1)
        out = 0
        for cycle in range(len(words) + ActWriter.LATENCY):
            if cycle < len(words):
                ctx.set(dut.words.payload, words[cycle])
                ctx.set(dut.words.valid, 1)
                assert ctx.get(dut.words.ready)
                log.append(("in", cycle, cycle))
            else:
                ctx.set(dut.words.valid, 0)
            if ctx.get(dut.act_out.valid):
                log.append(("out", out, cycle))
                out += 1
            assert ctx.get(dut.writing) == 0b10  # a word or its beat still to come
            await ctx.tick()
        assert ctx.get(dut.writing) == 0 and ctx.get(dut.idle)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert ActWriter.LATENCY == 2
    ins = {k: c for kind, k, c in log if kind == "in"}
    outs = {k: c for kind, k, c in log if kind == "out"}
    assert sorted(outs) == list(range(len(words)))
    assert all(outs[k] == ins[k] + ActWriter.LATENCY for k in ins)


@pytest.mark.parametrize("p_idle, p_stall, seed", [(0.0, 0.0, 1), (0.3, 0.0, 2), (0.0, 0.5, 3),
                                                    (0.3, 0.5, 4)])
def test_store_router(p_idle, p_stall, seed):
    """Descriptors reach their destination in order (the whole store descriptor to the
    store DMA, its ``act`` fields to the writer), each tile's words reach its descriptor's
    destination in order and never before that descriptor, and the router is idle at the
    end (once the words its registers may hold have gone). Random pauses on every input
    and output."""
    rng = random.Random(seed)
    tiles = []
    for _ in range(24):
        act = _act_desc(rng)
        to_act = rng.randrange(2)
        n = rng.randint(1, 6)
        desc = {"addr": rng.randrange(1 << 32), "segments": rng.randrange(1 << 24),
                "seg_beats": rng.randrange(1 << 24), "pitch": rng.randrange(1 << 32),
                "to_act": to_act, "act": act}
        words = [{"data": [rng.randrange(-128, 128) for _ in range(PE)], "last": int(k == n - 1)}
                 for k in range(n)]
        tiles.append((desc, words))
    words = [w for _, ws in tiles for w in ws]
    dut = StoreRouter(PE)
    out = {"dma_desc": [], "act_desc": [], "dma_store": [], "act_store": []}

    def desc_key(desc):
        return (desc["addr"], desc["segments"], desc["seg_beats"], desc["pitch"])

    def act_key(act):
        return tuple(act[k] for k in ("half", "cols", "blocks", "row_pitch", "block0", "base", "group",
                                      "pixels"))

    async def bench(ctx):
        kd = kw = 0
        for _ in range(5000):
            desc_on = kd < len(tiles) and rng.random() >= p_idle
            ctx.set(dut.desc.valid, desc_on)
            if desc_on:
                ctx.set(dut.desc.payload, tiles[kd][0])
            word_on = kw < len(words) and rng.random() >= p_idle
            ctx.set(dut.store.valid, word_on)
            if word_on:
                ctx.set(dut.store.payload, words[kw])
            for name in out:
                ctx.set(getattr(dut, name).ready, rng.random() >= p_stall)
            for name in out:
                port = getattr(dut, name)
                if ctx.get(port.valid) and ctx.get(port.ready):
                    p = ctx.get(port.payload)
                    if name == "dma_desc":
                        out[name].append(((int(p.addr), int(p.segments), int(p.seg_beats),
                                           int(p.pitch)), len(out["dma_desc"])))
                    elif name == "act_desc":
                        out[name].append((tuple(int(getattr(p, k)) for k in (
                            "half", "cols", "blocks", "row_pitch", "block0", "base", "group", "pixels")),
                            len(out["act_desc"])))
                    else:
                        tag = len(out["dma_desc" if name == "dma_store" else "act_desc"])
                        out[name].append((_packed([int(v) for v in p.data]), int(p.last), tag))
            kd += bool(desc_on and ctx.get(dut.desc.ready))
            kw += bool(word_on and ctx.get(dut.store.ready))
            await ctx.tick()
            # (a word taken may still wait in the router's registers: drain them)
            if kw == len(words) and kd == len(tiles) and ctx.get(dut.idle):
                break
        ctx.set(dut.desc.valid, 0)
        ctx.set(dut.store.valid, 0)
        await ctx.tick()
        await ctx.tick()
        assert ctx.get(dut.idle)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    dma_tiles = [(d, ws) for d, ws in tiles if not d["to_act"]]
    act_tiles = [(d, ws) for d, ws in tiles if d["to_act"]]
    assert [k for k, _ in out["dma_desc"]] == [desc_key(d) for d, _ in dma_tiles]
    assert [k for k, _ in out["act_desc"]] == [act_key(d["act"]) for d, _ in act_tiles]
    for name, routed in (("dma_store", dma_tiles), ("act_store", act_tiles)):
        expect = [(_packed(w["data"]), w["last"], t + 1)
                  for t, (_, ws) in enumerate(routed) for w in ws]
        got = out[name]
        assert [(d, last) for d, last, _ in got] == [(d, last) for d, last, _ in expect]
        # a word only after its tile's descriptor has been taken
        assert all(tag >= t for (_, _, tag), (_, _, t) in zip(got, expect))


def _input_register_dut(make, copies=0):
    """A component whose ``o`` is ``make(m, i, ...)``'s inner stream (``hw.skid``); with
    ``copies``, ``make`` returns ``(inner, readies)`` and ``rooms`` carries the readies."""
    from amaranth.hdl import Cat, Module
    from amaranth.lib import stream, wiring
    from amaranth.lib.wiring import In, Out

    class Dut(wiring.Component):
        i: In(stream.Signature(16))
        o: Out(stream.Signature(16))
        rooms: Out(max(copies, 1))

        def elaborate(self, platform):
            m = Module()
            with discard_on_error(m):  # a refused make: m is garbage, not a forgotten design
                inner = make(m, self.i, "r")
            if copies:
                inner, readies = inner
                assert len(readies) == copies
                m.d.comb += self.rooms.eq(Cat(readies))
            wiring.connect(m, inner, wiring.flipped(self.o))
            return m

    return Dut()


@pytest.mark.parametrize("make", [registered_input, queued_input])
@pytest.mark.parametrize("p_idle, p_stall, seed", [(0.0, 0.0, 1), (0.3, 0.0, 2), (0.0, 0.5, 3),
                                                    (0.5, 0.5, 4)])
def test_registered_input(make, p_idle, p_stall, seed):
    """``hw.skid.registered_input`` and ``queued_input``: every beat in order, none lost
    or doubled, under random pauses on both sides; its ``ready`` and the inner ``valid``
    are registers (no combinational path from the other side); without stalls a beat
    taken at an edge is offered the cycle after (latency 1, one beat a cycle)."""
    rng = random.Random(seed)
    beats = [rng.randrange(1 << 16) for _ in range(300)]
    dut = _input_register_dut(make)
    got, taken_at, offered_at = [], [], []

    async def bench(ctx):
        k = 0
        for cycle in range(3000):
            on = k < len(beats) and rng.random() >= p_idle
            ready = rng.random() >= p_stall
            # i.ready and o.valid before this cycle's inputs are set: registers
            i_ready, o_valid = ctx.get(dut.i.ready), ctx.get(dut.o.valid)
            ctx.set(dut.i.valid, on)
            ctx.set(dut.i.payload, beats[k] if on else rng.randrange(1 << 16))
            ctx.set(dut.o.ready, ready)
            assert (ctx.get(dut.i.ready), ctx.get(dut.o.valid)) == (i_ready, o_valid)
            if ctx.get(dut.o.valid) and ready:
                got.append(ctx.get(dut.o.payload))
                offered_at.append(cycle)
            if on and ctx.get(dut.i.ready):
                taken_at.append(cycle)
                k += 1
            await ctx.tick()
            if len(got) == len(beats):
                break

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert got == beats
    if p_idle == p_stall == 0:
        assert offered_at == [t + 1 for t in taken_at] == list(range(1, len(beats) + 1))


def _traces(seed, *makes, cycles=2000, copies=0):
    """(i.ready, o.valid, o.payload while valid) in every cycle of each ``make``'s
    :func:`_input_register_dut` under one random stimulus (pauses on both sides); with
    ``copies``, each cycle's ``rooms`` as well."""
    rng = random.Random(seed)
    stimulus = [(rng.random() < 0.6, rng.randrange(1 << 16), rng.random() < 0.5)
                for _ in range(cycles)]

    def trace(make):
        dut = _input_register_dut(make, copies)
        seen = []

        async def bench(ctx):
            for valid, payload, ready in stimulus:
                ctx.set(dut.i.valid, valid)
                ctx.set(dut.i.payload, payload)
                ctx.set(dut.o.ready, ready)
                o_valid = ctx.get(dut.o.valid)
                seen.append((ctx.get(dut.i.ready), o_valid,
                             ctx.get(dut.o.payload) if o_valid else None)
                            + ((ctx.get(dut.rooms),) if copies else ()))
                await ctx.tick()

        sim = Simulator(dut)
        sim.add_clock(1e-8)
        sim.add_testbench(bench)
        sim.run()
        return seen

    return [trace(make) for make in makes]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_queued_input_is_registered_input_cycle_for_cycle(seed):
    """``hw.skid.queued_input`` (the store router's words since timing step 17) and
    ``registered_input`` (before it) under the same random stimulus: the same
    ``i.ready``, ``o.valid`` and offered payload in every cycle, so the router's
    ``LATENCY`` and ``HELD`` (the cost model's ``store_slack``) hold for both."""
    queued, registered = _traces(seed, queued_input, registered_input)
    assert sum(1 for _, v, _ in registered if v) > len(registered) // 3  # beats did flow
    assert any(not r for r, _, _ in registered)                          # and both entries filled
    assert queued == registered


@pytest.mark.parametrize("parts", [(16,), (1, 15), (5, 5, 6), (4,) * 4])
@pytest.mark.parametrize("seed", [1, 2])
def test_skid_input_in_parts_is_one_skid_cycle_for_cycle(parts, seed):
    """``hw.skid.skid_input`` with ``parts`` (a copy of the ``full`` flag per slice, the
    depthwise beats at pe 8 since timing step 19) and without: the same ``i.ready``,
    ``o.valid`` and offered payload in every cycle under random pauses on both sides."""
    def split(m, i, name):
        return skid_input(m, i, name, parts=parts)

    one, split_up = _traces(seed, skid_input, split)
    assert any(not r for r, _, _ in one) and sum(1 for _, v, _ in one if v) > len(one) // 3
    assert split_up == one


@pytest.mark.parametrize("make", [skid_input, registered_input])
@pytest.mark.parametrize("seed", [1, 2])
def test_ready_copies_are_ready_every_cycle(make, seed):
    """``ready_copies`` (the block RAMs' read enables at pe 8 since timing step 21): each
    copy equals ``i.ready`` in every cycle under random pauses on both sides, and the
    stream is the one without copies, cycle for cycle."""
    def copied(m, i, name):
        return make(m, i, name, ready_copies=3)

    (plain,), (with_copies,) = _traces(seed, make), _traces(seed, copied, copies=3)
    assert any(not r for r, *_ in plain) and sum(1 for _, v, _ in plain if v) > len(plain) // 3
    assert [t[:3] for t in with_copies] == plain
    assert all(rooms == (0b111 if ready else 0) for ready, _, _, rooms in with_copies)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_registered_input_with_its_own_ready_is_cycle_for_cycle(seed):
    """``registered_input(..., own_ready=True)`` (the accumulator entries at pe 8 since
    timing step 23: ``i.ready`` from a flip-flop of its own, not ``~full``): the same
    ``i.ready``, ``o.valid`` and offered payload in every cycle as without it."""
    def own(m, i, name):
        return registered_input(m, i, name, own_ready=True)

    plain, owned = _traces(seed, registered_input, own)
    assert any(not r for r, _, _ in plain) and sum(1 for _, v, _ in plain if v) > len(plain) // 3
    assert owned == plain


@pytest.mark.parametrize("parts", [(8, 7), (8, 9), (16, 0)])
def test_skid_input_parts_must_cut_the_payload(parts):
    """``parts`` that do not add up to the payload's width, or a slice of no bits: an
    error naming the stream, not a silently narrower skid."""
    def split(m, i, name):
        return skid_input(m, i, name, parts=parts)

    dut = _input_register_dut(split)
    with pytest.raises(ValueError, match=r"do not cut the 16 bits of r"), discard_on_error(dut):
        dut.elaborate(None)


@pytest.mark.slow
def test_engine_act_write_port_beside_the_load_stream():
    """The engine's second activation write port (``Engine(act_write=True)``, fed by the
    writer in ``hw.top``): a tile's activation words come through it while the load
    stream brings the weights in the same cycles and, in random cycles, activation words
    for the other half (which take the buffer's write port first: ``act_write.ready``
    low, the word held). The tile is bit-exact against the golden model."""
    import numpy as np

    from hw.config import AcceleratorConfig
    from hw.engine import Engine
    from model.golden import run_network
    from model.layers import mobilenet_v1
    from model.quantize import random_input, random_mobilenet
    from model.tiling import network_steps, tile_step
    from sw.program import assemble_output, program_tile, step_input

    config = AcceleratorConfig(pe=4, alpha=0.25, resolution=32, sram_bytes=70_000)
    network = mobilenet_v1(0.25, 32)
    qlayers = random_mobilenet(network, seed=3)
    x = random_input(network, seed=3)
    outputs = run_network(qlayers, x)
    names = [layer.name for layer in network]
    step = next(s for s in network_steps(network) if s.name == "dw1+pw1")
    index = names.index(step.first.name)
    q_step = qlayers[index:index + len(step.layers)]
    tiling = tile_step(step, config.pe, config.bank["act"].depth, config.bank["pw_weights"].depth)
    xs = step_input(step, q_step[0], outputs[index - 1], config.pe)
    out = np.zeros((step.last.out_h, step.last.out_w, step.last.out_c), np.int8)
    program = program_tile(step, q_step, xs, tiling.tiles[0], config.pe, act_half=1,
                           weight_half=0)
    acts = [b for b in program.loads if b["target"] is Target.ACT]
    others = [b for b in program.loads if b["target"] is not Target.ACT]
    assert acts and others
    rng = random.Random(7)
    dut = Engine(config, act_write=True)
    depth = config.bank["act"].depth

    async def bench(ctx):
        ka = ko = 0
        blocked = 0
        while ka < len(acts) or ko < len(others):
            decoy = rng.random() < 0.4
            if decoy:  # an activation word for the half the tile does not read
                ctx.set(dut.load.payload, {"target": Target.ACT, "half": 0,
                                           "bank": rng.randrange(9), "slice": 0,
                                           "addr": rng.randrange(depth),
                                           "data": [rng.randrange(256) for _ in range(4)]})
                ctx.set(dut.load.valid, 1)
            elif ko < len(others) and rng.random() < 0.7:
                ctx.set(dut.load.payload, others[ko])
                ctx.set(dut.load.valid, 1)
                ko += 1
            else:
                ctx.set(dut.load.valid, 0)
            if ka < len(acts):
                ctx.set(dut.act_write.payload, acts[ka])
                ctx.set(dut.act_write.valid, 1)
                assert ctx.get(dut.act_write.ready) == (not decoy)
                ka += not decoy
                blocked += decoy
            else:
                ctx.set(dut.act_write.valid, 0)
            await ctx.tick()
        assert blocked
        ctx.set(dut.load.valid, 0)
        ctx.set(dut.act_write.valid, 0)
        ctx.set(dut.cmd.valid, 1)
        ctx.set(dut.cmd.payload, program.command)
        await ctx.tick()
        ctx.set(dut.cmd.valid, 0)
        ctx.set(dut.store.ready, 1)
        words = []
        for _ in range(200 * (program.out_words + 10)):
            if ctx.get(dut.store.valid):
                payload = ctx.get(dut.store.payload)
                words.append([int(v) for v in payload.data])
                if payload.last:
                    break
            await ctx.tick()
        assert len(words) == program.out_words
        assemble_output(program, words, out, config.pe)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    want = outputs[index + len(step.layers) - 1].reshape(out.shape)
    for (row, col), block in zip(program.out_pixels, program.out_blocks):
        channels = slice(block * config.pe, (block + 1) * config.pe)
        assert np.array_equal(out[row, col, channels], want[row, col, channels])


@pytest.mark.parametrize("pe, sram, alpha, resolution", [(16, 1_000_000, 0.5, 160),
                                                          (16, 1_000_000, 1.0, 224),
                                                          (32, 100_000, 0.25, 64)])
def test_planner_chooses_conv1s_input_path_by_predicted_cycles(pe, sram, alpha, resolution):
    """conv1 from the raw image holds one pixel a pe-byte word on chip (409.6 kB for
    0.5-160 at pe 16), the host's im2col map two words a pixel of the output (204.8 kB):
    the planner plans the network both ways, each with and without band groups, and
    takes the plan with the fewest predicted cycles. conv1 from the image never splits
    its input (``split_allowed``: the image's LOAD writes a word every cycle and would
    take the activation write port from the output); at pe 32 a pixel of the image
    takes 32 bytes on chip and the im2col map wins."""
    from dataclasses import replace

    from hw.config import AcceleratorConfig
    from model.cost import PLAN_VARIANTS, DdrTiming, _plan_steps, plan_network, step_costs
    from model.tiling import network_steps

    config = AcceleratorConfig(pe=pe, sram_bytes=sram, alpha=alpha, resolution=resolution)
    ddr = DdrTiming.of(config)

    def cycles(tilings):
        return sum(c.cycles for c in step_costs(tilings, config.pe, ddr, config.pw_requant_share))

    steps = network_steps(config.network)
    assert steps[0].image_capable and steps[0].from_image
    image = min(cycles(_plan_steps(config, steps, b, context=c)) for b, c in PLAN_VARIANTS)
    cut = [replace(steps[0], host_im2col=True), *steps[1:]]
    assert _plan_steps(config, cut)[0].step.im2col
    im2col = min(cycles(_plan_steps(config, cut, b, context=c)) for b, c in PLAN_VARIANTS)
    chosen = plan_network(config)
    assert chosen[0].step.host_im2col is (im2col < image)
    assert cycles(chosen) == min(image, im2col)
    for plan in (_plan_steps(config, steps, b, context=c) for b, c in PLAN_VARIANTS):
        assert not plan[0].split_input
    if pe == 32:
        assert chosen[0].step.host_im2col
