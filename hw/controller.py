"""The tile controller: accepts one tile command at a time, starts the stages, counts
the tile's cycles and reports when its last output word has left."""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .command import command_layout

__all__ = ["Controller"]


class Controller(wiring.Component):
    """Hold the current tile command while the engine runs it.

    A new command is accepted only when the previous tile is complete, so the stages
    never mix two tiles (the cost model counts the pipeline drain this implies).

    Members
    -------
    cmd_stream : In(stream.Signature(command_layout()))
    cmd : Out(command_layout())
        The running tile, steady while ``busy``.
    start : Out(1)
        One-cycle pulse after a command is accepted.
    accept : Out(1)
        A command is accepted (``cmd_stream``'s handshake): ``cmd`` loads it at this edge
        (a stage may register what it reads of the command beside it, from
        ``cmd_stream.payload``).
    busy : Out(1)
    done : In(1)
        The tile's last output word was accepted by the store stream.
    cycles : Out(32)
        Cycles of the last (or running) tile, from the command's acceptance to its last
        output word, inclusive: the figure the cost model predicts.
    """

    #: Cycles from accepting a command to the stages' ``start``.
    START_LATENCY = 1
    #: ``cycles`` counts the accepting cycle and the done cycle both.
    COUNT_INCLUSIVE = 1

    cmd_stream: In(stream.Signature(command_layout()))
    cmd: Out(command_layout())
    start: Out(1)
    accept: Out(1)
    busy: Out(1)
    done: In(1)
    cycles: Out(32)

    def elaborate(self, platform):
        m = Module()
        accept = self.cmd_stream.valid & ~self.busy
        m.d.comb += [self.cmd_stream.ready.eq(~self.busy), self.accept.eq(accept)]
        m.d.sync += self.start.eq(accept)
        with m.If(accept):
            m.d.sync += [self.cmd.eq(self.cmd_stream.payload), self.busy.eq(1), self.cycles.eq(1)]
        with m.Elif(self.busy):
            m.d.sync += self.cycles.eq(self.cycles + 1)
            with m.If(self.done):
                m.d.sync += self.busy.eq(0)
        return m
