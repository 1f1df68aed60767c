"""The sequencer: dispatches fetched instructions to the load DMA and to the engine, and
runs a program from start to done.

Instructions leave the fetch queue in program order into two queues: LOADs and EXECs.
The head LOAD goes to the DMA once ``wait`` tiles have completed (the buffer half it
overwrites has been read); the head EXEC goes to the engine once ``wait`` LOADs have
completed, and its store descriptor to the store DMA at the same time. Because a wait
only ever names earlier instructions, in-order dispatch cannot deadlock, and a tile's
loads overlap the previous tiles' compute and stores (double buffering).

Timing: an offered instruction is dispatched in the same cycle when its queue has room
(``w_rdy``, a register of ``hw.queue.Queue``), is the head of its queue two cycles
later, and its LOAD descriptor's or tile command's valid (a register) rises the cycle
after the head may go; a taken tile command leaves its queue the cycle after (the next
command's valid rises a cycle later than a LOAD's would, while the engine runs the tile
it took); a full queue holds the fetch (``instr.ready`` low), a stalled DMA or engine
holds its queue's head. ``tile_done`` is counted ``TILE_DONE_LATENCY`` cycles after it.

A program is done when every instruction has been dispatched and has finished: all
LOADs written, all tiles complete, all their writes acknowledged; ``done`` rises the
cycle after that holds, from registered flags only (no compare of counters).
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .command import command_layout
from .instruction import INSTRUCTION_BITS, WAIT_BITS, Op, instruction_layout, load_desc_layout, \
    store_desc_layout
from .queue import Queue

__all__ = ["Sequencer"]

LOAD_QUEUE_DEPTH = 4
EXEC_QUEUE_DEPTH = 2
#: Cycles from ``tile_done`` to the sequencer counting the tile (its done counter, the
#: pending count behind ``finished``): ``tile_done`` goes into a register first, so the
#: engine's output handshake (``valid & ready & last``, from the far end of the engine)
#: and the counters' carry chains are two paths, not one across the chip (timing step 11).
TILE_DONE_LATENCY = 1


class Sequencer(wiring.Component):
    """Members
    -------
    start : In(1)
    count : In(32)
        Instructions in the program.
    instr : In(stream.Signature(INSTRUCTION_BITS))
    load_desc : Out(stream.Signature(load_desc_layout()))
    load_done : In(1)
        The load DMA finished a descriptor.
    load_idle : In(1)
    cmd : Out(stream.Signature(command_layout()))
    tile_done : In(1)
        The engine's last output word of a tile left; counted ``TILE_DONE_LATENCY``
        cycles later.
    store_desc : Out(stream.Signature(store_desc_layout()))
    store_idle : In(1)
    busy, done : Out(1)
    cycles : Out(32)
        Cycles of the running or last program: from the cycle after ``start`` to the
        cycle ``done`` rises, both included.
    execs : Out(32)
        Tiles completed by the running or last program.
    """

    def __init__(self):
        super().__init__({
            "start": In(1), "count": In(32),
            "instr": In(stream.Signature(INSTRUCTION_BITS)),
            "load_desc": Out(stream.Signature(load_desc_layout())),
            "load_done": In(1), "load_idle": In(1),
            "cmd": Out(stream.Signature(command_layout())),
            "tile_done": In(1),
            "store_desc": Out(stream.Signature(store_desc_layout())),
            "store_idle": In(1),
            "busy": Out(1), "done": Out(1),
            "cycles": Out(32), "execs": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        load_entry = data.StructLayout({"wait": WAIT_BITS, "desc": load_desc_layout()})
        exec_entry = data.StructLayout({"wait": WAIT_BITS, "cmd": command_layout(),
                                        "store": store_desc_layout()})
        # Queues whose w_rdy is a register: instr.ready is one LUT behind registers, and the
        # write enables that follow it reach only pointers and levels (hw.queue).
        loads = m.submodules.loads = Queue(width=load_entry.size, depth=LOAD_QUEUE_DEPTH)
        execs = m.submodules.execs = Queue(width=exec_entry.size, depth=EXEC_QUEUE_DEPTH)
        stores = m.submodules.stores = Queue(width=store_desc_layout().size, depth=2)

        dispatched = Signal(32)
        loads_done, execs_done = Signal(WAIT_BITS), Signal(WAIT_BITS)

        # -- dispatch -----------------------------------------------------------------
        ins = data.View(instruction_layout(), self.instr.payload)
        is_load = ins.op == Op.LOAD
        m.d.comb += [
            loads.w_data.eq(ins.wait | ins.body.load.as_value() << WAIT_BITS),
            execs.w_data.eq(ins.wait | ins.body.exec.cmd.as_value() << WAIT_BITS
                            | ins.body.exec.store.as_value() << (WAIT_BITS + command_layout().size)),
            self.instr.ready.eq(self.busy & (is_load & loads.w_rdy | ~is_load & execs.w_rdy)),
            loads.w_en.eq(self.instr.valid & self.instr.ready & is_load),
            execs.w_en.eq(self.instr.valid & self.instr.ready & ~is_load),
        ]

        # Each queue's head goes out with a registered valid: a wait's compare ends in that
        # register, not in the queues' clock enables (in one cycle with them it was the
        # sequencer's critical path). It is set the cycle after the head may go (its queue
        # ready, its wait met: the done counters only grow within a program) and cleared as
        # the head leaves, so it never speaks for the next head; neither the load DMA nor
        # the engine takes a head in the cycle after the previous one, so no throughput is
        # lost, only a cycle of latency: model.cost's READ_OVERHEAD and LOAD_TO_EXEC.

        # -- loads --------------------------------------------------------------------
        head = data.View(load_entry, loads.r_data)
        m.d.sync += self.load_desc.valid.eq(loads.r_rdy & (execs_done >= head.wait) & ~loads.r_en)
        m.d.comb += [
            self.load_desc.payload.eq(head.desc),
            loads.r_en.eq(self.load_desc.valid & self.load_desc.ready),
        ]

        # -- tiles --------------------------------------------------------------------
        # The head leaves the queue the cycle after the engine takes it (``taken``, a
        # register): the queue's read (its pointers, the next entry into the head, whose
        # clock enables reach a 300-bit register spread across the chip) starts from a
        # register, not from the engine's ready and the activation writer's hold
        # (``hw.top``), which was the whole design's critical path after timing step 11
        # (8.55 ns, seed 2). No cycle is lost: the engine takes no command for a tile's
        # length after it took one.
        tile = data.View(exec_entry, execs.r_data)
        taken = Signal()
        m.d.sync += [
            taken.eq(self.cmd.valid & self.cmd.ready),
            self.cmd.valid.eq(execs.r_rdy & (loads_done >= tile.wait) & stores.w_rdy
                              & ~(self.cmd.valid & self.cmd.ready) & ~taken),
        ]
        m.d.comb += [
            self.cmd.payload.eq(tile.cmd),
            execs.r_en.eq(taken),
            stores.w_en.eq(execs.r_en), stores.w_data.eq(tile.store),
            self.store_desc.payload.eq(stores.r_data), self.store_desc.valid.eq(stores.r_rdy),
            stores.r_en.eq(self.store_desc.ready),
        ]

        # -- progress -----------------------------------------------------------------
        dispatch = self.instr.valid & self.instr.ready
        with m.If(dispatch):
            m.d.sync += dispatched.eq(dispatched + 1)
        with m.If(self.load_done):
            m.d.sync += loads_done.eq(loads_done + 1)
        tile_done = Signal()  # TILE_DONE_LATENCY
        m.d.sync += tile_done.eq(self.tile_done)
        with m.If(tile_done):
            m.d.sync += [execs_done.eq(execs_done + 1), self.execs.eq(self.execs + 1)]
        loads_pending, no_loads_pending = _outstanding(m, dispatch & is_load, self.load_done)
        execs_pending, no_execs_pending = _outstanding(m, dispatch & ~is_load, tile_done)

        # All instructions dispatched, as a register a cycle behind ``dispatched``
        # (a 32-bit compare was in series with the rest of ``finished``): exact where it
        # matters, since in the cycle after the last dispatch that instruction is still in
        # its queue (its kind's pending count is not zero), and for an empty program it is
        # set at start.
        all_dispatched = Signal()
        m.d.sync += all_dispatched.eq(dispatched == self.count)
        finished = (all_dispatched & no_loads_pending & no_execs_pending & self.load_idle
                    & ~stores.r_rdy & self.store_idle)
        with m.If(self.start & ~self.busy):
            m.d.sync += [self.busy.eq(1), self.done.eq(0), self.cycles.eq(0), self.execs.eq(0),
                         dispatched.eq(0), loads_done.eq(0), execs_done.eq(0),
                         all_dispatched.eq(self.count == 0),
                         loads_pending.eq(0), no_loads_pending.eq(1),
                         execs_pending.eq(0), no_execs_pending.eq(1)]
        with m.Elif(self.busy):
            m.d.sync += self.cycles.eq(self.cycles + 1)
            with m.If(finished):
                m.d.sync += [self.busy.eq(0), self.done.eq(1)]
        return m


def _outstanding(m, up, down):
    """An up/down count of ``WAIT_BITS`` bits (instructions dispatched and not yet done)
    and a register that says it is zero, set from this cycle's count and events (the
    count of the next cycle is zero when it is 1 and only ``down`` comes, or it is 0 and
    both or neither come), so ``finished`` compares no counters."""
    count, zero = Signal(WAIT_BITS), Signal(init=1)
    with m.If(up & ~down):
        m.d.sync += [count.eq(count + 1), zero.eq(0)]
    with m.Elif(down & ~up):
        m.d.sync += [count.eq(count - 1), zero.eq(count == 1)]
    return count, zero
