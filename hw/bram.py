"""A memory with a registered write port, read through a block RAM's output register.

A write takes one stage: the address, data and slice enables are registered, and the
memory takes them at the next edge, so between a register and a block RAM's write pins
there is only a route (the enables are decoded in front of the registers). A read takes
two stages, as a block RAM with its output register does: the memory reads ``r_addr`` at
the edge where ``r_en`` is high, the word read enters ``r_data`` at the next edge where
``r_oe`` is high and stays there until then.

On ECP5 (``hw.products.is_ecp5``) the memory is Lattice DP16KD primitives with their own
output register in use (``REGMODE = "OUTREG"``, clock enable OCE = ``r_oe``): Yosys' ECP5
memory mapping never uses it, and a fabric register after the block leaves the block's
5.83 ns clock-to-out (speed grade 6) and a route in front of it. Elsewhere (and for
memories shallow enough for LUT RAM) it is a ``lib.memory.Memory`` and a fabric register,
with the same cycles; ``sim/hdl/ecp5_dp16kd.v`` models the primitive for the RTL tests.

Collisions: a DP16KD read of the address being written at the same edge is undefined
(the simulation model returns X), where the portable memory returns the old word. The
buffers never do it (a half is loaded while the other one is read), so both agree.
"""

from dataclasses import dataclass

from amaranth.hdl import Array, Cat, ClockSignal, Const, Instance, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .config import ceil_log2
from .products import is_ecp5

__all__ = ["BlockRam", "Dp16kdTiling", "dp16kd_tiling", "DP16KD_MODES", "ECP5_LUTRAM_DEPTH",
           "CASCADE_SAVING"]

#: DP16KD data widths as (words, port bits, bits per write lane): a lane is what one byte
#: enable covers (9 bits in the 18- and 36-bit modes; the narrower modes have none, so the
#: whole port is one lane). 36 bits is the pseudo dual port mode (write on A, read on B).
DP16KD_MODES = ((16384, 1, 1), (8192, 2, 2), (4096, 4, 4), (2048, 9, 9), (1024, 18, 9),
                (512, 36, 9))

#: Memories at most this deep go to ECP5 distributed RAM (TRELLIS_DPR16X4), not DP16KD.
ECP5_LUTRAM_DEPTH = 16

#: Address pins of a DP16KD port.
_AD_BITS = 14


@dataclass(frozen=True)
class Dp16kdTiling:
    """How a memory of ``slices x slice_bits`` bits by some depth is built from DP16KD
    blocks in one mode: each slice (the write granularity) takes whole lanes, lanes fill
    blocks side by side (``columns``), and ``rows`` of blocks cascade the depth."""

    words: int  # per block
    port_bits: int
    lane_bits: int
    slice_bits: int
    slices: int
    rows: int

    @property
    def lanes_per_slice(self) -> int:
        return -(-self.slice_bits // self.lane_bits)

    @property
    def lanes_per_block(self) -> int:
        return self.port_bits // self.lane_bits

    @property
    def columns(self) -> int:
        return -(-self.slices * self.lanes_per_slice // self.lanes_per_block)

    @property
    def blocks(self) -> int:
        return self.rows * self.columns

    def lane_bits_of(self, lane: int) -> tuple[int, int]:
        """(first bit in the word, bits) that global lane ``lane`` holds (0 bits: unused)."""
        s, j = divmod(lane, self.lanes_per_slice)
        if s >= self.slices:
            return 0, 0
        start = j * self.lane_bits
        return s * self.slice_bits + start, max(0, min(self.lane_bits, self.slice_bits - start))


#: How many more blocks than the cheapest tiling :func:`dp16kd_tiling` spends to cascade
#: less deep.
CASCADE_SAVING = 1 / 3


def dp16kd_tiling(width: int, depth: int, granularity: int | None = None) -> Dp16kdTiling:
    """The DP16KD tiling :class:`BlockRam` builds for ``width`` x ``depth`` written in
    slices of ``granularity`` bits (the whole word when None). A depth cascade puts a
    multiplexer between the blocks' output registers and the reader, on the path the
    output registers are there to shorten, so of the tilings that take at most
    :data:`CASCADE_SAVING` more blocks than the cheapest this is the one with the fewest
    rows (then blocks): pe 4, 100 kB: 16 DP16KD of 2048 x 9 for the pointwise weights,
    not 12 of 512 x 36 three deep. ``hw.synth.bram_estimate`` counts block RAMs with it."""
    granularity = granularity or width
    assert width > 0 and depth > 0 and width % granularity == 0, (width, depth, granularity)
    tilings = [Dp16kdTiling(words, port, lane, granularity, width // granularity, -(-depth // words))
               for words, port, lane in DP16KD_MODES]
    budget = min(t.blocks for t in tilings) * (1 + CASCADE_SAVING)
    return min((t for t in tilings if t.blocks <= budget), key=lambda t: (t.rows, t.blocks))


class BlockRam(wiring.Component):
    """``depth`` words of ``width`` bits, one write port of one stage (slices of
    ``granularity`` bits) and one read port of two stages (block RAM read, output register).

    Write: ``w_addr``, ``w_data`` and ``w_en`` at an edge enter the write registers (on
    ECP5 one enable register per DP16KD, ``w_en`` and the cascade row decoded in front of
    it, and each block's own data bits); the memory takes them at the next edge
    (:attr:`write_latency`). A word written with ``w_en`` at edge ``E`` is returned by a
    read at edge ``E + 2`` or later; a read at ``E + 1`` of the same address is undefined
    on ECP5 (see the collision note above). No stall: a write is taken every cycle.

    Read: the memory reads ``r_addr`` at an edge where ``r_en`` is high; ``r_data``
    takes that word at the next edge where ``r_oe`` is high (the reader's next stage
    advances), so a stalled reader holds both stages by holding the enables low. Latency
    2 when both are high every cycle. A depth cascade on ECP5 (:func:`dp16kd_tiling`)
    selects the row with the read address's high bits, delayed through the same two
    enables.

    Parameters
    ----------
    width, depth : int
    granularity : int or None
        Bits per write enable (``width`` when None).
    read_groups : int
        Copies of the read enables (``r_en``, ``r_oe``, each that many bits, equal every
        cycle): on ECP5 the DP16KD columns split into that many groups side by side, each
        on its own copy, so that no one enable reaches every block of a wide memory (the
        reader makes each copy a register of its own, ``hw.skid``). Default 1.
    write_registers : bool
        The write stage (default). Without it the memory takes ``w_addr``, ``w_data`` and
        ``w_en`` at the edge itself (:attr:`write_latency` 0): for a writer whose port
        signals are registers already and whose reader follows its writes by one edge.

    Members
    -------
    w_addr : In(address bits)
    w_data : In(width)
    w_en : In(width // granularity)
        One enable per slice: the slices whose bit is set are written
        (:attr:`write_latency` edges later).
    r_addr : In(address bits)
    r_en, r_oe : In(read_groups)
    r_data : Out(width)
        Not reset (neither is a block RAM's output register); only read words reach it.
    """

    def __init__(self, width, depth, granularity=None, *, read_groups=1, write_registers=True):
        self._width, self._depth, self._groups = width, depth, read_groups
        self._write_registers = write_registers
        self._granularity = granularity or width
        if width % self._granularity:
            raise ValueError(f"granularity {granularity} does not divide width {width}")
        abits = ceil_log2(depth)
        super().__init__({
            "w_addr": In(abits),
            "w_data": In(width),
            "w_en": In(width // self._granularity),
            "r_addr": In(abits),
            "r_en": In(read_groups),
            "r_oe": In(read_groups),
            "r_data": Out(width),
        })

    @property
    def write_latency(self) -> int:
        """Edges from ``w_en`` to the memory holding the word: 1 through the write
        registers, 0 without them."""
        return int(self._write_registers)

    def _enable(self, copies, column, columns):
        """The copy of a read enable that block ``column`` of ``columns`` side by side
        takes (the groups are runs of neighbouring columns)."""
        if self._groups == 1:
            return copies
        return copies[column * self._groups // columns]

    def _write_stage(self, m, value, name, reset_less=True):
        """``value`` through the write stage's register (or as it is without one)."""
        if not self._write_registers:
            return value
        register = Signal(len(value), name=name, reset_less=reset_less)
        m.d.sync += register.eq(value)
        return register

    def elaborate(self, platform):
        if is_ecp5(platform) and self._depth > ECP5_LUTRAM_DEPTH:
            return self._dp16kd()
        m = Module()
        mem = m.submodules.mem = Memory(shape=self._width, depth=self._depth, init=[])
        slices = self._width // self._granularity
        wr = mem.write_port(granularity=self._granularity if slices > 1 else None)
        w_addr = self._write_stage(m, self.w_addr, "w_addr_q")
        w_data = self._write_stage(m, self.w_data, "w_data_q")
        w_en = self._write_stage(m, self.w_en, "w_en_q", reset_less=False)
        m.d.comb += [wr.addr.eq(w_addr), wr.data.eq(w_data),
                     wr.en.eq(w_en if slices > 1 else w_en[0])]
        rd = mem.read_port()
        m.d.comb += [rd.addr.eq(self.r_addr), rd.en.eq(self._enable(self.r_en, 0, 1))]
        out = Signal(self._width, reset_less=True)
        with m.If(self._enable(self.r_oe, 0, 1)):
            m.d.sync += out.eq(rd.data)
        m.d.comb += self.r_data.eq(out)
        return m

    def _dp16kd(self):
        m = Module()
        t = dp16kd_tiling(self._width, self._depth, self._granularity)
        wide = t.port_bits == 36  # pseudo dual port: the read is 36 bits on DOA and DOB
        block_abits = ceil_log2(t.words)
        low = _AD_BITS - block_abits  # a port's word address sits on AD[13:low]

        def address(addr):
            bits = Cat(addr[:block_abits], Const(0, max(0, block_abits - len(addr))))
            return {k + low: bits[k] for k in range(block_abits)}

        raddr = address(self.r_addr)
        # The write stage: the address registered once per memory, each block's enables
        # (decoded from the slice enables and the cascade row) and data in its own
        # registers, so a block's CEA/WEA/byte enables come from a register of its own.
        waddr = address(self._write_stage(m, self.w_addr[:block_abits], "w_addr_q"))
        rows = []
        for r in range(t.rows):
            row_word = Signal(self._width, name=f"row{r}")
            w_row = self.w_addr[block_abits:] == r if t.rows > 1 else Const(1, 1)
            for c in range(t.columns):
                di, be = Signal(36, name=f"di_{r}_{c}"), Signal(4, name=f"be_{r}_{c}")
                do = Signal(36, name=f"do_{r}_{c}")
                for k in range(t.lanes_per_block):
                    first, bits = t.lane_bits_of(c * t.lanes_per_block + k)
                    if not bits:
                        continue
                    at = k * t.lane_bits
                    s = first // t.slice_bits
                    m.d.comb += [di[at:at + bits].eq(self.w_data[first:first + bits]),
                                 be[k].eq(self.w_en[s] & w_row),
                                 row_word[first:first + bits].eq(do[at:at + bits])]
                # Each block's data and enables in registers of its own; the write enable
                # its own register too, not be.any() behind them: no LUT before WEA.
                we = self._write_stage(m, be.any(), f"we_{r}_{c}", reset_less=False)
                di = self._write_stage(m, di, f"di_{r}_{c}_q")
                be = self._write_stage(m, be, f"be_{r}_{c}_q", reset_less=False)
                en = self._enable(self.r_en, c, t.columns)
                oe = self._enable(self.r_oe, c, t.columns)
                ada = dict(waddr)
                if t.port_bits in (18, 36):  # byte enables on the low address pins
                    ada.update({k: be[k] for k in range(t.lanes_per_block)})
                ports = {
                    **{f"i_ADA{k}": ada.get(k, 0) for k in range(_AD_BITS)},
                    **{f"i_ADB{k}": raddr.get(k, 0) for k in range(_AD_BITS)},
                    **{f"i_DIA{k}": di[k] for k in range(18)},
                    **{f"i_DIB{k}": di[18 + k] if wide else 0 for k in range(18)},
                    **{f"i_CSA{k}": 0 for k in range(3)}, **{f"i_CSB{k}": 0 for k in range(3)},
                    # Read data: DOB in the narrow modes; DOA low, DOB high at 36 bits
                    # (Yosys' own $__PDPW16KD_ mapping).
                    **{f"o_DO{'B' if not wide else 'A'}{k}": do[k] for k in range(18)},
                    **({f"o_DOB{k}": do[18 + k] for k in range(18)} if wide else {}),
                }
                m.submodules[f"ram_{r}_{c}"] = Instance(
                    "DP16KD",
                    p_DATA_WIDTH_A=t.port_bits, p_DATA_WIDTH_B=t.port_bits,
                    # At 36 bits the read uses both output register sets (nextpnr sets
                    # REGMODE_A = REGMODE_B for a pseudo dual port block).
                    p_REGMODE_A="OUTREG" if wide else "NOREG", p_REGMODE_B="OUTREG",
                    p_RESETMODE="SYNC", p_ASYNC_RESET_RELEASE="SYNC",
                    p_CSDECODE_A="0b000", p_CSDECODE_B="0b000",
                    p_WRITEMODE_A="NORMAL", p_WRITEMODE_B="NORMAL", p_GSR="DISABLED",
                    i_CLKA=ClockSignal(), i_CEA=we, i_WEA=we, i_OCEA=oe if wide else 0,
                    i_RSTA=0,
                    i_CLKB=ClockSignal(), i_CEB=en, i_WEB=0, i_OCEB=oe, i_RSTB=0,
                    **ports)
            rows.append(row_word)

        if t.rows == 1:
            m.d.comb += self.r_data.eq(rows[0])
        else:
            # The row of the word in the output registers: the read address's high bits
            # through the same two enables.
            sel_read = Signal(range(t.rows), name="row_read")
            sel_out = Signal(range(t.rows), name="row_out")
            with m.If(self._enable(self.r_en, 0, 1)):
                m.d.sync += sel_read.eq(self.r_addr[block_abits:])
            with m.If(self._enable(self.r_oe, 0, 1)):
                m.d.sync += sel_out.eq(sel_read)
            m.d.comb += self.r_data.eq(Array(rows)[sel_out])
        return m
