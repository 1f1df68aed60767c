"""3x3 window generator over the activation buffer's 9 sub-banks.

A request names a window by its top-left input pixel ``(row, col)`` (tile-local, -1 for a
window that starts in the top or left padding) and a channel block. Because the layout
of :mod:`hw.act_buffer` puts the 9 taps in 9 different sub-banks, the generator reads
all of them in one cycle and rotates them into tap order; taps outside the tile's
``rows x cols`` read as the input zero point (explicit padding, any side, any stride).
The sequencer supplies ``row mod 3``, ``col mod 3`` and the base address incrementally,
so no division by 3 and no multiplier sits in this path.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from model.numerics import ACT_BITS

from .act_buffer import SUB_BANKS
from .config import ceil_log2
from .pointwise import check_pe, discard_on_error

__all__ = ["WindowGenerator", "window_request_layout", "window_output_layout", "COORD_BITS",
           "window_request"]

COORD_BITS = 12  # signed tile coordinates: maps up to 2047 pixels wide


def window_request_layout(depth, tag_bits):
    """``row``, ``col`` (signed top-left tap), ``row_mod3``, ``col_mod3``, ``base`` (signed
    address of the word at (3*(row//3), 3*(col//3)) for the block), ``tag`` (passed through)."""
    return data.StructLayout({
        "row": signed(COORD_BITS),
        "col": signed(COORD_BITS),
        "row_mod3": unsigned(2),
        "col_mod3": unsigned(2),
        "base": signed(ceil_log2(depth) + 2),
        "tag": unsigned(max(1, tag_bits)),
    })


def window_output_layout(pe, tag_bits):
    """``taps[t][c]`` for tap ``t = 3 * dy + dx`` and channel ``c``, and the request's ``tag``."""
    return data.StructLayout({
        "taps": data.ArrayLayout(data.ArrayLayout(signed(ACT_BITS), pe), SUB_BANKS),
        "tag": unsigned(max(1, tag_bits)),
    })


def window_request(row, col, ib, *, width, blocks, tag=0):
    """The request fields for window (row, col, ib) of a tile ``width`` pixels wide with
    ``blocks`` channel blocks: the values the sequencer computes incrementally."""
    row_div, row_mod = divmod(row, 3)
    col_div, col_mod = divmod(col, 3)
    return {"row": row, "col": col, "row_mod3": row_mod, "col_mod3": col_mod,
            "base": (row_div * -(-width // 3) + col_div) * blocks + ib, "tag": tag}


class WindowGenerator(wiring.Component):
    """Turn window requests into 3x3 windows of ``pe`` channels, one per cycle.

    Two stages: the request's 9 sub-bank addresses go to the buffer's synchronous read
    ports (stage 1 holds the request's rotation and padding mask), then the words are
    rotated into tap order, padding replaced by ``zero_point``, and registered onto
    ``o_stream``. Each stage holds its beat while the next stalls.

    Parameters
    ----------
    pe : int
    depth : int
        Words per sub-bank half of the activation buffer.
    tag_bits : int
        Width of the opaque tag carried from request to window.

    Members
    -------
    i_stream : In(stream.Signature(window_request_layout(depth, tag_bits)))
    o_stream : Out(stream.Signature(window_output_layout(pe, tag_bits)))
    rows, cols : In(COORD_BITS)
        The tile's input rows and columns; taps outside are padding.
    row_pitch, col_pitch : In(addr bits + 1)
        ``ceil(cols / 3) * CB`` and ``CB``: address steps of 3 rows and 3 columns.
    zero_point : In(signed(8))
        The value of a padding tap.
    r_addr, r_en, r_oe, r_data
        To the :class:`ActBuffer` read ports (connect ``r_data`` from the buffer).
    """

    #: Cycles from an accepted request to its window on ``o_stream`` (no stalls): the
    #: sub-banks' read, their output registers, the tap selection.
    LATENCY = 3

    def __init__(self, pe, depth, tag_bits=1):
        with discard_on_error(self):
            check_pe(pe)
            self._pe, self._depth, self._tag_bits = pe, depth, tag_bits
            aw = ceil_log2(depth)
            super().__init__({
                "i_stream": In(stream.Signature(window_request_layout(depth, tag_bits))),
                "o_stream": Out(stream.Signature(window_output_layout(pe, tag_bits))),
                "rows": In(COORD_BITS),
                "cols": In(COORD_BITS),
                "row_pitch": In(aw + 1),
                "col_pitch": In(aw + 1),
                "zero_point": In(signed(ACT_BITS)),
                "r_addr": Out(data.ArrayLayout(unsigned(aw), SUB_BANKS)),
                "r_en": Out(1),
                "r_oe": Out(1),
                "r_data": In(data.ArrayLayout(data.ArrayLayout(signed(ACT_BITS), pe), SUB_BANKS)),
            })

    def elaborate(self, platform):
        m = Module()
        req = self.i_stream.payload

        s1_valid = Signal()
        s1_row_mod3 = Signal(2)
        s1_col_mod3 = Signal(2)
        s1_pad = Signal(SUB_BANKS)  # by tap
        s1_tag = Signal.like(req.tag)

        # Stage 2: the sub-banks' output registers (ActBuffer.r_oe), with the markers.
        s2_valid = Signal()
        s2_row_mod3, s2_col_mod3 = Signal(2), Signal(2)
        s2_pad = Signal(SUB_BANKS)
        s2_tag = Signal.like(req.tag)

        s3_ready = ~self.o_stream.valid | self.o_stream.ready
        s2_ready = ~s2_valid | s3_ready
        s1_ready = ~s1_valid | s2_ready
        m.d.comb += [self.i_stream.ready.eq(s1_ready), self.r_en.eq(s1_ready),
                     self.r_oe.eq(s2_ready)]
        with m.If(s2_ready):
            m.d.sync += [s2_valid.eq(s1_valid), s2_row_mod3.eq(s1_row_mod3),
                         s2_col_mod3.eq(s1_col_mod3), s2_pad.eq(s1_pad), s2_tag.eq(s1_tag)]

        # Sub-bank (rb, cb) holds the tap whose row is row + ((rb - row_mod3) mod 3); that
        # row is in the next group of three when row_mod3 + dy >= 3.
        for rb in range(3):
            for cb in range(3):
                dy = Signal(2, name=f"dy{rb}{cb}")
                dx = Signal(2, name=f"dx{rb}{cb}")
                m.d.comb += [dy.eq(_mod3_diff(rb, req.row_mod3)), dx.eq(_mod3_diff(cb, req.col_mod3))]
                addr = (req.base
                        + Mux(req.row_mod3 + dy >= 3, self.row_pitch, 0)
                        + Mux(req.col_mod3 + dx >= 3, self.col_pitch, 0))
                m.d.comb += self.r_addr[3 * rb + cb].eq(addr)

        with m.If(s1_ready):
            m.d.sync += [
                s1_valid.eq(self.i_stream.valid),
                s1_row_mod3.eq(req.row_mod3),
                s1_col_mod3.eq(req.col_mod3),
                s1_tag.eq(req.tag),
            ]
            for dy in range(3):
                row = req.row + dy
                row_out = (row < 0) | (row >= self.rows)
                for dx in range(3):
                    col = req.col + dx
                    col_out = (col < 0) | (col >= self.cols)
                    m.d.sync += s1_pad[3 * dy + dx].eq(row_out | col_out)

        with m.If(s3_ready):
            m.d.sync += [self.o_stream.valid.eq(s2_valid), self.o_stream.payload.tag.eq(s2_tag)]
            for dy in range(3):
                for dx in range(3):
                    tap = 3 * dy + dx
                    word = self.o_stream.payload.taps[tap]
                    with m.If(s2_pad[tap]):
                        m.d.sync += word.eq(_splat(self.zero_point, self._pe))
                    with m.Else():
                        # The tap's sub-bank: ((row_mod3 + dy) mod 3, (col_mod3 + dx) mod 3).
                        with m.Switch(s2_row_mod3 * 4 + s2_col_mod3):
                            for my in range(3):
                                for mx in range(3):
                                    with m.Case(my * 4 + mx):
                                        bank = 3 * ((my + dy) % 3) + (mx + dx) % 3
                                        m.d.sync += word.eq(self.r_data[bank])
        return m


def _mod3_diff(target, mod3):
    """(target - mod3) mod 3 for a constant target and a 2-bit mod3 in 0..2."""
    return Mux(mod3 == target, 0, Mux(mod3 == (target + 2) % 3, 1, 2))


def _splat(value, count):
    return Cat(*([value] * count))
