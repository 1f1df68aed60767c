"""The store router: each tile's store descriptor and output words to the store DMA (to
DDR) or, with ``to_act``, to the activation writer (``hw.act_writer``: into the
activation buffer).

Descriptors go out in order, each to its destination (a descriptor waits until that
destination takes it, and the ones behind it with it); as one is taken its destination
enters a small queue (``hw.queue.Queue``). The words follow the destination at the
queue's head, which is dropped at the word with ``last``. A tile's words can therefore
only move once its descriptor has been taken.

One cycle on the words' path (``LATENCY`` 1), none on the descriptors'. The words come
in through a register with a skid register beside it (``hw.skid.registered_input``), so
``store.ready`` is a register: the destination at the queue's head and the two
destinations' word ``ready`` (both registers too, each destination's own skid) end at
the router's registers, not, through the engine's output stream, at the requantiser's
enables (with the destination select in front of the engine's ``ready``, the whole
design's critical path after timing step 5, 10.41 ns); and the words' ``valid`` leaves
the router from a register, so the engine's output valid no longer crosses the chip
into the store DMA's burst cutter and length queue (the critical path after timing
step 7 at seed 3, 9.21 ns). A word may enter the router before its tile's descriptor
has been routed; it waits there. From ``hw.skid.CHIP_WIDE_PE`` lanes up the words pass
a two-entry queue of registers instead (``hw.skid.queued_input``, the same beats in the
same cycles): there the destinations' ``ready`` was the 65-bit output register's clock
enable (64 bits of data and ``last`` at pe 8), and the LUT between the activation
writer's ready and those enables sat 50 rows from both (the critical path at pe 8 after
timing step 16, 11.8 to 12.0 ns). ``desc.ready`` is the queue's ``w_rdy`` gated by the
``to_act`` bit of the sequencer's queue head and the two destinations' ``desc.ready``.
"""

from amaranth.hdl import Module, Mux
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .instruction import act_store_layout, store_desc_layout
from .pw_stage import store_layout
from .queue import Queue
from .skid import REGISTERED_HELD, chip_wide, queued_input, registered_input

__all__ = ["StoreRouter"]

#: Tiles whose descriptor has been routed and whose last word has not.
ROUTES = 4


class StoreRouter(wiring.Component):
    """Members
    -------
    desc : In(stream.Signature(store_desc_layout()))
        From the sequencer.
    store : In(stream.Signature(store_layout(pe)))
        The engine's output words.
    dma_desc : Out(stream.Signature(store_desc_layout()))
    dma_store : Out(stream.Signature(store_layout(pe)))
        To the store DMA (``to_act`` = 0).
    act_desc : Out(stream.Signature(act_store_layout()))
    act_store : Out(stream.Signature(store_layout(pe)))
        To the activation writer (``to_act`` = 1).
    idle : Out(1)
        No routed tile has words to come and no word waits in the router (from registers).
    """

    #: Cycles through the router on the words' path (the output register).
    LATENCY = 1
    #: Words the router holds while its destination does not take them (the output and
    #: skid registers of ``registered_input``, or from ``CHIP_WIDE_PE`` lanes the two
    #: entries of ``queued_input``): the engine runs that far ahead of a stalled
    #: destination (``model.cost.store_slack``).
    HELD = REGISTERED_HELD

    def __init__(self, pe: int):
        self._pe = pe
        super().__init__({
            "desc": In(stream.Signature(store_desc_layout())),
            "store": In(stream.Signature(store_layout(pe))),
            "dma_desc": Out(stream.Signature(store_desc_layout())),
            "dma_store": Out(stream.Signature(store_layout(pe))),
            "act_desc": Out(stream.Signature(act_store_layout())),
            "act_store": Out(stream.Signature(store_layout(pe))),
            "idle": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        routes = m.submodules.routes = Queue(width=1, depth=ROUTES)

        # -- descriptors: in order, each to its destination, its route queued --------------
        d = self.desc.payload
        to_act = d.to_act
        m.d.comb += [
            self.dma_desc.payload.eq(d),
            self.act_desc.payload.eq(d.act),
            self.dma_desc.valid.eq(self.desc.valid & ~to_act & routes.w_rdy),
            self.act_desc.valid.eq(self.desc.valid & to_act & routes.w_rdy),
            self.desc.ready.eq(routes.w_rdy & Mux(to_act, self.act_desc.ready,
                                                  self.dma_desc.ready)),
            routes.w_en.eq(self.desc.valid & self.desc.ready),
            routes.w_data.eq(to_act),
        ]

        # -- words: to the route at the head, dropped at the tile's last word -------------
        # (through the output and skid registers: ``self.store.ready`` is the skid's empty
        # flag, ``w.valid`` the output register's; on a chip-wide design through the
        # two-entry queue that is the same stream cycle for cycle, the destinations'
        # ``ready`` stepping its read pointer and level flags, not the output register's
        # enables)
        entry = queued_input if chip_wide(self._pe) else registered_input
        w = entry(m, self.store, "routed")
        head_act = routes.r_data[0]
        m.d.comb += [
            self.dma_store.payload.eq(w.payload),
            self.act_store.payload.eq(w.payload),
            self.dma_store.valid.eq(w.valid & routes.r_rdy & ~head_act),
            self.act_store.valid.eq(w.valid & routes.r_rdy & head_act),
            w.ready.eq(routes.r_rdy & Mux(head_act, self.act_store.ready, self.dma_store.ready)),
            routes.r_en.eq(w.valid & w.ready & w.payload.last),
            self.idle.eq((routes.level == 0) & self.store.ready & ~w.valid),
        ]
        return m
