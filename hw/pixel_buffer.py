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
"""

from amaranth.hdl import Module, Mux, Signal, signed
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
        The oldest unreleased run is complete: a register (computed a cycle ahead, so
        the handover's latency is unchanged).
    r_addr : In(run offset bits)
        Word of that run to read.
    r_en : In(1)
    r_data : Out(ArrayLayout(signed(8), pe))
        One cycle after the address.
    run_len : In(run offset bits + 1)
    release : In(1)
        Pulse: the reader is done with the oldest run (``run_len`` words).
    """

    #: Cycles from a run's last word being written to ``r_full`` showing it.
    HANDOVER_LATENCY = 1

    def __init__(self, pe, max_run, slack):
        self._pe, self._max_run = pe, max_run
        self._capacity = 2 * max_run + slack
        run_bits = ceil_log2(max_run + 1)
        super().__init__({
            "space": Out(1, init=1),
            "reserve": In(1),
            "w_stream": In(stream.Signature(pixel_word_layout(pe))),
            "r_full": Out(1),
            "r_addr": In(run_bits),
            "r_en": In(1),
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
        mem = m.submodules.mem = Memory(shape=data.ArrayLayout(signed(ACT_BITS), self._pe),
                                        depth=cap, init=[])

        def wrap(value):
            return Mux(value >= cap, value - cap, value)

        reserved = Signal(range(cap + 1))
        complete_runs = Signal(range(cap + 1))
        write_ptr = Signal(addr_bits)
        run_start = Signal(addr_bits)

        m.d.comb += [
            self.w_stream.ready.eq(1),
        ]

        wr = mem.write_port()
        m.d.comb += [wr.addr.eq(write_ptr), wr.data.eq(self.w_stream.payload.data),
                     wr.en.eq(self.w_stream.valid)]
        with m.If(self.w_stream.valid):
            m.d.sync += write_ptr.eq(wrap(write_ptr + 1))

        rd = mem.read_port()
        m.d.comb += [rd.addr.eq(wrap(run_start + self.r_addr)), rd.en.eq(self.r_en),
                     self.r_data.eq(rd.data)]

        freed = Mux(self.release, self.run_len, 0)
        m.d.sync += reserved.eq(reserved + self.reserve - freed)
        # space is ``reserved < cap`` of the next cycle, with ``reserve`` (the end of the
        # sequencer's handshake) only in the last LUT: a release (at least one word, all
        # of them reserved) always leaves room, as a reservation was made only with room.
        m.d.sync += self.space.eq(self.release | Mux(self.reserve, reserved < cap - 1, reserved < cap))
        finished = self.w_stream.valid & self.w_stream.payload.run_end
        m.d.sync += complete_runs.eq(complete_runs + finished - self.release)
        # r_full is ``complete_runs != 0`` of the next cycle, with ``finished`` and
        # ``release`` only in the last LUT (a release takes a complete run).
        m.d.sync += self.r_full.eq(Mux(self.release, (complete_runs >= 2) | finished,
                                       (complete_runs != 0) | finished))
        with m.If(self.release):
            m.d.sync += run_start.eq(wrap(run_start + self.run_len))
        return m
