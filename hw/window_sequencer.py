"""The window sequencer: walks a tile's loop nest and issues one window request a cycle.

Fused, conv and pointwise modes walk pixels (output rows, then columns) outside and input
channel blocks inside, a run per pixel (in conv mode every block of a pixel requests the
same window: the image has one word per pixel); pooling walks channel blocks outside and pixels
inside, a run per channel block. Every request field is a register (the tag's run and
tile markers one LUT of registered flags), updated incrementally through one adder at
most (no division, no multiplier, no sum of offsets): the window coordinates advance by
the stride with their ``mod 3``, the address base by a row or column pitch when a
coordinate crosses a group of three, or by one for the next channel block; the loop
counters count down, and the ends of the loops are flags set the cycle before they are
reached.

What the loop decisions read of the command is registered too (timing step 15): the
mode's decodes and whether each loop count is 1 or 2, loaded from the next command at
the controller's ``accept`` (``load``), the cycle before ``start``, when the command
register loads. So no comparison of a count and no decode of the mode sits between the
controller's command register and the ``step`` register (five LUT, PFUMX and L6MUX
levels behind the loop-end flags: the critical path after timing step 14 at seed 3,
8.27 ns); no cycle is added.
"""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .command import COUNT_BITS, Mode, command_layout
from .window import COORD_BITS, window_request_layout

__all__ = ["WindowSequencer", "window_tag_layout"]


def window_tag_layout():
    """What travels with a window: its channel block and the run / tile markers."""
    return data.StructLayout({"ib": unsigned(COUNT_BITS), "run_end": 1, "tile_end": 1})


class _Axis:
    """One spatial coordinate with its ``mod 3``: registers that, at an edge where
    ``enable`` is high, load ``start`` if ``restart`` is high, else advance by the stride
    if ``advance`` is."""

    def __init__(self, m, enable, name, start, start_mod3, stride2):
        self.pos = Signal(signed(COORD_BITS), name=f"{name}_pos")
        self.mod3 = Signal(2, name=f"{name}_mod3")
        self.restart, self.advance = Signal(name=f"{name}_restart"), Signal(name=f"{name}_advance")
        self.mod3_next = Signal(2, name=f"{name}_mod3_next")
        # mod 3 as a table, not as ``mod3 + step >= 3``: a carry chain in front of the
        # address's adder.
        after = Mux(self.mod3 == 0, Mux(stride2, 2, 1),
                    Mux(self.mod3 == 1, Mux(stride2, 0, 2), Mux(stride2, 1, 0)))
        m.d.comb += self.mod3_next.eq(Mux(self.restart, start_mod3,
                                          Mux(self.advance, after, self.mod3)))
        with m.If(enable):
            m.d.sync += [
                self.mod3.eq(self.mod3_next),
                self.pos.eq(Mux(self.restart, start,
                                Mux(self.advance, self.pos + Mux(stride2, 2, 1), self.pos))),
            ]
        self._stride2 = stride2

    def wraps_next(self):
        """Whether the step after the enabled one crosses into the next group of three."""
        return Mux(self._stride2, self.mod3_next != 0, self.mod3_next == 2)


class _Count:
    """A loop counter counting down to its last iteration; at an edge where ``enable`` is
    high, it loads ``count`` iterations if ``restart`` is high, else steps if ``advance``
    is. ``last`` (this is the last iteration) is a register, and so is what it becomes on
    a step (the next is the last): no comparison of the count sits in front of the
    loop's decisions. ``count_is1`` and ``count_is2`` (``count`` is 1, 2) are registers
    too (:class:`_CommandFlags`)."""

    def __init__(self, m, enable, name, count, count_is1, count_is2):
        self.left = Signal(COUNT_BITS, name=f"{name}_left")  # iterations after this one
        self.last = Signal(name=f"{name}_last")
        penultimate = Signal(name=f"{name}_penultimate")
        self.restart, self.advance = Signal(name=f"{name}_restart"), Signal(name=f"{name}_advance")
        self.last_next = Signal(name=f"{name}_last_next")
        m.d.comb += self.last_next.eq(Mux(self.restart, count_is1,
                                          Mux(self.advance, penultimate, self.last)))
        with m.If(enable):
            m.d.sync += [
                self.last.eq(self.last_next),
                penultimate.eq(Mux(self.restart, count_is2,
                                   Mux(self.advance, self.left == 2, penultimate))),
                self.left.eq(Mux(self.restart, count - 1,
                                 Mux(self.advance, self.left - 1, self.left))),
            ]


class _CommandFlags:
    """What the loop decisions read of the command, as registers loaded from the next
    command ``cmd_next`` at an edge where ``load`` is high (the edge the command register
    loads at): steady, like the command, from ``start`` until the tile is done."""

    def __init__(self, m, cmd_next, load):
        self.pool, self.conv = Signal(name="cmd_pool"), Signal(name="cmd_conv")
        self.is1 = {name: Signal(name=f"cmd_{name}_is1")
                    for name in ("out_rows", "out_cols", "blocks_in")}
        self.is2 = {name: Signal(name=f"cmd_{name}_is2")
                    for name in ("out_rows", "out_cols", "blocks_in")}
        with m.If(load):
            m.d.sync += [self.pool.eq(cmd_next.mode == Mode.POOL),
                         self.conv.eq(cmd_next.mode == Mode.CONV)]
            for name in self.is1:
                count = getattr(cmd_next, name)
                m.d.sync += [self.is1[name].eq(count == 1), self.is2[name].eq(count == 2)]


class WindowSequencer(wiring.Component):
    """Issue the window requests of one tile.

    The first request is offered the cycle after ``start``, then one a cycle while the
    pixel buffer has room; a request not taken (``o_stream.ready`` low) stays offered
    unchanged. The loop nest's registers advance together at a start or a taken
    request (their clock enable), to values computed whether or not it is taken.

    Members
    -------
    cmd : In(command_layout())
        The tile; held steady from ``start`` until the tile is done.
    cmd_next : In(command_layout())
    load : In(1)
        The next tile's command at ``load``, the cycle before its ``start`` (the
        controller's command stream and ``accept``): the flags the loop decisions read
        are registered from it, beside the command register.
    start : In(1)
        Pulse: begin the tile (the cycle after ``load``).
    busy : Out(1)
    o_stream : Out(stream.Signature(window_request_layout(depth, tag bits)))
        Requests for the :class:`WindowGenerator`; the tag is ``window_tag_layout``.
    space : In(1)
    reserve : Out(1)
        Pixel-buffer handshake: a request goes out only with a word of room, and
        reserves it.
    """

    def __init__(self, depth):
        self._depth = depth
        tag_bits = data.Layout.cast(window_tag_layout()).size
        super().__init__({
            "cmd": In(command_layout()),
            "cmd_next": In(command_layout()),
            "load": In(1),
            "start": In(1),
            "busy": Out(1),
            "o_stream": Out(stream.Signature(window_request_layout(depth, tag_bits))),
            "space": In(1),
            "reserve": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cmd = self.cmd
        flags = _CommandFlags(m, self.cmd_next, self.load)
        pool = flags.pool
        # conv: a pixel's run is its window requested once per im2col block, all at the
        # same address (hw.conv_gather picks the block's word from the window)
        conv = flags.conv
        request = self.o_stream.payload
        fire = self.o_stream.valid & self.o_stream.ready
        # Every register of the loop nest advances at a start or an issued request: the
        # clock enable. What they advance to does not depend on it (the handshake is one
        # LUT from the enables, not at the head of the next-state logic).
        advance = Signal()
        m.d.comb += advance.eq(self.start | fire)

        row = _Axis(m, advance, "row", cmd.row0, cmd.row0_mod3, cmd.stride2)
        col = _Axis(m, advance, "col", cmd.col0, cmd.col0_mod3, cmd.stride2)
        out_row, out_col, block = (
            _Count(m, advance, name, getattr(cmd, count), flags.is1[count], flags.is2[count])
            for name, count in (("out_row", "out_rows"), ("out_col", "out_cols"),
                                ("block", "blocks_in")))
        ib = Signal(COUNT_BITS)
        # Address bases, modulo the request's width as the request's base is: the
        # request's (``base``), its pixel's (``ib`` 0 when fused), its row of pixels'
        # (column 0) and the one the next channel block steps from (the request's when
        # fused; the run's, ``base0 + ib``, when pooling).
        base, pixel_base, row_base, block_base = (
            Signal.like(request.base, name=name)
            for name in ("base", "pixel_base", "row_base", "block_base"))

        last_pixel = out_col.last & out_row.last
        tile_end = last_pixel & block.last
        tag = Signal(window_tag_layout())
        m.d.comb += [
            tag.ib.eq(ib),
            tag.run_end.eq(Mux(pool, last_pixel, block.last)),
            tag.tile_end.eq(tile_end),
            request.row.eq(row.pos),
            request.col.eq(col.pos),
            request.row_mod3.eq(row.mod3),
            request.col_mod3.eq(col.mod3),
            request.base.eq(base),
            request.tag.eq(tag.as_value()),
            self.o_stream.valid.eq(self.busy & self.space),
            self.reserve.eq(fire),
        ]

        # The next request's base is one base plus one step, which registers choose a
        # cycle ahead, from the loop counters' next state: the next channel block's
        # (``block_step``: one word on) or the next pixel's (the next column's, or with
        # ``out_col.last`` the next row's, one pitch on when it enters the next group of
        # three). So only a multiplexer of registers sits before the adder and one LUT
        # behind it (a multiplexer of every case's own sum behind the adders was this
        # block's critical path).
        block_step, step = Signal(), Signal.like(base)
        block_step_next = Mux(pool, out_col.last_next & out_row.last_next, ~block.last_next)
        with m.If(advance):
            m.d.sync += [
                block_step.eq(block_step_next),
                step.eq(Mux(block_step_next, Mux(conv, 0, 1),
                            Mux(out_col.last_next, Mux(row.wraps_next(), cmd.row_pitch, 0),
                                Mux(col.wraps_next(), cmd.col_pitch, 0)))),
            ]
        next_base = Signal.like(base)
        m.d.comb += next_base.eq(
            Mux(block_step, block_base, Mux(out_col.last, row_base, pixel_base)) + step)

        # The loop nest: what advances at the next enable. Which bases take the next base
        # (the start loads base0 instead):
        load = {name: Signal(name=f"load_{name}") for name in ("base", "pixel", "row", "block")}

        def next_pixel():
            with m.If(out_col.last):
                m.d.comb += [out_col.restart.eq(1), out_row.advance.eq(1),
                             col.restart.eq(1), row.advance.eq(1), load["row"].eq(1)]
            with m.Else():
                m.d.comb += [out_col.advance.eq(1), col.advance.eq(1)]
            m.d.comb += [load["pixel"].eq(1), load["base"].eq(1)]

        def restart_pixels():
            m.d.comb += [out_row.restart.eq(1), out_col.restart.eq(1),
                         row.restart.eq(1), col.restart.eq(1)]
            m.d.comb += [load[name].eq(1) for name in load]

        next_ib = Signal.like(ib)
        with m.If(self.start):
            m.d.comb += [next_ib.eq(0), block.restart.eq(1)]
            restart_pixels()
        with m.Elif(pool):  # channel blocks outside, pixels inside
            with m.If(last_pixel):
                m.d.comb += [next_ib.eq(ib + 1), block.advance.eq(1)]
                restart_pixels()
            with m.Else():
                m.d.comb += next_ib.eq(ib)
                next_pixel()
        with m.Else():  # pixels outside, channel blocks inside
            with m.If(block.last):
                m.d.comb += [next_ib.eq(0), block.restart.eq(1)]
                next_pixel()
            with m.Else():
                m.d.comb += [next_ib.eq(ib + 1), block.advance.eq(1), load["base"].eq(1)]
            m.d.comb += load["block"].eq(1)

        with m.If(advance):
            m.d.sync += ib.eq(next_ib)
            loaded = Mux(self.start, cmd.base0, next_base)
            for name, register in (("base", base), ("pixel", pixel_base), ("row", row_base),
                                   ("block", block_base)):
                with m.If(load[name]):
                    m.d.sync += register.eq(loaded)
        with m.If(self.start):
            m.d.sync += self.busy.eq(1)
        with m.Elif(fire & tile_end):
            m.d.sync += self.busy.eq(0)
        return m
