"""Instruction fetch: reads the program from DDR in bursts into a small queue.

A burst is ``BURST_INSTRUCTIONS`` instructions (256 bytes; the program address must be
256-byte aligned, so no burst crosses a 4 KiB boundary), issued only when the queue has
room for all of it, so the shared R channel never waits on a full queue.

Every term of the request's valid is a register (instructions left, a burst in flight,
the queue's room), and so is the queue's head valid and its w_rdy (``hw.queue.Queue``):
the read port's arbiter and the sequencer's dispatch see no compare of counters here.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .axi import AXI_ADDR_BITS
from .instruction import INSTRUCTION_BITS, INSTRUCTION_BYTES
from .queue import Queue, wrap_inc
from .read_port import burst_layout

__all__ = ["InstructionFetch", "BURST_INSTRUCTIONS", "PROGRAM_ALIGN"]

BURST_INSTRUCTIONS = 4
QUEUE_DEPTH = 2 * BURST_INSTRUCTIONS
PROGRAM_ALIGN = BURST_INSTRUCTIONS * INSTRUCTION_BYTES
assert BURST_INSTRUCTIONS & (BURST_INSTRUCTIONS - 1) == 0  # instructions left split by bits


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
        queue = m.submodules.queue = Queue(width=INSTRUCTION_BITS, depth=QUEUE_DEPTH,
                                           room_for=BURST_INSTRUCTIONS)
        m.d.comb += [
            self.instr.payload.eq(queue.r_data), self.instr.valid.eq(queue.r_rdy),
            queue.r_en.eq(self.instr.ready),
        ]

        # Instructions not yet requested, as whole bursts and the rest (the last burst's):
        # a burst is min(left, BURST_INSTRUCTIONS) without a compare of the 32-bit count,
        # and "whole bursts left" is a register, updated from the count before it moves.
        log_burst = BURST_INSTRUCTIONS.bit_length() - 1
        next_addr = Signal(AXI_ADDR_BITS)
        bursts = Signal(32 - log_burst)  # whole bursts not yet requested
        any_bursts = Signal()  # bursts != 0
        rest = Signal(log_burst)  # instructions of a last, short burst not yet requested
        in_flight = Signal()  # a burst is requested and not all received
        burst = Signal(range(BURST_INSTRUCTIONS + 1))
        m.d.comb += burst.eq(Mux(any_bursts, BURST_INSTRUCTIONS, rest))
        m.d.comb += [
            self.req.valid.eq((any_bursts | (rest != 0)) & ~in_flight & queue.room),
            self.req.payload.addr.eq(next_addr),
            self.req.payload.len.eq(burst * beats - 1),
        ]
        with m.If(self.start):
            m.d.sync += [next_addr.eq(self.addr), bursts.eq(self.count[log_burst:]),
                         any_bursts.eq(self.count[log_burst:] != 0),
                         rest.eq(self.count[:log_burst])]
        with m.Elif(self.req.valid & self.req.ready):
            m.d.sync += [next_addr.eq(next_addr + burst * INSTRUCTION_BYTES), in_flight.eq(1)]
            with m.If(any_bursts):
                m.d.sync += [bursts.eq(bursts - 1), any_bursts.eq(bursts != 1)]
            with m.Else():
                m.d.sync += rest.eq(0)

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
                m.d.sync += beat.eq(wrap_inc(beat, beats))
            with m.If(beat == beats - 1):
                m.d.comb += queue.w_en.eq(1)
                m.d.sync += pending.eq(pending - 1)
                with m.If(pending == 1):
                    m.d.sync += in_flight.eq(0)
        return m

