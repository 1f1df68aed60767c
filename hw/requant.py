"""Per-channel requantiser: int32 accumulators to int8 activations, ``lanes`` channels a beat.

Implements TFLite's requantisation as :func:`model.numerics.requantize` computes it, bit
for bit: the accumulator shifted left (``shift > 0``, wrapping in 32 bits), multiplied by
the 31-bit ``M0``, rounded to the high word (ties up), divided by ``2**-shift`` (ties
away from zero), plus the output zero point, clamped to ``[lo, hi]``. A ten-stage
stream pipeline with one carry chain, shifter or multiplier per stage, so that it is not
the design's critical path.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from model.numerics import ACC_BITS, ACT_BITS, MULT_BITS, SHIFT_BITS, SHIFT_MAX, SHIFT_MIN

from .pointwise import discard_on_error, pipeline_enables
from .products import dsp_ties, is_ecp5, registered_product
from .skid import skid_input
from .tagged import Tagged

__all__ = ["Requantizer", "SharedRequantizer", "requantizer", "tagged_requantizer", "requant_input_layout",
           "requant_output_layout", "requant_latency", "channel_params_tag", "unpack_params",
           "feed_requantizer", "DSPS_PER_LANE"]

LEFT_BITS = SHIFT_MAX.bit_length()  # 3: left shifts 0..7
RIGHT_BITS = (-SHIFT_MIN).bit_length()  # 5: right shifts 0..31
LOW_BITS = 17  # the accumulator's low part: unsigned, fits an 18x18 signed multiplier
#: 18x18 multipliers per lane: (17 unsigned + 15 signed bits) x (17 + 14 unsigned bits).
DSPS_PER_LANE = 4


def _check_lanes(lanes):
    if not isinstance(lanes, int) or isinstance(lanes, bool) or lanes <= 0:
        raise TypeError(f"lanes must be a positive integer, not {lanes!r}")


def requant_input_layout(lanes):
    """Layout of one input beat: ``lanes`` accumulators with their per-channel parameters.

    Fields, packed from the low bits in this order: ``acc`` (``lanes`` x signed 32),
    ``multiplier`` (``lanes`` x unsigned 31, TFLite's ``M0``), ``shift`` (``lanes`` x
    signed 6, TFLite's exponent: negative shifts right), ``zero_point``, ``lo``, ``hi``
    (signed 8 each, shared by the beat's channels).
    """
    _check_lanes(lanes)
    return data.StructLayout({
        "acc": data.ArrayLayout(signed(ACC_BITS), lanes),
        "multiplier": data.ArrayLayout(unsigned(MULT_BITS), lanes),
        "shift": data.ArrayLayout(signed(SHIFT_BITS), lanes),
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

    Stages, each a register:

    1. ``x = acc << max(shift, 0)`` in 32 bits (wraps, as TFLite's int32 does; the
       amount selected by the shift's sign bit alone), ``M0`` beside it, and the right
       shift ``r = max(-shift, 0)``;
    2. the multipliers' input registers, loaded from stage 1's (no logic in front of the
       DSP blocks: the left shift there, with the route into the block, was the engine's
       critical path after timing step 4);
    3. the four partial products of ``x = x_hi * 2**17 + x_lo`` (15 signed, 17 unsigned
       bits) and ``M0 = m_hi * 2**17 + m_lo`` (14 and 17 unsigned bits), one 18x18
       multiplier each (:data:`DSPS_PER_LANE`), with no adder after it in the stage;
    4. two sums, one carry chain each behind the multipliers: the middle products'
       ``x_lo * m_hi + x_hi * m_lo``, and ``x_lo * m_lo + x_hi * m_hi * 2**34 + 2**30``
       (the outer products side by side in one word, plus the first rounding's constant);
    5. ``h = (x * M0 + 2**30) >> 31``, the second sum plus the middle one times
       ``2**17`` (one chain): SaturatingRoundingDoublingHighMul (it cannot saturate,
       ``M0 < 2**31``); beside it the second rounding's two possible offsets,
       ``2**(r-1) - 1`` and ``2**(r-1)`` (both 0 for ``r = 0``);
    6. the offset ``2**(r-1) - 1 + [r > 0 and h >= 0]``: one of the two, picked by
       ``h``'s sign (one LUT a bit), in a register of its own, ``h`` beside it (with the
       pick in front of the adder's carry chain, ``h`` through four LUTs into the chain
       was the whole design's critical path after timing step 6, seed 2);
    7. ``v = h + offset`` (one adder of two registers);
    8. ``y = v >> r``: with 7, RoundingDivideByPOT; beside it the clamp bounds relative
       to the zero point, ``lo - zero_point`` and ``hi - zero_point`` (9 bits);
    9. ``y < lo - zero_point`` and ``y > hi - zero_point`` (two compares, the same as
       ``y + zero_point`` against ``lo`` and ``hi``) and ``y + zero_point`` in 8 bits (all
       the result needs when neither holds: it then lies in ``[lo, hi]``), three carry
       chains side by side;
    10. ``lo``, ``hi`` or that sum (one LUT a bit), into ``o_stream``.

    Latency is :attr:`LATENCY` cycles, throughput one beat per cycle. The stages advance
    together (``hw.pointwise.pipeline_enables``) and hold their beats while the output is
    stalled, so both streams tolerate arbitrary stalls;
    ``o_stream.valid`` comes from a register and never depends on ``o_stream.ready``,
    while ``i_stream.ready`` follows ``o_stream.ready`` combinationally (a full pipeline
    accepts a beat in the cycle one leaves).

    Inputs outside the contract of :mod:`model.numerics` (``M0`` in ``(0, 2**30)`` is
    fine; a shift outside ``[-31, 7]``, ``lo > hi``) give unspecified results.

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
    LATENCY = 10
    #: Every stage advances on one enable, ``~o_stream.valid | o_stream.ready``, and every
    #: input beat gives one output beat (``hw.tagged.Tagged`` carries a tag beside the
    #: stages on it).
    ONE_ENABLE = True

    def __init__(self, lanes, local_ties=False):
        with discard_on_error(self):
            _check_lanes(lanes)
            self._lanes, self._ties = lanes, local_ties
            super().__init__({
                "i_stream": In(stream.Signature(requant_input_layout(lanes))),
                "o_stream": Out(stream.Signature(requant_output_layout(lanes))),
            })

    @property
    def lanes(self):
        return self._lanes

    def elaborate(self, platform):
        m = Module()
        lanes, stages = self._lanes, self.LATENCY
        i_beat = self.i_stream.payload

        # ready[k]: stage k + 1 takes a beat this cycle (all together: pipeline_enables).
        valid, ready = pipeline_enables(m, stages, self.i_stream, self.o_stream, "")

        def lanes_of(shape, name):
            return Signal(data.ArrayLayout(shape, lanes), name=name)

        def shared(prefix):
            return [Signal(signed(ACT_BITS), name=f"{prefix}_{n}") for n in ("zp", "lo", "hi")]

        def carry(src, dst):
            m.d.sync += [d.eq(s) for d, s in zip(dst, src)]

        # 1: left shift (wrapping) into a register, with the multiplier beside it, and
        # the right shift's amount. (The shift in front of the multipliers' input
        # registers, with the route to the DSP, was the engine's critical path.)
        r1 = lanes_of(unsigned(RIGHT_BITS), "s1_right")
        p1 = shared("s1")
        x = lanes_of(signed(ACC_BITS), "s1_x")
        m0 = lanes_of(unsigned(MULT_BITS), "s1_m0")
        with m.If(ready[0]):
            carry([i_beat.zero_point, i_beat.lo, i_beat.hi], p1)
            for lane in range(lanes):
                shift = i_beat.shift[lane]
                # ``max(shift, 0)`` by the sign bit alone (a shift is at most SHIFT_MAX, so
                # a non-negative one has no bit above LEFT_BITS): with ``shift > 0`` (a
                # compare of all its bits, three LUT levels) in front of the shifter's
                # multiplexers, the group register's shift, a 2.0 ns route and five LUT
                # levels into ``s1_x`` were the whole design's critical path at seed 2
                # after timing step 9 (8.49 ns).
                m.d.sync += [
                    x[lane].eq((i_beat.acc[lane] << Mux(shift[-1], 0, shift[:LEFT_BITS]))[:ACC_BITS]),
                    m0[lane].eq(i_beat.multiplier[lane]),
                    r1[lane].eq(Mux(shift < 0, -shift, 0)),
                ]

        # 2: the multipliers' input registers, straight from stage 1's.
        r2, p2 = lanes_of(unsigned(RIGHT_BITS), "s2_right"), shared("s2")
        with m.If(ready[1]):
            carry(p1, p2)
            for lane in range(lanes):
                m.d.sync += r2[lane].eq(r1[lane])

        # 3: the four partial products, each one 18x18 multiplier (its input registers are
        # stage 2, its output register stage 3: hw.products.registered_product).
        r3, p3 = lanes_of(unsigned(RIGHT_BITS), "s3_right"), shared("s3")
        with m.If(ready[2]):
            carry(p2, p3)
            for lane in range(lanes):
                m.d.sync += r3[lane].eq(r2[lane])
        part = {"ll": [], "lh": [], "hl": [], "hh": []}
        ties = [dsp_ties(m, f"lane{lane}") if self._ties and is_ecp5(platform) else None
                for lane in range(lanes)]
        for lane in range(lanes):
            x_lo, x_hi = x[lane][:LOW_BITS], x[lane][LOW_BITS:].as_signed()
            m_lo, m_hi = m0[lane][:LOW_BITS], m0[lane][LOW_BITS:]
            for name, a, b in (("ll", x_lo, m_lo), ("lh", x_lo, m_hi), ("hl", x_hi, m_lo),
                               ("hh", x_hi, m_hi)):
                part[name].append(registered_product(m, platform, a, b, ready[1], ready[2],
                                                     name=f"s3_{name}{lane}", ties=ties[lane]))

        # 4: the 63-bit product x * M0 + 2**30 in two parts, one carry chain each behind the
        # multipliers (with the two in series, DSP output to register was the requantiser's
        # critical path): ll and hh << 34 do not overlap (one word) and take the rounding
        # constant; the middle products add up apart. Both wrap in the 63 bits the sum fits.
        outer = lanes_of(signed(ACC_BITS + MULT_BITS), "s4_outer")
        middle = lanes_of((part["lh"][0] + part["hl"][0]).shape(), "s4_middle")
        r4, p4 = lanes_of(unsigned(RIGHT_BITS), "s4_right"), shared("s4")
        with m.If(ready[3]):
            carry(p3, p4)
            for lane in range(lanes):
                word = Cat(part["ll"][lane], part["hh"][lane]).as_signed()
                m.d.sync += [outer[lane].eq(word + (1 << 30)),
                             middle[lane].eq(part["lh"][lane] + part["hl"][lane]),
                             r4[lane].eq(r3[lane])]

        # 5: the rounded high word: floor((x * M0 + 2**30) / 2**31); the second rounding's
        # two possible offsets, 2**(r-1) - 1 and 2**(r-1) (both 0 for r = 0).
        high_word = lanes_of(signed(ACC_BITS), "s5_high_word")
        r5, p5 = lanes_of(unsigned(RIGHT_BITS), "s5_right"), shared("s5")
        mask = lanes_of(unsigned(ACC_BITS - 1), "s5_mask")
        half = lanes_of(unsigned(ACC_BITS - 1), "s5_half")
        with m.If(ready[4]):
            carry(p4, p5)
            for lane in range(lanes):
                s = outer[lane] + (middle[lane] << LOW_BITS)
                m.d.sync += [high_word[lane].eq(s[31:]), r5[lane].eq(r4[lane]),
                             mask[lane].eq(((Const(1, ACC_BITS) << r4[lane]) - 1) >> 1),
                             half[lane].eq((Const(1, ACC_BITS) << r4[lane]) >> 1)]

        # 6: the second rounding's offset, mask + [r > 0 and h >= 0] (the mask + 1 is the
        # half, and both are 0 for r = 0), picked by h's sign into a register of its own.
        high6 = lanes_of(signed(ACC_BITS), "s6_high_word")
        offset = lanes_of(unsigned(ACC_BITS - 1), "s6_offset")
        r6, p6 = lanes_of(unsigned(RIGHT_BITS), "s6_right"), shared("s6")
        with m.If(ready[5]):
            carry(p5, p6)
            for lane in range(lanes):
                h = high_word[lane]
                m.d.sync += [high6[lane].eq(h), r6[lane].eq(r5[lane]),
                             offset[lane].eq(Mux(h < 0, mask[lane], half[lane]))]

        # 7: the second rounding's sum, one adder of two registers.
        biased = lanes_of(signed(ACC_BITS + 1), "s7_biased")
        r7, p7 = lanes_of(unsigned(RIGHT_BITS), "s7_right"), shared("s7")
        with m.If(ready[6]):
            carry(p6, p7)
            for lane in range(lanes):
                m.d.sync += [biased[lane].eq(high6[lane] + offset[lane]), r7[lane].eq(r6[lane])]

        # 8: the right shift; the clamp bounds relative to the zero point, so that stage 9
        # compares y itself and no carry chain follows another.
        shifted = lanes_of(signed(ACC_BITS + 1), "s8_shifted")
        lo8, hi8 = Signal(signed(ACT_BITS), name="s8_lo"), Signal(signed(ACT_BITS), name="s8_hi")
        zp8 = Signal(signed(ACT_BITS), name="s8_zp")
        lo_rel, hi_rel = (Signal(signed(ACT_BITS + 1), name=f"s8_{n}_rel") for n in ("lo", "hi"))
        with m.If(ready[7]):
            zp7, lo7, hi7 = p7
            m.d.sync += [zp8.eq(zp7), lo8.eq(lo7), hi8.eq(hi7),
                         lo_rel.eq(lo7 - zp7), hi_rel.eq(hi7 - zp7)]
            for lane in range(lanes):
                m.d.sync += shifted[lane].eq(biased[lane] >> r7[lane])

        # 9: which side of the clamp range y + zero_point is on, and its low byte (the
        # result when it is inside the range, an int8 value).
        below, above = lanes_of(unsigned(1), "s9_below"), lanes_of(unsigned(1), "s9_above")
        inside = lanes_of(signed(ACT_BITS), "s9_inside")
        lo9, hi9 = Signal(signed(ACT_BITS), name="s9_lo"), Signal(signed(ACT_BITS), name="s9_hi")
        with m.If(ready[8]):
            m.d.sync += [lo9.eq(lo8), hi9.eq(hi8)]
            for lane in range(lanes):
                y = shifted[lane]
                # both as "<": Yosys builds a ">" as "not below and not equal", a
                # reduction of every bit of the difference behind its carry chain.
                m.d.sync += [below[lane].eq(y < lo_rel), above[lane].eq(hi_rel < y),
                             inside[lane].eq(y[:ACT_BITS] + zp8)]

        # 10: the clamp.
        with m.If(ready[9]):
            for lane in range(lanes):
                m.d.sync += self.o_stream.payload[lane].eq(
                    Mux(below[lane], lo9, Mux(above[lane], hi9, inside[lane])))

        return m


class SharedRequantizer(wiring.Component):
    """:class:`Requantizer`'s function on ``lanes`` channels with ``lanes / share``
    multipliers: one beat every ``share`` cycles.

    Where beats arrive no faster than that (the pointwise array emits one every
    ``blocks_in`` cycles, the pool one every ``pixels``), sharing costs no cycle but the
    latency and saves ``1 - 1/share`` of the requantiser's DSPs. A beat is held; its
    ``share`` groups of lanes enter an inner :class:`Requantizer` one a cycle, each
    through a register of the group; their results are gathered and the whole beat
    leaves from a register. Latency ``Requantizer.LATENCY + share + 2``
    (:func:`requant_latency`); streams tolerate arbitrary stalls.

    With ``tag_layout``, each beat carries a tag (``payload.inner``, ``payload.tag``, as
    :class:`hw.tagged.Tagged` gives a component): held with the beat, fed with its groups
    and through the inner requantiser's stages beside them (``Tagged``'s shift register),
    gathered with the last: no tag queue whose handshake the shared requantiser's would
    run into (the result skid's flag through the feed into such a queue's flags was the
    whole design's critical path after timing step 11, seed 2: 8.72 ns).

    Parameters
    ----------
    lanes : int
    share : int
        Divides ``lanes``; at least 2 (use :class:`Requantizer` for 1).
    tag_layout : shape, optional

    Members
    -------
    i_stream, o_stream : as :class:`Requantizer`'s (with ``tag_layout``: as ``inner``
        beside ``tag``).
    """

    def __init__(self, lanes, share, tag_layout=None, local_ties=False):
        with discard_on_error(self):
            _check_lanes(lanes)
            if isinstance(share, bool) or not isinstance(share, int) or share < 2 or lanes % share:
                raise ValueError(f"share must be an integer >= 2 that divides lanes ({lanes}), "
                                 f"not {share!r}")
            self._lanes, self._share, self._tag_layout = lanes, share, tag_layout
            self._ties = local_ties
            self.LATENCY = requant_latency(share)
            in_shape, out_shape = requant_input_layout(lanes), requant_output_layout(lanes)
            if tag_layout is not None:
                in_shape = data.StructLayout({"inner": in_shape, "tag": tag_layout})
                out_shape = data.StructLayout({"inner": out_shape, "tag": tag_layout})
            super().__init__({
                "i_stream": In(stream.Signature(in_shape)),
                "o_stream": Out(stream.Signature(out_shape)),
            })

    def elaborate(self, platform):
        m = Module()
        lanes, share, tagged = self._lanes, self._share, self._tag_layout is not None
        group = lanes // share
        if tagged:
            inner = m.submodules.inner = Tagged(Requantizer(group, self._ties), self._tag_layout)
            inner_in, beat_in = inner.i_stream.payload.inner, self.i_stream.payload.inner
            beat_out = self.o_stream.payload.inner
        else:
            inner = m.submodules.inner = Requantizer(group, self._ties)
            inner_in, beat_in, beat_out = inner.i_stream.payload, self.i_stream.payload, self.o_stream.payload

        # Hold the beat and feed its groups, one a cycle, through a register of the group
        # (the group's select between the held beat and the requantiser's left shift was,
        # with the route to the DSP's input registers, the engine's critical path).
        hold = Signal(requant_input_layout(lanes))
        hold_valid = Signal()
        feed = Signal(range(share))
        fed = Signal(requant_input_layout(group))
        fed_valid = Signal()
        load = ~fed_valid | inner.i_stream.ready  # the group register takes the next group
        take = hold_valid & load
        last_feed = take & (feed == share - 1)
        m.d.comb += [self.i_stream.ready.eq(~hold_valid | last_feed),
                     inner.i_stream.valid.eq(fed_valid), inner_in.eq(fed)]
        if tagged:  # the tag with the beat, and with each of its groups
            hold_tag, fed_tag = Signal(self._tag_layout), Signal(self._tag_layout)
            m.d.comb += inner.i_stream.payload.tag.eq(fed_tag)
            with m.If(load):
                m.d.sync += fed_tag.eq(hold_tag)
            with m.If(self.i_stream.valid & self.i_stream.ready):
                m.d.sync += hold_tag.eq(self.i_stream.payload.tag)
        with m.If(load):
            m.d.sync += [fed_valid.eq(hold_valid), fed.zero_point.eq(hold.zero_point),
                         fed.lo.eq(hold.lo), fed.hi.eq(hold.hi)]
            with m.Switch(feed):
                for g in range(share):
                    with m.Case(g):
                        for lane in range(group):
                            m.d.sync += [fed.acc[lane].eq(hold.acc[g * group + lane]),
                                         fed.multiplier[lane].eq(hold.multiplier[g * group + lane]),
                                         fed.shift[lane].eq(hold.shift[g * group + lane])]
        with m.If(take):
            m.d.sync += feed.eq(Mux(feed == share - 1, 0, feed + 1))
        with m.If(self.i_stream.valid & self.i_stream.ready):
            m.d.sync += [hold.eq(beat_in), hold_valid.eq(1)]
        with m.Elif(last_feed):
            m.d.sync += hold_valid.eq(0)

        # Gather the groups; the last one completes the output beat. The groups come
        # through a skid register (``hw.skid``), so the inner requantiser's
        # ``o_stream.ready`` is a register: the output's ready, through the gather's
        # handshake, the inner requantiser's enable and the feed's into ``i_stream.ready``,
        # was one chain (the whole design's critical path after timing step 5 with the
        # store router, behind its destination select). No latency.
        results = skid_input(m, inner.o_stream, "results")
        result = results.payload.inner if tagged else results.payload
        gathered = Signal(data.ArrayLayout(signed(ACT_BITS), lanes - group))
        gather = Signal(range(share))
        last_group = gather == share - 1
        m.d.comb += results.ready.eq(~last_group | ~self.o_stream.valid | self.o_stream.ready)
        with m.If(self.o_stream.valid & self.o_stream.ready):
            m.d.sync += self.o_stream.valid.eq(0)
        with m.If(results.valid & results.ready):
            m.d.sync += gather.eq(Mux(last_group, 0, gather + 1))
            with m.Switch(gather):
                for g in range(share - 1):
                    with m.Case(g):
                        for lane in range(group):
                            m.d.sync += gathered[g * group + lane].eq(result[lane])
                with m.Case(share - 1):
                    m.d.sync += [self.o_stream.valid.eq(1),
                                 beat_out.as_value().eq(Cat(gathered.as_value(), result.as_value()))]
                    if tagged:
                        m.d.sync += self.o_stream.payload.tag.eq(results.payload.tag)
        return m


def requant_latency(share=1):
    """Latency of :func:`requantizer`'s result: the held beat's ``share`` groups enter
    one a cycle through the group register, and the gathered beat leaves from a
    register."""
    return Requantizer.LATENCY if share == 1 else Requantizer.LATENCY + share + 2


def requantizer(lanes, share=1):
    """A :class:`Requantizer`, or a :class:`SharedRequantizer` when ``share > 1``."""
    return Requantizer(lanes) if share == 1 else SharedRequantizer(lanes, share)


def tagged_requantizer(lanes, share, tag_layout, local_ties=False):
    """:func:`requantizer` whose beats carry a tag of ``tag_layout`` (``payload.inner``,
    ``payload.tag``), beside its stages in registers, never in a queue; ``local_ties``:
    each lane's multipliers tie their control inputs from flip-flops of their own on
    ECP5 (``hw.products.dsp_ties``)."""
    if share == 1:
        return Tagged(Requantizer(lanes, local_ties), tag_layout)
    return SharedRequantizer(lanes, share, tag_layout, local_ties)


# -- wiring shared by the stages that requantise a MAC unit's accumulators ----------------

def channel_params_tag(pe, *markers):
    """A tag carrying each channel's multiplier and shift from the parameter lookup, past a
    MAC unit (``hw.tagged.Tagged``), to the requantiser; plus 1-bit ``markers``."""
    return data.StructLayout({
        "multiplier": data.ArrayLayout(unsigned(MULT_BITS), pe),
        "shift": data.ArrayLayout(signed(SHIFT_BITS), pe),
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
