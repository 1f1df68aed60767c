"""Per-channel requantiser: int32 accumulators to int8 activations, ``lanes`` channels a beat.

Implements the formula in :mod:`model.numerics` bit for bit (multiply by an unsigned
15-bit multiplier, arithmetic right shift by 1..47 rounding half toward +infinity, add
the output zero point, clamp to ``[lo, hi]``) as a two-stage stream pipeline.
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
    zero point and bounds; stage 2 shifts with rounding, adds the zero point, clamps and
    registers the result into ``o_stream``. Latency is :attr:`LATENCY` cycles, throughput
    one beat per cycle. Each stage holds its beat while the next one is stalled, so both
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
    LATENCY = 2

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

        # Stage 1: products and the parameters stage 2 needs.
        s1_valid = Signal()
        s1_product = Signal(data.ArrayLayout(signed(PRODUCT_BITS), lanes))
        # Stored as shift - 1 (0..46): see the rounding identity in stage 2.
        s1_shift_m1 = Signal(data.ArrayLayout(unsigned(SHIFT_BITS), lanes))
        s1_zero_point = Signal(signed(ACT_BITS))
        s1_lo = Signal(signed(ACT_BITS))
        s1_hi = Signal(signed(ACT_BITS))

        s2_ready = ~self.o_stream.valid | self.o_stream.ready
        s1_ready = ~s1_valid | s2_ready
        m.d.comb += self.i_stream.ready.eq(s1_ready)

        with m.If(s1_ready):
            m.d.sync += s1_valid.eq(self.i_stream.valid)
            for lane in range(lanes):
                m.d.sync += [
                    s1_product[lane].eq(i_beat.acc[lane] * i_beat.multiplier[lane]),
                    s1_shift_m1[lane].eq(i_beat.shift[lane] - 1),
                ]
            m.d.sync += [
                s1_zero_point.eq(i_beat.zero_point),
                s1_lo.eq(i_beat.lo),
                s1_hi.eq(i_beat.hi),
            ]

        # Stage 2: floor((p + 2**(s-1)) / 2**s) == floor((floor(p / 2**(s-1)) + 1) / 2),
        # which needs no variable rounding constant, only a variable arithmetic shift.
        with m.If(s2_ready):
            m.d.sync += self.o_stream.valid.eq(s1_valid)
            for lane in range(lanes):
                truncated = s1_product[lane] >> s1_shift_m1[lane]
                rounded = (truncated + 1) >> 1
                shifted = rounded + s1_zero_point
                clamped = Mux(shifted < s1_lo, s1_lo, Mux(shifted > s1_hi, s1_hi, shifted))
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
