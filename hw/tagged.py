"""Give an in-order stream component a side channel: a tag that leaves with the result.

Many stages need values (requantisation parameters, run markers) that the component in
the middle does not carry. ``Tagged`` keeps them in a small FIFO beside it: a tag goes in
with each input beat that produces an output (all of them, or only those for which
``produces`` is true, e.g. the ``last`` beat of a pointwise run) and comes out with the
matching output beat.

An inner component whose stages all advance on one enable (``ONE_ENABLE``:
``hw.pointwise.pipeline_enables``, every input beat one output beat ``LATENCY`` stages
later) carries its tag in a shift register on that same enable instead: cycle for cycle
what the FIFO gives it (the FIFO never fills and its head is always there before the
result), without the FIFO's handshake between the inner component's output valid and
the queue's pointers (the depthwise requantiser's and its tag queue's, placed apart,
was the whole design's critical path after timing step 10, seed 3: 8.87 ns).
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .queue import Queue

__all__ = ["Tagged"]


class Tagged(wiring.Component):
    """Wrap ``inner`` (with ``i_stream``/``o_stream`` and a ``LATENCY``) and a tag FIFO.

    Parameters
    ----------
    inner : wiring.Component
        In-order: output beats leave in the order their inputs came.
    tag_layout : shape of the tag.
    produces : callable(payload view) -> Value, optional
        Which input beats produce an output beat (default: every beat).

    Members
    -------
    i_stream : In(stream.Signature({"inner": inner's input, "tag": tag_layout}))
    o_stream : Out(stream.Signature({"inner": inner's output, "tag": tag_layout}))

    An inner component that is ``FREE_RUNNING`` (``hw.pointwise.PointwiseArray``'s
    ``free_running``: its stages advance every cycle, its consumer takes every beat)
    keeps its tags in the FIFO with no handshake around it: a tag goes in with every
    input beat that produces an output, the head leaves with every output beat. The
    FIFO holds at most ``LATENCY`` tags then (one a cycle in flight), and a tag is at
    the head ``Queue.LATENCY`` cycles after it went in, before its result.
    """

    def __init__(self, inner, tag_layout, produces=None):
        self._inner, self._produces = inner, produces
        self._depth = inner.LATENCY + 2
        in_shape = inner.i_stream.payload.shape()
        out_shape = inner.o_stream.payload.shape()
        self._tag_layout = tag_layout
        super().__init__({
            "i_stream": In(stream.Signature(data.StructLayout({"inner": in_shape, "tag": tag_layout}))),
            "o_stream": Out(stream.Signature(data.StructLayout({"inner": out_shape, "tag": tag_layout}))),
        })

    def elaborate(self, platform):
        m = Module()
        inner = m.submodules.inner = self._inner
        if getattr(inner, "ONE_ENABLE", False) and self._produces is None:
            return self._shift_register(m, inner)
        # The tag FIFO's flags are registers (``hw.queue``: cycle for cycle a
        # SyncFIFOBuffered, whose ``w_rdy`` compared its level with a constant): they sit
        # in the handshake between the inner component and its neighbours, which was
        # the head of the depthwise stage's ready chain into the weight buffer's read
        # enable (the whole design's critical path in timing step 6, 10.12 ns).
        tags = m.submodules.tags = Queue(
            width=data.Layout.cast(self._tag_layout).size, depth=self._depth)
        produces = 1 if self._produces is None else self._produces(self.i_stream.payload.inner)
        if getattr(inner, "FREE_RUNNING", False):
            assert Queue.LATENCY <= inner.LATENCY  # a tag is at the head before its result
            m.d.comb += [
                inner.i_stream.payload.eq(self.i_stream.payload.inner),
                inner.i_stream.valid.eq(self.i_stream.valid),
                self.i_stream.ready.eq(inner.i_stream.ready),
                tags.w_data.eq(self.i_stream.payload.tag),
                tags.w_en.eq(self.i_stream.valid & self.i_stream.ready & produces),
                self.o_stream.payload.inner.eq(inner.o_stream.payload),
                self.o_stream.payload.tag.eq(tags.r_data),
                self.o_stream.valid.eq(inner.o_stream.valid),
                inner.o_stream.ready.eq(self.o_stream.ready),
                tags.r_en.eq(inner.o_stream.valid),
            ]
            return m

        # An input beat goes in only when its tag has room; an output leaves with its tag.
        m.d.comb += [
            inner.i_stream.payload.eq(self.i_stream.payload.inner),
            inner.i_stream.valid.eq(self.i_stream.valid & tags.w_rdy),
            self.i_stream.ready.eq(inner.i_stream.ready & tags.w_rdy),
            tags.w_data.eq(self.i_stream.payload.tag),
            tags.w_en.eq(self.i_stream.valid & self.i_stream.ready & produces),
            self.o_stream.payload.inner.eq(inner.o_stream.payload),
            self.o_stream.payload.tag.eq(tags.r_data),
            self.o_stream.valid.eq(inner.o_stream.valid & tags.r_rdy),
            inner.o_stream.ready.eq(self.o_stream.ready & tags.r_rdy),
            tags.r_en.eq(self.o_stream.valid & self.o_stream.ready),
        ]
        return m

    def _shift_register(self, m, inner):
        """The tag beside ``inner``'s ``LATENCY`` stages, each register loaded when the
        stages advance (``~o_stream.valid | o_stream.ready``, as
        ``hw.pointwise.pipeline_enables``)."""
        tags = [Signal(self._tag_layout, name=f"tag{k}") for k in range(inner.LATENCY)]
        advance = ~inner.o_stream.valid | inner.o_stream.ready
        with m.If(advance):
            m.d.sync += [tags[0].eq(self.i_stream.payload.tag),
                         *(later.eq(earlier) for earlier, later in zip(tags, tags[1:]))]
        m.d.comb += [
            inner.i_stream.payload.eq(self.i_stream.payload.inner),
            inner.i_stream.valid.eq(self.i_stream.valid),
            self.i_stream.ready.eq(inner.i_stream.ready),
            self.o_stream.payload.inner.eq(inner.o_stream.payload),
            self.o_stream.payload.tag.eq(tags[-1]),
            self.o_stream.valid.eq(inner.o_stream.valid),
            inner.o_stream.ready.eq(self.o_stream.ready),
        ]
        return m
