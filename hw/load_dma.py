"""The load DMA: LOAD descriptors -> AXI4 read bursts -> load-stream beats into SRAM.

The burst side walks a descriptor's bytes in bursts of at most 256 beats that do not
cross a 4 KiB boundary, as far ahead of the data as the read port allows. The data side
takes the descriptor from a queue when its first beat arrives, gathers ``pe`` bytes
(``pe / beat bytes`` beats) into one slice, and writes it to slice ``s`` of word ``w``
of the target buffer. Activation words go to the sub-bank and address of their pixel
(``hw.act_buffer``), from incremental counters: channel block, column mod 3, row mod 3.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from .axi import AXI_ADDR_BITS, BOUNDARY_BYTES, MAX_BURST_BEATS
from .command import Target, load_layout
from .instruction import WORD_COUNT_BITS, load_desc_layout, slices_per_word
from .products import times_constant
from .read_port import burst_layout

__all__ = ["LoadDma"]


class LoadDma(wiring.Component):
    """Members
    -------
    desc : In(stream.Signature(load_desc_layout()))
    req : Out(stream.Signature(burst_layout()))
    r : In(stream.Signature(data_bits))
    load : Out(stream.Signature(load_layout(pe, addr_bits)))
        To the engine; it is always ready, so ``ready`` is ignored.
    done : Out(1)
        One-cycle pulse when a descriptor's last slice has been written.
    idle : Out(1)
        No descriptor in progress.
    """

    def __init__(self, pe: int, data_bits: int, addr_bits: int):
        if data_bits > 8 * pe or (8 * pe) % data_bits:
            raise ValueError(f"a DDR beat ({data_bits} bits) must divide a slice of pe bytes "
                             f"({8 * pe} bits)")
        self._pe, self._data_bits, self._addr_bits = pe, data_bits, addr_bits
        super().__init__({
            "desc": In(stream.Signature(load_desc_layout())),
            "req": Out(stream.Signature(burst_layout())),
            "r": In(stream.Signature(data_bits)),
            "load": Out(stream.Signature(load_layout(pe, addr_bits))),
            "done": Out(1),
            "idle": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        pe, beat_bytes = self._pe, self._data_bits // 8
        beats_per_slice = pe // beat_bytes
        queue = m.submodules.queue = SyncFIFOBuffered(width=load_desc_layout().size, depth=4)

        # -- burst side ---------------------------------------------------------------
        addr = Signal(AXI_ADDR_BITS)
        left = Signal(WORD_COUNT_BITS + 8)  # beats still to request
        d = self.desc.payload
        slices = Signal(WORD_COUNT_BITS + 4)
        with m.Switch(d.target):
            for target in Target:
                with m.Case(target):
                    m.d.comb += slices.eq(times_constant(d.words, slices_per_word(target, pe)))
        accept = self.desc.valid & (left == 0) & queue.w_rdy
        m.d.comb += [self.desc.ready.eq(accept), queue.w_en.eq(accept), queue.w_data.eq(d)]

        boundary_beats = Signal(range(BOUNDARY_BYTES // beat_bytes + 1))
        burst = Signal(range(MAX_BURST_BEATS + 1))
        m.d.comb += boundary_beats.eq((BOUNDARY_BYTES - addr[:12]) >> (beat_bytes.bit_length() - 1))
        limit = Mux(boundary_beats < MAX_BURST_BEATS, boundary_beats, MAX_BURST_BEATS)
        m.d.comb += [
            burst.eq(Mux(left < limit, left, limit)),
            self.req.valid.eq(left != 0),
            self.req.payload.addr.eq(addr), self.req.payload.len.eq(burst - 1),
        ]
        with m.If(accept):
            m.d.sync += [addr.eq(d.addr), left.eq(times_constant(slices, beats_per_slice))]
        with m.Elif(self.req.valid & self.req.ready):
            m.d.sync += [addr.eq(addr + times_constant(burst, beat_bytes)), left.eq(left - burst)]

        # -- data side ------------------------------------------------------------------
        cur = Signal(load_desc_layout())
        active = Signal()
        with m.If(~active & queue.r_rdy):
            m.d.comb += queue.r_en.eq(1)
            m.d.sync += [cur.eq(queue.r_data), active.eq(1)]
        m.d.comb += self.idle.eq(~active & ~queue.r_rdy & (left == 0))

        per_word = Signal(range(max(pe, 9) + 1))
        with m.Switch(cur.target):
            for target in Target:
                with m.Case(target):
                    m.d.comb += per_word.eq(slices_per_word(target, pe))

        sub = Signal(range(max(beats_per_slice, 2)))  # beat within the slice
        data = Signal(8 * pe)
        if beats_per_slice == 1:
            m.d.comb += data.eq(self.r.payload)
        else:
            shift = Signal(8 * pe)
            m.d.comb += data.eq(self.r.payload << (8 * pe - self._data_bits)
                                | shift >> self._data_bits)
            with m.If(self.r.valid & self.r.ready):
                m.d.sync += [shift.eq(data),
                             sub.eq(Mux(sub == beats_per_slice - 1, 0, sub + 1))]
        m.d.comb += self.r.ready.eq(active)

        # position of the next slice
        s = Signal(range(max(pe, 9)))
        word = Signal(WORD_COUNT_BITS)
        ib = Signal(12)
        col = Signal(12)
        c3 = Signal(2)
        r3 = Signal(2)
        col_base = Signal(self._addr_bits + 1)
        row_base = Signal(self._addr_bits + 1)
        is_act = cur.target == Target.ACT

        slice_done = active & self.r.valid & (sub == beats_per_slice - 1)
        last_slice = (word == cur.words - 1) & (s == per_word - 1)
        m.d.sync += [self.load.valid.eq(slice_done), self.done.eq(slice_done & last_slice)]
        with m.If(slice_done):
            m.d.sync += [
                self.load.payload.target.eq(cur.target),
                self.load.payload.half.eq(cur.half),
                self.load.payload.slice.eq(s),
                self.load.payload.data.eq(data),
                self.load.payload.bank.eq(Mux(is_act, times_constant(r3, 3) + c3, 0)),
                self.load.payload.addr.eq(Mux(is_act, row_base + col_base + ib, word)),
            ]
            with m.If(s == per_word - 1):
                m.d.sync += [s.eq(0), word.eq(word + 1)]
            with m.Else():
                m.d.sync += s.eq(s + 1)
            # activation counters: channel block, then column, then row
            with m.If(ib == cur.blocks - 1):
                m.d.sync += ib.eq(0)
                with m.If(col == cur.cols - 1):
                    m.d.sync += [col.eq(0), c3.eq(0), col_base.eq(0)]
                    with m.If(r3 == 2):
                        m.d.sync += [r3.eq(0), row_base.eq(row_base + cur.row_pitch)]
                    with m.Else():
                        m.d.sync += r3.eq(r3 + 1)
                with m.Else():
                    m.d.sync += col.eq(col + 1)
                    with m.If(c3 == 2):
                        m.d.sync += [c3.eq(0), col_base.eq(col_base + cur.blocks)]
                    with m.Else():
                        m.d.sync += c3.eq(c3 + 1)
            with m.Else():
                m.d.sync += ib.eq(ib + 1)
            with m.If(last_slice):
                m.d.sync += [active.eq(0), s.eq(0), word.eq(0), ib.eq(0), col.eq(0), c3.eq(0),
                             r3.eq(0), col_base.eq(0), row_base.eq(0)]
        return m
