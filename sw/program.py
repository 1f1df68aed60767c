"""Tile programs: the load beats and the command that run one tile on the engine, and the
decoding of its output words. The host driver and the testbenches both use these; they
encode the buffer layouts of ``hw.act_buffer`` and ``hw.weight_buffer`` on the host side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hw.act_buffer import sub_bank_address
from hw.command import Mode, Target
from hw.config import PARAM_LANE_BITS
from model.cost import step_mode
from model.golden import QuantLayer
from model.layers import LayerKind
from model.tiling import (IMAGE_CHANNELS, IMAGE_PIXEL_BYTES, Step, Tile, channel_blocks,
                          map_width)

__all__ = ["TileProgram", "program_tile", "tile_command", "weight_words", "param_bytes", "im2col",
           "image_map", "step_input", "assemble_output",
           "step_programs", "expected_words"]


def _pad_channels(x, pe):
    channels = x.shape[-1]
    extra = channel_blocks(channels, pe) * pe - channels
    return np.concatenate([x, np.zeros(x.shape[:-1] + (extra,), x.dtype)], axis=-1) if extra else x


def _bytes(values):
    return [int(v) & 0xFF for v in np.asarray(values).reshape(-1)]


def im2col(q: QuantLayer, x: np.ndarray) -> np.ndarray:
    """conv1's input as the ``H_out x W_out x (k*k*Cin)`` map the pointwise array runs,
    padded with the input zero point, channel ``(3 * dy + dx) * Cin + c``."""
    layer = q.layer
    p = layer.padding
    padded = np.pad(x, ((p.top, p.bottom), (p.left, p.right), (0, 0)),
                    constant_values=q.in_zero_point)
    k, s = layer.kernel, layer.stride
    cols = [padded[dy:dy + s * layer.out_h:s, dx:dx + s * layer.out_w:s, :]
            for dy in range(k) for dx in range(k)]
    return np.concatenate(cols, axis=-1).astype(np.int8)


def image_map(step: Step, x: np.ndarray, pe: int) -> np.ndarray:
    """conv1's input as it sits in DDR: the ``H x W x 3`` image compact, one pixel in
    ``IMAGE_PIXEL_BYTES`` (the 4th byte 0, never read), its rows padded with zero pixels
    to ``model.tiling.map_width`` (never read: the window's columns end at ``W``)."""
    h, w, c = x.shape
    assert c == IMAGE_CHANNELS, x.shape
    out = np.zeros((h, map_width(step, pe), IMAGE_PIXEL_BYTES), dtype=np.int8)
    out[:, :w, :c] = x
    return out


def step_input(step: Step, q_first: QuantLayer, x: np.ndarray, pe: int) -> np.ndarray:
    """The map the engine reads for ``step`` (conv1's compact image, or a conv's im2col;
    FC's vector as a 1x1 map)."""
    if step.from_image:
        return image_map(step, x, pe)
    if step.first.kind is LayerKind.CONV:
        return im2col(q_first, x)
    return x.reshape(1, 1, -1) if step.first.kind is LayerKind.FC else x


@dataclass
class TileProgram:
    """What the host sends for one tile and how to read back what it gets."""

    loads: list[dict]  # load-stream beats (``hw.command.load_layout`` fields)
    command: dict  # ``hw.command.command_layout`` fields
    out_words: int  # store-stream words the tile produces
    out_pixels: list[tuple[int, int]]  # (row, col) of each output word's pixel, in order
    out_blocks: list[int]  # output channel block of each word, in order


def param_bytes(q: QuantLayer, blocks: range, pe: int) -> np.ndarray:
    """Parameter words of channel blocks ``blocks`` in load order, ``(words, 9, pe)`` bytes:
    lane c = bias | M0 << 32 | (shift & 63) << 63 (72 bits, little-endian;
    ``hw.command.param_lane_layout``)."""
    lane_bytes = PARAM_LANE_BITS // 8
    raw = np.zeros((len(blocks), pe, lane_bytes), dtype=np.uint8)
    for word, block in enumerate(blocks):
        for lane in range(pe):
            c = block * pe + lane
            if c >= q.layer.out_c:
                continue  # padding channels: all zero (M0 = 0), computed, never read
            value = (int(q.bias[c]) & 0xFFFF_FFFF) | int(q.multiplier[c]) << 32 | (int(q.shift[c]) & 63) << 63
            raw[word, lane] = np.frombuffer(value.to_bytes(lane_bytes, "little"), dtype=np.uint8)
    # The word is its lanes' bytes in order, loaded in slices of pe bytes.
    return raw.reshape(len(blocks), lane_bytes, pe)


def weight_words(step: Step, qlayers: list[QuantLayer], out_blocks: tuple[int, int], pe: int):
    """The weight-side buffers of a tile for output blocks ``out_blocks``, in load order:
    ``{target: (words, slices, pe) uint8 array}`` (the DDR layout of weights, too)."""
    first, last = step.first, step.last
    q_first, q_last = qlayers[0], qlayers[-1]
    blocks_in = channel_blocks(step.in_channels, pe)
    mode = step_mode(step)
    if mode is Mode.POOL:
        weights = np.eye(pe, dtype=np.int8)[None]  # one identity block at word 0
        blocks = range(blocks_in)
    else:
        ob_start, ob_stop = out_blocks
        w = q_last.weights.reshape(-1, last.out_c)  # (Cin [x 9 for conv1], Cout)
        w = _pad_channels(np.pad(w, ((0, blocks_in * pe - w.shape[0]), (0, 0))), pe)
        weights = np.stack([w[ib * pe:(ib + 1) * pe, ob * pe:(ob + 1) * pe]
                            for ob in range(ob_start, ob_stop) for ib in range(blocks_in)])
        blocks = range(ob_start, ob_stop)
    words = {Target.PW_WEIGHTS: weights.view(np.uint8),
             Target.PW_PARAMS: param_bytes(q_last, blocks, pe)}
    if mode is Mode.FUSED:
        wdw = _pad_channels(q_first.weights.reshape(9, first.in_c), pe)
        words[Target.DW_WEIGHTS] = np.ascontiguousarray(
            wdw.reshape(9, blocks_in, pe).transpose(1, 0, 2)).view(np.uint8)
        words[Target.DW_PARAMS] = param_bytes(q_first, range(blocks_in), pe)
    return words


def tile_command(step: Step, qlayers: list[QuantLayer], in_shape, tile: Tile, pe: int, *,
                 act_half: int = 0, weight_half: int = 0) -> dict:
    """The engine command (``hw.command.command_layout`` fields) of ``tile`` for an input
    map of ``in_shape`` (as :func:`step_input` returns it)."""
    first = step.first
    q_first, q_last = qlayers[0], qlayers[-1]
    rows, cols, channels = in_shape
    blocks_in = channel_blocks(channels, pe)
    in_start, in_stop = tile.in_rows
    mode = step_mode(step)
    windowed = mode in (Mode.FUSED, Mode.CONV)
    stride = first.stride if windowed else 1
    # the map's words per pixel (the address pitches), and its width for the padding
    map_blocks, width = blocks_in, cols
    if mode is Mode.CONV:  # the image: one word a pixel; the array reads the im2col blocks
        map_blocks, width = 1, first.in_w
        blocks_in = channel_blocks(step.in_channels, pe)
    if windowed:
        row0 = tile.out_rows[0] * stride - first.padding.top - in_start
        col0 = -first.padding.left
        out_rows, out_cols = tile.out_rows[1] - tile.out_rows[0], first.out_w
    else:
        row0 = col0 = -1  # the window's centre tap is the pixel itself
        out_rows, out_cols = in_stop - in_start, cols
    row_pitch = -(-cols // 3) * map_blocks
    (row_div, row_mod), (col_div, col_mod) = divmod(row0, 3), divmod(col0, 3)
    dw = q_first if mode is Mode.FUSED else None
    ob_start, ob_stop = tile.out_blocks
    return {
        "mode": mode, "act_half": act_half, "weight_half": weight_half, "stride2": stride == 2,
        "rows": in_stop - in_start, "cols": width, "blocks_in": blocks_in,
        "blocks_out": ob_stop - ob_start if mode is not Mode.POOL else blocks_in,
        "out_rows": out_rows, "out_cols": out_cols, "pool_len": rows * cols,
        "row_pitch": row_pitch, "col_pitch": map_blocks,
        "row0": row0, "col0": col0, "row0_mod3": row_mod, "col0_mod3": col_mod,
        "base0": row_div * row_pitch + col_div * map_blocks,
        "pad_value": q_first.in_zero_point,
        "dw_zero_point": dw.out_zero_point if dw else 0, "dw_lo": dw.clamp_lo if dw else -128,
        "dw_hi": dw.clamp_hi if dw else 127,
        "pw_zero_point": q_last.out_zero_point, "pw_lo": q_last.clamp_lo, "pw_hi": q_last.clamp_hi,
    }


def program_tile(step: Step, qlayers: list[QuantLayer], x: np.ndarray, tile: Tile, pe: int, *,
                 act_half: int = 0, weight_half: int = 0) -> TileProgram:
    """Encode ``tile`` of ``step`` (quantised layers ``qlayers``, input map ``x`` as
    :func:`step_input` returns it) into load beats, a command and the output order."""
    rows, cols, channels = x.shape
    blocks_in = channel_blocks(channels, pe)
    in_start, in_stop = tile.in_rows
    xp = _pad_channels(x, pe)
    loads = []
    band = xp[in_start:in_stop]
    for r in range(band.shape[0]):
        for c in range(cols):
            for ib in range(blocks_in):
                bank, addr = sub_bank_address(r, c, ib, cols, blocks_in)
                loads.append({"target": Target.ACT, "half": act_half, "bank": bank, "slice": 0,
                              "addr": addr, "data": _bytes(band[r, c, ib * pe:(ib + 1) * pe])})
    for target, words in weight_words(step, qlayers, tile.out_blocks, pe).items():
        for word, slices in enumerate(words):
            for s, data in enumerate(slices):
                loads.append({"target": target, "half": weight_half, "bank": 0, "slice": s,
                              "addr": word, "data": [int(v) for v in data]})
    command = tile_command(step, qlayers, x.shape, tile, pe, act_half=act_half,
                           weight_half=weight_half)
    mode = command["mode"]
    out_rows, out_cols = command["out_rows"], command["out_cols"]
    if mode is Mode.POOL:
        pixels, blocks = [(0, 0)] * blocks_in, list(range(blocks_in))
    else:
        out_blocks = range(*tile.out_blocks)
        first_row = tile.out_rows[0] if mode in (Mode.FUSED, Mode.CONV) else in_start
        pixels = [(first_row + r, c) for r in range(out_rows) for c in range(out_cols)
                  for _ in out_blocks]
        blocks = [b for _ in range(out_rows * out_cols) for b in out_blocks]
    return TileProgram(loads, command, len(blocks), pixels, blocks)


def assemble_output(program: TileProgram, words, out: np.ndarray, pe: int) -> None:
    """Write a tile's output words into the ``H x W x C`` map ``out`` (in place)."""
    channels = out.shape[-1]
    for (row, col), block, word in zip(program.out_pixels, program.out_blocks, words):
        stop = min(channels, (block + 1) * pe)
        out[row, col, block * pe:stop] = np.asarray(word[:stop - block * pe], dtype=np.int8)


def step_programs(step: Step, qlayers: list[QuantLayer], x: np.ndarray, tiling, pe: int,
                  first_tile: int = 0):
    """The programs of every tile of ``tiling``, alternating buffer halves so that a tile's
    loads may overlap the previous tile's compute (double buffering). ``first_tile`` is
    the number of tiles run before this step: halves alternate across the whole run."""
    xs = step_input(step, qlayers[0], x, pe)
    return [program_tile(step, qlayers, xs, tile, pe, act_half=(first_tile + k) % 2,
                         weight_half=(first_tile + k) % 2)
            for k, tile in enumerate(tiling.tiles)]


def expected_words(program: TileProgram, out: np.ndarray, pe: int) -> list[list[int]]:
    """The golden values of each output word's real channels (padding lanes excluded);
    ``out`` is the step's ``H x W x C`` output map."""
    channels = out.shape[-1]
    return [out[row, col, block * pe:min(channels, (block + 1) * pe)].astype(int).tolist()
            for (row, col), block in zip(program.out_pixels, program.out_blocks)]
