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

__all__ = ["PointwiseArray", "pointwise_input_layout", "check_pe", "discard_on_error", "tree_sum"]

PRODUCT_BITS = ACT_BITS + WEIGHT_BITS


def check_pe(pe):
    """Raise TypeError unless ``pe`` is a positive integer."""
    if not isinstance(pe, int) or isinstance(pe, bool) or pe <= 0:
        raise TypeError(f"pe must be a positive integer, not {pe!r}")


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

    Parameters
    ----------
    pe : int
        Channel lanes.

    Members
    -------
    i_stream : In(stream.Signature(pointwise_input_layout(pe)))
        Activation block, weight block, bias and the run markers.
    o_stream : Out(stream.Signature(data.ArrayLayout(signed(32), pe)))
        ``pe`` accumulators, output channel 0 in the low bits; one beat per run.
    """

    #: Cycles from accepting a ``last`` beat to its sums being valid (no stalls).
    LATENCY = 3

    def __init__(self, pe):
        with discard_on_error(self):
            check_pe(pe)
            self._pe = pe
            super().__init__({
                "i_stream": In(stream.Signature(pointwise_input_layout(pe))),
                "o_stream": Out(stream.Signature(data.ArrayLayout(signed(ACC_BITS), pe))),
            })

    @property
    def pe(self):
        return self._pe

    def elaborate(self, platform):
        m = Module()
        pe = self._pe
        beat = self.i_stream.payload
        sum_bits = PRODUCT_BITS + max(1, (pe - 1).bit_length())

        s1_valid = Signal()
        s1_products = Signal(data.ArrayLayout(data.ArrayLayout(signed(PRODUCT_BITS), pe), pe))
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

        with m.If(s1_ready):
            m.d.sync += [
                s1_valid.eq(self.i_stream.valid),
                s1_bias.eq(beat.bias),
                s1_first.eq(beat.first),
                s1_last.eq(beat.last),
            ]
            for i in range(pe):
                for o in range(pe):
                    m.d.sync += s1_products[o][i].eq(beat.act[i] * beat.weights[i][o])

        with m.If(s2_ready):
            m.d.sync += [
                s2_valid.eq(s1_valid),
                s2_bias.eq(s1_bias),
                s2_first.eq(s1_first),
                s2_last.eq(s1_last),
            ]
            for o in range(pe):
                m.d.sync += s2_sums[o].eq(tree_sum([s1_products[o][i] for i in range(pe)]))

        with m.If(s3_ready):
            m.d.sync += self.o_stream.valid.eq(s2_valid & s2_last)
            with m.If(s2_valid):
                for o in range(pe):
                    total = Signal(signed(ACC_BITS), name=f"total{o}")
                    m.d.comb += total.eq(Mux(s2_first, s2_bias[o], acc[o]) + s2_sums[o])
                    m.d.sync += [acc[o].eq(total), self.o_stream.payload[o].eq(total)]
        return m


def tree_sum(terms):
    """Balanced adder tree (the width grows one bit per level)."""
    while len(terms) > 1:
        paired = [terms[k] + terms[k + 1] for k in range(0, len(terms) - 1, 2)]
        terms = paired + ([terms[-1]] if len(terms) % 2 else [])
    return terms[0]
