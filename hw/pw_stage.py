"""The pointwise stage: reads runs from the pixel buffer, multiplies them by weight
blocks in the pe x pe array, requantises and emits the tile's output words.

Fused and pointwise modes: every run (one pixel's ``blocks_in`` words) is read once per
output block, against weight words ``ob * blocks_in + k``, and produces one output
word per block. Pooling: every run (one channel block's pixels) is read once against
the identity block at weight word 0 and produces that block's output word.
"""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from model.numerics import ACT_BITS

from .command import COUNT_BITS, PARAM_LANE_BITS, Mode, command_layout, param_lane_layout
from .config import ceil_log2
from .credits import credit_counter, credits_needed
from .pointwise import PointwiseArray
from .queue import Queue
from .requant import (channel_params_tag, feed_requantizer, requant_latency, tagged_requantizer,
                      unpack_params)
from .skid import chip_wide, entry_held, entry_input, entry_latency, registered_stage
from .tagged import Tagged
from .weight_buffer import WeightBuffer

__all__ = ["PointwiseStage", "store_layout"]


def store_layout(pe):
    """One output word: ``pe`` int8 channels and whether it is the tile's last."""
    return data.StructLayout({"data": data.ArrayLayout(signed(ACT_BITS), pe), "last": 1})


class PointwiseStage(wiring.Component):
    """Sequence, look up and multiply-accumulate the pointwise side of a tile.

    ``packed`` and ``lut_multipliers`` choose the array's multipliers (:class:`PointwiseArray`);
    ``requant_share`` shares the requantiser's multipliers between that many groups of
    lanes (:class:`SharedRequantizer`): free when every run has at least that many words.

    Members
    -------
    cmd : In(command_layout())
    start : In(1)
    busy : Out(1)
    r_full, r_en, r_oe, r_data, advance, rewind, run_len, release
        The :class:`PixelBuffer`'s read side: its read pointer stepped as the words are
        issued, the word read into its output register when the second lookup stage
        advances.
    pw_weight_addr, pw_param_addr, pw_en, pw_oe, pw_weights, pw_params
        The :class:`WeightBuffer`'s pointwise read port (``pw_en`` and ``pw_oe``:
        ``WeightBuffer.enable_copies(pe)`` copies).
    o_stream : Out(stream.Signature(store_layout(pe)))
    """

    #: The two lookup registers: the pixel buffer and the weight buffer read when the first
    #: advances; their output registers load when the second does (:class:`PixelBuffer`,
    #: :class:`WeightBuffer`).
    LOOKUP_LATENCY = 2

    @classmethod
    def output_held(cls, pe, requant_share=1):
        """Output words the stage holds under a stalled output before it stops issuing
        (``model.cost.store_slack``). Below ``CHIP_WIDE_PE`` lanes, where the array
        stops: the array's output register (its pipeline advances until a word stands
        there), the accumulators' skid register (``hw.skid.entry_input``), the
        requantiser's output register, and with a shared requantiser the beat it holds
        while feeding its groups. From ``CHIP_WIDE_PE`` lanes the output queue's
        entries, as many as the credits (:meth:`credits`)."""
        if chip_wide(pe):
            return cls.credits(pe, requant_share)
        return 1 + entry_held(pe) + 1 + (1 if requant_share > 1 else 0)

    @classmethod
    def latency(cls, pe, requant_share=1):
        """Cycles from issuing a run's last read to its output word on ``o_stream`` (no
        stalls): the lookup registers, the beats' entry, the array, the accumulators'
        entry (``hw.skid.entry_latency``: none below ``CHIP_WIDE_PE`` lanes), the
        (shared) requantiser, and from ``CHIP_WIDE_PE`` lanes the output queue."""
        return (cls.LOOKUP_LATENCY + PointwiseArray.latency(pe) + requant_latency(requant_share)
                + 2 * entry_latency(pe) + (Queue.LATENCY if chip_wide(pe) else 0))

    @classmethod
    def credits(cls, pe, requant_share=1):
        """From ``CHIP_WIDE_PE`` lanes, the output queue's entries and the sequencer's
        credits (``hw.credits``): enough for a run's last word every cycle."""
        return credits_needed(cls.latency(pe, requant_share))

    def __init__(self, pe, pixel_depth, pw_depth, block_depth, *, packed=False, lut_multipliers=0,
                 requant_share=1):
        self._pe, self._share = pe, requant_share
        self.LATENCY = self.latency(pe, requant_share)
        self._array = dict(packed=packed, lut_multipliers=lut_multipliers, free_running=chip_wide(pe))
        super().__init__({
            "cmd": In(command_layout()),
            "start": In(1),
            "busy": Out(1),
            "r_full": In(1),
            "r_en": Out(1),
            "r_oe": Out(1),
            "advance": Out(1),
            "rewind": Out(1),
            "r_data": In(data.ArrayLayout(signed(ACT_BITS), pe)),
            "release": Out(1),
            "run_len": Out(ceil_log2(pixel_depth + 1) + 1),
            "pw_weight_addr": Out(ceil_log2(pw_depth)),
            "pw_param_addr": Out(ceil_log2(block_depth)),
            "pw_en": Out(WeightBuffer.enable_copies(pe)),
            "pw_oe": Out(WeightBuffer.enable_copies(pe)),
            "pw_weights": In(pe * pe * 8),
            "pw_params": In(pe * PARAM_LANE_BITS),
            "o_stream": Out(stream.Signature(store_layout(pe))),
        })

    def elaborate(self, platform):
        m = Module()
        pe, cmd = self._pe, self.cmd
        copies = WeightBuffer.enable_copies(pe)  # of the block RAMs' read enables
        # From CHIP_WIDE_PE lanes everything behind the sequencer runs free and the
        # store side's backpressure ends at an output queue (``hw.credits``).
        free = chip_wide(pe)
        pool = cmd.mode == Mode.POOL
        array = m.submodules.array = Tagged(PointwiseArray(pe, **self._array), channel_params_tag(pe, "tile_end"),
                                            produces=lambda beat: beat.last)
        requant = m.submodules.requant = tagged_requantizer(pe, self._share,
                                                            data.StructLayout({"tile_end": 1}),
                                                            local_ties=chip_wide(pe))

        # -- sequencer -------------------------------------------------------------
        k = Signal(2 * COUNT_BITS)  # word within the run
        ob = Signal(COUNT_BITS)
        weight_addr = Signal.like(self.pw_weight_addr)
        run = Signal(COUNT_BITS)  # channel block (pooling)
        out_row, out_col = Signal(COUNT_BITS), Signal(COUNT_BITS)
        look_ready = Signal()
        issue = Signal()
        # The run length and the flags ending a run and a pixel's output blocks are
        # registers (the flags set a cycle ahead, as the count reaches its penultimate
        # value), so ``release`` is one LUT from registers: from the command through the
        # comparisons of ``k`` and ``ob`` into the pixel buffer's counters was the
        # engine's critical path. ``cmd`` is steady from ``start`` (``run_len`` is read
        # only by a release, long after).
        run_len = self.run_len
        cmd_run_len = Mux(pool, cmd.pool_len, cmd.blocks_in)
        m.d.sync += run_len.eq(cmd_run_len)
        single_ob = pool | (cmd.blocks_out == 1)
        last_word, last_ob = Signal(), Signal()
        run_of_one, one_ob = Signal(), Signal()  # run_len == 1, single_ob, from registers
        m.d.sync += [run_of_one.eq(cmd_run_len == 1), one_ob.eq(single_ob)]
        # The counts' penultimate values, registers too (as ``one_col``: ``cmd`` is steady
        # from ``start`` and a count is compared only at an issue, after it): no carry
        # chain from the command before the comparisons (the controller's command through
        # ``out_cols - 2`` into ``last_col`` was the critical path after timing step 15 at
        # seed 3, 8.36 ns).
        def penultimate(value, name):
            register = Signal(value.shape(), name=f"{name}_penultimate")
            m.d.sync += register.eq(value)
            return register
        cols_m2 = penultimate(cmd.out_cols - 2, "out_cols")
        rows_m2 = penultimate(cmd.out_rows - 2, "out_rows")
        blocks_in_m2 = penultimate(cmd.blocks_in - 2, "blocks_in")
        blocks_out_m2 = penultimate(cmd.blocks_out - 2, "blocks_out")
        run_len_m2 = penultimate(cmd_run_len - 2, "run_len")
        with m.If(self.start):
            m.d.sync += [last_word.eq(cmd_run_len == 1), last_ob.eq(single_ob)]
        with m.Elif(issue):
            m.d.sync += last_word.eq(Mux(last_word, run_of_one, k == run_len_m2))
            with m.If(last_word):
                m.d.sync += last_ob.eq(Mux(last_ob, one_ob, ob == blocks_out_m2))
        # The tile's last run, as flags of the same kind: the last channel block (pooling),
        # the last output column and row, each set as its count reaches its penultimate
        # value. (From the command through the counts' comparisons into ``busy`` was the
        # whole design's critical path after timing step 5's first fix.)
        last_col, last_row, last_block = Signal(), Signal(), Signal()
        one_col = Signal()  # cmd.out_cols == 1, from a register
        m.d.sync += one_col.eq(cmd.out_cols == 1)
        last_run = Mux(pool, last_block, last_row & last_col)
        tile_end = last_word & last_ob & last_run

        if free:
            # A run's last word (it puts a result into the output queue) is issued only
            # with a credit; the words before it need none.
            credit = Signal()
            m.d.comb += issue.eq(self.busy & self.r_full & (credit | ~last_word))
        else:
            m.d.comb += issue.eq(self.busy & self.r_full & look_ready)
        m.d.comb += [
            self.advance.eq(issue & ~last_word),
            self.rewind.eq(issue & last_word & ~last_ob),
            # Only issued reads: an idle one could hit the word being written (a DP16KD
            # read of the address written at the same edge is undefined).
            self.r_en.eq(issue),
            self.pw_weight_addr.eq(weight_addr),
            self.pw_param_addr.eq(Mux(pool, run, ob)),
            *([self.pw_en.eq(look_ready)] if not free else []),
            self.release.eq(issue & last_word & last_ob),
        ]
        with m.If(self.start):
            m.d.sync += [self.busy.eq(1), k.eq(0), ob.eq(0), weight_addr.eq(0), run.eq(0),
                         out_row.eq(0), out_col.eq(0),
                         last_col.eq(cmd.out_cols == 1), last_row.eq(cmd.out_rows == 1),
                         last_block.eq(cmd.blocks_in == 1)]
        with m.Elif(issue):
            with m.If(~last_word):
                m.d.sync += [k.eq(k + 1), weight_addr.eq(Mux(pool, 0, weight_addr + 1))]
            with m.Elif(~last_ob):
                m.d.sync += [k.eq(0), ob.eq(ob + 1), weight_addr.eq(weight_addr + 1)]
            with m.Else():
                m.d.sync += [k.eq(0), ob.eq(0), weight_addr.eq(0), run.eq(run + 1),
                             last_block.eq(run == blocks_in_m2)]
                with m.If(last_col):
                    m.d.sync += [out_col.eq(0), out_row.eq(out_row + 1), last_col.eq(one_col),
                                 last_row.eq(out_row == rows_m2)]
                with m.Else():
                    m.d.sync += [out_col.eq(out_col + 1), last_col.eq(out_col == cols_m2)]
                with m.If(tile_end):
                    m.d.sync += self.busy.eq(0)

        # -- lookup registers: markers aligned with the pixel, weight and parameter reads --
        marks = data.StructLayout({"valid": 1, "first": 1, "last": 1, "end": 1})
        first, look = Signal(marks), Signal(marks)
        look_ready2 = Signal()
        # Both lookup stages advance with the array, bubbles included (as the stages of
        # ``hw.pointwise.pipeline_enables``): without stalls the same cycles as stages
        # that advance whenever they are empty, and two LUTs fewer between the array's
        # handshake and ``issue`` (with the pixel buffer's counters behind it, the whole
        # design's critical path in timing step 5).
        # The looked-up beats reach the array through a skid register (``hw.skid``), so
        # the lookup's enable and ``issue`` start from a register (the skid's empty flag):
        # the accumulator skid's full flag through the array's enable and a route across
        # the chip into ``issue`` and the counters' clock enables was the whole design's
        # critical path after timing step 5 (seed 3, 9.78 ns), and the array's tag FIFO
        # level the engine's. No latency; under a stalled array one beat more waits.
        # On a chip-wide design (``hw.skid.entry_input``) an output register follows the
        # skid's multiplexer, one cycle more: from a pixel-buffer DP16KD through that
        # multiplexer into a MULT18X18D's input, 10.3 ns of routing, was the critical
        # path at pe 8 in timing step 17 (seed 3, 11.59 ns).
        # Running free (``hw.credits``, from CHIP_WIDE_PE lanes) the lookup registers
        # advance, the block RAMs read and their output registers load every cycle (their
        # enables are constants; the one room flag through a LUT into the ``pw_weights``
        # DP16KDs' read enables across the chip was pe 8's path in timing step 19, 10.47
        # ns, and copies of that flag drove them from step 21 to 25), and the beats reach
        # the array through a register with no handshake (``hw.skid.registered_stage``,
        # the entry's latency).
        fed = stream.Signature(array.i_stream.payload.shape()).create(path=("fed",))
        if free:
            beats = registered_stage(m, fed, "beats")
            ones = (1 << copies) - 1
            m.d.comb += [self.pw_en.eq(ones), self.pw_oe.eq(ones), self.r_oe.eq(1)]
        else:
            beats = entry_input(m, fed, "beats", pe)
        wiring.connect(m, beats, array.i_stream)
        m.d.comb += [
            look_ready2.eq(fed.ready),
            look_ready.eq(look_ready2),
            *([self.pw_oe.eq(look_ready2), self.r_oe.eq(look_ready2)] if not free else []),
        ]
        with m.If(look_ready):
            m.d.sync += [first.valid.eq(issue), first.first.eq(k == 0), first.last.eq(last_word),
                         first.end.eq(tile_end)]
        with m.If(look_ready2):
            m.d.sync += look.eq(first)

        weights = data.View(data.ArrayLayout(data.ArrayLayout(signed(8), pe), pe), self.pw_weights)
        params = data.View(data.ArrayLayout(param_lane_layout(), pe), self.pw_params)
        beat = fed.payload
        m.d.comb += [
            fed.valid.eq(look.valid),
            beat.inner.act.eq(self.r_data),
            beat.inner.weights.eq(weights),
            beat.inner.first.eq(look.first),
            beat.inner.last.eq(look.last),
            beat.tag.tile_end.eq(look.end),
        ]
        m.d.comb += unpack_params(params, beat.inner.bias, beat.tag, pe)
        # The array's accumulators reach the requantiser through a skid register
        # (``hw.skid``), so that the array's ``o_stream.ready`` is a register: the store
        # side's backpressure, through the requantiser's handshake and the array's into
        # the lookup and the pixel buffer's counters, was the whole design's critical path
        # (timing step 5). No latency; under a stalled output one beat more waits. On a
        # chip-wide design an output register follows it (one cycle, one word more held):
        # the skid's ``full`` flag, a 4.87 ns route to its 552-bit multiplexer and the
        # left shift into the requantiser's stage 1 was the critical path at pe 8 after
        # timing step 17 (seed 3, 10.65 ns).
        # The array's one enable takes the entry's room from a flip-flop of its own
        # (``own_ready``): from the entry's flag beside the requantiser, 3.91 ns across
        # the chip into the array's enable, then the beats entry's handshake into the
        # lookup's enable copies was pe 8's path after timing step 21 (seed 3, 10.32 ns).
        # Running free, the accumulators reach the requantiser through a register with
        # no handshake, and the requantiser takes every beat: the array emits a word per
        # run, and the sequencer issues runs' last words at least as many cycles apart
        # as a shared requantiser has lane groups (``credit_counter``'s ``spacing``), so
        # its ``ready`` is high whenever a word comes. (For the network the design is
        # built for no run is that short, ``AcceleratorConfig.pw_requant_share``, and
        # the spacing costs no cycle; a shorter run waits for it.)
        if free:
            accs = registered_stage(m, array.o_stream, "accs")
        else:
            accs = entry_input(m, array.o_stream, "accs", pe, own_ready=True)
        m.d.comb += feed_requantizer(accs, requant, cmd.pw_zero_point, cmd.pw_lo,
                                     cmd.pw_hi, "tile_end")
        words = self.o_stream
        if free:
            # The output queue, as deep as the sequencer's credits: it takes every word
            # the requantiser makes, and the store side's ``ready`` reaches its read side
            # alone. A credit goes back as a word leaves it (``hw.credits``).
            queue = m.submodules.out_queue = Queue(width=store_layout(pe).size,
                                                   depth=self.credits(pe, self._share))
            words = stream.Signature(store_layout(pe)).create(path=("words",))
            m.d.comb += [
                queue.w_data.eq(words.payload), queue.w_en.eq(words.valid), words.ready.eq(1),
                self.o_stream.payload.eq(queue.r_data), self.o_stream.valid.eq(queue.r_rdy),
                queue.r_en.eq(self.o_stream.ready),
                credit.eq(credit_counter(m, queue.depth, issue & last_word,
                                         self.o_stream.valid & self.o_stream.ready, "credit",
                                         spacing=self._share)),
            ]
        m.d.comb += [
            words.valid.eq(requant.o_stream.valid),
            words.payload.data.eq(requant.o_stream.payload.inner),
            words.payload.last.eq(requant.o_stream.payload.tag.tile_end),
            requant.o_stream.ready.eq(words.ready),
        ]
        return m
