"""Per-channel requantiser: int32 accumulators to int8 activations, ``lanes`` channels a beat.

Implements the formula in :mod:`model.numerics` bit for bit (multiply by an unsigned
15-bit multiplier, arithmetic right shift by 1..47 rounding half toward +infinity, add
the output zero point, clamp to ``[lo, hi]``) as a four-stage stream pipeline: one
carry chain or shifter per stage, so that it is not the design's critical path.
"""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for

from model.numerics import ACC_BITS, ACT_BITS, MULT_BITS, SHIFT_MAX

from .pointwise import discard_on_error

__all__ = ["Requantizer", "requant_input_layout", "requant_output_layout", "channel_params_tag",
           "unpack_params", "feed_requantizer"]

SHIFT_BITS = bits_for(SHIFT_MAX)  # 6: shifts 1..47
# |acc * M| <= 2**31 * (2**15 - 1) < 2**46, so the product fits 47 signed bits.
PRODUCT_BITS = ACC_BITS + MULT_BITS


def _check_lanes(lanes):
    if not isinstance(lanes, int) or isinstance(lanes, bool) or lanes <= 0:
        raise TypeError(f"lanes must be a positive integer, not {lanes!r}")


def requant_input_layout(lanes):
    """Layout of one input beat: ``lanes`` accumulators with their per-channel parameters.

    Fields, packed from the low bits in this order: ``acc`` (``lanes`` x signed 32),
    ``multiplier`` (``lanes`` x unsigned 15), ``shift`` (``lanes`` x unsigned 6),
    ``zero_point``, ``lo``, ``hi`` (signed 8 each, shared by the beat's channels).
    """
    _check_lanes(lanes)
    return data.StructLayout({
        "acc": data.ArrayLayout(signed(ACC_BITS), lanes),
        "multiplier": data.ArrayLayout(unsigned(MULT_BITS), lanes),
        "shift": data.ArrayLayout(unsigned(SHIFT_BITS), lanes),
        "zero_point": signed(ACT_BITS),
        "lo": signed(ACT_BITS),
        "hi": signed(ACT_BITS),
    })


def requant_output_layout(lanes):
    """Layout of one output beat: ``lanes`` int8 activations, lane 0 in the low bits."""
    _check_lanes(lanes)
    return data.ArrayLayout(signed(ACT_BITS), lanes)


class Requantizer(wiring.Component):
    """Requantise ``lanes`` int32 accumulators a beat to int8, as :func:`model.numerics.requantize`.

    Stage 1 registers the ``acc * multiplier`` products (47 bits) with the beat's shift,
    zero point and bounds; stage 2 the product shifted right by ``shift - 1``; stage 3
    that plus ``2 * zero_point + 1``, halved (the rounding and the zero point in one
    adder); stage 4 the clamped result, into ``o_stream``. Latency is :attr:`LATENCY`
    cycles, throughput one beat per cycle. Each stage holds its beat while the next one is stalled, so both
    streams tolerate arbitrary stalls; ``o_stream.valid`` comes from a register and never
    depends on ``o_stream.ready``, while ``i_stream.ready`` follows ``o_stream.ready``
    combinationally (a full pipeline accepts a beat in the cycle one leaves).

    Inputs outside the contract of :mod:`model.numerics` (shift 0 or above 47,
    ``lo > hi``) give unspecified results.

    Parameters
    ----------
    lanes : int
        Channels per beat (positive).

    Members
    -------
    i_stream : In(stream.Signature(requant_input_layout(lanes)))
        Accumulators of ``lanes`` channels with each channel's multiplier and shift, and
        the zero point and clamp bounds of the output.
    o_stream : Out(stream.Signature(requant_output_layout(lanes)))
        The ``lanes`` requantised int8 activations, in the order of ``i_stream.acc``.
    """

    #: Cycles from an accepted input beat to its output beat being valid (no stalls).
    LATENCY = 4

    def __init__(self, lanes):
        with discard_on_error(self):
            _check_lanes(lanes)
            self._lanes = lanes
            super().__init__({
                "i_stream": In(stream.Signature(requant_input_layout(lanes))),
                "o_stream": Out(stream.Signature(requant_output_layout(lanes))),
            })

    @property
    def lanes(self):
        return self._lanes

    def elaborate(self, platform):
        m = Module()
        lanes = self._lanes
        i_beat = self.i_stream.payload

        valid = [Signal(name=f"s{k}_valid") for k in range(1, 4)] + [self.o_stream.valid]
        ready = [None] * 4  # ready[k]: stage k + 1 takes a beat this cycle
        ready[3] = ~self.o_stream.valid | self.o_stream.ready
        for k in (2, 1, 0):
            ready[k] = ~valid[k] | ready[k + 1]
        m.d.comb += self.i_stream.ready.eq(ready[0])

        def lanes_of(shape, name):
            return Signal(data.ArrayLayout(shape, lanes), name=name)

        # Stage 1: products and the parameters the later stages need; the shift is kept
        # as shift - 1 (0..46), see stage 2.
        s1_product = lanes_of(signed(PRODUCT_BITS), "s1_product")
        s1_shift_m1 = lanes_of(unsigned(SHIFT_BITS), "s1_shift_m1")
        s1_zero_point, s1_lo, s1_hi = (Signal(signed(ACT_BITS), name=f"s1_{n}") for n in ("zp", "lo", "hi"))
        with m.If(ready[0]):
            m.d.sync += valid[0].eq(self.i_stream.valid)
            for lane in range(lanes):
                m.d.sync += [
                    s1_product[lane].eq(i_beat.acc[lane] * i_beat.multiplier[lane]),
                    s1_shift_m1[lane].eq(i_beat.shift[lane] - 1),
                ]
            m.d.sync += [s1_zero_point.eq(i_beat.zero_point), s1_lo.eq(i_beat.lo), s1_hi.eq(i_beat.hi)]

        # floor((p + 2**(s-1)) / 2**s) + z == floor((floor(p / 2**(s-1)) + 1 + 2 z) / 2):
        # a variable arithmetic shift (stage 2), then one adder and a fixed shift (stage 3).
        s2_truncated = lanes_of(signed(PRODUCT_BITS), "s2_truncated")
        s2_offset = Signal(signed(ACT_BITS + 2))  # 2 * zero_point + 1
        s2_lo, s2_hi = Signal(signed(ACT_BITS)), Signal(signed(ACT_BITS))
        with m.If(ready[1]):
            m.d.sync += [valid[1].eq(valid[0]), s2_offset.eq(2 * s1_zero_point + 1),
                         s2_lo.eq(s1_lo), s2_hi.eq(s1_hi)]
            for lane in range(lanes):
                m.d.sync += s2_truncated[lane].eq(s1_product[lane] >> s1_shift_m1[lane])

        s3_shifted = lanes_of(signed(PRODUCT_BITS), "s3_shifted")
        s3_lo, s3_hi = Signal(signed(ACT_BITS)), Signal(signed(ACT_BITS))
        with m.If(ready[2]):
            m.d.sync += [valid[2].eq(valid[1]), s3_lo.eq(s2_lo), s3_hi.eq(s2_hi)]
            for lane in range(lanes):
                m.d.sync += s3_shifted[lane].eq((s2_truncated[lane] + s2_offset) >> 1)

        with m.If(ready[3]):
            m.d.sync += valid[3].eq(valid[2])
            for lane in range(lanes):
                value = s3_shifted[lane]
                clamped = Mux(value < s3_lo, s3_lo, Mux(value > s3_hi, s3_hi, value))
                m.d.sync += self.o_stream.payload[lane].eq(clamped)

        return m


# -- wiring shared by the stages that requantise a MAC unit's accumulators ----------------

def channel_params_tag(pe, *markers):
    """A tag carrying each channel's multiplier and shift from the parameter lookup, past a
    MAC unit (``hw.tagged.Tagged``), to the requantiser; plus 1-bit ``markers``."""
    return data.StructLayout({
        "multiplier": data.ArrayLayout(unsigned(MULT_BITS), pe),
        "shift": data.ArrayLayout(unsigned(SHIFT_BITS), pe),
        **{marker: 1 for marker in markers},
    })


def unpack_params(params, bias, tag, pe):
    """Statements: the parameter lanes ``params`` (``command.param_lane_layout``) into the
    MAC unit's ``bias`` and the tag's multipliers and shifts."""
    return [statement for c in range(pe) for statement in (
        bias[c].eq(params[c].bias),
        tag.multiplier[c].eq(params[c].multiplier),
        tag.shift[c].eq(params[c].shift),
    )]


def feed_requantizer(source, requant, zero_point, lo, hi, *markers):
    """Statements: a tagged accumulator stream ``source`` into a tagged requantiser, the
    tag's ``markers`` passed along."""
    acc, beat = source.payload, requant.i_stream.payload
    return [
        beat.inner.acc.eq(acc.inner),
        beat.inner.multiplier.eq(acc.tag.multiplier),
        beat.inner.shift.eq(acc.tag.shift),
        beat.inner.zero_point.eq(zero_point),
        beat.inner.lo.eq(lo),
        beat.inner.hi.eq(hi),
        *(getattr(beat.tag, marker).eq(getattr(acc.tag, marker)) for marker in markers),
        requant.i_stream.valid.eq(source.valid),
        source.ready.eq(requant.i_stream.ready),
    ]
