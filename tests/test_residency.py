"""Output maps kept on chip (issue #12 item 1): the activation writer (``hw.act_writer``)
and the store router (``hw.store_router``) in Amaranth's simulator, against Python,
with random descriptors, words, load DMA beats and stalls."""

import random

import pytest
from amaranth.sim import Simulator

from hw.act_buffer import sub_bank_address
from hw.act_writer import ActWriter
from hw.command import Target
from hw.store_router import StoreRouter

PE, ADDR_BITS = 4, 11
MASK = (1 << 8 * PE) - 1


def _act_desc(rng):
    """A random tile of a random output map: ``rows x cols`` pixels from row 0, ``group``
    of the map's ``blocks`` blocks from ``block0``."""
    cols, rows, blocks = rng.randint(1, 8), rng.randint(1, 7), rng.randint(1, 4)
    block0 = rng.randrange(blocks)
    group = rng.randint(1, blocks - block0)
    return {"half": rng.randrange(2), "cols": cols, "blocks": blocks,
            "row_pitch": -(-cols // 3) * blocks, "block0": block0, "group": group,
            "pixels": rows * cols}


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
        out.append((act["half"], bank, addr, _packed(word["data"])))
    return out


@pytest.mark.parametrize("p_dma, p_idle, seed", [(0.0, 0.0, 1), (0.5, 0.0, 2), (0.3, 0.3, 3),
                                                  (0.9, 0.2, 4), (1.0, 0.0, 5)])
def test_act_writer_layout_and_merge(p_dma, p_idle, seed):
    """Every word lands in its pixel's sub-bank and address (``sub_bank_address``) of the
    descriptor's half, in order; every load DMA beat goes out in its own cycle, unchanged;
    the writer's beats only in cycles without one. With a load DMA beat in every cycle
    (``p_dma`` 1) the writer waits, then finishes once they stop."""
    rng = random.Random(seed)
    descs = [_act_desc(rng) for _ in range(10)]
    tiles = [_words(rng, a) for a in descs]
    expected = [w for a, ws in zip(descs, tiles) for w in _expected_writes(a, ws)]
    words = [w for ws in tiles for w in ws]
    dut = ActWriter(PE, ADDR_BITS)
    got, dma_sent, dma_seen = [], [], []
    dma_cycles = 400 if p_dma == 1.0 else None

    async def bench(ctx):
        assert ctx.get(dut.idle)
        kd = kw = 0
        for cycle in range(20000):
            # load DMA: a beat whenever it likes, never waiting
            dma_on = rng.random() < p_dma and (dma_cycles is None or cycle < dma_cycles)
            dma_beat = None
            if dma_on:
                dma_beat = {"target": Target(rng.randrange(5)), "half": rng.randrange(2),
                            "bank": rng.randrange(9), "slice": rng.randrange(8),
                            "addr": rng.randrange(1 << ADDR_BITS),
                            "data": [rng.randrange(256) for _ in range(PE)]}
                ctx.set(dut.dma_in.payload, dma_beat)
            ctx.set(dut.dma_in.valid, dma_on)
            desc_on = kd < len(descs) and rng.random() >= p_idle
            ctx.set(dut.desc.valid, desc_on)
            if desc_on:
                ctx.set(dut.desc.payload, descs[kd])
            word_on = kw < len(words) and rng.random() >= p_idle
            ctx.set(dut.words.valid, word_on)
            if word_on:
                ctx.set(dut.words.payload, words[kw])
            out = ctx.get(dut.load_out.payload)
            if dma_on:
                assert ctx.get(dut.load_out.valid)
                dma_sent.append(dma_beat)
                dma_seen.append(out)
            elif ctx.get(dut.load_out.valid):
                assert Target(out.target) == Target.ACT and out.slice == 0
                assert ctx.get(dut.writing) >> int(out.half) & 1
                got.append((int(out.half), int(out.bank), int(out.addr),
                            _packed([int(v) for v in out.data])))
            kd += bool(desc_on and ctx.get(dut.desc.ready))
            kw += bool(word_on and ctx.get(dut.words.ready))
            await ctx.tick()
            if len(got) == len(expected) and (dma_cycles is None or cycle >= dma_cycles):
                break
        for _ in range(3):
            await ctx.tick()
        assert ctx.get(dut.idle) and not ctx.get(dut.writing) and not ctx.get(dut.load_out.valid)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert got == expected
    for sent, seen in zip(dma_sent, dma_seen):
        assert Target(seen.target) == sent["target"]
        assert (int(seen.half), int(seen.bank), int(seen.slice), int(seen.addr)) == \
            (sent["half"], sent["bank"], sent["slice"], sent["addr"])
        assert [int(v) for v in seen.data] == sent["data"]


def test_act_writer_throughput_and_writing():
    """Without load DMA beats a word a cycle, each on ``load_out`` ``LATENCY`` cycles after
    it was taken; ``writing`` names the descriptor's half from its acceptance to its last
    beat, ``idle`` the rest."""
    act = {"half": 1, "cols": 5, "blocks": 3, "row_pitch": 6, "block0": 1, "group": 2,
           "pixels": 10}
    words = _words(random.Random(0), act)
    dut = ActWriter(PE, ADDR_BITS)
    log = []

    async def bench(ctx):
        ctx.set(dut.desc.payload, act)
        ctx.set(dut.desc.valid, 1)
        await ctx.tick()
        ctx.set(dut.desc.valid, 0)
        assert ctx.get(dut.writing) == 0b10 and not ctx.get(dut.idle)
        for k, w in enumerate(words):
            ctx.set(dut.words.payload, w)
            ctx.set(dut.words.valid, 1)
            assert ctx.get(dut.words.ready)
            log.append(("in", k))
            await ctx.tick()
            if ctx.get(dut.load_out.valid):
                log.append(("out", k))
        ctx.set(dut.words.valid, 0)
        assert ctx.get(dut.writing) == 0b10  # the last beat is on load_out
        await ctx.tick()
        assert ctx.get(dut.writing) == 0 and ctx.get(dut.idle)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert ActWriter.LATENCY == 1
    assert log == [x for k in range(len(words)) for x in (("in", k), ("out", k))]


@pytest.mark.parametrize("p_idle, p_stall, seed", [(0.0, 0.0, 1), (0.3, 0.0, 2), (0.0, 0.5, 3),
                                                    (0.3, 0.5, 4)])
def test_store_router(p_idle, p_stall, seed):
    """Descriptors reach their destination in order (the whole store descriptor to the
    store DMA, its ``act`` fields to the writer), each tile's words reach its descriptor's
    destination in order and never before that descriptor, and the router is idle at the
    end. Random pauses on every input and output."""
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
        return tuple(act[k] for k in ("half", "cols", "blocks", "row_pitch", "block0", "group",
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
                            "half", "cols", "blocks", "row_pitch", "block0", "group", "pixels")),
                            len(out["act_desc"])))
                    else:
                        tag = len(out["dma_desc" if name == "dma_store" else "act_desc"])
                        out[name].append((_packed([int(v) for v in p.data]), int(p.last), tag))
            kd += bool(desc_on and ctx.get(dut.desc.ready))
            kw += bool(word_on and ctx.get(dut.store.ready))
            await ctx.tick()
            if kw == len(words) and kd == len(tiles):
                break
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
