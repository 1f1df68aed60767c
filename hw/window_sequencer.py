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

The loop decisions themselves are registers too (timing step 16): what the next issued
request does to each loop (restart, advance or keep its counter and coordinate), and
which step the address base after it takes (one word, a row pitch, a column pitch or
none), are one-hot flags set a request ahead from the loop-end flags' next values (a LUT
each behind them) and, for the pitches, from registered "the coordinate's next step
enters a new group of three" flags. So the counters' and coordinates' next state is a
multiplexer by registered flags, the step's selection is a LUT of registers in front of
the base's adder, and the ``start`` the decisions read is the sequencer's own register
(``load`` a cycle later): after timing step 15 the loop-end flags still went through a
command bit and the step's select into the ``step`` register over five levels, the
critical path at both seeds (8.22 / 8.31 ns). No cycle is added.
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
    if ``advance`` is. ``wraps`` (advancing from this position enters the next group of
    three) is a register, and so is the same for the position after one advance
    (``wraps_after``); ``start_wraps`` and ``start_wraps_after`` are the same for
    ``start``, registers of :class:`_CommandFlags`."""

    def __init__(self, m, enable, name, start, start_mod3, stride2, restart, advance,
                 start_wraps, start_wraps_after):
        self.pos = Signal(signed(COORD_BITS), name=f"{name}_pos")
        self.mod3 = Signal(2, name=f"{name}_mod3")
        self.restart, self.advance = restart, advance
        self.wraps = Signal(name=f"{name}_wraps")
        self.wraps_after = Signal(name=f"{name}_wraps_after")
        self.wraps_next = Signal(name=f"{name}_wraps_next")
        # mod 3 as a table, not as ``mod3 + step >= 3``: a carry chain in front of the
        # address's adder.
        after = _after(self.mod3, stride2)
        m.d.comb += self.wraps_next.eq(Mux(restart, start_wraps,
                                           Mux(advance, self.wraps_after, self.wraps)))
        with m.If(enable):
            m.d.sync += [
                self.mod3.eq(Mux(restart, start_mod3, Mux(advance, after, self.mod3))),
                self.wraps.eq(self.wraps_next),
                self.wraps_after.eq(Mux(restart, start_wraps_after,
                                        Mux(advance, _wraps(_after(after, stride2), stride2),
                                            self.wraps_after))),
                self.pos.eq(Mux(restart, start,
                                Mux(advance, self.pos + Mux(stride2, 2, 1), self.pos))),
            ]


def _after(mod3, stride2):
    """``(mod3 + stride) mod 3``, as a table."""
    return Mux(mod3 == 0, Mux(stride2, 2, 1),
               Mux(mod3 == 1, Mux(stride2, 0, 2), Mux(stride2, 1, 0)))


def _wraps(mod3, stride2):
    """Whether a step from a coordinate of this ``mod 3`` crosses into the next group of
    three."""
    return Mux(stride2, mod3 != 0, mod3 == 2)


class _Count:
    """A loop counter counting down to its last iteration; at an edge where ``enable`` is
    high, it loads ``count`` iterations if ``restart`` is high, else steps if ``advance``
    is. ``last`` (this is the last iteration) is a register, and so is what it becomes on
    a step (the next is the last): no comparison of the count sits in front of the
    loop's decisions. ``count_is1`` and ``count_is2`` (``count`` is 1, 2) are registers
    too (:class:`_CommandFlags`)."""

    def __init__(self, m, enable, name, count, count_is1, count_is2, restart, advance):
        self.left = Signal(COUNT_BITS, name=f"{name}_left")  # iterations after this one
        self.last = Signal(name=f"{name}_last")
        penultimate = Signal(name=f"{name}_penultimate")
        self.restart, self.advance = restart, advance
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
    loads at): steady, like the command, from ``start`` until the tile is done. Besides
    the mode and the counts' flags: whether each start coordinate's first and second
    steps enter a new group of three (``wraps``, ``wraps_after``)."""

    def __init__(self, m, cmd_next, load):
        self.pool, self.conv = Signal(name="cmd_pool"), Signal(name="cmd_conv")
        self.is1 = {name: Signal(name=f"cmd_{name}_is1")
                    for name in ("out_rows", "out_cols", "blocks_in")}
        self.is2 = {name: Signal(name=f"cmd_{name}_is2")
                    for name in ("out_rows", "out_cols", "blocks_in")}
        self.wraps = {axis: Signal(name=f"cmd_{axis}0_wraps") for axis in ("row", "col")}
        self.wraps_after = {axis: Signal(name=f"cmd_{axis}0_wraps_after")
                            for axis in ("row", "col")}
        with m.If(load):
            m.d.sync += [self.pool.eq(cmd_next.mode == Mode.POOL),
                         self.conv.eq(cmd_next.mode == Mode.CONV)]
            for name in self.is1:
                count = getattr(cmd_next, name)
                m.d.sync += [self.is1[name].eq(count == 1), self.is2[name].eq(count == 2)]
            for axis in self.wraps:
                mod3, stride2 = getattr(cmd_next, f"{axis}0_mod3"), cmd_next.stride2
                m.d.sync += [self.wraps[axis].eq(_wraps(mod3, stride2)),
                             self.wraps_after[axis].eq(_wraps(_after(mod3, stride2), stride2))]


class WindowSequencer(wiring.Component):
    """Issue the window requests of one tile.

    The first request is offered the cycle after ``start`` (two after ``load``), then one a cycle while the
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
        are registered from it, beside the command register. The tile begins the cycle
        after ``load`` (``start``, a register of the sequencer: the controller's
        ``start``).
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
        # The tile's start, the cycle after ``load``: a register beside the decisions
        # (the controller's ``start`` placed across the chip, a 3.61 ns route into them,
        # was a candidate's critical path: timing step 16a).
        start = Signal()
        m.d.sync += start.eq(self.load)
        request = self.o_stream.payload
        fire = self.o_stream.valid & self.o_stream.ready
        # Every register of the loop nest advances at a start or an issued request: the
        # clock enable. What they advance to does not depend on it (the handshake is one
        # LUT from the enables, not at the head of the next-state logic).
        advance = Signal()
        m.d.comb += advance.eq(start | fire)

        # What the next issued request does to each loop, registered a request ahead
        # (below): restart (``start`` restarts every loop), advance, or keep.
        does = {f"{loop}_{action}": Signal(name=f"next_{loop}_{action}")
                for loop in ("block", "col", "row") for action in ("restart", "advance")}
        restart = {loop: Signal(name=f"{loop}_restart") for loop in ("block", "col", "row")}
        m.d.comb += [restart[loop].eq(start | does[f"{loop}_restart"]) for loop in restart]

        row = _Axis(m, advance, "row", cmd.row0, cmd.row0_mod3, cmd.stride2,
                    restart["row"], does["row_advance"], flags.wraps["row"],
                    flags.wraps_after["row"])
        col = _Axis(m, advance, "col", cmd.col0, cmd.col0_mod3, cmd.stride2,
                    restart["col"], does["col_advance"], flags.wraps["col"],
                    flags.wraps_after["col"])
        out_row, out_col, block = (
            _Count(m, advance, name, getattr(cmd, count), flags.is1[count], flags.is2[count],
                   restart[loop], does[f"{loop}_advance"])
            for name, count, loop in (("out_row", "out_rows", "row"),
                                      ("out_col", "out_cols", "col"),
                                      ("block", "blocks_in", "block")))
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

        # The loop nest's decisions for the request after the enabled edge's, from the
        # loop-end flags' next values (a LUT each). Pooling walks channel blocks outside
        # and pixels inside: the last pixel restarts the pixels and advances the block;
        # the other modes walk pixels outside and channel blocks inside: the last block
        # restarts the block and goes to the next pixel. The next pixel is the next
        # column, or after the last column, column 0 of the next row. (After the tile's
        # last request the decisions are never used: ``start`` restarts every loop.)
        last_block, last_col, last_row = block.last_next, out_col.last_next, out_row.last_next
        block_step = Mux(pool, last_col & last_row, ~last_block)  # the next base: a word on
        decided = {
            "block_restart": ~pool & last_block,
            "block_advance": block_step,
            "col_restart": Mux(pool, last_col, last_block & last_col),
            "col_advance": Mux(pool, ~last_col, last_block & ~last_col),
            "row_restart": pool & last_col & last_row,
            "row_advance": Mux(pool, last_col & ~last_row, last_block & last_col),
        }
        # The step the base after that request takes from the base it starts from, as
        # one-hot selects: a word (a channel block; none in conv mode, where every block
        # of a pixel requests the same window), the row pitch when the next row enters a
        # new group of three, the column pitch when the next column does, else none.
        step_word, step_row, step_col = (Signal(name=f"step_{name}")
                                         for name in ("word", "row", "col"))
        with m.If(advance):
            m.d.sync += [does[name].eq(value) for name, value in decided.items()]
            m.d.sync += [
                step_word.eq(block_step & ~conv),
                step_row.eq(~block_step & last_col & row.wraps_next),
                step_col.eq(~block_step & ~last_col & col.wraps_next),
            ]
        # The next request's base is one base plus one step, both chosen by registers:
        # the next channel block's (``block_base``), the next row's (``row_base``) or the
        # next column's (``pixel_base``). So a LUT of registers sits on each side of the
        # adder and one LUT behind it (a multiplexer of every case's own sum behind the
        # adders was this block's critical path).
        step = Signal.like(base)
        m.d.comb += step.eq(Mux(step_word, 1, 0) | Mux(step_row, cmd.row_pitch, 0)
                            | Mux(step_col, cmd.col_pitch, 0))
        next_base = Signal.like(base)
        m.d.comb += next_base.eq(
            Mux(does["block_advance"], block_base,
                Mux(does["col_restart"], row_base, pixel_base)) + step)

        # Which bases take the next base (the start loads base0 into each): the request's
        # always; the pixel's when the column moves; the row's when it restarts; the
        # block's except while pooling walks a block's pixels.
        load = {
            "pixel": restart["col"] | does["col_advance"],
            "row": restart["col"],
            "block": start | ~pool | does["block_advance"],
        }
        with m.If(advance):
            m.d.sync += ib.eq(Mux(restart["block"], 0,
                                  Mux(does["block_advance"], ib + 1, ib)))
            loaded = Mux(start, cmd.base0, next_base)
            m.d.sync += base.eq(loaded)
            for name, register in (("pixel", pixel_base), ("row", row_base),
                                   ("block", block_base)):
                with m.If(load[name]):
                    m.d.sync += register.eq(loaded)
        with m.If(start):
            m.d.sync += self.busy.eq(1)
        with m.Elif(fire & tile_end):
            m.d.sync += self.busy.eq(0)
        return m
