"""The tiling algorithm: how each step of the network is cut into tiles that fit on chip.

This is the one tiling algorithm: the generator's SRAM sizing, the cost model and the
driver all call it. A *step* is what the engine runs per command sequence: ``conv1``
(from the raw image: the engine forms its windows, ``hw.conv_gather``), a fused depthwise + pointwise block, the global
average pool, or the FC layer. A *tile* is a band of output rows for a group of output
channel blocks; its input band (with the 3x3 halo) sits in the activation buffer's
half and its weights in the weight buffer's half, in the layouts of ``hw.act_buffer``
(``ceil(rows / 3) * ceil(W / 3) * CB`` words per sub-bank) and ``hw.config`` (one
``pe x pe`` block per word).

For every step the algorithm takes the tallest band that fits the activation buffer
and the largest group of output blocks that fits the weight buffer, then the loop order
(bands outside or weight groups outside) that moves fewer DDR bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from .layers import Layer, LayerKind
from .numerics import PARAM_LANE_BITS

__all__ = ["Step", "Tile", "StepTiling", "network_steps", "act_words", "band_input_rows",
           "IMAGE_CHANNELS", "IMAGE_PIXEL_BYTES", "map_width", "map_blocks", "map_row_bytes",
           "tile_step", "tile_network", "min_tile_words", "channel_blocks", "weight_load_bytes",
           "weight_buffers",
           "TilingError"]


#: conv1 runs from the raw image (``Mode.CONV``) when its input has this many channels
#: (a 3x3 kernel, stride 1 or 2); another conv runs as im2col on the pointwise array.
IMAGE_CHANNELS = 3
#: Bytes of a pixel of the image in DDR (``hw.load_dma``): the channels and a don't-care
#: byte, so a DDR beat holds whole pixels.
IMAGE_PIXEL_BYTES = 4


class TilingError(ValueError):
    """A step cannot be tiled into the given buffers."""


def channel_blocks(channels: int, pe: int) -> int:
    """Blocks of ``pe`` lanes that hold ``channels`` channels."""
    return -(-channels // pe)


def act_words(rows: int, width: int, channels: int, pe: int) -> int:
    """Words per activation sub-bank for ``rows x width x channels`` (9-bank layout)."""
    return -(-rows // 3) * -(-width // 3) * channel_blocks(channels, pe)


@dataclass(frozen=True)
class Step:
    """Layers the engine runs together: one layer, or a depthwise layer and its pointwise."""

    layers: tuple[Layer, ...]
    #: conv1 from the host's im2col map although the engine could form it from the raw
    #: image: the planner's choice (``model.cost.plan_network``) where the im2col map
    #: fits one band and the image (one pixel a pe-byte word on chip) does not.
    host_im2col: bool = False

    @property
    def name(self) -> str:
        return "+".join(layer.name for layer in self.layers)

    @property
    def first(self) -> Layer:
        return self.layers[0]

    @property
    def last(self) -> Layer:
        return self.layers[-1]

    @property
    def fused(self) -> bool:
        return self.first.kind is LayerKind.DEPTHWISE

    @property
    def from_image(self) -> bool:
        """conv1 from the raw image: the engine forms the 3x3 windows of the image in the
        activation buffer (one pixel a word) and gathers their taps into the im2col
        words the pointwise array reads (``Mode.CONV``)."""
        return self.image_capable and not self.host_im2col

    @property
    def image_capable(self) -> bool:
        """A 3x3 conv at stride 1 or 2 of a 3-channel image: the engine can form it."""
        layer = self.first
        return (layer.kind is LayerKind.CONV and layer.kernel == 3 and layer.stride in (1, 2)
                and layer.in_c == IMAGE_CHANNELS)

    @property
    def im2col(self) -> bool:
        """A conv that is not :attr:`from_image`: the host lays out its im2col map."""
        return self.first.kind is LayerKind.CONV and not self.from_image

    @property
    def windowed(self) -> bool:
        """The engine forms 3x3 windows of the input map (a band needs a halo)."""
        return self.fused or self.from_image

    @property
    def in_channels(self) -> int:
        """Channels of the pointwise array's input words (27 for conv1: the im2col
        vector, formed on chip from the image or by the host)."""
        layer = self.first
        return layer.kernel ** 2 * layer.in_c if layer.kind is LayerKind.CONV else layer.in_c

    @property
    def in_width(self) -> int:
        """Width of the input map (an im2col map is the conv's output width)."""
        return self.first.out_w if self.im2col else self.first.in_w

    @property
    def in_height(self) -> int:
        return self.first.out_h if self.im2col else self.first.in_h

    @property
    def weight_layer(self) -> Layer | None:
        """The layer whose pe x pe weight blocks stream through the array."""
        return None if self.last.kind is LayerKind.AVGPOOL else self.last


def map_width(step: Step, pe: int) -> int:
    """Columns of the input map in DDR and in the activation buffer: the image's width
    rounded up to whole slices of ``pe`` bytes (``pe / 4`` pixels), so that every band of
    whole rows is whole DDR beats from a beat-aligned address; the map's width otherwise."""
    if step.from_image:
        per = pe // IMAGE_PIXEL_BYTES
        return -(-step.in_width // per) * per
    return step.in_width


def map_blocks(step: Step, pe: int) -> int:
    """Words per pixel of the input map in the activation buffer (the image: one)."""
    return 1 if step.from_image else channel_blocks(step.in_channels, pe)


def map_row_bytes(step: Step, pe: int) -> int:
    """DDR bytes of one row of the input map: ``H x W x (CB * pe)`` maps, the image
    ``IMAGE_PIXEL_BYTES`` a pixel."""
    per_pixel = IMAGE_PIXEL_BYTES if step.from_image else map_blocks(step, pe) * pe
    return map_width(step, pe) * per_pixel


def network_steps(network) -> list[Step]:
    """Group a network's layers into steps: each depthwise layer with the pointwise after it."""
    steps, layers = [], list(network)
    k = 0
    while k < len(layers):
        layer = layers[k]
        if layer.kind is LayerKind.DEPTHWISE:
            if k + 1 >= len(layers) or layers[k + 1].kind is not LayerKind.POINTWISE:
                raise TilingError(f"layer {layer.name}: a depthwise layer must be followed by a "
                                  f"pointwise layer (the engine fuses them)")
            steps.append(Step((layer, layers[k + 1])))
            k += 2
        else:
            steps.append(Step((layer,)))
            k += 1
    return steps


def run_length(step: Step, pe: int) -> int:
    """Array beats per output word of ``step``: its input channel blocks, or the pooled
    map's pixels. The pointwise requantiser sees one word per run at most."""
    if step.first.kind is LayerKind.AVGPOOL:
        return step.first.in_h * step.first.in_w
    return channel_blocks(step.in_channels, pe)


def band_input_rows(step: Step, out_start: int, out_stop: int) -> tuple[int, int]:
    """Input rows ``[start, stop)`` that output rows ``[out_start, out_stop)`` read."""
    layer = step.first
    if not step.windowed:
        if layer.kind is LayerKind.AVGPOOL:
            return 0, layer.in_h
        return out_start, out_stop  # pointwise, FC and an im2col map: row for row
    top = out_start * layer.stride - layer.padding.top
    bottom = (out_stop - 1) * layer.stride - layer.padding.top + layer.kernel
    return max(0, top), min(layer.in_h, bottom)


@dataclass(frozen=True)
class Tile:
    """One tile: output rows x output channel blocks, and what it loads from DDR."""

    out_rows: tuple[int, int]
    in_rows: tuple[int, int]
    out_blocks: tuple[int, int]
    act_words: int  # per sub-bank
    weight_words: int
    load_act: bool  # this tile loads its input band (else it reuses the previous one)
    load_weights: bool  # this tile loads its weight group
    act_bytes: int  # DDR bytes read for the band (0 when reused)
    weight_bytes: int  # DDR bytes read for weights and parameters (0 when reused)
    out_bytes: int  # DDR bytes written
    loads: int  # DMA transfers (one per buffer filled): the band, the weight buffers

    @property
    def instructions(self) -> int:
        """Instructions of the tile in its program: its loads and one EXEC."""
        return self.loads + 1


@dataclass(frozen=True)
class StepTiling:
    step: Step
    tiles: tuple[Tile, ...]
    band_rows: int
    group_blocks: int
    bands_outer: bool
    #: The first tile's weight group was loaded by the previous step's program, during
    #: its last tile (``model.cost.plan_prefetch``): the first tile loads its band only.
    prefetched: bool = False
    #: With ``prefetched``: loaded by the program two before, during its last tile, over
    #: the one-tile program between, which loads its own weights (after that program is
    #: done) into the half its last tile read (``model.cost.plan_prefetch``).
    prefetch_over: bool = False
    #: The input band (the first tile's) was loaded by the previous program, during its
    #: last tile, into the activation half that program does not read (it reads its
    #: input on chip and writes its output to DDR): a band group's first step, band
    #: after band, and the step after a group, from its last band
    #: (``model.cost.plan_prefetch``, ``input_prefetch_allowed``).
    input_prefetched: bool = False
    #: The input map is on chip already: the previous step wrote it into an activation
    #: half (``model.cost.plan_residency``); one band, no activation LOAD.
    input_resident: bool = False
    #: The output map stays on chip: every tile writes its words into the activation
    #: half the step does not read, as the next step's input; nothing goes to DDR.
    output_resident: bool = False
    #: One band of a band group (``model.cost.plan_bands``): the output rows this
    #: program computes; None: the whole map.
    rows: tuple[int, int] | None = None
    #: The band's place in its group: (index, bands); None outside a group.
    part: tuple[int, int] | None = None
    #: A multi-band step whose output map stays on chip (``model.cost.plan_residency``):
    #: its input bands take turns in the two halves of one activation half (band ``k`` at
    #: word ``(k % 2) * depth / 2`` of every sub-bank), its output map fills the other
    #: half; its bands are a multiple of 3 output rows, so each tile's rows start a
    #: sub-bank row.
    split_input: bool = False
    #: Of :attr:`rows`, the rows no earlier band of the group computed (the rest are the
    #: halo the next step needs, computed again): the band's share of the step's work.
    new_rows: int | None = None

    @property
    def single_band(self) -> bool:
        """Every tile reads the same band (the whole input map, or one band of it)."""
        return len({tile.in_rows for tile in self.tiles}) == 1

    @property
    def ddr_read_bytes(self) -> int:
        act = 0 if self.input_resident else sum(t.act_bytes for t in self.tiles)
        return act + sum(t.weight_bytes for t in self.tiles)

    @property
    def ddr_write_bytes(self) -> int:
        return 0 if self.output_resident else sum(t.out_bytes for t in self.tiles)


def weight_buffers(step: Step) -> int:
    """Weight-side buffers a tile fills when it loads weights: pointwise weights and
    parameters, and for a fused step the depthwise weights and parameters too."""
    return 4 if step.fused else 2


def weight_load_bytes(step: Step, blocks_out: int, pe: int) -> int:
    """DDR bytes a tile reads when it loads the weights of ``blocks_out`` output blocks:
    the ``pe x pe`` pointwise blocks and their parameters (``PARAM_LANE_BITS / 8`` bytes
    per lane), and for a fused step the depthwise weights (9 taps) and parameters of
    every input block."""
    blocks_in = channel_blocks(step.in_channels, pe)
    param = PARAM_LANE_BITS // 8
    if step.weight_layer is None:  # pooling: one identity block, its parameters
        return pe * pe + blocks_in * param * pe
    total = blocks_out * (blocks_in * pe * pe + param * pe)
    if step.fused:
        total += blocks_in * (9 + param) * pe
    return total


def min_tile_words(step: Step, pe: int) -> tuple[int, int]:
    """(activation words per sub-bank, weight words) of the smallest legal tile of ``step``:
    one output row, one output channel block."""
    band_words, weight_block_words = _footprint(step, pe)
    return band_words(1), weight_block_words


def _footprint(step: Step, pe: int):
    """(words per sub-bank for a band of n output rows, weight words per output block)."""
    first = step.first

    def rows_for(rows_out):
        # The worst band: one not clipped by the map's edges.
        if step.windowed:
            return min(first.in_h, (rows_out - 1) * first.stride + first.kernel)
        return first.in_h if first.kind is LayerKind.AVGPOOL else rows_out

    def band_words(rows_out):
        return act_words(rows_for(rows_out), map_width(step, pe), map_blocks(step, pe) * pe, pe)

    weight_block_words = channel_blocks(step.in_channels, pe) if step.weight_layer else 0
    return band_words, weight_block_words


def tile_step(step: Step, pe: int, act_depth: int, weight_depth: int,
              max_band: int | None = None,
              out_range: tuple[int, int] | None = None, band_step: int = 1) -> StepTiling:
    """Cut ``step`` into tiles for buffers of ``act_depth`` and ``weight_depth`` words per
    half, with bands of at most ``max_band`` output rows (default: as tall as fits);
    with ``out_range``, output rows ``[start, stop)`` only, as one band (a band of a band
    group, ``model.cost.plan_bands``); ``band_step``: bands a multiple of that many
    output rows (but the last)."""
    out = step.last
    width, map_channels = map_width(step, pe), map_blocks(step, pe) * pe
    out_rows = out.out_h  # 1 for pooling and FC

    band_words, words_per_block = _footprint(step, pe)

    if band_words(1) > act_depth:
        raise TilingError(f"step {step.name}: one output row needs {band_words(1)} words per "
                          f"activation sub-bank, the buffer has {act_depth}")
    if out_range is not None:
        start, stop = out_range
        if not 0 <= start < stop <= out_rows:
            raise TilingError(f"step {step.name}: output rows {out_range} outside 0..{out_rows}")
        in_rows = band_input_rows(step, start, stop)
        need = act_words(in_rows[1] - in_rows[0], width, map_channels, pe)
        if need > act_depth:
            raise TilingError(f"step {step.name}: output rows {start}..{stop} need {need} words "
                              f"per activation sub-bank, the buffer has {act_depth}")
        band = stop - start
    else:
        band = 1
        while band < out_rows and band_words(band + 1) <= act_depth \
                and (max_band is None or band < max_band):
            band += 1
        if band < out_rows:
            band -= band % band_step
            if band == 0:
                raise TilingError(f"step {step.name}: {band_step} output rows need more than "
                                  f"{act_depth} words per activation sub-bank")

    weight_layer = step.weight_layer
    cb_out = channel_blocks(out.out_c, pe)
    if weight_layer is None:
        group = cb_out  # pooling streams one identity block
    else:
        if words_per_block > weight_depth:
            raise TilingError(f"step {step.name}: one output block needs {words_per_block} "
                              f"weight words, the buffer has {weight_depth}")
        group = min(cb_out, weight_depth // words_per_block)
        # as many groups as the buffer needs, of even size: a small last group would
        # leave its period too short to hide the next step's prefetch behind
        group = -(-cb_out // -(-cb_out // group))

    bands = [out_range] if out_range is not None else \
        [(r, min(r + band, out_rows)) for r in range(0, out_rows, band)]
    groups = [(b, min(b + group, cb_out)) for b in range(0, cb_out, group)]
    # DDR maps hold whole channel blocks: H x W x (CB * pe) bytes; the image 4 a pixel.
    in_row_bytes = map_row_bytes(step, pe)

    def span(rows):
        return rows[1] - rows[0]

    def traffic(bands_outer):
        act = sum(span(band_input_rows(step, *b)) * in_row_bytes for b in bands)
        weights = sum(weight_load_bytes(step, g[1] - g[0], pe) for g in groups)
        if bands_outer:
            return act + weights * (len(bands) if len(groups) > 1 else 1)
        return act * (len(groups) if len(bands) > 1 else 1) + weights

    bands_outer = traffic(True) <= traffic(False)
    order = [(b, g) for b in bands for g in groups] if bands_outer else \
        [(b, g) for g in groups for b in bands]
    tiles, previous = [], (None, None)
    for b, g in order:
        in_rows = band_input_rows(step, *b)
        load_act = b != previous[0]
        load_weights = g != previous[1]
        tiles.append(Tile(
            out_rows=b, in_rows=in_rows, out_blocks=g,
            act_words=act_words(span(in_rows), width, map_channels, pe),
            weight_words=(g[1] - g[0]) * words_per_block,
            load_act=load_act, load_weights=load_weights,
            act_bytes=span(in_rows) * in_row_bytes if load_act else 0,
            weight_bytes=weight_load_bytes(step, g[1] - g[0], pe) if load_weights else 0,
            out_bytes=span(b) * out.out_w * (g[1] - g[0]) * pe,
            loads=int(load_act) + (weight_buffers(step) if load_weights else 0),
        ))
        previous = (b, g)
    return StepTiling(step, tuple(tiles), band, group, bands_outer, rows=out_range)


def tile_network(network, pe: int, act_depth: int, weight_depth: int) -> list[StepTiling]:
    return [tile_step(step, pe, act_depth, weight_depth) for step in network_steps(network)]
