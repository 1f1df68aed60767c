"""The depthwise stage: windows in, pixel-buffer words out.

In fused mode a window picks up its channel block's 3x3 weights and parameters (a read
of two stages, aligned with the window in two lookup registers), goes through the
depthwise lanes and the requantiser; in pointwise and pooling modes the window's centre
tap (the pixel itself) goes to the pixel buffer unchanged; in conv mode the window's taps
go through the im2col gather (``hw.conv_gather``), one word of the pixel's im2col vector
per window.
"""

from amaranth.hdl import Cat, Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from model.numerics import ACT_BITS

from .command import PARAM_LANE_BITS, Mode, param_lane_layout
from .config import ceil_log2
from .conv_gather import ConvGather
from .depthwise import DepthwiseLanes
from .pixel_buffer import pixel_word_layout
from .requant import (Requantizer, channel_params_tag, feed_requantizer, tagged_requantizer,
                      unpack_params)
from .skid import chip_wide, registered_input, skid_input
from .tagged import Tagged
from .weight_buffer import WeightBuffer
from .window import window_output_layout
from .window_sequencer import window_tag_layout

__all__ = ["DepthwiseStage"]

CENTRE_TAP = 4


class DepthwiseStage(wiring.Component):
    """Depthwise convolution of windows, or their centre pixels passed through.

    ``lut_multipliers`` of the lanes' products are built in LUTs (:class:`DepthwiseLanes`).

    Stages: the two lookup registers (:attr:`LOOKUP_LATENCY`), then in fused mode the
    lanes, a register (:attr:`ACC_LATENCY`) and the requantiser, in conv mode the
    gather's register, then the output
    register behind the select by mode (:attr:`OUTPUT_LATENCY`; :meth:`latency`).
    Stalls: each part holds its beat while
    the next one stalls; ``i_stream.ready`` is a register (:func:`hw.skid.skid_input`: a
    window arriving while the first lookup register stalls waits in a skid register, at
    no latency), so no path runs from this stage's ``o_stream.ready`` or from ``mode``
    to the window generator. The looked-up beats go on (to the lanes, the gather or the
    output register, by mode) through a second skid register, and the two lookup
    registers advance together on its room, a register: the lookup's enables (the weight
    buffer's read and output-register enables) are that flip-flop, not the end of the
    lanes' and requantiser's handshakes and a select by mode.

    Members
    -------
    i_stream : In(stream.Signature(window_output_layout(pe, tag bits)))
        Windows from the :class:`WindowGenerator`, tagged ``window_tag_layout``.
    mode : In(Mode)
        Decoded into a register: steady from the cycle before the tile's first window
        (the controller holds it from the command's acceptance, ``hw.controller``).
    zero_point, lo, hi : In(signed(8))
        Output zero point and clamp of the depthwise requantiser.
    dw_addr, dw_en, dw_oe : Out
    dw_weights, dw_params : In
        The :class:`WeightBuffer`'s depthwise read port.
    o_stream : Out(stream.Signature(pixel_word_layout(pe)))
        Valid and payload from registers (the output register).
    """

    #: Cycles from a window entering to its word leaving, by mode (no stalls): the two
    #: lookup registers (the weight buffer's read, :class:`WeightBuffer`), then in fused
    #: mode the lanes and the requantiser.
    LOOKUP_LATENCY = 2
    #: The output register behind the select by mode (timing step 8).
    OUTPUT_LATENCY = 1
    #: Output words the stage holds under a stalled output before its lanes stop, where
    #: its output leaves the engine (a pool): the output register
    #: (``model.cost.store_slack``).
    OUTPUT_HELD = 1
    #: In fused mode, the register between the lanes and the requantiser (timing step 8).
    ACC_LATENCY = 1

    @classmethod
    def latency(cls, mode):
        if mode is Mode.FUSED:
            inner = (cls.LOOKUP_LATENCY + DepthwiseLanes.LATENCY + cls.ACC_LATENCY
                     + Requantizer.LATENCY)
        elif mode is Mode.CONV:
            inner = cls.LOOKUP_LATENCY + ConvGather.LATENCY
        else:
            inner = cls.LOOKUP_LATENCY
        return inner + cls.OUTPUT_LATENCY

    def __init__(self, pe, block_depth, *, lut_multipliers=0):
        self._pe, self._lut = pe, lut_multipliers
        tag_bits = data.Layout.cast(window_tag_layout()).size
        super().__init__({
            "i_stream": In(stream.Signature(window_output_layout(pe, tag_bits))),
            "mode": In(Mode),
            "zero_point": In(signed(ACT_BITS)),
            "lo": In(signed(ACT_BITS)),
            "hi": In(signed(ACT_BITS)),
            "dw_addr": Out(ceil_log2(block_depth)),
            "dw_en": Out(WeightBuffer.enable_copies(pe)),
            "dw_oe": Out(WeightBuffer.enable_copies(pe)),
            "dw_weights": In(9 * pe * 8),
            "dw_params": In(pe * PARAM_LANE_BITS),
            "o_stream": Out(stream.Signature(pixel_word_layout(pe))),
        })

    def elaborate(self, platform):
        m = Module()
        pe = self._pe
        lanes = m.submodules.lanes = Tagged(DepthwiseLanes(pe, lut_multipliers=self._lut),
                                            channel_params_tag(pe, "run_end", "tile_end"))
        requant = m.submodules.requant = tagged_requantizer(
            pe, 1, data.StructLayout({"run_end": 1, "tile_end": 1}), local_ties=chip_wide(pe))
        # The mode decode from a register: the route from the controller's command
        # register was the head of the engine's critical path.
        fused, conv = Signal(), Signal()
        m.d.sync += [fused.eq(self.mode == Mode.FUSED), conv.eq(self.mode == Mode.CONV)]
        gather = m.submodules.gather = ConvGather(pe)
        windows = skid_input(m, self.i_stream, "window")

        # Lookup registers: the window, aligned with its block's weights and parameters
        # (the weight buffer reads when the first loads, registers when the second does).
        # Both advance on one enable, the room of the skid register behind them
        # (``beats``, every mode's consumer takes its beats from it): the weight buffer's
        # read and output-register enables are a flip-flop (the skid's ``full``), with no
        # logic and no mode select in front of their route across the chip (from the
        # lanes' readiness through the lookup's handshake and a select by mode, it was
        # the whole design's critical path after timing step 11 at seed 3: 8.79 ns, a
        # 4.14 ns route into a ``dw_params`` DP16KD's read enable). A bubble between the
        # two registers is not filled while the skid is full (as in
        # ``hw.pointwise.pipeline_enables``); without stalls, cycle for cycle as before.
        first_valid, look_valid = Signal(), Signal()
        first_taps = Signal(windows.payload.taps.shape())
        look_taps = Signal(windows.payload.taps.shape())
        first_tag, look_tag = Signal(window_tag_layout()), Signal(window_tag_layout())
        in_tag = data.View(window_tag_layout(), windows.payload.tag)
        looked = stream.Signature(data.StructLayout({
            "taps": look_taps.shape(), "tag": window_tag_layout(),
            "weights": len(self.dw_weights), "params": len(self.dw_params),
        })).create(path=("looked",))
        beats, enables = self._beats_skid(m, looked)
        advance = looked.ready  # the skid's room: a register
        m.d.comb += [
            windows.ready.eq(advance),
            self.dw_addr.eq(in_tag.ib),
            self.dw_en.eq(enables),
            self.dw_oe.eq(enables),
            looked.valid.eq(look_valid),
            looked.payload.taps.eq(look_taps),
            looked.payload.tag.eq(look_tag),
            looked.payload.weights.eq(self.dw_weights),
            looked.payload.params.eq(self.dw_params),
        ]
        with m.If(advance):
            m.d.sync += [
                first_valid.eq(windows.valid), first_taps.eq(windows.payload.taps),
                first_tag.eq(in_tag),
                look_valid.eq(first_valid), look_taps.eq(first_taps), look_tag.eq(first_tag),
            ]
        beat_tag = beats.payload.tag

        weights = data.View(data.ArrayLayout(data.ArrayLayout(signed(8), pe), 9), beats.payload.weights)
        params = data.View(data.ArrayLayout(param_lane_layout(), pe), beats.payload.params)
        # The lanes' first stage is the multipliers' input registers (no logic), so the
        # skid's multiplexer sits in front of registers only (step 6's skid between the
        # lanes and the requantiser did not: 95.5 MHz).
        lanes_in = lanes.i_stream.payload
        m.d.comb += [
            lanes_in.inner.window.eq(beats.payload.taps),
            lanes_in.inner.weights.eq(weights),
            lanes_in.tag.run_end.eq(beat_tag.run_end),
            lanes_in.tag.tile_end.eq(beat_tag.tile_end),
        ]
        m.d.comb += [gather.i_stream.payload.taps.eq(beats.payload.taps),
                     gather.i_stream.payload.tag.eq(beat_tag)]
        m.d.comb += unpack_params(params, lanes_in.inner.bias, lanes_in.tag, pe)
        # The lanes' accumulators reach the requantiser through an output register with a
        # skid register beside it (``hw.skid.registered_input``): the lanes' ``o_stream.ready``
        # and the requantiser's input ``valid`` and payload are registers, so the
        # requantiser's handshake (its output valid, its tag FIFO, its enable) no longer
        # runs on through the lanes' handshake into the lanes' enable and tag FIFO (the
        # critical path at seed 3 after timing step 8's first fixes, 10.49 ns, three
        # routes of 1.9 to 2.9 ns). The skid's multiplexer sits in front of the output
        # register, not in front of the requantiser's left shift (step 6's skid there,
        # 95.5 MHz). One cycle (:attr:`ACC_LATENCY`).
        # From CHIP_WIDE_PE lanes the lanes' one enable takes the entry's room from a
        # flip-flop of its own (``hw.skid.registered_input``'s ``own_ready``), as the
        # pointwise array's does.
        accs = registered_input(m, lanes.o_stream, "accs", own_ready=chip_wide(pe))
        m.d.comb += feed_requantizer(accs, requant, self.zero_point, self.lo, self.hi,
                                     "run_end", "tile_end")

        # The select by mode goes into an output register (valid and payload): the
        # depthwise requantiser's valid through the select (a LUT, a PFUMX, an L6MUX for
        # ``run_end``) and two routes into the pixel buffer's ``complete_runs`` carry
        # chains was the whole design's critical path after timing step 7 (10.27 ns). The
        # pixel buffer is always ready, so the register's ready (``~valid | ready``) is a
        # constant in the engine.
        out = stream.Signature(pixel_word_layout(pe)).create(path=("dw_out",))
        m.d.comb += out.ready.eq(~self.o_stream.valid | self.o_stream.ready)
        with m.If(out.ready):
            m.d.sync += [self.o_stream.valid.eq(out.valid), self.o_stream.payload.eq(out.payload)]
        # The requantiser's and the gather's ready are the output register's in every
        # mode, not only in their own (outside it they take no beat, so they offer none):
        # in the engine, whose pixel buffer is always ready, the whole depthwise
        # handshake (the requantiser's, the accumulator entry's, the lanes' one enable,
        # the gather's, the beats skid's and the window skid's) is then a constant that
        # synthesis sees, and none of it crosses the chip. With the requantiser's ready
        # selected by mode, its output valid, its handshake and the accumulator entry's
        # into the lanes' enable were pe 8's paths in timing steps 20 (10.79 ns) and 24
        # (seed 2, 12.39 ns), and pe 4's with the reset routed (timing step 30, seed 5,
        # 8.30 ns). With the gather's selected by mode, the beats skid's ready was
        # ``fused | ~conv | gather ready`` (the gather's ready ``~valid | conv``): 1 in
        # every cycle, which ABC found only after the flip-flops were mapped, so the
        # skid's ``full`` flags stayed in the netlist, held in reset by a constant LUT,
        # and their fan-out into the skid's multiplexers was timed (pe 4's seed-3 and
        # seed-4 paths with the reset routed, 8.23 to 8.67 ns, were such false paths).
        m.d.comb += [requant.o_stream.ready.eq(out.ready), gather.o_stream.ready.eq(out.ready)]
        with m.If(fused):
            m.d.comb += [
                lanes.i_stream.valid.eq(beats.valid),
                beats.ready.eq(lanes.i_stream.ready),
                out.valid.eq(requant.o_stream.valid),
                out.payload.data.eq(requant.o_stream.payload.inner),
                out.payload.run_end.eq(requant.o_stream.payload.tag.run_end),
            ]
        with m.Elif(conv):
            m.d.comb += [
                gather.i_stream.valid.eq(beats.valid),
                beats.ready.eq(gather.i_stream.ready),
                out.valid.eq(gather.o_stream.valid),
                out.payload.eq(gather.o_stream.payload),
            ]
        with m.Else():
            m.d.comb += [
                beats.ready.eq(out.ready),
                out.valid.eq(beats.valid),
                out.payload.data.eq(beats.payload.taps[CENTRE_TAP]),
                out.payload.run_end.eq(beat_tag.run_end),
            ]
        return m

    def _beats_skid(self, m, looked):
        """The looked-up beats through a skid register (:func:`hw.skid.skid_input`), and
        the weight buffer's read enables (the skid's room). The skid holds them lane by
        lane (a lane's taps, weights and parameters side by side, the tag last), each
        lane's slice behind a copy of the skid's ``full`` flag of its own: at pe 8 the
        one flag drove about 1,700 multiplexers beside the lanes' DSPs across the chip,
        and its route was the critical path (timing step 19). In the engine no consumer
        of the beats stalls (the pixel buffer is always ready), so synthesis removes the
        flags and the multiplexers (timing step 30); a consumer that stalls keeps them.
        From :data:`hw.skid.CHIP_WIDE_PE` lanes the enables are copies of its room
        (``WeightBuffer.enable_copies``), registers of their own; below it the enable is
        the skid's ready. The same beats in the same cycles."""
        pe = self._pe
        taps = looked.payload.taps.shape().length  # the 3x3 window's, and its weights'
        lane = data.StructLayout({
            "taps": data.ArrayLayout(signed(ACT_BITS), taps),
            "weights": data.ArrayLayout(signed(8), taps),
            "params": param_lane_layout(),
        })
        by_lane_layout = data.StructLayout({"lanes": data.ArrayLayout(lane, pe),
                                            "tag": window_tag_layout()})
        weights = data.ArrayLayout(data.ArrayLayout(signed(8), pe), taps)
        params = data.ArrayLayout(param_lane_layout(), pe)
        by_lane = Signal(by_lane_layout)
        out = stream.Signature(looked.payload.shape()).create(path=("beats_looked",))
        copies = WeightBuffer.enable_copies(pe) if chip_wide(pe) else 0
        inner = skid_input(m, looked, "beats", value=by_lane,
                           parts=[lane.size] * pe + [data.Layout.cast(window_tag_layout()).size],
                           ready_copies=copies)
        inner, enables = inner if copies else (inner, [looked.ready])
        # Into the skid lane by lane, and back out in the layout the consumers take.
        for into, payload, lanes in ((True, looked.payload, by_lane),
                                     (False, out.payload, inner.payload)):
            w = data.View(weights, payload.weights)
            p = data.View(params, payload.params)
            for c in range(pe):
                pairs = [(lanes.lanes[c].params, p[c])]
                pairs += [(lanes.lanes[c].taps[t], payload.taps[t][c]) for t in range(taps)]
                pairs += [(lanes.lanes[c].weights[t], w[t][c]) for t in range(taps)]
                m.d.comb += [a.eq(b) if into else b.eq(a) for a, b in pairs]
            m.d.comb += lanes.tag.eq(payload.tag) if into else payload.tag.eq(lanes.tag)
        m.d.comb += [out.valid.eq(inner.valid), inner.ready.eq(out.ready)]
        return out, Cat(enables)
