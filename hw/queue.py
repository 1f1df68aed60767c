"""A synchronous FIFO whose handshake flags are registers.

``Queue`` is cycle for cycle Amaranth's ``SyncFIFOBuffered`` (same ``w_rdy``, ``r_rdy``,
``r_data`` and ``level`` in every cycle for the same ``w_en``, ``w_data`` and ``r_en``):
a memory of ``depth - 1`` entries with a synchronous read port, and the read port's
output register as the head. What differs is where the flags come from:

- ``SyncFIFOBuffered`` derives ``w_rdy`` by comparing its inner level with a constant,
  so a writer whose ``w_en`` depends on ``w_rdy`` (a dispatcher that takes a beat only
  if its queue has room) has the level's compare, its own decision and the queue's
  clock enables in one cycle. Here ``w_rdy`` is a register, set from the level the
  queue will have next cycle (one more on a write, one less on a move from the memory
  to the head), and so is "the memory holds an entry".
- The memory is written whenever it has room, with whatever ``w_data`` holds: the slot
  at the write pointer is free then (at most ``depth - 2`` of the ``depth - 1`` slots
  are in use, and a read never addresses it), so a beat not taken leaves nothing
  behind. Only the write pointer and the level wait for ``w_en``: the write enable of
  every memory bit is a register, not the writer's handshake.
- ``level`` is a register (SyncFIFOBuffered adds the memory's count and the head's
  valid), and so is ``room``, when asked for: whether ``room_for`` more entries fit,
  for a writer that must know before it commits to a burst.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .pointwise import discard_on_error

__all__ = ["Queue", "wrap_inc"]


class Queue(wiring.Component):
    """Stages: the memory (``depth - 1`` entries), then the head register ``r_data``.
    A beat written into an empty queue is at the head two cycles later (``r_rdy``); the
    head is replaced in the cycle after a read when the memory holds an entry, as in
    ``SyncFIFOBuffered``. Either side may stall for any number of cycles.

    Parameters
    ----------
    width : int
    depth : int
        Entries, at least 2 (the memory's ``depth - 1`` and the head).
    room_for : int, optional
        Adds the ``room`` member.

    Members
    -------
    w_data : In(width)
    w_en : In(1)
        A write happens when ``w_en & w_rdy``.
    w_rdy : Out(1)
        A register: the memory has room.
    r_data : Out(width)
        The head, valid when ``r_rdy``.
    r_en : In(1)
        A read happens when ``r_en & r_rdy``.
    r_rdy : Out(1)
        A register: the head holds an entry.
    level : Out(range(depth + 1))
        A register: entries held (memory and head).
    room : Out(1)
        With ``room_for``, a register: ``level <= depth - room_for``.
    """

    #: Cycles from a write into an empty queue to that entry at the head (``r_rdy``).
    LATENCY = 2

    def __init__(self, *, width: int, depth: int, room_for: int | None = None):
        with discard_on_error(self):
            if depth < 2:
                raise ValueError(f"a Queue needs depth >= 2 (memory and head), not {depth}")
            if room_for is not None and not 1 <= room_for <= depth:
                raise ValueError(f"room_for must be in 1..{depth}, not {room_for}")
        self.width, self.depth, self._room_for = width, depth, room_for
        members = {
            "w_data": In(width), "w_en": In(1), "w_rdy": Out(1, init=1),
            "r_data": Out(width), "r_en": In(1), "r_rdy": Out(1),
            "level": Out(range(depth + 1)),
        }
        if room_for is not None:
            members["room"] = Out(1, init=1)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        slots = self.depth - 1
        storage = m.submodules.storage = Memory(shape=self.width, depth=slots, init=[])
        w_port = storage.write_port()
        r_port = storage.read_port(domain="sync")

        produce, consume = Signal(range(slots)), Signal(range(slots))
        stored = Signal(range(slots + 1))  # entries in the memory
        nonempty = Signal()  # stored != 0, as a register

        do_write = self.w_en & self.w_rdy
        # The head takes the oldest stored entry when it is empty or being read.
        do_move = nonempty & (~self.r_rdy | self.r_en)

        m.d.comb += [
            w_port.addr.eq(produce), w_port.data.eq(self.w_data), w_port.en.eq(self.w_rdy),
            r_port.addr.eq(consume), r_port.en.eq(do_move), self.r_data.eq(r_port.data),
        ]
        with m.If(do_write):
            m.d.sync += produce.eq(wrap_inc(produce, slots))
        with m.If(do_move):
            m.d.sync += consume.eq(wrap_inc(consume, slots))
        # The flags follow the next level of the memory from this cycle's registers.
        with m.If(do_write & ~do_move):
            m.d.sync += [stored.eq(stored + 1), nonempty.eq(1),
                         self.w_rdy.eq(stored != slots - 1)]
        with m.Elif(do_move & ~do_write):
            m.d.sync += [stored.eq(stored - 1), nonempty.eq(stored != 1), self.w_rdy.eq(1)]

        with m.If(do_move):
            m.d.sync += self.r_rdy.eq(1)
        with m.Elif(self.r_en):
            m.d.sync += self.r_rdy.eq(0)

        do_read = self.r_en & self.r_rdy
        limit = self.depth - (self._room_for or 0)
        with m.If(do_write & ~do_read):
            m.d.sync += self.level.eq(self.level + 1)
            if self._room_for is not None:
                m.d.sync += self.room.eq(self.level < limit)
        with m.Elif(do_read & ~do_write):
            m.d.sync += self.level.eq(self.level - 1)
            if self._room_for is not None:
                m.d.sync += self.room.eq(self.level <= limit + 1)
        return m


def wrap_inc(counter, modulus):
    """``(counter + 1) % modulus`` for a constant ``modulus``."""
    return Mux(counter == modulus - 1, 0, counter + 1)
