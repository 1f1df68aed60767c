"""The pe x pe pointwise MAC array: pe input channels x pe output channels per cycle.

Each beat multiplies one block of ``pe`` int8 activations by a ``pe x pe`` int8 weight
block and adds the products into ``pe`` int32 accumulators. A run of beats from
``first`` to ``last`` is one dot product over the input channel blocks (pointwise and
FC layers) or over pixels (global average pooling with an identity weight block); the
accumulators start from the beat's bias on ``first`` and leave on ``last``.
"""

import contextlib

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from model.numerics import ACC_BITS, ACT_BITS, WEIGHT_BITS

from .products import (PACKED_BITS, PRODUCT_BITS, dsp_product, lut_product, packed_products,
                       tree_sum, unpack_products)

__all__ = ["PointwiseArray", "pointwise_input_layout", "check_pe", "check_multipliers",
           "discard_on_error"]


def check_pe(pe):
    """Raise TypeError unless ``pe`` is a positive integer."""
    if not isinstance(pe, int) or isinstance(pe, bool) or pe <= 0:
        raise TypeError(f"pe must be a positive integer, not {pe!r}")


def check_multipliers(lut_multipliers, total):
    """Raise TypeError unless ``lut_multipliers`` is an integer in 0 .. ``total``."""
    if not isinstance(lut_multipliers, int) or isinstance(lut_multipliers, bool) or \
            not 0 <= lut_multipliers <= total:
        raise TypeError(f"lut_multipliers must be an integer in 0..{total}, not {lut_multipliers!r}")


@contextlib.contextmanager
def discard_on_error(component):
    """Wrap a component's constructor: if it raises, ``component`` is discarded.

    A half-built component is garbage, not a forgotten design, so Amaranth must not warn
    that it was "created but never used" (``UnusedElaboratable``) when it is collected.
    """
    try:
        yield
    except BaseException:
        component._MustUse__silence = True  # Amaranth's own switch (amaranth._unused.MustUse)
        raise


def pointwise_input_layout(pe):
    """One beat: ``act`` (pe x int8), ``weights`` (pe inputs x pe outputs x int8, indexed
    ``weights[i][o]``), ``bias`` (pe x int32, used on ``first``), ``first``, ``last``."""
    check_pe(pe)
    return data.StructLayout({
        "act": data.ArrayLayout(signed(ACT_BITS), pe),
        "weights": data.ArrayLayout(data.ArrayLayout(signed(WEIGHT_BITS), pe), pe),
        "bias": data.ArrayLayout(signed(ACC_BITS), pe),
        "first": 1,
        "last": 1,
    })


class PointwiseArray(wiring.Component):
    """``pe x pe`` int8 multiply-accumulate array with ``pe`` int32 accumulators.

    Three stages: registered products, registered column sums (one adder tree of ``pe``
    products per output channel), then the accumulators. A beat with ``last`` set puts
    the accumulators (bias + every product since ``first``) on ``o_stream``. Throughput
    is one beat per cycle; each stage holds its beat while the next stalls, and
    ``o_stream.valid`` is a register.

    The products come from :meth:`multipliers` multipliers (``hw.products``): one per
    product, or with ``packed`` one per input channel and pair of output channels
    ``(2j, 2j + 1)``; the first ``lut_multipliers`` of them, in the order (column group,
    input channel), are built in LUTs. None of this changes a result or a cycle.

    Parameters
    ----------
    pe : int
        Channel lanes.
    packed : bool
        Two products that share an activation per multiplier (8 x 25 bits: one 7-series
        DSP48E1).
    lut_multipliers : int
        Multipliers built in LUTs instead of DSP blocks.

    Members
    -------
    i_stream : In(stream.Signature(pointwise_input_layout(pe)))
        Activation block, weight block, bias and the run markers.
    o_stream : Out(stream.Signature(data.ArrayLayout(signed(32), pe)))
        ``pe`` accumulators, output channel 0 in the low bits; one beat per run.
    """

    #: Cycles from accepting a ``last`` beat to its sums being valid (no stalls).
    LATENCY = 3

    def __init__(self, pe, *, packed=False, lut_multipliers=0):
        with discard_on_error(self):
            check_pe(pe)
            if not isinstance(packed, bool):
                raise TypeError(f"packed must be a bool, not {packed!r}")
            check_multipliers(lut_multipliers, self.multipliers(pe, packed))
            self._pe, self._packed, self._lut = pe, packed, lut_multipliers
            super().__init__({
                "i_stream": In(stream.Signature(pointwise_input_layout(pe))),
                "o_stream": Out(stream.Signature(data.ArrayLayout(signed(ACC_BITS), pe))),
            })

    @property
    def pe(self):
        return self._pe

    @staticmethod
    def column_groups(pe, packed):
        """Output channels that share a multiplier: pairs when ``packed`` (an odd last
        one alone), else single channels."""
        step = 2 if packed else 1
        return [tuple(range(o, min(o + step, pe))) for o in range(0, pe, step)]

    @classmethod
    def multipliers(cls, pe, packed=False):
        """Multipliers of the array: one per input channel and column group."""
        return pe * len(cls.column_groups(pe, packed))

    def elaborate(self, platform):
        m = Module()
        pe = self._pe
        beat = self.i_stream.payload
        sum_bits = PRODUCT_BITS + max(1, (pe - 1).bit_length())

        s1_valid = Signal()
        s1_bias = Signal(data.ArrayLayout(signed(ACC_BITS), pe))
        s1_first, s1_last = Signal(), Signal()

        s2_valid = Signal()
        s2_sums = Signal(data.ArrayLayout(signed(sum_bits), pe))
        s2_bias = Signal(data.ArrayLayout(signed(ACC_BITS), pe))
        s2_first, s2_last = Signal(), Signal()

        acc = Signal(data.ArrayLayout(signed(ACC_BITS), pe))

        s3_ready = ~self.o_stream.valid | self.o_stream.ready
        s2_ready = ~s2_valid | s3_ready
        s1_ready = ~s1_valid | s2_ready
        m.d.comb += self.i_stream.ready.eq(s1_ready)

        # products[o][i]: a * w as stage 2 sees it (a register, or a field of one).
        products = [[None] * pe for _ in range(pe)]
        with m.If(s1_ready):
            m.d.sync += [
                s1_valid.eq(self.i_stream.valid),
                s1_bias.eq(beat.bias),
                s1_first.eq(beat.first),
                s1_last.eq(beat.last),
            ]
            unit = 0
            for group in self.column_groups(pe, self._packed):
                for i in range(pe):
                    a = beat.act[i]
                    if unit < self._lut or len(group) == 1:
                        build = lut_product if unit < self._lut else dsp_product
                        for o in group:
                            products[o][i] = Signal(signed(PRODUCT_BITS), name=f"product_{i}_{o}")
                            m.d.sync += products[o][i].eq(build(a, beat.weights[i][o]))
                    else:
                        lo, hi = group
                        packed = Signal(signed(PACKED_BITS), name=f"packed_{i}_{lo}_{hi}")
                        m.d.sync += packed.eq(packed_products(a, beat.weights[i][lo], beat.weights[i][hi]))
                        products[lo][i], products[hi][i] = unpack_products(packed)
                    unit += 1

        with m.If(s2_ready):
            m.d.sync += [
                s2_valid.eq(s1_valid),
                s2_bias.eq(s1_bias),
                s2_first.eq(s1_first),
                s2_last.eq(s1_last),
            ]
            for o in range(pe):
                m.d.sync += s2_sums[o].eq(tree_sum(products[o]))

        with m.If(s3_ready):
            m.d.sync += self.o_stream.valid.eq(s2_valid & s2_last)
            with m.If(s2_valid):
                for o in range(pe):
                    total = Signal(signed(ACC_BITS), name=f"total{o}")
                    m.d.comb += total.eq(Mux(s2_first, s2_bias[o], acc[o]) + s2_sums[o])
                    m.d.sync += [acc[o].eq(total), self.o_stream.payload[o].eq(total)]
        return m

