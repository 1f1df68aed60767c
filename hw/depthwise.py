"""Depthwise lanes: ``pe`` channels x 9 taps of a 3x3 depthwise convolution per cycle.

Each beat carries one 3x3 window of a channel block (9 taps x ``pe`` int8 values, tap
``3 * dy + dx``), that block's 3x3 weights and biases; the lanes produce the ``pe``
int32 accumulators ``bias[c] + sum_t window[t][c] * weights[t][c]``.
"""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from model.numerics import ACC_BITS, ACT_BITS, WEIGHT_BITS

from .pointwise import check_multipliers, check_pe, discard_on_error, pipeline_enables
from .products import (LUT_PRODUCT_TERMS, dsp_product, dsp_ties, is_ecp5, lut_product, pipelined_tree_sum,
                       registered_terms, tree_stages)
from .skid import chip_wide

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

    Stages, each a register: the operands (window, weights, bias: what a DSP block's
    input registers hold), the products, then the adder tree of the 9 products and the
    bias in three stages (``hw.products.pipelined_tree_sum``: one adder level behind the
    multipliers, then two, then the last), the last one on ``o_stream``: :attr:`LATENCY`
    5. One beat per cycle; the stages advance together and hold their beats while the
    output stalls (``hw.pointwise.pipeline_enables``).

    Every product has its own multiplier (``hw.products``); the first
    ``lut_multipliers`` of them, in the order (channel, tap), are built in LUTs, and
    those register their Booth terms after one adder level for the lane's tree to add
    (``hw.products.registered_terms``): the same stages and the same sums.

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

    #: Cycles from accepting a beat to its sums being valid (no stalls), whichever of its
    #: products are in LUTs (their extra terms fit the tree's stages: asserted below).
    LATENCY = 2 + tree_stages(TAPS + 1)
    assert tree_stages(TAPS * LUT_PRODUCT_TERMS + 1) == tree_stages(TAPS + 1)
    #: Every stage advances on one enable, ``~o_stream.valid | o_stream.ready``, and every
    #: input beat gives one output beat: ``hw.tagged.Tagged`` carries the depthwise
    #: stage's tag (the channels' requantisation parameters and run markers) beside the
    #: stages in a shift register on it, not in a queue whose ``r_rdy``/``w_en`` handshake
    #: joined the lanes' enables (the whole design's critical path at pe 8, 13.77 ns).
    ONE_ENABLE = True

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
        _, ready = pipeline_enables(m, self.LATENCY, self.i_stream, self.o_stream, "")

        beat = self.i_stream.payload
        bias = [Signal(data.ArrayLayout(signed(ACC_BITS), pe), name=f"s{k}_bias") for k in (1, 2)]
        with m.If(ready[0]):
            m.d.sync += bias[0].eq(beat.bias)
        with m.If(ready[1]):
            m.d.sync += bias[1].eq(bias[0])

        for c in range(pe):
            # A LUT product leaves its last adder levels to the lane's tree
            # (``hw.products.registered_terms``), in the tree's stages it has anyway. From
            # CHIP_WIDE_PE lanes a lane ties its multipliers' control inputs from
            # flip-flops of its own (``hw.products.dsp_ties``).
            ties = dsp_ties(m, f"lane{c}") if chip_wide(pe) and is_ecp5(platform) else None
            products = [term for t in range(TAPS) for term in registered_terms(
                m, platform, beat.window[t][c], beat.weights[t][c], ready[0], ready[1],
                name=f"product_{c}_{t}",
                build=lut_product if c * TAPS + t < self._lut else dsp_product, ties=ties)]
            total = pipelined_tree_sum(m, products + [bias[1][c]], ready[2:], name=f"lane{c}")
            m.d.comb += self.o_stream.payload[c].eq(total)
        return m
