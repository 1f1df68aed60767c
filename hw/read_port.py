"""The AXI4 read side shared by the instruction fetch and the load DMA.

Each requester sends bursts (address, beats - 1) that already respect AXI4's limits (at
most 256 beats, not across a 4 KiB boundary). The port issues them on AR, instruction
fetch first, remembers in issue order whose each burst is (one ID: data returns in
order), and routes the R beats back. At most ``outstanding`` bursts are in flight.
"""

from amaranth.hdl import Module, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from .axi import AXI_ADDR_BITS, BURST_INCR, CACHE_MODIFIABLE, axi4_read_signature

__all__ = ["ReadPort", "burst_layout", "OUTSTANDING_READS"]

#: Read bursts in flight: enough to cover the DDR latency with bursts of a few beats.
OUTSTANDING_READS = 8


def burst_layout():
    return data.StructLayout({"addr": unsigned(AXI_ADDR_BITS), "len": unsigned(8)})


class ReadPort(wiring.Component):
    """Members
    -------
    axi : Out(axi4_read_signature(data_bits))
    fetch_req, load_req : In(stream.Signature(burst_layout()))
    fetch_r, load_r : Out(stream.Signature(data_bits))
        The beats of each requester's bursts, in order.
    """

    def __init__(self, data_bits: int, outstanding: int = OUTSTANDING_READS):
        self._data_bits, self._outstanding = data_bits, outstanding
        super().__init__({
            "axi": Out(axi4_read_signature(data_bits)),
            "fetch_req": In(stream.Signature(burst_layout())),
            "load_req": In(stream.Signature(burst_layout())),
            "fetch_r": Out(stream.Signature(data_bits)),
            "load_r": Out(stream.Signature(data_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        axi = self.axi
        route = m.submodules.route = SyncFIFOBuffered(width=1, depth=self._outstanding)

        m.d.comb += [
            axi.arsize.eq((self._data_bits // 8).bit_length() - 1),
            axi.arburst.eq(BURST_INCR), axi.arcache.eq(CACHE_MODIFIABLE), axi.arprot.eq(0),
        ]
        # AR: a register stage; fetch has priority (it is short and keeps the queue fed).
        free = ~axi.arvalid | axi.arready
        take_fetch = free & route.w_rdy & self.fetch_req.valid
        take_load = free & route.w_rdy & ~self.fetch_req.valid & self.load_req.valid
        m.d.comb += [
            self.fetch_req.ready.eq(take_fetch),
            self.load_req.ready.eq(take_load),
            route.w_en.eq(take_fetch | take_load),
            route.w_data.eq(take_load),  # 0: fetch, 1: load
        ]
        with m.If(take_fetch):
            m.d.sync += [axi.araddr.eq(self.fetch_req.payload.addr),
                         axi.arlen.eq(self.fetch_req.payload.len), axi.arvalid.eq(1)]
        with m.Elif(take_load):
            m.d.sync += [axi.araddr.eq(self.load_req.payload.addr),
                         axi.arlen.eq(self.load_req.payload.len), axi.arvalid.eq(1)]
        with m.Elif(axi.arready):
            m.d.sync += axi.arvalid.eq(0)

        # R: to whoever issued the oldest burst in flight.
        to_load = route.r_data[0]
        m.d.comb += [
            self.fetch_r.payload.eq(axi.rdata), self.load_r.payload.eq(axi.rdata),
            self.fetch_r.valid.eq(axi.rvalid & route.r_rdy & ~to_load),
            self.load_r.valid.eq(axi.rvalid & route.r_rdy & to_load),
            axi.rready.eq(route.r_rdy & (to_load & self.load_r.ready | ~to_load & self.fetch_r.ready)),
            route.r_en.eq(axi.rvalid & axi.rready & axi.rlast),
        ]
        return m
