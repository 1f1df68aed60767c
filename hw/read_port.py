"""The AXI4 read side shared by the instruction fetch and the load DMA.

Each requester sends bursts (address, beats - 1) that already respect AXI4's limits (at
most 256 beats, not across a 4 KiB boundary). The port issues them on AR, instruction
fetch first, remembers in issue order whose each burst is (one ID: data returns in
order), and routes the R beats back. At most ``outstanding`` bursts are in flight.
ARID is 0; an R beat with another RID or a response other than OKAY sets ``error``
(sticky until ``clear``); the beat is delivered as usual.
"""

from amaranth.hdl import Module, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from .axi import (AXI_ADDR_BITS, AXI_ID_BITS, BURST_INCR, CACHE_MODIFIABLE, RESP_OKAY,
                  axi4_read_signature)

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
    error : Out(1)
        Set by an R beat whose RRESP is not OKAY or whose RID is not 0; held until ``clear``.
    clear : In(1)
    """

    def __init__(self, data_bits: int, outstanding: int = OUTSTANDING_READS,
                 id_bits: int = AXI_ID_BITS):
        self._data_bits, self._outstanding = data_bits, outstanding
        super().__init__({
            "axi": Out(axi4_read_signature(data_bits, id_bits=id_bits)),
            "fetch_req": In(stream.Signature(burst_layout())),
            "load_req": In(stream.Signature(burst_layout())),
            "fetch_r": Out(stream.Signature(data_bits)),
            "load_r": Out(stream.Signature(data_bits)),
            "error": Out(1),
            "clear": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        axi = self.axi
        route = m.submodules.route = SyncFIFOBuffered(width=1, depth=self._outstanding)

        m.d.comb += [
            axi.arsize.eq((self._data_bits // 8).bit_length() - 1),
            axi.arburst.eq(BURST_INCR), axi.arcache.eq(CACHE_MODIFIABLE), axi.arprot.eq(0),
            axi.arid.eq(0),
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
        with m.If(self.clear):
            m.d.sync += self.error.eq(0)
        with m.Elif(axi.rvalid & axi.rready & ((axi.rresp != RESP_OKAY) | (axi.rid != 0))):
            m.d.sync += self.error.eq(1)
        return m
