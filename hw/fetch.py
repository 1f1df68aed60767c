"""Instruction fetch: reads the program from DDR in bursts into a small queue.

A burst is ``BURST_INSTRUCTIONS`` instructions (256 bytes; the program address must be
256-byte aligned, so no burst crosses a 4 KiB boundary), issued only when the queue has
room for all of it, so the shared R channel never waits on a full queue.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from .axi import AXI_ADDR_BITS
from .instruction import INSTRUCTION_BITS, INSTRUCTION_BYTES
from .read_port import burst_layout

__all__ = ["InstructionFetch", "BURST_INSTRUCTIONS", "PROGRAM_ALIGN"]

BURST_INSTRUCTIONS = 4
QUEUE_DEPTH = 2 * BURST_INSTRUCTIONS
PROGRAM_ALIGN = BURST_INSTRUCTIONS * INSTRUCTION_BYTES
_BURST_LOG2 = BURST_INSTRUCTIONS.bit_length() - 1
assert BURST_INSTRUCTIONS == 1 << _BURST_LOG2  # a burst's size from the count's low bits


class InstructionFetch(wiring.Component):
    """Members
    -------
    start : In(1)
        Begin fetching ``count`` instructions at ``addr`` (drops nothing: the queue is
        empty when a program starts).
    addr : In(32)
    count : In(32)
    req : Out(stream.Signature(burst_layout()))
    r : In(stream.Signature(data_bits))
    instr : Out(stream.Signature(INSTRUCTION_BITS))
    """

    def __init__(self, data_bits: int):
        if INSTRUCTION_BITS % data_bits:
            raise ValueError(f"the DDR data width ({data_bits}) must divide {INSTRUCTION_BITS}")
        self._data_bits = data_bits
        super().__init__({
            "start": In(1), "addr": In(AXI_ADDR_BITS), "count": In(32),
            "req": Out(stream.Signature(burst_layout())),
            "r": In(stream.Signature(data_bits)),
            "instr": Out(stream.Signature(INSTRUCTION_BITS)),
        })

    def elaborate(self, platform):
        m = Module()
        beats = INSTRUCTION_BITS // self._data_bits
        queue = m.submodules.queue = SyncFIFOBuffered(width=INSTRUCTION_BITS, depth=QUEUE_DEPTH)
        m.d.comb += [
            self.instr.payload.eq(queue.r_data), self.instr.valid.eq(queue.r_rdy),
            queue.r_en.eq(self.instr.ready),
        ]

        # The count of instructions still to request, with two flags beside it so that a
        # burst's size is a multiplexer, not a comparison: the next address and the count
        # are one carry chain each.
        next_addr = Signal(AXI_ADDR_BITS)
        remaining = Signal(32)  # instructions not yet requested
        more = Signal()  # remaining != 0
        short = Signal()  # remaining < BURST_INSTRUCTIONS: the next burst is the last
        in_flight = Signal()  # a burst is requested and not all received
        burst = Signal(range(BURST_INSTRUCTIONS + 1))
        room = queue.level <= QUEUE_DEPTH - BURST_INSTRUCTIONS
        m.d.comb += burst.eq(Mux(short, remaining[:_BURST_LOG2], BURST_INSTRUCTIONS))
        m.d.comb += [
            self.req.valid.eq(more & ~in_flight & room),
            self.req.payload.addr.eq(next_addr),
            self.req.payload.len.eq(burst * beats - 1),
        ]
        with m.If(self.start):
            m.d.sync += [next_addr.eq(self.addr), remaining.eq(self.count),
                         more.eq(self.count != 0), short.eq(self.count < BURST_INSTRUCTIONS)]
        with m.Elif(self.req.valid & self.req.ready):
            m.d.sync += [next_addr.eq(next_addr + burst * INSTRUCTION_BYTES), in_flight.eq(1)]
            with m.If(short):
                m.d.sync += [remaining.eq(0), more.eq(0)]
            with m.Else():
                m.d.sync += [remaining.eq(remaining - BURST_INSTRUCTIONS),
                             more.eq(remaining != BURST_INSTRUCTIONS),
                             short.eq(remaining[_BURST_LOG2 + 1:] == 0)]  # < 2 bursts

        # Assemble instructions from beats, lowest bits first.
        shift = Signal(INSTRUCTION_BITS)
        beat = Signal(range(beats))
        pending = Signal(range(BURST_INSTRUCTIONS + 1))  # instructions of the burst to come
        with m.If(self.req.valid & self.req.ready):
            m.d.sync += pending.eq(burst)
        assembled = Signal(INSTRUCTION_BITS)
        if beats == 1:
            m.d.comb += assembled.eq(self.r.payload)
        else:
            m.d.comb += assembled.eq(
                self.r.payload << (INSTRUCTION_BITS - self._data_bits) | shift >> self._data_bits)
        m.d.comb += [self.r.ready.eq(1), queue.w_data.eq(assembled)]
        with m.If(self.r.valid):
            m.d.sync += shift.eq(assembled)
            if beats > 1:
                m.d.sync += beat.eq(_wrap_inc(beat, beats))
            with m.If(beat == beats - 1):
                m.d.comb += queue.w_en.eq(1)
                m.d.sync += pending.eq(pending - 1)
                with m.If(pending == 1):
                    m.d.sync += in_flight.eq(0)
        return m


def _wrap_inc(counter, modulus):
    """``(counter + 1) % modulus`` for a constant ``modulus``."""
    return Mux(counter == modulus - 1, 0, counter + 1)
