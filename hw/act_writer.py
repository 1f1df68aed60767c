"""The activation writer: a tile's output words straight into the activation buffer, as
the next step's input map (a store descriptor with ``to_act``, ``hw.instruction``'s
``act_store_layout``), so the map never goes to DDR.

The words (``hw.pw_stage.store_layout``: one per pixel and output block, pixel-major in
row order, ``group`` blocks a pixel, ``last`` on the tile's final word) are written into
activation buffer half ``half``: pixel ``(r, c)``'s block ``block0 + i`` in sub-bank
``3 * (r % 3) + c % 3`` at ``(r // 3) * row_pitch + (c // 3) * blocks + block0 + i``
(``hw.act_buffer.sub_bank_address``), slice 0 (activation words are one slice). The
counters are the load DMA's (``hw.load_dma``: block, column mod 3, row mod 3, with the
column and row address bases as registers), the bases starting at ``block0``.

The activation buffer has one write port, which the load DMA's activation words also
use (``hw.engine``'s ``act_write`` port): the writer's beat, held in a register, goes
out on ``act_out`` in a cycle whose ``ready`` is high (the engine's: no load DMA beat for
the activation buffer in that cycle; a load beat for a weight buffer does not stand in
its way). While its beat waits the writer takes no more words (``words`` is
backpressured; the engine stalls correctly). ``words.ready`` and ``desc.ready`` are
registers, and so are ``act_out.valid`` and ``writing``. The words come in through a
register with a skid register beside it (``hw.skid.registered_input``, timing step 15):
the store router's destination (its route queue's head) and ``words.valid`` end at that
register, not, across the chip, at the writer's beat and the clock enables of its address
registers (the critical path after timing step 14 at seed 2, 8.62 ns); one cycle more on
the words' path (``LATENCY`` 2).

A descriptor is taken when the previous one's last word has been taken (a register
``active`` is low) and stays until its ``last`` word; the words of a tile must follow
their descriptor (``hw.store_router`` sends them only then). ``pixels`` is not used: the
tile ends at its ``last`` word (the router pops its destination there too).
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .act_buffer import ActLayoutWalk
from .command import Target, load_layout
from .instruction import act_store_layout
from .pw_stage import store_layout
from .skid import registered_input

__all__ = ["ActWriter"]


class ActWriter(wiring.Component):
    """Members
    -------
    desc : In(stream.Signature(act_store_layout()))
        One per ``to_act`` tile, before its words; ``ready`` is a register.
    words : In(stream.Signature(store_layout(pe)))
        The tile's output words; ``ready`` is a register.
    act_out : Out(stream.Signature(load_layout(pe, addr_bits)))
        Activation words (``target`` ACT, ``slice`` 0) for the engine's ``act_write``;
        ``valid`` and ``payload`` are registers.
    idle : Out(1)
        No descriptor in progress, no word waiting, no beat waiting.
    writing : Out(2)
        Bit ``h``: a word for activation half ``h`` may still come or is not yet taken
        from ``act_out`` (a descriptor for ``h`` in progress, or its beat waiting); a
        register. A tile reading half ``h`` must not start while it is set (``hw.top``).
    """

    #: Cycles from a word's acceptance on ``words`` (without a wait in the skid register)
    #: to its beat on ``act_out``: the input register (``registered_input``), the beat
    #: register. Taken at the next edge when ``act_out.ready``; the sub-bank writes it one
    #: edge later (``hw.act_buffer``).
    LATENCY = 2

    def __init__(self, pe: int, addr_bits: int):
        self._pe, self._addr_bits = pe, addr_bits
        super().__init__({
            "desc": In(stream.Signature(act_store_layout())),
            "words": In(stream.Signature(store_layout(pe))),
            "act_out": Out(stream.Signature(load_layout(pe, addr_bits))),
            "idle": Out(1),
            "writing": Out(2),
        })

    def elaborate(self, platform):
        m = Module()
        pe, aw = self._pe, self._addr_bits

        # -- descriptor ---------------------------------------------------------------
        # Loaded with its counters' last values beside it, so every end-of-count test is
        # an equality of registers (as in hw.load_dma).
        cur = Signal(act_store_layout())
        active = Signal()
        last_ib = Signal(12)
        last_col = Signal(12)
        d = self.desc.payload
        m.d.comb += self.desc.ready.eq(~active)

        # -- the writer's beat ------------------------------------------------------------
        beat = self.act_out.payload
        beat_valid = self.act_out.valid
        out_ready = self.act_out.ready

        words = registered_input(m, self.words, "words")
        take = words.valid & words.ready
        m.d.comb += words.ready.eq(active & (~beat_valid | out_ready))

        # the next word's place: the layout walk (block within the group, column, row),
        # its bases starting at block0
        walk = ActLayoutWalk(aw)

        with m.If(take):
            m.d.sync += [
                beat_valid.eq(1),
                beat.target.eq(Target.ACT),
                beat.half.eq(cur.half),
                beat.bank.eq(walk.bank()),
                beat.slice.eq(0),
                beat.addr.eq(walk.addr()),
                beat.data.eq(words.payload.data.as_value()),
            ]
            walk.advance(m, last_ib, last_col, cur.row_pitch, cur.blocks)
            with m.If(words.payload.last):
                m.d.sync += active.eq(0)
        with m.Elif(out_ready):
            m.d.sync += beat_valid.eq(0)

        with m.If(self.desc.valid & ~active):
            m.d.sync += [cur.eq(d), active.eq(1), last_ib.eq(d.group - 1),
                         last_col.eq(d.cols - 1), *walk.restart(d.base + d.block0)]

        # ``writing`` as a register: from the next cycle's descriptor and beat
        accept = self.desc.valid & ~active
        active_next = Mux(accept, 1, active & ~(take & words.payload.last))
        half_next = Mux(accept, d.half, cur.half)
        beat_next = take | beat_valid & ~out_ready
        beat_half_next = Mux(take, cur.half, beat.half)
        m.d.sync += self.writing.eq(Cat(active_next & ~half_next | beat_next & ~beat_half_next,
                                        active_next & half_next | beat_next & beat_half_next))
        # (``self.words.ready`` is low while the skid holds a word; ``words.valid``: the
        # input register holds one)
        m.d.comb += self.idle.eq(~active & ~beat_valid & ~words.valid & self.words.ready)
        return m
