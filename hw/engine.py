"""The compute engine: buffers, stages and their connections, nothing else. (``hw.top``
adds the DMA, the sequencer and the AXI ports around it.)

::

    load ──> ActBuffer ──> WindowGenerator <── WindowSequencer <── Controller <── cmd
        └──> WeightBuffer ─┐       │                                  │
                           ├─> DepthwiseStage ──> PixelBuffer ──> PointwiseStage ──> store
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .act_buffer import ActBuffer
from .command import Mode, Target, command_layout, load_layout
from .config import AcceleratorConfig
from .controller import Controller
from .dw_stage import DepthwiseStage
from .pixel_buffer import PixelBuffer
from .pw_stage import PointwiseStage, store_layout
from .weight_buffer import WeightBuffer
from .window import WindowGenerator
from .window_sequencer import WindowSequencer, window_tag_layout

__all__ = ["Engine", "pixel_slack"]


def pixel_slack() -> int:
    """The :class:`PixelBuffer`'s room beyond two runs: every word in flight between the
    window sequencer's reservation and the buffer's write port."""
    return WindowGenerator.LATENCY + DepthwiseStage.latency(Mode.FUSED)


class Engine(wiring.Component):
    """One mnaccel engine for ``config``.

    Members
    -------
    load : In(stream.Signature(load_layout(pe, config.load_addr_bits)))
        Operand words for the buffers (slices of ``pe`` bytes); always ready.
    act_write : In(stream.Signature(load_layout(pe, config.load_addr_bits)))
        Only with ``act_write=True`` (``hw.top``: the ``hw.act_writer`` output words):
        activation words (``half``, ``bank``, ``addr``, ``data``; ``target`` and
        ``slice`` ignored) into the activation buffer's write port in every cycle in
        which ``load`` brings no activation word (``ready``, from the load stream's
        ``valid`` and ``target``); beside a load beat for another buffer they go in the
        same cycle.
    cmd : In(stream.Signature(command_layout()))
        Tile commands; one is accepted when the previous tile is complete.
    store : Out(stream.Signature(store_layout(pe)))
        The tile's output words in loop order; ``last`` marks the tile's final word.
    busy : Out(1)
    cycles : Out(32)
        Cycles of the last tile (command accepted .. last word out).
    """

    def __init__(self, config: AcceleratorConfig, act_write: bool = False):
        self._config = config
        load = stream.Signature(load_layout(config.pe, config.load_addr_bits))
        super().__init__({
            "load": In(load),
            **({"act_write": In(load)} if act_write else {}),
            "cmd": In(stream.Signature(command_layout())),
            "store": Out(stream.Signature(store_layout(config.pe))),
            "busy": Out(1),
            "cycles": Out(32),
        })

    @property
    def config(self):
        return self._config

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        pe, bank = cfg.pe, cfg.bank
        act_depth, blocks = bank["act"].depth, bank["dw_weights"].depth

        ctrl = m.submodules.controller = Controller()
        act = m.submodules.act_buffer = ActBuffer(pe, act_depth)
        weights = m.submodules.weight_buffer = WeightBuffer(
            pe, bank["pw_weights"].depth, blocks, cfg.load_addr_bits)
        seq = m.submodules.window_sequencer = WindowSequencer(act_depth)
        win = m.submodules.window = WindowGenerator(pe, act_depth, tag_bits=window_tag_layout().size)
        mult = cfg.multipliers
        dw = m.submodules.depthwise = DepthwiseStage(pe, blocks, lut_multipliers=mult.depthwise_lut)
        pixels = m.submodules.pixel_buffer = PixelBuffer(pe, bank["pixel"].depth, pixel_slack())
        pw = m.submodules.pointwise = PointwiseStage(pe, bank["pixel"].depth,
                                                     bank["pw_weights"].depth, blocks,
                                                     packed=mult.packed,
                                                     lut_multipliers=mult.pointwise_lut,
                                                     requant_share=cfg.pw_requant_share)
        cmd = ctrl.cmd

        # The activation buffer's write port: the load stream's activation words, and in
        # the cycles without one the second port's (hw.act_writer), when there is one.
        act_load = self.load.valid & (self.load.payload.target == Target.ACT)
        write = self.load.payload
        if "act_write" in self.signature.members:
            second = self.act_write
            write = Signal(load_layout(pe, cfg.load_addr_bits))
            m.d.comb += [write.eq(Mux(act_load, self.load.payload, second.payload)),
                         second.ready.eq(~act_load),
                         act.w_stream.valid.eq(act_load | second.valid)]
        else:
            m.d.comb += act.w_stream.valid.eq(act_load)
        m.d.comb += [
            act.w_stream.payload.half.eq(write.half),
            act.w_stream.payload.bank.eq(write.bank),
            act.w_stream.payload.addr.eq(write.addr),
            act.w_stream.payload.data.eq(write.data),
        ]

        wiring.connect(m, wiring.flipped(self.cmd), ctrl.cmd_stream)
        m.d.comb += [
            # load: to both buffers; each keeps its own targets.
            weights.load.payload.eq(self.load.payload),
            weights.load.valid.eq(self.load.valid),
            self.load.ready.eq(1),
            # control
            seq.cmd.eq(cmd),
            seq.cmd_next.eq(self.cmd.payload), seq.load.eq(ctrl.accept),
            pw.cmd.eq(cmd), pw.start.eq(ctrl.start),
            ctrl.done.eq(self.store.valid & self.store.ready & self.store.payload.last),
            self.busy.eq(ctrl.busy), self.cycles.eq(ctrl.cycles),
            # windows
            win.rows.eq(cmd.rows), win.cols.eq(cmd.cols),
            win.row_pitch.eq(cmd.row_pitch), win.col_pitch.eq(cmd.col_pitch),
            win.zero_point.eq(cmd.pad_value),
            act.r_half.eq(cmd.act_half), act.r_addr.eq(win.r_addr), act.r_en.eq(win.r_en),
            act.r_oe.eq(win.r_oe),
            win.r_data.eq(act.r_data),
            seq.space.eq(pixels.space), pixels.reserve.eq(seq.reserve),
            # depthwise
            dw.mode.eq(cmd.mode), dw.zero_point.eq(cmd.dw_zero_point),
            dw.lo.eq(cmd.dw_lo), dw.hi.eq(cmd.dw_hi),
            weights.dw_half.eq(cmd.weight_half), weights.dw_addr.eq(dw.dw_addr),
            weights.dw_en.eq(dw.dw_en), weights.dw_oe.eq(dw.dw_oe),
            dw.dw_weights.eq(weights.dw_weights), dw.dw_params.eq(weights.dw_params),
            # pointwise
            pw.r_full.eq(pixels.r_full), pixels.r_en.eq(pw.r_en), pixels.r_oe.eq(pw.r_oe),
            pixels.advance.eq(pw.advance), pixels.rewind.eq(pw.rewind),
            pw.r_data.eq(pixels.r_data), pixels.release.eq(pw.release),
            pixels.run_len.eq(pw.run_len),
            weights.pw_half.eq(cmd.weight_half), weights.pw_weight_addr.eq(pw.pw_weight_addr),
            weights.pw_param_addr.eq(pw.pw_param_addr), weights.pw_en.eq(pw.pw_en), weights.pw_oe.eq(pw.pw_oe),
            pw.pw_weights.eq(weights.pw_weights), pw.pw_params.eq(weights.pw_params),
        ]
        wiring.connect(m, seq.o_stream, win.i_stream)
        wiring.connect(m, win.o_stream, dw.i_stream)
        wiring.connect(m, dw.o_stream, pixels.w_stream)
        wiring.connect(m, pw.o_stream, wiring.flipped(self.store))
        return m
