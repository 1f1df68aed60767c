"""3x3 window generator over the activation buffer's 9 sub-banks.

A request names a window by its top-left input pixel ``(row, col)`` (tile-local, -1 for a
window that starts in the top or left padding) and a channel block. Because the layout
of :mod:`hw.act_buffer` puts the 9 taps in 9 different sub-banks, the generator reads
all of them in one cycle and rotates them into tap order; taps outside the tile's
``rows x cols`` read as the input zero point (explicit padding, any side, any stride).
The sequencer supplies ``row mod 3``, ``col mod 3`` and the base address incrementally,
so no division by 3 and no multiplier sits in this path.
"""

import functools
import operator

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from model.numerics import ACT_BITS

from .act_buffer import SUB_BANKS
from .config import ceil_log2
from .pointwise import check_pe, discard_on_error, pipeline_enables
from .skid import skid_input

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

    Seven stages (:attr:`LATENCY`), throughput one window per cycle:

    0. the request's base plus its row's pitch term, one sum per row of sub-banks (the
       column's term is added in stage 1: one carry chain a stage);
    1. the request's 9 sub-bank addresses, each in its own register that drives only its
       sub-bank's block RAM address pins (no logic between the register and the memory,
       whose address route may cross the chip), with the window's row and column;
    2. the sub-banks' synchronous read (``r_en``), beside the padding mask's compares,
       computed from stage 1's row and column (so they start from a register of this
       block, not from the sequencer's, behind a route and in front of the skid
       register), each ``row + dy >= rows`` one carry chain, ``row >= rows - dy``, against
       registers of the tile's ``rows - dy``, each compare into a register of its own
       (12 flags: row below or past the tile by ``dy``, column by ``dx``);
    3. the sub-banks' output registers (``r_oe``), beside each tap's select (one-hot:
       which sub-bank it reads, or padding: the OR of its four flags), decoded here from
       ``row mod 3`` and ``col mod 3`` so the tap multiplexers start from registers of
       their own;
    4. the sub-banks' words in registers of this block (``pe`` bytes a sub-bank, no logic
       in front of them: the route from a block RAM's output register, which may cross
       the chip, is all this stage's path), beside the selects;
    5. the words rotated into tap order, padding replaced by ``zero_point``: each tap's
       ten sources masked by its one-hot select and ORed in two halves of five, each half
       into a register of its own;
    6. each tap the OR of its two halves, registered onto ``o_stream``.

    The stages advance together whenever ``o_stream``'s register is empty or its beat is
    taken (:func:`hw.pointwise.pipeline_enables`): a stalled output holds every beat in
    flight, bubbles included. (In the engine the output never stalls: the pixel buffer
    is always ready.) ``i_stream.ready`` is a register (:func:`hw.skid.skid_input`): a
    request arriving while the stages stall waits in a skid register, as stage 1's
    values, at no latency, so no path runs from ``o_stream.ready`` to the requester.

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
        To the :class:`ActBuffer` read ports (connect ``r_data`` from the buffer);
        ``r_addr`` comes straight from stage 1's registers.
    """

    #: Cycles from an accepted request to its window on ``o_stream`` (no stalls): the
    #: row terms, the address registers, the sub-banks' read, their output registers,
    #: the words' registers, the tap selection in two stages. (4 until timing step 6: the
    #: block RAM's output register, a 4.48 ns route across the chip and the ten-way tap
    #: multiplexer in one cycle were the whole design's critical path, 9.32 ns; 5 until
    #: timing step 14: the base and both pitch terms in one stage; 6 until timing step 27:
    #: the select register, a 3.06 ns route and the ten-way multiplexer's five LUT and
    #: PFUMX levels were pe 4's critical path with the clock on a global network, seed 2,
    #: 8.61 ns.)
    LATENCY = 7

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
        aw = ceil_log2(self._depth)

        # Stage 0's values, computed from the request: the addresses' row terms.
        # Sub-bank (rb, cb) holds the tap whose row is row + ((rb - row_mod3) mod 3), in
        # the next group of three rows (one row pitch further) when rb < row_mod3; the
        # same for columns. A request arriving while the stages stall waits in a skid
        # register with these values (its multiplexer behind this logic, in front of the
        # registers), so ``i_stream.ready`` is a register. The padding mask waits for
        # stage 2 (below).
        # The row's term first, one sum a sub-bank row (stage 0's registers), the
        # column's in stage 1: the request's base, both pitch terms and the skid's
        # multiplexer in one cycle (two carry chains in series, behind the window
        # sequencer's registers) were the whole design's critical path after timing
        # step 13 (8.41 / 8.57 ns).
        first = Signal(data.StructLayout({
            "addr_row": data.ArrayLayout(unsigned(aw), 3),
            "row": req.row.shape(), "col": req.col.shape(),
            "row_mod3": 2, "col_mod3": 2, "tag": req.tag.shape()}))
        for rb in range(3):
            m.d.comb += first.addr_row[rb].eq(req.base + Mux(req.row_mod3 > rb, self.row_pitch, 0))
        m.d.comb += [first.row.eq(req.row), first.col.eq(req.col),
                     first.row_mod3.eq(req.row_mod3), first.col_mod3.eq(req.col_mod3),
                     first.tag.eq(req.tag)]
        requests = skid_input(m, self.i_stream, "request", first)

        # The stages advance together, one LUT from o_stream: with each stage advancing
        # when it was empty, the ready chain through every stage's valid bit into the
        # clock enables was this block's critical path.
        _, (advance, *_) = pipeline_enables(m, self.LATENCY, requests, self.o_stream, "")
        m.d.comb += [self.r_en.eq(advance), self.r_oe.eq(advance)]

        # Markers beside the words: row and col mod 3, the padding flags, the tag.
        s1_row_mod3, s1_col_mod3, s2_row_mod3, s2_col_mod3 = (Signal(2) for _ in range(4))
        s1_row, s1_col = Signal.like(req.row), Signal.like(req.col)
        # The padding mask's compares by row offset and column offset (stage 2).
        s2_row_lo, s2_row_hi, s2_col_lo, s2_col_hi = (
            [Signal(name=f"s2_{what}{d}") for d in range(3)]
            for what in ("row_lo", "row_hi", "col_lo", "col_hi"))
        s1_tag, s2_tag, s3_tag = (Signal.like(req.tag) for _ in range(3))
        # By tap, one-hot: the sub-bank it reads (bit 3 * rb + cb), or padding (bit 9).
        s3_select = [Signal(SUB_BANKS + 1, name=f"s3_select{tap}") for tap in range(SUB_BANKS)]
        s4_select = [Signal(SUB_BANKS + 1, name=f"s4_select{tap}") for tap in range(SUB_BANKS)]
        s4_tag = Signal.like(req.tag)
        s4_data = Signal.like(self.r_data)
        s5_tag = Signal.like(req.tag)
        s5_halves = [[Signal(8 * self._pe, name=f"s5_tap{tap}_{h}") for h in range(2)]
                     for tap in range(SUB_BANKS)]

        # The tile's ``rows - d`` and ``cols - d`` (d = 0, 1, 2) in registers: ``rows`` and
        # ``cols`` are the command's, steady from its acceptance, and a tile's first
        # request reaches stage 2 at least two edges after it.
        rows_end = [Signal(signed(COORD_BITS + 2), name=f"rows_end{d}") for d in range(3)]
        cols_end = [Signal(signed(COORD_BITS + 2), name=f"cols_end{d}") for d in range(3)]
        for d in range(3):
            m.d.sync += [rows_end[d].eq(self.rows + Const(-d, signed(3))),
                         cols_end[d].eq(self.cols + Const(-d, signed(3)))]

        s0 = Signal.like(first)
        with m.If(advance):
            # Stage 0: the row's term of the addresses, the markers.
            m.d.sync += s0.eq(requests.payload)
            # Stage 1: the addresses (r_addr's registers), the markers.
            for rb in range(3):
                for cb in range(3):
                    m.d.sync += self.r_addr[3 * rb + cb].eq(
                        s0.addr_row[rb] + Mux(s0.col_mod3 > cb, self.col_pitch, 0))
            m.d.sync += [s1_row.eq(s0.row), s1_col.eq(s0.col),
                         s1_row_mod3.eq(s0.row_mod3), s1_col_mod3.eq(s0.col_mod3),
                         s1_tag.eq(s0.tag)]

            # Stage 2: the sub-banks read (r_en); the padding mask by tap, from stage 1's
            # registers (the tile's rows and cols are the command's, steady).
            m.d.sync += [s2_row_mod3.eq(s1_row_mod3), s2_col_mod3.eq(s1_col_mod3),
                         s2_tag.eq(s1_tag)]
            # ``row + dy >= rows`` as ``row >= rows - dy``, against registers of the
            # tile's ``rows - dy`` (below): one carry chain, not an adder and a compare in
            # series (``s1_col + dx`` into ``>= cols``, two chains and four LUTs, was the
            # whole design's critical path after timing step 8's first two fixes, 9.57 ns).
            # Each compare into a register of its own, the OR of a tap's four in stage 3
            # (into its select): after step 8 the compare's carry chain, its feed-out and
            # two LUTs of the OR in series, with routes between, were the whole design's
            # critical path at seed 2 (8.46 ns; timing step 9).
            for d in range(3):
                m.d.sync += [s2_row_lo[d].eq(s1_row < -d), s2_row_hi[d].eq(s1_row >= rows_end[d]),
                             s2_col_lo[d].eq(s1_col < -d), s2_col_hi[d].eq(s1_col >= cols_end[d])]

            # Stage 3: the sub-banks' output registers (r_oe) and each tap's select: the
            # tap (dy, dx) is in sub-bank ((row_mod3 + dy) mod 3, (col_mod3 + dx) mod 3).
            m.d.sync += s3_tag.eq(s2_tag)
            for dy in range(3):
                for dx in range(3):
                    tap = 3 * dy + dx
                    pad = s2_row_lo[dy] | s2_row_hi[dy] | s2_col_lo[dx] | s2_col_hi[dx]
                    for rb in range(3):
                        for cb in range(3):
                            m.d.sync += s3_select[tap][3 * rb + cb].eq(
                                ~pad & (s2_row_mod3 == (rb - dy) % 3)
                                & (s2_col_mod3 == (cb - dx) % 3))
                    m.d.sync += s3_select[tap][SUB_BANKS].eq(pad)

            # Stage 4: the sub-banks' words into registers of this block, the selects beside.
            m.d.sync += [s4_data.eq(self.r_data), s4_tag.eq(s3_tag),
                         *(s4_select[tap].eq(s3_select[tap]) for tap in range(SUB_BANKS))]

            # Stage 5: each tap's sources masked by its one-hot select (no decoder between
            # the select register and the multiplexer), ORed in two halves of five.
            m.d.sync += s5_tag.eq(s4_tag)
            sources = [*(s4_data[bank] for bank in range(SUB_BANKS)),
                       _splat(self.zero_point, self._pe)]
            for tap in range(SUB_BANKS):
                masked = [Mux(select, source, 0) for select, source in zip(s4_select[tap], sources)]
                half = len(masked) // 2
                m.d.sync += [s5_halves[tap][0].eq(functools.reduce(operator.or_, masked[:half])),
                             s5_halves[tap][1].eq(functools.reduce(operator.or_, masked[half:]))]

            # Stage 6: each tap the OR of its halves.
            m.d.sync += self.o_stream.payload.tag.eq(s5_tag)
            for tap in range(SUB_BANKS):
                m.d.sync += self.o_stream.payload.taps[tap].eq(s5_halves[tap][0] | s5_halves[tap][1])
        return m


def _splat(value, count):
    return Cat(*([value] * count))
