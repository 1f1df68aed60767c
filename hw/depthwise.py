"""Depthwise lanes: ``pe`` channels x 9 taps of a 3x3 depthwise convolution per cycle.

Each beat carries one 3x3 window of a channel block (9 taps x ``pe`` int8 values, tap
``3 * dy + dx``), that block's 3x3 weights and biases; the lanes produce the ``pe``
int32 accumulators ``bias[c] + sum_t window[t][c] * weights[t][c]``.
"""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from model.numerics import ACC_BITS, ACT_BITS, WEIGHT_BITS

from .pointwise import check_multipliers, check_pe, discard_on_error
from .products import PRODUCT_BITS, dsp_product, lut_product, tree_sum

__all__ = ["DepthwiseLanes", "depthwise_input_layout", "TAPS"]

TAPS = 9


def depthwise_input_layout(pe):
    """One beat: ``window[t][c]`` and ``weights[t][c]`` (9 taps x pe x int8), ``bias``
    (pe x int32)."""
    check_pe(pe)
    taps = data.ArrayLayout(data.ArrayLayout(signed(ACT_BITS), pe), TAPS)
    return data.StructLayout({
        "window": taps,
        "weights": data.ArrayLayout(data.ArrayLayout(signed(WEIGHT_BITS), pe), TAPS),
        "bias": data.ArrayLayout(signed(ACC_BITS), pe),
    })


class DepthwiseLanes(wiring.Component):
    """``pe`` depthwise lanes of 9 multipliers and an adder tree each.

    Two stages: registered products (with the bias), then the registered sum on
    ``o_stream``. One beat per cycle; each stage holds its beat while the next stalls.

    Every product has its own multiplier (``hw.products``); the first
    ``lut_multipliers`` of them, in the order (channel, tap), are built in LUTs.

    Parameters
    ----------
    pe : int
        Channel lanes.
    lut_multipliers : int
        Multipliers built in LUTs instead of DSP blocks (at most ``9 * pe``).

    Members
    -------
    i_stream : In(stream.Signature(depthwise_input_layout(pe)))
        A 3x3 window of ``pe`` channels with their weights and biases.
    o_stream : Out(stream.Signature(data.ArrayLayout(signed(32), pe)))
        ``pe`` accumulators (bias included), channel 0 in the low bits.
    """

    LATENCY = 2

    def __init__(self, pe, *, lut_multipliers=0):
        with discard_on_error(self):
            check_pe(pe)
            check_multipliers(lut_multipliers, TAPS * pe)
            self._pe, self._lut = pe, lut_multipliers
            super().__init__({
                "i_stream": In(stream.Signature(depthwise_input_layout(pe))),
                "o_stream": Out(stream.Signature(data.ArrayLayout(signed(ACC_BITS), pe))),
            })

    @property
    def pe(self):
        return self._pe

    def elaborate(self, platform):
        m = Module()
        pe = self._pe
        beat = self.i_stream.payload

        s1_valid = Signal()
        s1_products = Signal(data.ArrayLayout(data.ArrayLayout(signed(PRODUCT_BITS), TAPS), pe))
        s1_bias = Signal(data.ArrayLayout(signed(ACC_BITS), pe))

        s2_ready = ~self.o_stream.valid | self.o_stream.ready
        s1_ready = ~s1_valid | s2_ready
        m.d.comb += self.i_stream.ready.eq(s1_ready)

        with m.If(s1_ready):
            m.d.sync += [s1_valid.eq(self.i_stream.valid), s1_bias.eq(beat.bias)]
            for c in range(pe):
                for t in range(TAPS):
                    build = lut_product if c * TAPS + t < self._lut else dsp_product
                    m.d.sync += s1_products[c][t].eq(build(beat.window[t][c], beat.weights[t][c]))

        with m.If(s2_ready):
            m.d.sync += self.o_stream.valid.eq(s1_valid)
            for c in range(pe):
                total = tree_sum([s1_products[c][t] for t in range(TAPS)]) + s1_bias[c]
                m.d.sync += self.o_stream.payload[c].eq(total)
        return m
