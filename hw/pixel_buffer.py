"""The pixel buffer between the depthwise and pointwise stages (ping-pong by run).

A *run* is the sequence of words the pointwise array consumes together: the ``blocks_in``
channel blocks of one pixel (fused and pointwise modes) or the pixels of one channel
block (pooling). The window sequencer claims a half before it issues a run, the
depthwise stage writes the run into it, the pointwise stage reads it as many times as
it has output blocks and then releases it. With two halves the depthwise stage works
one run ahead of the pointwise array.
"""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from model.numerics import ACT_BITS

from .config import ceil_log2

__all__ = ["PixelBuffer", "pixel_word_layout"]


def pixel_word_layout(pe):
    """A word written into the buffer: ``data`` (pe x int8) and whether it ends its run."""
    return data.StructLayout({"data": data.ArrayLayout(signed(ACT_BITS), pe), "run_end": 1})


class PixelBuffer(wiring.Component):
    """Two halves of ``depth`` words with claim / full / release handshakes.

    Members
    -------
    claim_free : Out(1)
        The half the next run will go into is free.
    claim : In(1)
        Pulse: the sequencer takes that half.
    w_stream : In(stream.Signature(pixel_word_layout(pe)))
        Words of the run, in order; always ready.
    r_full : Out(1)
        The half the reader is on holds a complete run.
    r_addr : In(addr bits)
    r_en : In(1)
    r_data : Out(ArrayLayout(signed(8), pe))
        Word ``r_addr`` of the reader's half, one cycle after the address.
    release : In(1)
        Pulse: the reader is done with its half (its last read has been issued).
    """

    def __init__(self, pe, depth):
        self._pe, self._depth = pe, depth
        super().__init__({
            "claim_free": Out(1),
            "claim": In(1),
            "w_stream": In(stream.Signature(pixel_word_layout(pe))),
            "r_full": Out(1),
            "r_addr": In(ceil_log2(depth)),
            "r_en": In(1),
            "r_data": Out(data.ArrayLayout(signed(ACT_BITS), pe)),
            "release": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        depth = self._depth
        mem = m.submodules.mem = Memory(shape=data.ArrayLayout(signed(ACT_BITS), self._pe),
                                        depth=2 * depth, init=[])
        claim_half, write_half, read_half = Signal(), Signal(), Signal()
        claimed, full = Signal(2), Signal(2)
        write_index = Signal(ceil_log2(depth))

        m.d.comb += [
            self.claim_free.eq(~claimed.bit_select(claim_half, 1)),
            self.r_full.eq(full.bit_select(read_half, 1)),
            self.w_stream.ready.eq(1),
        ]

        wr = mem.write_port()
        m.d.comb += [
            wr.addr.eq(write_half * depth + write_index),
            wr.data.eq(self.w_stream.payload.data),
            wr.en.eq(self.w_stream.valid),
        ]
        rd = mem.read_port()
        m.d.comb += [rd.addr.eq(read_half * depth + self.r_addr), rd.en.eq(self.r_en),
                     self.r_data.eq(rd.data)]

        set_claimed, set_full, clear = Signal(2), Signal(2), Signal(2)
        with m.If(self.claim):
            m.d.comb += set_claimed.eq(1 << claim_half)
            m.d.sync += claim_half.eq(~claim_half)
        with m.If(self.w_stream.valid):
            with m.If(self.w_stream.payload.run_end):
                m.d.comb += set_full.eq(1 << write_half)
                m.d.sync += [write_half.eq(~write_half), write_index.eq(0)]
            with m.Else():
                m.d.sync += write_index.eq(write_index + 1)
        with m.If(self.release):
            m.d.comb += clear.eq(1 << read_half)
            m.d.sync += read_half.eq(~read_half)
        m.d.sync += [
            claimed.eq((claimed | set_claimed) & ~clear),
            full.eq((full | set_full) & ~clear),
        ]
        return m
