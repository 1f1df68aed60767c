"""The weight buffer: pointwise weight blocks, depthwise weights and the requantisation
parameters of both stages, each in two halves (one loads while the other computes).

Every word is written in slices of ``pe`` bytes by the load stream (memories with a
write granularity of one slice), so one narrow stream fills words of any width. The two
halves of each share one memory, interleaved (the half is the address's low bit), so no
multiplexer sits between a block RAM and its output register or after it.
"""

from amaranth.hdl import Cat, Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .bram import BlockRam
from .command import PARAM_LANE_BITS, Target, load_layout
from .config import ceil_log2
from .skid import chip_wide

__all__ = ["WeightBuffer"]


class WeightBuffer(wiring.Component):
    """Four memories of two interleaved halves with a shared load port and read ports of
    two stages (``hw.bram.BlockRam``).

    A read takes two cycles, as the block RAM reads with its output register: the memory
    reads ``addr`` of ``half`` at the edge where ``en`` is high; the word goes into the
    output register (on ECP5 the DP16KD's own) at the next edge where ``oe`` is high (the
    consumer's second lookup stage advances), and stays there until then. The output
    register keeps the block RAM's clock-to-output time off the long route to the
    multipliers. Outputs are not reset.

    Parameters
    ----------
    pe : int
    pw_depth : int
        Pointwise weight words per half (one ``pe x pe`` block each).
    block_depth : int
        Channel blocks per half of the depthwise weights and of both parameter memories.
    addr_bits : int
        Address width of the load stream (shared with the activation buffer).

    Members
    -------
    load : In(stream.Signature(load_layout(pe, addr_bits)))
        Load beats; beats for other targets are ignored. Always ready. A beat's slice
        enables are decoded (target, slice) in front of each memory's write registers
        and written one edge after the beat is taken (``BlockRam.write_latency``): a read
        two or more edges after the beat returns it.
    dw_half, dw_addr, dw_en, dw_oe : In
        Read the depthwise weights and parameters of channel block ``dw_addr``. ``dw_en``
        and ``dw_oe`` are :meth:`enable_copies` bits, copies of one enable, equal every
        cycle: with more than one, the weights' block RAMs split into that many less one
        groups of neighbouring columns, each on its own copy (``hw.bram.BlockRam``'s
        ``read_groups``), and the parameters' take the last.
    dw_weights : Out(9 * pe * 8)
        Tap-major: bytes ``[t * pe + c]`` (slice ``t`` of the word).
    dw_params : Out(pe * PARAM_LANE_BITS)
        ``pe`` parameter lanes (``command.param_lane_layout``).
    pw_half, pw_weight_addr, pw_param_addr, pw_en, pw_oe : In
        The pointwise read port (``pw_en`` and ``pw_oe`` as ``dw_en``).
    pw_weights : Out(pe * pe * 8)
        Input-major: slice ``i`` holds input channel ``i``'s weights to the ``pe`` outputs.
    pw_params : Out(pe * PARAM_LANE_BITS)
    """

    @staticmethod
    def enable_copies(pe):
        """Copies of each read enable at ``pe`` lanes: one below ``hw.skid.CHIP_WIDE_PE``;
        from it one per two input channels' weights (the pointwise weights at pe 8: 64
        DP16KDs, 16 to a copy) and one for the parameters, where a read port's one enable
        reached every block RAM of the memory across the chip (at pe 8 the pointwise
        lookup's, from one LUT into every ``pw_weights`` DP16KD, timing step 19's seed-3
        path)."""
        return pe // 2 + 1 if chip_wide(pe) else 1

    def __init__(self, pe, pw_depth, block_depth, addr_bits):
        self._pe, self._pw_depth, self._block_depth = pe, pw_depth, block_depth
        copies = self.enable_copies(pe)
        slice_bits = 8 * pe
        self._widths = {
            Target.PW_WEIGHTS: (slice_bits * pe, pw_depth),
            Target.DW_WEIGHTS: (slice_bits * 9, block_depth),
            Target.DW_PARAMS: (pe * PARAM_LANE_BITS, block_depth),
            Target.PW_PARAMS: (pe * PARAM_LANE_BITS, block_depth),
        }
        super().__init__({
            "load": In(stream.Signature(load_layout(pe, addr_bits))),
            "dw_half": In(1),
            "dw_addr": In(ceil_log2(block_depth)),
            "dw_en": In(copies),
            "dw_oe": In(copies),
            "dw_weights": Out(slice_bits * 9),
            "dw_params": Out(pe * PARAM_LANE_BITS),
            "pw_half": In(1),
            "pw_weight_addr": In(ceil_log2(pw_depth)),
            "pw_param_addr": In(ceil_log2(block_depth)),
            "pw_en": In(copies),
            "pw_oe": In(copies),
            "pw_weights": Out(slice_bits * pe),
            "pw_params": Out(pe * PARAM_LANE_BITS),
        })

    def elaborate(self, platform):
        m = Module()
        slice_bits = 8 * self._pe
        beat = self.load.payload
        m.d.comb += self.load.ready.eq(1)

        reads = {
            Target.DW_WEIGHTS: (self.dw_half, self.dw_addr, self.dw_en, self.dw_oe, self.dw_weights),
            Target.DW_PARAMS: (self.dw_half, self.dw_addr, self.dw_en, self.dw_oe, self.dw_params),
            Target.PW_WEIGHTS: (self.pw_half, self.pw_weight_addr, self.pw_en, self.pw_oe,
                                self.pw_weights),
            Target.PW_PARAMS: (self.pw_half, self.pw_param_addr, self.pw_en, self.pw_oe,
                               self.pw_params),
        }
        copies = self.enable_copies(self._pe)
        for target, (width, depth) in self._widths.items():
            half, addr, en, oe, out = reads[target]
            if copies > 1:  # the weights on all copies but the last, the parameters on it
                picked = slice(0, copies - 1) if target in (Target.PW_WEIGHTS, Target.DW_WEIGHTS) \
                    else slice(copies - 1, copies)
                en, oe = en[picked], oe[picked]
            ram = m.submodules[target.name.lower()] = BlockRam(width, 2 * depth, slice_bits,
                                                               read_groups=len(en))
            slices = width // slice_bits
            # A parameter word is 9 slices: pe lanes x 72 bits == 9 x pe bytes.
            m.d.comb += [
                ram.w_addr.eq(Cat(beat.half, beat.addr)),
                ram.w_data.eq(beat.data.as_value().replicate(slices)),
                ram.r_addr.eq(Cat(half, addr)),
                ram.r_en.eq(en),
                ram.r_oe.eq(oe),
                out.eq(ram.r_data),
            ]
            with m.If(self.load.valid & (beat.target == target)):
                m.d.comb += ram.w_en.eq(1 << beat.slice)
        return m
