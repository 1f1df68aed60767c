"""conv1's im2col words formed on chip from the window generator's windows.

In ``Mode.CONV`` the activation buffer holds the raw image, one pixel per word (its
channels in lanes 0 .. IMAGE_CHANNELS - 1, loaded by ``hw.load_dma`` from the compact
image in DDR), and the window generator forms the padded 3x3 window (stride 2, taps
outside the image at the input zero point) as for a depthwise layer. The window
sequencer requests each output pixel's window ``ceil(27 / pe)`` times, once per
pointwise input block ``ib`` (the same window; only the tag's ``ib`` differs), and this
stage picks word ``ib`` of the pixel's im2col vector: lane ``j`` is im2col channel
``ch = ib * pe + j`` = ``(3 * dy + dx) * 3 + c``, i.e. tap ``ch // 3``'s lane ``ch % 3``
(the order of ``sw.program.im2col`` and of the weights), and 0 beyond the 27 channels
(their weights are zero). The pointwise array then sees exactly the words an im2col
map in the activation buffer gave it, so the numerics are those of the im2col path.
"""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from model.numerics import ACT_BITS
from model.tiling import IMAGE_CHANNELS, IMAGE_PIXEL_BYTES

from .act_buffer import SUB_BANKS
from .pixel_buffer import pixel_word_layout
from .window_sequencer import window_tag_layout

__all__ = ["ConvGather", "IMAGE_CHANNELS", "IMAGE_PIXEL_BYTES", "conv_blocks"]

# IMAGE_CHANNELS: the image's channels (RGB); IMAGE_PIXEL_BYTES: bytes of one pixel of
# the compact image in DDR (the 4th a don't-care the gather never selects), so a DDR
# beat holds a whole number of pixels. Defined with the tiling, which sizes the bands.


def conv_blocks(pe: int) -> int:
    """Pointwise input blocks of one output pixel: ``ceil(9 * 3 / pe)``."""
    return -(-(SUB_BANKS * IMAGE_CHANNELS) // pe)


class ConvGather(wiring.Component):
    """Window taps in, one im2col word of ``pe`` lanes out, chosen by the tag's ``ib``.

    One registered stage (:attr:`LATENCY`): the selection (a ``conv_blocks(pe)``-way
    multiplexer per lane, none at pe 32) in front of the output register, which holds
    its beat while ``o_stream`` stalls; ``i_stream.ready`` is the register's room.

    Members
    -------
    i_stream : In(stream.Signature(taps, tag))
        ``taps[t][c]`` (``t = 3 * dy + dx``) and the ``window_tag_layout`` tag.
    o_stream : Out(stream.Signature(pixel_word_layout(pe)))
        The word, ``run_end`` from the tag.
    """

    #: Cycles from a window taken to its word offered.
    LATENCY = 1

    def __init__(self, pe: int):
        self._pe = pe
        super().__init__({
            "i_stream": In(stream.Signature(data.StructLayout({
                "taps": data.ArrayLayout(data.ArrayLayout(signed(ACT_BITS), pe), SUB_BANKS),
                "tag": window_tag_layout()}))),
            "o_stream": Out(stream.Signature(pixel_word_layout(pe))),
        })

    def elaborate(self, platform):
        m = Module()
        pe, blocks = self._pe, conv_blocks(self._pe)
        taps, tag = self.i_stream.payload.taps, self.i_stream.payload.tag
        ib = tag.ib[:max(1, (blocks - 1).bit_length())]
        word = Signal(data.ArrayLayout(signed(ACT_BITS), pe))
        for lane in range(pe):
            with m.Switch(ib):
                for block in range(blocks):
                    ch = block * pe + lane
                    if ch < SUB_BANKS * IMAGE_CHANNELS:
                        with m.Case(block):
                            m.d.comb += word[lane].eq(taps[ch // IMAGE_CHANNELS][ch % IMAGE_CHANNELS])
                # other blocks (channels beyond 27): 0, the comb default
        take = self.i_stream.valid & self.i_stream.ready
        m.d.comb += self.i_stream.ready.eq(~self.o_stream.valid | self.o_stream.ready)
        with m.If(self.i_stream.ready):
            m.d.sync += self.o_stream.valid.eq(self.i_stream.valid)
        with m.If(take):
            m.d.sync += [self.o_stream.payload.data.eq(word),
                         self.o_stream.payload.run_end.eq(tag.run_end)]
        return m
