"""Analytical cost model: cycles per tile and per step of the engine, without simulation.

Pure functions of the configuration, the tiling (``model.tiling``, the same one the
driver runs) and the pipeline latencies the hardware components declare. A tile runs
from the accepted command to its last output word with its operands already on chip:

    cycles = START + WINDOW + DW(mode) + (run_len - 1) + HANDOVER   first run complete
           + beats                                                  one array beat a cycle
           + PW + COUNT                                             last word leaves

``beats`` is the number of ``pe x pe`` array beats (pixels x input blocks x output
blocks, or channel blocks x pixels when pooling). Nothing stalls in between: the pixel
buffer holds two runs plus the depthwise pipeline, so the depthwise stage (one word a
cycle) stays ahead of the array (see ``hw.pixel_buffer``), and the stages start only
after the previous tile has drained (``hw.controller``), which the fill and drain terms
count for every tile.
"""

from __future__ import annotations

from dataclasses import dataclass

from hw.command import Mode
from hw.controller import Controller
from hw.fetch import BURST_INSTRUCTIONS
from hw.instruction import INSTRUCTION_BYTES
from hw.dw_stage import DepthwiseStage
from hw.pixel_buffer import PixelBuffer
from hw.pw_stage import PointwiseStage
from hw.window import WindowGenerator

from .layers import LayerKind
from .tiling import Step, StepTiling, Tile, channel_blocks, network_steps, run_length, tile_step

__all__ = ["step_mode", "tile_beats", "tile_cycles", "TileCost", "StepCost", "step_cost",
           "network_cost", "DdrTiming", "program_cycles", "plan_step", "plan_network"]


def step_mode(step: Step) -> Mode:
    if step.fused:
        return Mode.FUSED
    return Mode.POOL if step.first.kind is LayerKind.AVGPOOL else Mode.POINTWISE


def tile_beats(step: Step, tile: Tile, pe: int) -> tuple[int, int]:
    """(array beats, run length) of ``tile``."""
    blocks_in = channel_blocks(step.in_channels, pe)
    mode = step_mode(step)
    if mode is Mode.POOL:
        pixels = step.first.in_h * step.first.in_w
        return blocks_in * pixels, run_length(step, pe)
    if mode is Mode.FUSED:
        pixels = (tile.out_rows[1] - tile.out_rows[0]) * step.first.out_w
    else:
        pixels = (tile.in_rows[1] - tile.in_rows[0]) * step.in_width
    return pixels * blocks_in * (tile.out_blocks[1] - tile.out_blocks[0]), run_length(step, pe)


def tile_cycles(mode: Mode, beats: int, run_len: int, pw_share: int = 1) -> int:
    """Cycles from command to last output word (see the module docstring); ``pw_share``
    is the pointwise requantiser's sharing (``AcceleratorConfig.pw_requant_share``)."""
    fill = (Controller.START_LATENCY + WindowGenerator.LATENCY + DepthwiseStage.latency(mode)
            + run_len - 1 + PixelBuffer.HANDOVER_LATENCY)
    return fill + beats + PointwiseStage.latency(pw_share) + Controller.COUNT_INCLUSIVE


@dataclass(frozen=True)
class TileCost:
    beats: int
    cycles: int


@dataclass(frozen=True)
class DdrTiming:
    """The DDR as the cost model sees it: sustained bytes per cycle (reads and writes
    share them), read latency, and the AXI beat size."""

    bytes_per_cycle: float
    latency: int
    beat_bytes: int

    @classmethod
    def of(cls, config) -> "DdrTiming":
        return cls(min(config.ddr_bytes_per_cycle, config.ddr_data_bits / 8),
                   config.ddr_latency_cycles, config.ddr_data_bits // 8)

    def transfer(self, nbytes: int) -> float:
        return nbytes / self.bytes_per_cycle


#: Cycles from START to the program's first fetch burst being requested (the register
#: write taking effect, the fetch request, the read port's AR register).
FETCH_OVERHEAD = 4
#: Cycles from a LOAD leaving the sequencer to its AR being accepted (descriptor
#: register, burst computation, AR register).
READ_OVERHEAD = 3
#: Cycles from a tile's last LOAD beat to the engine accepting its command.
LOAD_TO_EXEC = 3
#: Cycles from a tile's last output word to DONE (the write response of its last burst).
WRITE_TAIL = 4


def program_cycles(compute: list[int], reads: list[int], writes: list[int], first_fetch: int,
                   ddr: DdrTiming) -> float:
    """Cycles of one step's program, start to done, from each tile's compute cycles and
    DDR bytes read (its LOADs and its instructions) and written (its output);
    ``first_fetch`` is the first fetch burst's bytes.

    The program starts with its first fetch burst: after the DDR latency, the first
    instruction arrives and its LOAD is issued; the rest of the burst arrives while that
    LOAD waits out its own latency. The first tile's loads then run alone. From then on
    tile ``i`` computes while the DDR moves tile ``i``'s output and tile ``i + 1``'s
    loads and instructions (the other buffer halves), so tile ``i + 1`` starts after
    ``max(compute_i, (writes_i + reads_{i+1}) / bandwidth)``: the DDR serves reads and
    writes from one bandwidth, interleaving them, and is never idle while either has
    work. The last tile's output drains after it."""
    t = FETCH_OVERHEAD + ddr.latency + ddr.transfer(INSTRUCTION_BYTES)
    rest_of_burst = ddr.transfer(first_fetch - INSTRUCTION_BYTES)
    t += READ_OVERHEAD + max(ddr.latency, rest_of_burst)
    t += ddr.transfer(reads[0] - first_fetch) + LOAD_TO_EXEC
    for i, cycles in enumerate(compute):
        following = reads[i + 1] if i + 1 < len(compute) else 0
        t += max(cycles, ddr.transfer(writes[i] + following))
    return t + WRITE_TAIL


@dataclass(frozen=True)
class StepCost:
    """Predicted figures of one step (a layer, or a fused depthwise + pointwise pair)."""

    name: str
    mode: Mode
    tiles: tuple[TileCost, ...]
    macs: int  # useful multiply-accumulates (the paper's Mult-Adds of the step)
    pointwise_macs: int  # of them, on the pe x pe array
    ddr_read_bytes: int  # operands and instructions
    ddr_write_bytes: int
    pe: int
    cycles: int  # start to done: compute and DDR (compute only when no DDR was given)
    ddr_cycles: float = 0.0  # DDR bytes / bandwidth: the step's DDR floor

    @property
    def compute_cycles(self) -> int:
        """The engine's cycles with every operand on chip: the step's compute floor."""
        return sum(tile.cycles for tile in self.tiles)

    @property
    def beats(self) -> int:
        return sum(tile.beats for tile in self.tiles)

    @property
    def ddr_bytes(self) -> int:
        return self.ddr_read_bytes + self.ddr_write_bytes

    @property
    def bound(self) -> str:
        """``"ddr"`` when moving the step's bytes takes longer than computing it."""
        return "ddr" if self.ddr_cycles > self.compute_cycles else "compute"

    @property
    def roofline_cycles(self) -> float:
        return max(self.compute_cycles, self.ddr_cycles)

    @property
    def array_utilisation(self) -> float:
        """Pointwise-array utilisation: useful array MACs / (cycles x pe^2)."""
        return self.pointwise_macs / (self.cycles * self.pe * self.pe)


def step_cost(tiling: StepTiling, pe: int, ddr: DdrTiming | None = None, pw_share: int = 1) -> StepCost:
    """Predicted cycles of ``tiling``'s step; with ``ddr``, of its program (loads, compute
    and stores overlapped), else of its tiles back to back with operands on chip.
    ``pw_share``: the pointwise requantiser's sharing (``AcceleratorConfig.pw_requant_share``)."""
    step = tiling.step
    mode = step_mode(step)
    tiles = []
    for tile in tiling.tiles:
        beats, run_len = tile_beats(step, tile, pe)
        tiles.append(TileCost(beats, tile_cycles(mode, beats, run_len, pw_share)))
    compute = [tile.cycles for tile in tiles]
    # DDR reads of a tile: its operands and its instructions (fetched from DDR too).
    reads = [t.act_bytes + t.weight_bytes + t.instructions * INSTRUCTION_BYTES for t in tiling.tiles]
    if ddr is None:
        cycles, ddr_cycles = sum(compute), 0.0
    else:
        instructions = sum(t.instructions for t in tiling.tiles)
        first_fetch = min(instructions, BURST_INSTRUCTIONS) * INSTRUCTION_BYTES
        cycles = round(program_cycles(compute, reads, [t.out_bytes for t in tiling.tiles],
                                      first_fetch, ddr))
        ddr_cycles = ddr.transfer(sum(reads) + tiling.ddr_write_bytes)
    array_layer = step.last
    pointwise_macs = 0 if mode is Mode.POOL else array_layer.mult_adds
    return StepCost(step.name, mode, tuple(tiles), sum(l.mult_adds for l in step.layers),
                    pointwise_macs, sum(reads), tiling.ddr_write_bytes, pe,
                    cycles, ddr_cycles)


#: Band heights the planner tries per step: the tallest that fits, divided by 1 .. this.
BAND_CANDIDATES = 8
#: The planner accepts at most this much more DDR traffic than the tallest bands move
#: (halo rows read twice) for a faster step.
TRAFFIC_SLACK = 1.2


def plan_step(step: Step, pe: int, act_depth: int, weight_depth: int,
              ddr: DdrTiming, pw_share: int = 1) -> StepTiling:
    """The tiling of ``step`` the accelerator runs: of the band heights ``tallest / k``
    (k = 1 .. BAND_CANDIDATES) that move at most TRAFFIC_SLACK times the DDR bytes of the
    tallest, the one with the fewest predicted cycles. Taller bands
    read fewer halo rows; shorter ones start computing sooner and overlap more of the
    DDR traffic with compute (the first tile's loads and the last tile's stores run
    alone)."""
    tallest = tile_step(step, pe, act_depth, weight_depth)
    bands = sorted({max(1, -(-tallest.band_rows // k)) for k in range(1, BAND_CANDIDATES + 1)},
                   reverse=True)
    tilings = [tallest] + [tile_step(step, pe, act_depth, weight_depth, max_band=b) for b in bands[1:]]
    budget = TRAFFIC_SLACK * _traffic(tallest)
    return min((t for t in tilings if _traffic(t) <= budget),
               key=lambda tiling: step_cost(tiling, pe, ddr, pw_share).cycles)


def _traffic(tiling: StepTiling) -> int:
    return tiling.ddr_read_bytes + tiling.ddr_write_bytes


def plan_network(config) -> list[StepTiling]:
    """The tilings of every step of ``config.network`` for ``config``'s buffers and DDR:
    what the scheduler programs and what the cost model predicts."""
    ddr = DdrTiming.of(config)
    return [plan_step(step, config.pe, config.bank["act"].depth, config.bank["pw_weights"].depth, ddr,
                      config.pw_requant_share)
            for step in network_steps(config.network)]


def network_cost(config) -> list[StepCost]:
    """Every step of ``config.network`` as planned (:func:`plan_network`), run from DDR at
    ``config``'s bandwidth and latency."""
    ddr = DdrTiming.of(config)
    return [step_cost(tiling, config.pe, ddr, config.pw_requant_share) for tiling in plan_network(config)]
