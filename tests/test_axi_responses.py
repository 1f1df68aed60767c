"""The AXI4 master checks its responses (Amaranth's simulator): an R beat or a write
response that is not OKAY, or carries an ID other than the 0 the core drives, sets the
read port's or the store DMA's sticky error, which the registers show as STATUS.error
until the next start."""

import pytest
from amaranth.sim import Simulator

from hw.axi import RESP_OKAY
from hw.read_port import ReadPort
from hw.regs import REGISTERS, STATUS_ERROR, Registers, info_word
from hw.store_dma import StoreDma

SLVERR, DECERR = 2, 3


def simulate(dut, bench):
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("rresp, rid, error", [
    (RESP_OKAY, 0, 0), (SLVERR, 0, 1), (DECERR, 0, 1), (RESP_OKAY, 1, 1), (RESP_OKAY, 2, 1),
])
def test_read_port_flags_bad_responses(rresp, rid, error):
    dut = ReadPort(32, id_bits=2)
    seen = {}

    async def bench(ctx):
        axi = dut.axi
        assert ctx.get(axi.arid) == 0
        ctx.set(dut.fetch_req.valid, 1)
        ctx.set(dut.fetch_req.payload, {"addr": 0x40, "len": 1})
        await ctx.tick()
        ctx.set(dut.fetch_req.valid, 0)
        ctx.set(axi.arready, 1)
        await ctx.tick()
        assert ctx.get(axi.arid) == 0
        ctx.set(dut.fetch_r.ready, 1)
        # Two beats: the first good, the second with the response under test.
        for beat, (resp, ident, last) in enumerate([(RESP_OKAY, 0, 0), (rresp, rid, 1)]):
            ctx.set(axi.rvalid, 1)
            ctx.set(axi.rdata, 100 + beat)
            ctx.set(axi.rresp, resp)
            ctx.set(axi.rid, ident)
            ctx.set(axi.rlast, last)
            assert ctx.get(axi.rready) and ctx.get(dut.fetch_r.valid)
            assert ctx.get(dut.fetch_r.payload) == 100 + beat  # delivered as usual
            await ctx.tick()
            assert ctx.get(dut.error) == (error if beat == 1 else 0)
        ctx.set(axi.rvalid, 0)
        await ctx.tick().repeat(3)
        seen["held"] = ctx.get(dut.error)
        ctx.set(dut.clear, 1)
        await ctx.tick()
        ctx.set(dut.clear, 0)
        seen["cleared"] = ctx.get(dut.error)

    simulate(dut, bench)
    assert seen == {"held": error, "cleared": 0}


@pytest.mark.parametrize("bresp, bid, error", [
    (RESP_OKAY, 0, 0), (SLVERR, 0, 1), (DECERR, 0, 1), (RESP_OKAY, 1, 1),
])
def test_store_dma_flags_bad_write_responses(bresp, bid, error):
    dut = StoreDma(4, 32, id_bits=1)
    seen = {}

    async def bench(ctx):
        axi = dut.axi
        assert ctx.get(axi.awid) == 0 and ctx.get(axi.bready)
        ctx.set(axi.bvalid, 1)
        ctx.set(axi.bresp, bresp)
        ctx.set(axi.bid, bid)
        await ctx.tick()
        ctx.set(axi.bvalid, 0)
        await ctx.tick().repeat(2)
        seen["held"] = ctx.get(dut.error)
        ctx.set(dut.clear, 1)
        await ctx.tick()
        seen["cleared"] = ctx.get(dut.error)

    simulate(dut, bench)
    assert seen == {"held": error, "cleared": 0}


def test_status_shows_error():
    dut = Registers(info_word(4, 4))
    seen = []

    async def bench(ctx):
        bus = dut.axil
        ctx.set(bus.rready, 1)
        for error in (0, 1):
            ctx.set(dut.error, error)
            ctx.set(bus.araddr, REGISTERS["STATUS"])
            ctx.set(bus.arvalid, 1)
            await ctx.tick()
            ctx.set(bus.arvalid, 0)
            assert ctx.get(bus.rvalid)
            seen.append(ctx.get(bus.rdata) & STATUS_ERROR)
            await ctx.tick()

    simulate(dut, bench)
    assert seen == [0, STATUS_ERROR]
