"""The load DMA: LOAD descriptors -> AXI4 read bursts -> load-stream beats into SRAM.

The burst side takes a descriptor as one run of beats and cuts it into bursts of at most
256 beats that do not cross a 4 KiB boundary (``hw.bursts``), one a cycle, as far ahead of
the data as the read port allows: a descriptor accepted in cycle ``t`` requests its first
burst in cycle ``t + REQUEST_LATENCY``, and the next descriptor enters as soon as the
burst cutter's first stage is free. The data side takes the descriptor from a queue when
its first beat arrives, gathers ``pe`` bytes (``pe / beat bytes`` beats) into one slice,
and writes it to slice ``s`` of word ``w`` of the target buffer. Activation words go to
the sub-bank and address of their pixel (``hw.act_buffer``), from incremental counters:
channel block, column mod 3, row mod 3.

An activation descriptor with ``image`` set loads conv1's input from the compact image
(``IMAGE_PIXEL_BYTES`` = 4 bytes a pixel in DDR, channels in the low bytes): every DDR
beat holds ``data_bits / 32`` pixels, and each pixel becomes one activation word (its
bytes in lanes 0..3, the other lanes 0), one word a cycle. The beat waits in a register
of its own while its pixels are written (:attr:`UNPACK_LATENCY`), and the next beat is
taken in the cycle its last pixel is: the DDR's reads run at up to 4 bytes a cycle into
the buffer's one write port, and alone (no writes to share the DDR with) at
``min(bandwidth, 4)`` bytes a cycle.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from .act_buffer import ActLayoutWalk
from .bursts import BurstSplitter
from .conv_gather import IMAGE_PIXEL_BYTES
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

    #: Cycles from a descriptor's acceptance to its first burst request's ``valid``
    #: (the burst cutter's two stages, ``hw.bursts.BurstSplitter``).
    REQUEST_LATENCY = BurstSplitter.LATENCY
    #: Cycles an image load's words come after the beats they are in: the beat register.
    UNPACK_LATENCY = 1

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
        pixels_per_beat = beat_bytes // IMAGE_PIXEL_BYTES
        queue = m.submodules.queue = SyncFIFOBuffered(width=load_desc_layout().size, depth=4)

        # -- burst side: the descriptor as one run of beats, cut into bursts -------------
        bursts = m.submodules.bursts = BurstSplitter(beat_bytes, WORD_COUNT_BITS + 8)
        d = self.desc.payload
        slices = Signal(WORD_COUNT_BITS + 4)
        with m.Switch(d.target):
            for target in Target:
                with m.Case(target):
                    m.d.comb += slices.eq(times_constant(d.words, slices_per_word(target, pe)))
        accept = self.desc.valid & bursts.run.ready & queue.w_rdy
        m.d.comb += [
            self.desc.ready.eq(accept), queue.w_en.eq(accept), queue.w_data.eq(d),
            bursts.run.valid.eq(self.desc.valid & queue.w_rdy),
            bursts.run.payload.addr.eq(d.addr),
            bursts.run.payload.beats.eq(Mux(d.image, d.words >> (pixels_per_beat.bit_length() - 1),
                                            times_constant(slices, beats_per_slice))),
        ]
        wiring.connect(m, bursts.burst, wiring.flipped(self.req))

        # -- data side ------------------------------------------------------------------
        # The descriptor being written, with its counters' last values beside it (loaded
        # with it, so that every end-of-count test is an equality of registers, not a
        # subtraction and a comparison).
        cur = Signal(load_desc_layout())
        active = Signal()
        # an activation word's place: the layout walk, from the band's base
        walk = ActLayoutWalk(self._addr_bits)
        last_s = Signal(range(max(pe, 9)))  # slices per word - 1
        last_word = Signal(WORD_COUNT_BITS)
        last_ib = Signal(12)
        last_col = Signal(12)
        head = Signal(load_desc_layout())
        m.d.comb += head.eq(queue.r_data)
        with m.If(~active & queue.r_rdy):
            m.d.comb += queue.r_en.eq(1)
            m.d.sync += [cur.eq(head), active.eq(1), last_word.eq(head.words - 1),
                         last_ib.eq(head.blocks - 1), last_col.eq(head.cols - 1),
                         *walk.restart(head.base)]
            with m.Switch(head.target):
                for target in Target:
                    with m.Case(target):
                        m.d.sync += last_s.eq(slices_per_word(target, pe) - 1)
        m.d.comb += self.idle.eq(~active & ~queue.r_rdy & bursts.idle)

        sub = Signal(range(max(beats_per_slice, 2)))  # beat within the slice
        data = Signal(8 * pe)
        if beats_per_slice == 1:
            m.d.comb += data.eq(self.r.payload)
        else:
            shift = Signal(8 * pe)
            m.d.comb += data.eq(self.r.payload << (8 * pe - self._data_bits)
                                | shift >> self._data_bits)
            with m.If(self.r.valid & self.r.ready & ~cur.image):
                m.d.sync += [shift.eq(data),
                             sub.eq(Mux(sub == beats_per_slice - 1, 0, sub + 1))]

        # The image: a beat in ``held`` while its pixels become words, one a cycle; the
        # next beat is taken when the register is empty or gives its last pixel, until
        # the descriptor's last beat is in (``beats_in``).
        held = Signal(self._data_bits)
        held_valid = Signal()
        pixel = Signal(range(max(pixels_per_beat, 2)))
        held_last = pixel == pixels_per_beat - 1
        beats_left = Signal(WORD_COUNT_BITS)
        beats_in = Signal()  # the descriptor's last beat is in
        image_ready = active & ~beats_in & (~held_valid | held_last)
        image_word = Signal(8 * pe)
        m.d.comb += image_word.eq(held.word_select(pixel, 8 * IMAGE_PIXEL_BYTES))
        with m.If(~active & queue.r_rdy):
            m.d.sync += [beats_left.eq(head.words >> (pixels_per_beat.bit_length() - 1)),
                         beats_in.eq(0)]
        with m.If(active & cur.image & held_valid):
            m.d.sync += pixel.eq(Mux(held_last, 0, pixel + 1))
            with m.If(held_last):
                m.d.sync += held_valid.eq(0)
        with m.If(self.r.valid & self.r.ready & cur.image):
            m.d.sync += [held.eq(self.r.payload), held_valid.eq(1),
                         beats_left.eq(beats_left - 1), beats_in.eq(beats_left == 1)]
        m.d.comb += self.r.ready.eq(Mux(cur.image, image_ready, active))

        # position of the next slice; an activation word's place from the layout walk
        s = Signal(range(max(pe, 9)))
        word = Signal(WORD_COUNT_BITS)
        is_act = cur.target == Target.ACT
        slice_done = Mux(cur.image, active & held_valid,
                         active & self.r.valid & (sub == beats_per_slice - 1))
        last_slice = (word == last_word) & (s == last_s)
        m.d.sync += [self.load.valid.eq(slice_done), self.done.eq(slice_done & last_slice)]
        with m.If(slice_done):
            m.d.sync += [
                self.load.payload.target.eq(cur.target),
                self.load.payload.half.eq(cur.half),
                self.load.payload.slice.eq(s),
                self.load.payload.data.eq(Mux(cur.image, image_word, data)),
                self.load.payload.bank.eq(Mux(is_act, walk.bank(), 0)),
                self.load.payload.addr.eq(Mux(is_act, walk.addr(), word)),
            ]
            with m.If(s == last_s):
                m.d.sync += [s.eq(0), word.eq(word + 1)]
            with m.Else():
                m.d.sync += s.eq(s + 1)
            walk.advance(m, last_ib, last_col, cur.row_pitch, cur.blocks)
            with m.If(last_slice):
                m.d.sync += [active.eq(0), s.eq(0), word.eq(0)]
        return m
