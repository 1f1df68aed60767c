"""The window sequencer: walks a tile's loop nest and issues one window request a cycle.

Fused and pointwise modes walk pixels (output rows, then columns) outside and input
channel blocks inside, a run per pixel; pooling walks channel blocks outside and pixels
inside, a run per channel block. Window coordinates advance by the stride with their
``mod 3`` and address base updated incrementally (no division, no multiplier): the
address of a request is ``base0 + row_base + col_base + ib``.
"""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .command import COUNT_BITS, PITCH_BITS, Mode, command_layout
from .window import COORD_BITS, window_request_layout

__all__ = ["WindowSequencer", "window_tag_layout"]


def window_tag_layout():
    """What travels with a window: its channel block and the run / tile markers."""
    return data.StructLayout({"ib": unsigned(COUNT_BITS), "run_end": 1, "tile_end": 1})


class _Axis:
    """One spatial coordinate with its ``mod 3`` and its address offset."""

    def __init__(self, m, name, pitch_bits):
        self.m = m
        self.pos = Signal(signed(COORD_BITS), name=f"{name}_pos")
        self.mod3 = Signal(2, name=f"{name}_mod3")
        self.base = Signal(signed(pitch_bits + 2), name=f"{name}_base")

    def reset(self, pos, mod3):
        return [self.pos.eq(pos), self.mod3.eq(mod3), self.base.eq(0)]

    def step(self, stride2, pitch):
        step = Mux(stride2, 2, 1)
        wrapped = self.mod3 + step >= 3
        return [
            self.pos.eq(self.pos + step),
            self.mod3.eq(Mux(wrapped, self.mod3 + step - 3, self.mod3 + step)),
            self.base.eq(Mux(wrapped, self.base + pitch, self.base)),
        ]


class WindowSequencer(wiring.Component):
    """Issue the window requests of one tile.

    Members
    -------
    cmd : In(command_layout())
        The tile; held steady from ``start`` until the tile is done.
    start : In(1)
        Pulse: begin the tile.
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
            "start": In(1),
            "busy": Out(1),
            "o_stream": Out(stream.Signature(window_request_layout(depth, tag_bits))),
            "space": In(1),
            "reserve": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cmd = self.cmd
        pool = cmd.mode == Mode.POOL
        row, col = _Axis(m, "row", PITCH_BITS), _Axis(m, "col", PITCH_BITS)
        out_row = Signal(COUNT_BITS)
        out_col = Signal(COUNT_BITS)
        ib = Signal(COUNT_BITS)

        last_col = out_col == cmd.out_cols - 1
        last_pixel = last_col & (out_row == cmd.out_rows - 1)
        last_block = ib == cmd.blocks_in - 1
        run_end = Mux(pool, last_pixel, last_block)
        tile_end = last_pixel & last_block

        request = self.o_stream.payload
        tag = Signal(window_tag_layout())
        m.d.comb += [
            tag.ib.eq(ib),
            tag.run_end.eq(run_end),
            tag.tile_end.eq(tile_end),
            request.row.eq(row.pos),
            request.col.eq(col.pos),
            request.row_mod3.eq(row.mod3),
            request.col_mod3.eq(col.mod3),
            request.base.eq(cmd.base0 + row.base + col.base + ib),
            request.tag.eq(tag.as_value()),
            self.o_stream.valid.eq(self.busy & self.space),
            self.reserve.eq(self.o_stream.valid & self.o_stream.ready),
        ]

        def next_pixel():
            with m.If(last_col):
                m.d.sync += [out_col.eq(0), out_row.eq(out_row + 1)]
                m.d.sync += col.reset(cmd.col0, cmd.col0_mod3)
                m.d.sync += row.step(cmd.stride2, cmd.row_pitch)
            with m.Else():
                m.d.sync += out_col.eq(out_col + 1)
                m.d.sync += col.step(cmd.stride2, cmd.col_pitch)

        def restart_pixels():
            m.d.sync += [out_row.eq(0), out_col.eq(0)]
            m.d.sync += row.reset(cmd.row0, cmd.row0_mod3) + col.reset(cmd.col0, cmd.col0_mod3)

        with m.If(self.start):
            m.d.sync += [self.busy.eq(1), ib.eq(0)]
            restart_pixels()
        with m.Elif(self.o_stream.valid & self.o_stream.ready):
            with m.If(tile_end):
                m.d.sync += self.busy.eq(0)
            with m.Elif(pool):
                with m.If(last_pixel):
                    m.d.sync += ib.eq(ib + 1)
                    restart_pixels()
                with m.Else():
                    next_pixel()
            with m.Else():
                with m.If(last_block):
                    m.d.sync += ib.eq(0)
                    next_pixel()
                with m.Else():
                    m.d.sync += ib.eq(ib + 1)
        return m
