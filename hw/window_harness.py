"""The activation buffer with the window generator on its read ports, for simulation.

Wiring only: the RTL testbench (``sim/window_tb.py``) fills the buffer through its write
stream and requests windows, as the engine's loader and sequencer will.
"""

from amaranth.hdl import Module
from amaranth.lib import wiring

from .act_buffer import ActBuffer
from .pointwise import discard_on_error
from .window import WindowGenerator

__all__ = ["WindowHarness"]

_GEOMETRY = ("rows", "cols", "row_pitch", "col_pitch", "zero_point")  # generator inputs


class WindowHarness(wiring.Component):
    """An :class:`ActBuffer` whose 9 read ports feed a :class:`WindowGenerator`.

    Parameters
    ----------
    pe, depth : int
        As for :class:`ActBuffer`.
    tag_bits : int
        As for :class:`WindowGenerator`.

    Members
    -------
    w_stream, r_half
        The buffer's write stream and read half select.
    i_stream, o_stream, rows, cols, row_pitch, col_pitch, zero_point
        The window generator's requests, windows and layer geometry.
    """

    def __init__(self, pe, depth, tag_bits=1):
        with discard_on_error(self):
            self._buffer = ActBuffer(pe, depth)
            with discard_on_error(self._buffer):
                self._generator = WindowGenerator(pe, depth, tag_bits)
            buffer_ports = self._buffer.signature.members
            generator_ports = self._generator.signature.members
            super().__init__({
                **{name: buffer_ports[name] for name in ("w_stream", "r_half")},
                **{name: generator_ports[name] for name in ("i_stream", "o_stream", *_GEOMETRY)},
            })

    def elaborate(self, platform):
        m = Module()
        buffer, generator = self._buffer, self._generator
        m.submodules.buffer, m.submodules.generator = buffer, generator
        wiring.connect(m, wiring.flipped(self.w_stream), buffer.w_stream)
        wiring.connect(m, wiring.flipped(self.i_stream), generator.i_stream)
        wiring.connect(m, generator.o_stream, wiring.flipped(self.o_stream))
        m.d.comb += [
            buffer.r_half.eq(self.r_half),
            *(getattr(generator, name).eq(getattr(self, name)) for name in _GEOMETRY),
            buffer.r_addr.eq(generator.r_addr),
            buffer.r_en.eq(generator.r_en),
            buffer.r_oe.eq(generator.r_oe),
            generator.r_data.eq(buffer.r_data),
        ]
        return m
