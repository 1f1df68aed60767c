"""The store DMA: the engine's output words -> AXI4 write bursts.

A descriptor (one per tile) is ``segments`` runs of ``seg_beats`` beats, ``pitch`` bytes
apart: one run for a tile that covers all output channels (its rows are contiguous in
the ``H x W x C`` map), one per pixel for a tile of a group of output channel blocks.
The address side hands the runs, one a cycle, to the burst cutter (``hw.bursts``: at
most 256 beats, never across 4 KiB, one burst a cycle) and issues its bursts on AW from
a register, queueing each burst's length for the data side: a descriptor accepted in
cycle ``t`` has its first AW valid in cycle ``t + AW_LATENCY``, and the address side runs
ahead of the data by up to ``OUTSTANDING_WRITES`` bursts. The data side sends every
output word as ``pe / beat bytes`` beats and marks each burst's last. Write responses
are counted; the DMA is idle when every burst issued has been acknowledged. AWID is 0; a
write response with another BID or a BRESP other than OKAY sets ``error`` (sticky until
``clear``).
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from .axi import (AXI_ADDR_BITS, AXI_ID_BITS, BURST_INCR, CACHE_MODIFIABLE, RESP_OKAY,
                  axi4_write_signature)
from .bursts import BurstSplitter
from .instruction import SEGMENT_BITS, store_desc_layout
from .pw_stage import store_layout
from .skid import SKID_HELD, skid_input

__all__ = ["StoreDma"]

#: Write bursts whose data may be pending; the address side runs ahead by this much.
OUTSTANDING_WRITES = 8


class StoreDma(wiring.Component):
    """Members
    -------
    desc : In(stream.Signature(store_desc_layout()))
    store : In(stream.Signature(store_layout(pe)))
    axi : Out(axi4_write_signature(data_bits))
    idle : Out(1)
        No descriptor in progress and every write acknowledged.
    error : Out(1)
        Set by a write response whose BRESP is not OKAY or whose BID is not 0; held until
        ``clear``.
    clear : In(1)
    """

    #: Cycles from a descriptor's acceptance to its first AW ``valid``: the run register,
    #: the burst cutter's two stages, the AW register.
    AW_LATENCY = 1 + BurstSplitter.LATENCY + 1
    #: Output words the DMA holds while W is stalled beyond the one on W (its skid
    #: register; ``model.cost.store_slack``).
    HELD = SKID_HELD

    def __init__(self, pe: int, data_bits: int, id_bits: int = AXI_ID_BITS):
        if data_bits > 8 * pe or (8 * pe) % data_bits:
            raise ValueError(f"a DDR beat ({data_bits} bits) must divide an output word of "
                             f"pe bytes ({8 * pe} bits)")
        self._pe, self._data_bits = pe, data_bits
        super().__init__({
            "desc": In(stream.Signature(store_desc_layout())),
            "store": In(stream.Signature(store_layout(pe))),
            "axi": Out(axi4_write_signature(data_bits, id_bits=id_bits)),
            "idle": Out(1),
            "error": Out(1),
            "clear": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        axi = self.axi
        beat_bytes = self._data_bits // 8
        beats_per_word = self._pe // beat_bytes
        lengths = m.submodules.lengths = SyncFIFOBuffered(width=8, depth=OUTSTANDING_WRITES)
        m.d.comb += [
            axi.awsize.eq(beat_bytes.bit_length() - 1), axi.awburst.eq(BURST_INCR),
            axi.awcache.eq(CACHE_MODIFIABLE), axi.awprot.eq(0),
            axi.wstrb.eq(-1), axi.bready.eq(1), axi.awid.eq(0),
        ]

        # -- address side: the descriptor's runs, cut into bursts -----------------------
        bursts = m.submodules.bursts = BurstSplitter(beat_bytes, SEGMENT_BITS)
        active = Signal()  # runs left to hand to the burst cutter
        seg_addr = Signal(AXI_ADDR_BITS)  # start of the next run
        segments = Signal(SEGMENT_BITS)  # runs left after the next one
        seg_beats = Signal(SEGMENT_BITS)
        pitch = Signal(SEGMENT_BITS + 8)
        d = self.desc.payload
        m.d.comb += [
            self.desc.ready.eq(~active),
            bursts.run.valid.eq(active),
            bursts.run.payload.addr.eq(seg_addr), bursts.run.payload.beats.eq(seg_beats),
        ]
        with m.If(self.desc.valid & ~active):
            m.d.sync += [active.eq(d.segments != 0), seg_addr.eq(d.addr),
                         segments.eq(d.segments - 1), seg_beats.eq(d.seg_beats),
                         pitch.eq(d.pitch)]
        with m.Elif(bursts.run.valid & bursts.run.ready):
            m.d.sync += [seg_addr.eq(seg_addr + pitch), segments.eq(segments - 1)]
            with m.If(segments == 0):
                m.d.sync += active.eq(0)

        # AW: a register stage after the burst cutter's, where each burst's length is
        # queued for the data side.
        issued = Signal(16)  # bursts issued minus responses received
        m.d.comb += bursts.burst.ready.eq((~axi.awvalid | axi.awready) & lengths.w_rdy)
        issue = bursts.burst.valid & bursts.burst.ready
        m.d.comb += [lengths.w_en.eq(issue),
                     lengths.w_data.eq(bursts.burst.payload.len)]
        with m.If(issue):
            m.d.sync += [axi.awvalid.eq(1), axi.awaddr.eq(bursts.burst.payload.addr),
                         axi.awlen.eq(bursts.burst.payload.len)]
        with m.Elif(axi.awready):
            m.d.sync += axi.awvalid.eq(0)

        # -- data side ----------------------------------------------------------------
        # The engine's words come through a skid register, so that ``store.ready`` is a
        # register: W's ready and the length queue's level no longer reach, through the
        # pointwise stage's stream, the engine's clock enables (the design's critical
        # path after timing step 4). No latency; under a stalled W one word more waits.
        store = skid_input(m, self.store, "store")
        k = Signal(range(max(beats_per_word, 2)))  # beat within the output word
        n = Signal(8)  # beat within the burst
        word = store.payload.data.as_value()
        m.d.comb += [
            axi.wdata.eq(word.word_select(k, self._data_bits) if beats_per_word > 1 else word),
            axi.wvalid.eq(store.valid & lengths.r_rdy),
            axi.wlast.eq(n == lengths.r_data),
            store.ready.eq(axi.wready & lengths.r_rdy & (k == beats_per_word - 1)),
        ]
        with m.If(axi.wvalid & axi.wready):
            if beats_per_word > 1:
                m.d.sync += k.eq(Mux(k == beats_per_word - 1, 0, k + 1))
            with m.If(axi.wlast):
                m.d.comb += lengths.r_en.eq(1)
                m.d.sync += n.eq(0)
            with m.Else():
                m.d.sync += n.eq(n + 1)

        # -- responses ----------------------------------------------------------------
        aw_done = axi.awvalid & axi.awready
        b_done = axi.bvalid & axi.bready
        with m.If(aw_done & ~b_done):
            m.d.sync += issued.eq(issued + 1)
        with m.Elif(b_done & ~aw_done):
            m.d.sync += issued.eq(issued - 1)
        with m.If(self.clear):
            m.d.sync += self.error.eq(0)
        with m.Elif(b_done & ((axi.bresp != RESP_OKAY) | (axi.bid != 0))):
            m.d.sync += self.error.eq(1)
        # (``store.ready`` is low while a word waits in the skid register.)
        m.d.comb += self.idle.eq(~active & ~self.desc.valid & bursts.idle & ~axi.awvalid
                                 & ~lengths.r_rdy & (issued == 0) & self.store.ready)
        return m
