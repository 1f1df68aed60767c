"""The activation buffer: 9 window sub-banks x 2 halves of on-chip SRAM.

A word is one pixel's block of ``pe`` int8 channels. Pixel (row, col, channel block ib)
of a tile lives in sub-bank ``3 * (row % 3) + col % 3`` at address
``((row // 3) * ceil(W / 3) + col // 3) * CB + ib``, so the 9 taps of any 3x3 window sit
in 9 different sub-banks. The two halves share each sub-bank's memory, interleaved (the
half is the address's low bit, so the memory is exactly twice a half's depth): the load
stream fills one half while the engine reads the other (double buffering), and no
multiplexer sits between a block RAM and the output register that follows it (each
sub-bank a ``hw.bram.BlockRam``: on ECP5 the DP16KD's own output register).
"""

from amaranth.hdl import Cat, Module, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from model.numerics import ACT_BITS

from .bram import BlockRam
from .config import ceil_log2
from .pointwise import check_pe, discard_on_error

__all__ = ["ActBuffer", "ActLayoutWalk", "act_write_layout", "SUB_BANKS", "sub_bank_address"]

SUB_BANKS = 9


def sub_bank_address(row: int, col: int, ib: int, width: int, blocks: int) -> tuple[int, int]:
    """(sub-bank, address) of pixel (row, col), channel block ``ib``; the layout's definition."""
    return 3 * (row % 3) + col % 3, ((row // 3) * -(-width // 3) + col // 3) * blocks + ib


class ActLayoutWalk:
    """Registers that walk a map's words in this layout in load order (channel block,
    then column, then row) from incremental counters, for the writers of the buffer
    (``hw.load_dma``, ``hw.act_writer``): block ``ib``, column ``col`` and its ``c3``
    (mod 3), row mod 3 ``r3``, and the address base of the current column and row, so
    the word's sub-bank is ``3 * r3 + c3`` and its address ``base + ib``; every
    end-of-count test is an equality with a register (``last_ib``, ``last_col``)."""

    def __init__(self, addr_bits: int):
        self.ib, self.col = Signal(12), Signal(12)
        self.c3, self.r3 = Signal(2), Signal(2)
        self.base, self.row_base = Signal(addr_bits + 1), Signal(addr_bits + 1)

    def bank(self):
        from .products import times_constant

        return times_constant(self.r3, 3) + self.c3

    def addr(self):
        return self.base + self.ib

    def restart(self, base=0) -> list:
        """Statements that put the walk at the map's first word (bases at ``base``)."""
        return [self.ib.eq(0), self.col.eq(0), self.c3.eq(0), self.r3.eq(0),
                self.base.eq(base), self.row_base.eq(base)]

    def advance(self, m: Module, last_ib, last_col, row_pitch, blocks) -> None:
        """Step to the next word (in the caller's ``m.If``): ``blocks`` words per pixel
        in the whole map, ``row_pitch`` = ``ceil(W / 3) * blocks``."""
        with m.If(self.ib == last_ib):
            m.d.sync += self.ib.eq(0)
            with m.If(self.col == last_col):
                m.d.sync += [self.col.eq(0), self.c3.eq(0)]
                with m.If(self.r3 == 2):
                    next_row = self.row_base + row_pitch
                    m.d.sync += [self.r3.eq(0), self.row_base.eq(next_row), self.base.eq(next_row)]
                with m.Else():
                    m.d.sync += [self.r3.eq(self.r3 + 1), self.base.eq(self.row_base)]
            with m.Else():
                m.d.sync += self.col.eq(self.col + 1)
                with m.If(self.c3 == 2):
                    m.d.sync += [self.c3.eq(0), self.base.eq(self.base + blocks)]
                with m.Else():
                    m.d.sync += self.c3.eq(self.c3 + 1)
        with m.Else():
            m.d.sync += self.ib.eq(self.ib + 1)


def act_write_layout(pe, depth):
    """One write: ``half``, ``bank`` (0..8), ``addr``, ``data`` (pe x int8)."""
    return data.StructLayout({
        "half": 1,
        "bank": unsigned(4),
        "addr": unsigned(ceil_log2(depth)),
        "data": data.ArrayLayout(signed(ACT_BITS), pe),
    })


class ActBuffer(wiring.Component):
    """18 memories of ``depth`` words of ``pe`` int8 channels, with a write stream and 9
    parallel synchronous read ports on the selected half.

    Parameters
    ----------
    pe : int
        Channels per word.
    depth : int
        Words per sub-bank and half (``AcceleratorConfig.bank["act"].depth``).

    Members
    -------
    w_stream : In(stream.Signature(act_write_layout(pe, depth)))
        Words to store; always ready (one write per cycle). The sub-bank's enable is
        decoded in front of its write registers and the word written one edge after it is
        taken (``BlockRam.write_latency``): a read two or more edges after returns it.
    r_half : In(1)
        The half the read ports read.
    r_addr : In(data.ArrayLayout(unsigned(aw), 9))
        Address per sub-bank.
    r_en : In(1)
        Read enable: the memories read ``r_addr`` at an edge where it is high.
    r_oe : In(1)
        Output register enable: the words read enter ``r_data`` at an edge where it is
        high (a block RAM's output register; the reader's next stage advances).
    r_data : Out(data.ArrayLayout(data.ArrayLayout(signed(8), pe), 9))
        Word per sub-bank, two cycles after the address (``r_half`` is sampled with it);
        not reset.
    """

    def __init__(self, pe, depth):
        with discard_on_error(self):
            check_pe(pe)
            if not isinstance(depth, int) or isinstance(depth, bool) or depth <= 0:
                raise TypeError(f"depth must be a positive integer, not {depth!r}")
            self._pe, self._depth = pe, depth
            word = data.ArrayLayout(signed(ACT_BITS), pe)
            super().__init__({
                "w_stream": In(stream.Signature(act_write_layout(pe, depth))),
                "r_half": In(1),
                "r_addr": In(data.ArrayLayout(unsigned(ceil_log2(depth)), SUB_BANKS)),
                "r_en": In(1),
                "r_oe": In(1),
                "r_data": Out(data.ArrayLayout(word, SUB_BANKS)),
            })

    def elaborate(self, platform):
        m = Module()
        write = self.w_stream.payload
        m.d.comb += self.w_stream.ready.eq(1)

        for bank in range(SUB_BANKS):
            ram = m.submodules[f"act_b{bank}"] = BlockRam(self._pe * ACT_BITS, 2 * self._depth)
            m.d.comb += [
                ram.w_addr.eq(Cat(write.half, write.addr)),
                ram.w_data.eq(write.data),
                ram.w_en.eq(self.w_stream.valid & (write.bank == bank)),
                ram.r_addr.eq(Cat(self.r_half, self.r_addr[bank])),
                ram.r_en.eq(self.r_en),
                ram.r_oe.eq(self.r_oe),
                self.r_data[bank].eq(ram.r_data),
            ]
        return m
