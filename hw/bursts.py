"""Runs of DDR beats cut into AXI4 INCR bursts, one burst a cycle, one carry chain a stage.

A run (its first beat's byte address, its beats) becomes bursts that end at every
multiple of a block of :func:`block_beats` beats (256, or 4 KiB when that is fewer): the
first burst goes up to the run's first block boundary (or is the whole run), the next
ones are whole blocks, the last one what is left. Blocks divide 4 KiB, so no burst is
longer than 256 beats or crosses a 4 KiB boundary (AXI4's INCR limits).

Cutting at block boundaries, rather than at ``min(256, bytes to 4 KiB, beats left)``,
leaves one comparison per run: after the first burst every burst but the last is a whole
block, and which one is last follows from the beats left alone. It costs at most one
burst more per run (a run starting inside a block and longer than what is left of it).
The load DMA and the store DMA cut their runs here.
"""

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .axi import AXI_ADDR_BITS, BOUNDARY_BYTES, MAX_BURST_BEATS
from .read_port import burst_layout

__all__ = ["BurstSplitter", "block_beats", "cut_run", "run_layout"]


def block_beats(beat_bytes: int) -> int:
    """Beats of the blocks bursts are cut at: 256, or 4 KiB when that is fewer beats."""
    return min(MAX_BURST_BEATS, BOUNDARY_BYTES // beat_bytes)


def cut_run(addr: int, beats: int, beat_bytes: int) -> list[tuple[int, int]]:
    """The bursts ``(address, beats)`` a :class:`BurstSplitter` cuts the run of ``beats``
    beats from byte address ``addr`` (beat-aligned) into: up to the run's first block
    boundary (or the whole run), then whole blocks of :func:`block_beats`, then the rest.
    The cost model counts a LOAD's bursts with it (``model.cost.read_bursts``)."""
    block = block_beats(beat_bytes)
    bursts = []
    while beats > 0:
        n = min(beats, block - (addr // beat_bytes) % block)
        bursts.append((addr, n))
        addr, beats = addr + n * beat_bytes, beats - n
    return bursts


def run_layout(beat_bits: int):
    """A run: its first beat's byte address (beat-aligned) and its beats (at least 1)."""
    return data.StructLayout({"addr": unsigned(AXI_ADDR_BITS), "beats": unsigned(beat_bits)})


class BurstSplitter(wiring.Component):
    """Cut runs into bursts.

    Stages: a run enters a register with its beats to the next block boundary and that
    boundary's address (the run's offset in its block subtracted, the block's address
    incremented); the burst register then takes the run's first burst (its beats
    compared with the distance to the boundary) and, one a cycle, the whole blocks and
    the rest that follow (the beats left, minus a block). Each stage is one carry chain
    and a multiplexer.

    Latency: a run accepted in cycle ``t`` with nothing ahead of it offers its first burst
    in cycle ``t + 2`` (:attr:`LATENCY`); a run waiting in the first stage moves on as its
    predecessor's last burst is taken, so bursts leave one a cycle whatever the runs'
    lengths. Stalls: ``burst`` holds its payload while ``ready`` is low; ``run`` is
    ready, from a register, while the skid register behind the first stage is empty.

    Members
    -------
    run : In(stream.Signature(run_layout(beat_bits)))
    burst : Out(stream.Signature(burst_layout()))
        Valid and payload straight from registers.
    idle : Out(1)
        No run held and no burst offered.
    """

    #: Cycles from a run's handshake to its first burst's ``valid``.
    LATENCY = 2

    def __init__(self, beat_bytes: int, beat_bits: int):
        self._beat_bytes, self._beat_bits = beat_bytes, beat_bits
        super().__init__({
            "run": In(stream.Signature(run_layout(beat_bits))),
            "burst": Out(stream.Signature(burst_layout())),
            "idle": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        block = block_beats(self._beat_bytes)
        k = block.bit_length() - 1  # log2 of the block's beats
        lo = self._beat_bytes.bit_length() - 1  # address bits within a beat
        block_bytes = block * self._beat_bytes

        # -- stage 1: the run, its distance to the next block boundary ------------------
        # A run arriving while stage 1 is full and not moving on waits in a skid register,
        # so that ``run.ready`` is a register (no path from the burst's ``ready`` back to
        # the requester) and still one run a cycle goes through.
        full = Signal()
        addr = Signal(AXI_ADDR_BITS)
        beats = Signal(self._beat_bits)
        dist = Signal(range(block + 1))  # beats to the run's first block boundary
        reach = Signal(range(block + 2))  # dist + 1: beats < reach is a borrow alone
        boundary = Signal(AXI_ADDR_BITS)  # that boundary's address
        skid = Signal(run_layout(self._beat_bits))
        skid_full = Signal()
        advance = Signal()  # stage 1 is empty or its run moves on
        arrive = self.run.valid & self.run.ready
        m.d.comb += self.run.ready.eq(~skid_full)
        run = Signal(run_layout(self._beat_bits))  # what stage 1 takes: the oldest run
        m.d.comb += run.eq(Mux(skid_full, skid, self.run.payload))
        offset = run.addr[lo:lo + k]
        with m.If(advance):
            m.d.sync += [
                full.eq(skid_full | arrive), addr.eq(run.addr), beats.eq(run.beats),
                dist.eq(block - offset), reach.eq(block + 1 - offset),
                boundary.eq((run.addr[lo + k:] + 1) << (lo + k)),
                skid_full.eq(0),
            ]
        with m.Elif(arrive):
            m.d.sync += [skid.eq(self.run.payload), skid_full.eq(1)]

        # -- stage 2: the burst register and what is left of its run -------------------
        next_addr = Signal(AXI_ADDR_BITS)  # the block after the offered burst
        left = Signal(self._beat_bits)  # beats of the run after the offered burst
        more = Signal()  # left != 0
        out = self.burst.payload
        load = ~self.burst.valid | self.burst.ready
        take = load & ~more & full  # stage 1's run gives the next burst
        m.d.comb += advance.eq(~full | take)
        with m.If(load & more):
            # the next whole block, or the rest of the run when it is less
            whole = left[k:] != 0
            m.d.sync += [out.addr.eq(next_addr), next_addr.eq(next_addr + block_bytes)]
            with m.If(whole):
                m.d.sync += [out.len.eq(block - 1), left.eq(left - block), more.eq(left > block)]
            with m.Else():
                m.d.sync += [out.len.eq(left[:k] - 1), left.eq(0), more.eq(0)]
        with m.Elif(take):
            # The whole run before the boundary. Not beats <= dist: Yosys would share the
            # subtraction beats - dist below and add a second chain for its equality.
            within = beats < reach
            m.d.sync += [out.addr.eq(addr), next_addr.eq(boundary), more.eq(~within)]
            with m.If(within):
                m.d.sync += [out.len.eq(beats - 1), left.eq(0)]
            with m.Else():
                m.d.sync += [out.len.eq(dist - 1), left.eq(beats - dist)]
        with m.If(load):
            m.d.sync += self.burst.valid.eq(more | full)
        m.d.comb += self.idle.eq(~skid_full & ~full & ~more & ~self.burst.valid)
        return m
