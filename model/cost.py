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
from hw.dw_stage import DepthwiseStage
from hw.pixel_buffer import PixelBuffer
from hw.pw_stage import PointwiseStage
from hw.window import WindowGenerator

from .layers import LayerKind
from .tiling import Step, StepTiling, Tile, channel_blocks, tile_network

__all__ = ["step_mode", "tile_beats", "tile_cycles", "TileCost", "StepCost", "step_cost",
           "network_cost"]


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
        return blocks_in * pixels, pixels
    if mode is Mode.FUSED:
        pixels = (tile.out_rows[1] - tile.out_rows[0]) * step.first.out_w
    else:
        pixels = (tile.in_rows[1] - tile.in_rows[0]) * step.in_width
    return pixels * blocks_in * (tile.out_blocks[1] - tile.out_blocks[0]), blocks_in


def tile_cycles(mode: Mode, beats: int, run_len: int) -> int:
    """Cycles from command to last output word (see the module docstring)."""
    fill = (Controller.START_LATENCY + WindowGenerator.LATENCY + DepthwiseStage.latency(mode)
            + run_len - 1 + PixelBuffer.HANDOVER_LATENCY)
    return fill + beats + PointwiseStage.LATENCY + Controller.COUNT_INCLUSIVE


@dataclass(frozen=True)
class TileCost:
    beats: int
    cycles: int


@dataclass(frozen=True)
class StepCost:
    """Predicted figures of one step (a layer, or a fused depthwise + pointwise pair)."""

    name: str
    mode: Mode
    tiles: tuple[TileCost, ...]
    macs: int  # useful multiply-accumulates (the paper's Mult-Adds of the step)
    pointwise_macs: int  # of them, on the pe x pe array
    ddr_read_bytes: int
    ddr_write_bytes: int
    pe: int

    @property
    def cycles(self) -> int:
        return sum(tile.cycles for tile in self.tiles)

    @property
    def beats(self) -> int:
        return sum(tile.beats for tile in self.tiles)

    @property
    def array_utilisation(self) -> float:
        """Pointwise-array utilisation: useful array MACs / (cycles x pe^2)."""
        return self.pointwise_macs / (self.cycles * self.pe * self.pe)


def step_cost(tiling: StepTiling, pe: int) -> StepCost:
    step = tiling.step
    mode = step_mode(step)
    tiles = []
    for tile in tiling.tiles:
        beats, run_len = tile_beats(step, tile, pe)
        tiles.append(TileCost(beats, tile_cycles(mode, beats, run_len)))
    array_layer = step.last
    pointwise_macs = 0 if mode is Mode.POOL else array_layer.mult_adds
    return StepCost(step.name, mode, tuple(tiles), sum(l.mult_adds for l in step.layers),
                    pointwise_macs, tiling.ddr_read_bytes, tiling.ddr_write_bytes, pe)


def network_cost(config) -> list[StepCost]:
    """Every step of ``config.network`` with the tiling for ``config``'s buffers."""
    tilings = tile_network(config.network, config.pe, config.bank["act"].depth,
                           config.bank["pw_weights"].depth)
    return [step_cost(tiling, config.pe) for tiling in tilings]
