"""The pixel buffer between the depthwise and pointwise stages: a circular buffer of runs.

A *run* is the sequence of words the pointwise array consumes together: the ``blocks_in``
channel blocks of one pixel (fused and pointwise modes) or the pixels of one channel
block (pooling). The window sequencer reserves a word of space for every request it
issues, the depthwise stage writes the words in order, and the pointwise stage reads
a complete run as many times as it has output blocks, then releases it.

Capacity is two of the longest runs plus the ``slack`` of words in flight, the depth of
the pipeline from the window sequencer to the write port (``hw.engine`` derives it from
the stages' declared latencies): then the words issued after the run that the array will read next
prove that run was issued more than a pipeline depth ago, so it is complete when the
array needs it. The depthwise stage never starves the array (its rate, one word a
cycle, is at least the array's, one run per ``blocks_out`` x run-length cycles).

The memory is a ``hw.bram.BlockRam`` read in two stages (on ECP5 the DP16KD's output
register: its clock-to-out stays off the route to the multipliers), at a read pointer
that is a register (the reader steps it: next word, back to the run's first word, on to
the next run), so no adder or wrap-around sits in front of the block RAM's address.
Its write port has no write registers: the depthwise stage's output is registered
already, and a run's last word must be readable the cycle ``r_full`` shows it.
"""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from model.numerics import ACT_BITS

from .bram import BlockRam
from .config import ceil_log2

__all__ = ["PixelBuffer", "pixel_word_layout"]


def pixel_word_layout(pe):
    """A word written into the buffer: ``data`` (pe x int8) and whether it ends its run."""
    return data.StructLayout({"data": data.ArrayLayout(signed(ACT_BITS), pe), "run_end": 1})


class PixelBuffer(wiring.Component):
    """A circular buffer of ``2 * max_run + slack`` words with run-level handshakes.

    Parameters
    ----------
    pe : int
    max_run : int
        The longest run (``AcceleratorConfig.bank["pixel"].depth``).
    slack : int
        Words of room beyond two runs: the words the sequencer can have reserved that are
        still in the pipeline before the write port.

    Members
    -------
    space : Out(1)
        A word can be reserved: a register (``reserved < capacity`` computed a cycle ahead,
        no cycle of lag), so the sequencer's request valid is one LUT from registers.
    reserve : In(1)
        Pulse: the sequencer issued a request whose word will arrive.
    w_stream : In(stream.Signature(pixel_word_layout(pe)))
        The words, in order; always ready.
    r_full : Out(1)
        The oldest unreleased run is complete: a register, computed a cycle ahead
        from the registered end of a run (:attr:`HANDOVER_LATENCY`).
    r_en : In(1)
        The memory reads the word at the read pointer at an edge where it is high; the
        pointer starts at the oldest run's first word.
    r_oe : In(1)
        The word read enters ``r_data`` at an edge where it is high (the block RAM's
        output register: the reader's next stage advances).
    r_data : Out(ArrayLayout(signed(8), pe))
        Two stages after the pointer (as ``BlockRam``); not reset.
    advance : In(1)
        Pulse: the pointer steps to the run's next word.
    rewind : In(1)
        Pulse: the pointer goes back to the oldest run's first word.
    run_len : In(run offset bits + 1)
    release : In(1)
        Pulse, at the run's last word: the reader is done with the oldest run
        (``run_len`` words); the pointer steps to the next run's first word.
    """

    #: Cycles from a run's last word being written to ``r_full`` showing it: the word's
    #: ``run_end`` into a register (``finished``), then the count of complete runs.
    HANDOVER_LATENCY = 2

    def __init__(self, pe, max_run, slack):
        self._pe, self._max_run = pe, max_run
        self._capacity = 2 * max_run + slack
        run_bits = ceil_log2(max_run + 1)
        super().__init__({
            "space": Out(1, init=1),
            "reserve": In(1),
            "w_stream": In(stream.Signature(pixel_word_layout(pe))),
            "r_full": Out(1),
            "r_en": In(1),
            "r_oe": In(1),
            "advance": In(1),
            "rewind": In(1),
            "r_data": Out(data.ArrayLayout(signed(ACT_BITS), pe)),
            "run_len": In(run_bits + 1),
            "release": In(1),
        })

    @property
    def capacity(self):
        return self._capacity

    def elaborate(self, platform):
        m = Module()
        cap = self._capacity
        addr_bits = ceil_log2(cap)
        ram = m.submodules.mem = BlockRam(self._pe * ACT_BITS, cap, write_registers=False)

        def step(pointer):
            """The next word of the circular buffer."""
            return Mux(pointer == cap - 1, 0, pointer + 1)

        reserved = Signal(range(cap + 1))
        complete_runs = Signal(range(cap + 1))
        write_ptr = Signal(addr_bits)
        run_start = Signal(addr_bits)
        read_ptr = Signal(addr_bits)  # run_start + the reader's word within the run

        m.d.comb += [
            self.w_stream.ready.eq(1),
        ]

        m.d.comb += [ram.w_addr.eq(write_ptr), ram.w_data.eq(self.w_stream.payload.data),
                     ram.w_en.eq(self.w_stream.valid)]
        with m.If(self.w_stream.valid):
            m.d.sync += write_ptr.eq(step(write_ptr))

        m.d.comb += [ram.r_addr.eq(read_ptr), ram.r_en.eq(self.r_en), ram.r_oe.eq(self.r_oe),
                     self.r_data.eq(ram.r_data)]
        # At the run's last word the next run starts at the next word.
        with m.If(self.advance | self.release):
            m.d.sync += read_ptr.eq(step(read_ptr))
        with m.Elif(self.rewind):
            m.d.sync += read_ptr.eq(run_start)

        # Both sums computed, ``release`` (the end of the pointwise stage's ready chain)
        # only in the last LUT: with it in front of the carry chain, the store side's
        # backpressure through the pointwise stage into this counter was the whole
        # design's critical path (timing step 5).
        # ``reserve`` (the sequencer's handshake) is in the last LUT too: in front of both
        # carry chains, from the sequencer's ``busy`` through them into this counter was
        # pe 4's path at both seeds once the depthwise handshake behind the sequencer was
        # a constant (timing step 25, 8.20 ns, from CHIP_WIDE_PE lanes), and pe 4's at
        # seed 2 with the clock on a global network (timing step 27, 8.09 ns, all pe).
        freed = reserved - self.run_len
        m.d.sync += reserved.eq(Mux(self.release, Mux(self.reserve, freed + 1, freed),
                                    Mux(self.reserve, reserved + 1, reserved)))
        # space is ``reserved < cap`` of the next cycle, with ``reserve`` (the end of the
        # sequencer's handshake) only in the last LUT: a release (at least one word, all
        # of them reserved) always leaves room, as a reservation was made only with room.
        m.d.sync += self.space.eq(self.release | Mux(self.reserve, reserved < cap - 1, reserved < cap))
        # A run's end into a register of its own first: the depthwise stage's output
        # register, a route and this LUT straight into ``complete_runs``' carry chains was
        # pe 4's critical path with the reset on a global network (seed 4, 8.18 ns); the
        # chains now start from a register beside them. One cycle of the handover.
        finished = Signal()
        m.d.sync += finished.eq(self.w_stream.valid & self.w_stream.payload.run_end)
        # As ``reserved``: both sums computed, ``release`` in the last LUT.
        m.d.sync += complete_runs.eq(Mux(self.release, complete_runs + finished - 1,
                                         complete_runs + finished))
        # r_full is ``complete_runs != 0`` of the next cycle, with ``finished`` and
        # ``release`` only in the last LUT (a release takes a complete run).
        m.d.sync += self.r_full.eq(Mux(self.release, (complete_runs >= 2) | finished,
                                       (complete_runs != 0) | finished))
        with m.If(self.release):
            m.d.sync += run_start.eq(step(read_ptr))
        return m
