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

from .products import (PACKED_BITS, dsp_product, dsp_ties, is_ecp5, lut_product, packed_products,
                       pipelined_tree_sum, registered_product, tree_stages, unpack_products)
from .skid import chip_wide

__all__ = ["PointwiseArray", "pointwise_input_layout", "check_pe", "check_multipliers",
           "discard_on_error", "pipeline_enables"]


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


def pipeline_enables(m, stages, i_stream, o_stream, prefix, last=None, free=False):
    """The valid bits and advance conditions of a ``stages``-deep stream pipeline whose
    last register drives ``o_stream``: ``(valid, ready)``, ``valid[k]`` set when stage
    ``k + 1`` holds a beat, ``ready[k]`` when it takes one this cycle. ``valid[-1]`` is
    ``o_stream.valid``; with ``last``, only beats for which it is high reach ``o_stream``
    (the others end in the last stage).

    Every stage advances together, whenever the output register is empty or its beat is
    taken: one LUT from ``o_stream`` to every clock enable of the pipeline. (A stage that
    advanced whenever it was empty would fill bubbles under a stalled output, at the
    price of a chain through every stage's valid bit into the enables: the requantiser's
    critical path, 9.5 ns on an ECP5.) Without stalls the two are cycle for cycle the
    same; a stalled output stops the whole pipeline, bubbles included.

    ``free``: the stages advance every cycle and ``o_stream.ready`` is not read (a
    free-running pipeline, for a consumer that takes every beat): ``i_stream.ready`` and
    every advance condition are the constant 1."""
    valid = [Signal(name=f"{prefix}s{k}_valid") for k in range(1, stages)] + [o_stream.valid]
    advance = Signal(name=f"{prefix}advance")
    m.d.comb += [advance.eq(1 if free else ~o_stream.valid | o_stream.ready),
                 i_stream.ready.eq(advance)]
    ready = [advance] * stages
    for k in range(stages):
        with m.If(ready[k]):
            came = i_stream.valid if k == 0 else valid[k - 1]
            m.d.sync += valid[k].eq(came & last if k == stages - 1 and last is not None else came)
    return valid, ready


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

    Stages, each a register: the operands (a DSP block's input registers), the products
    (its output register), the column trees (one adder tree of ``pe`` products per output
    channel, ``hw.products.pipelined_tree_sum``: one adder level behind the multipliers,
    then two a stage; :func:`hw.products.tree_stages` stages, 2 at pe 4 and 8, 3 at pe 16),
    then the accumulators. A
    beat with ``last`` set puts the accumulators (bias + every product since ``first``) on
    ``o_stream``. Throughput is one beat per cycle; the stages advance together and hold
    their beats while the output stalls (:func:`pipeline_enables`), and ``o_stream.valid``
    is a register.

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
    free_running : bool
        The stages advance every cycle, bubbles included, and ``o_stream.ready`` is not
        read: the consumer takes every beat the cycle it is offered (its room is
        guaranteed by whoever issues the beats: ``PointwiseStage``'s credits from
        ``hw.skid.CHIP_WIDE_PE`` lanes). No enable reaches the multipliers, the trees or
        the accumulators (on ECP5 the MULT18X18Ds' clock enables are their group's tie
        flip-flop, ``hw.products.dsp_ties``), so no handshake fans out across the
        chip into them. The same sums in the same cycles as without, for a consumer
        that is always ready.

    Members
    -------
    i_stream : In(stream.Signature(pointwise_input_layout(pe)))
        Activation block, weight block, bias and the run markers.
    o_stream : Out(stream.Signature(data.ArrayLayout(signed(32), pe)))
        ``pe`` accumulators, output channel 0 in the low bits; one beat per run.
    """

    @staticmethod
    def latency(pe):
        """Cycles from accepting a ``last`` beat to its sums being valid (no stalls): the
        operands, the products, the column trees, the accumulators."""
        return 3 + tree_stages(pe)

    def __init__(self, pe, *, packed=False, lut_multipliers=0, free_running=False):
        with discard_on_error(self):
            check_pe(pe)
            for name, flag in (("packed", packed), ("free_running", free_running)):
                if not isinstance(flag, bool):
                    raise TypeError(f"{name} must be a bool, not {flag!r}")
            check_multipliers(lut_multipliers, self.multipliers(pe, packed))
            self._pe, self._packed, self._lut = pe, packed, lut_multipliers
            self.LATENCY = self.latency(pe)
            #: ``hw.tagged.Tagged`` reads its tags on the output valid alone.
            self.FREE_RUNNING = free_running
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
        tree = tree_stages(pe)
        marks_last = Signal(name="acc_last")  # the beat entering the accumulators ends a run
        valid, ready = pipeline_enables(m, self.LATENCY, self.i_stream, self.o_stream, "",
                                        last=marks_last, free=self.FREE_RUNNING)

        beat = self.i_stream.payload
        # products[o][i]: a * w as the tree sees it (a register, or a field of one).
        products = [[None] * pe for _ in range(pe)]
        unit = 0
        for group in self.column_groups(pe, self._packed):
            # From CHIP_WIDE_PE lanes each group of columns ties its multipliers' control
            # inputs from flip-flops of its own (``hw.products.dsp_ties``).
            ties = dsp_ties(m, f"col{group[0]}") if chip_wide(pe) and is_ecp5(platform) else None
            for i in range(pe):
                a = beat.act[i]
                if unit < self._lut or len(group) == 1:
                    build = lut_product if unit < self._lut else dsp_product
                    for o in group:
                        products[o][i] = registered_product(m, platform, a, beat.weights[i][o],
                                                            ready[0], ready[1],
                                                            name=f"product_{i}_{o}", build=build,
                                                            ties=ties)
                else:
                    lo, hi = group
                    # The operands registered apart, the pair formed in front of the multiplier:
                    # Yosys then maps a * (w_hi << 16 + w_lo) to one DSP48E1 (its pre-adder);
                    # with the pair registered it took two.
                    w_lo = Signal(signed(WEIGHT_BITS), name=f"packed_{i}_{lo}_w")
                    w_hi = Signal(signed(WEIGHT_BITS), name=f"packed_{i}_{hi}_w")
                    a_q = Signal(signed(ACT_BITS), name=f"packed_{i}_a")
                    packed = Signal(signed(PACKED_BITS), name=f"packed_{i}_{lo}_{hi}")
                    with m.If(ready[0]):
                        m.d.sync += [a_q.eq(a), w_lo.eq(beat.weights[i][lo]), w_hi.eq(beat.weights[i][hi])]
                    with m.If(ready[1]):
                        m.d.sync += packed.eq(packed_products(a_q, w_lo, w_hi))
                    products[lo][i], products[hi][i] = unpack_products(packed)
                unit += 1
        # The markers and biases travel beside the products and the tree.
        marks = [beat]
        for k in range(0, 2 + tree):
            mark = Signal(data.StructLayout({"bias": data.ArrayLayout(signed(ACC_BITS), pe),
                                             "first": 1, "last": 1}), name=f"s{k + 1}_marks")
            with m.If(ready[k]):
                m.d.sync += [mark.bias.eq(marks[-1].bias), mark.first.eq(marks[-1].first),
                             mark.last.eq(marks[-1].last)]
            marks.append(mark)
        sums = [pipelined_tree_sum(m, products[o], ready[2:2 + tree], name=f"column{o}")
                for o in range(pe)]

        # The accumulators: the last stage; a beat ending a run leaves on o_stream.
        at, held = marks[-1], valid[-2]
        m.d.comb += marks_last.eq(at.last)
        acc = Signal(data.ArrayLayout(signed(ACC_BITS), pe))
        with m.If(ready[-1]):
            with m.If(held):
                for o in range(pe):
                    total = Signal(signed(ACC_BITS), name=f"total{o}")
                    m.d.comb += total.eq(Mux(at.first, at.bias[o], acc[o]) + sums[o])
                    m.d.sync += [acc[o].eq(total), self.o_stream.payload[o].eq(total)]
        return m
