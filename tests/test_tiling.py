"""The tiling algorithm: tiles fit the buffers, cover every output once, load the halo,
and keep MobileNet-v1 1.0-224's DDR traffic under 12 MB at 1 MB of SRAM."""

import pytest

from hw.act_buffer import sub_bank_address
from hw.config import AcceleratorConfig
from model.layers import LayerKind, mobilenet_v1
from model.numerics import PARAM_LANE_BITS
from model.tiling import (channel_blocks, TilingError, map_blocks, map_row_bytes, map_width,
                          network_steps, tile_network, tile_step)

CONFIGS = [
    AcceleratorConfig(pe=16, sram_bytes=1_000_000),
    AcceleratorConfig(pe=4, alpha=0.25, resolution=64, sram_bytes=70_000),
    AcceleratorConfig(pe=8, alpha=0.5, resolution=96, sram_bytes=150_000),
]


def _tilings(config):
    return tile_network(config.network, config.pe, config.bank["act"].depth,
                        config.bank["pw_weights"].depth)


def test_steps_fuse_each_depthwise_with_its_pointwise():
    steps = network_steps(mobilenet_v1(1.0, 224))
    assert [s.name for s in steps][:3] == ["conv1", "dw1+pw1", "dw2+pw2"]
    assert len(steps) == 1 + 13 + 2 and sum(s.fused for s in steps) == 13
    # conv1 from the raw image: the array's 27 im2col channels, formed on chip
    assert steps[0].from_image and steps[0].in_channels == 27 and steps[0].in_width == 224
    assert map_width(steps[0], 16) == 224 and map_width(steps[0], 32) == 224
    assert map_blocks(steps[0], 16) == 1 and map_row_bytes(steps[0], 16) == 224 * 4


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"pe{c.pe}-{c.alpha}-{c.resolution}")
def test_tiles_fit_cover_and_load_their_halo(config):
    act_depth, weight_depth = config.bank["act"].depth, config.bank["pw_weights"].depth
    for tiling in _tilings(config):
        step, out = tiling.step, tiling.step.last
        cb_out = -(-out.out_c // config.pe)
        out_rows = 1 if out.kind in (LayerKind.FC, LayerKind.AVGPOOL) else out.out_h
        covered = {}
        for tile in tiling.tiles:
            assert tile.act_words <= act_depth and tile.weight_words <= weight_depth
            for row in range(*tile.out_rows):
                for block in range(*tile.out_blocks):
                    covered[row, block] = covered.get((row, block), 0) + 1
            first = step.first
            width, blocks = map_width(step, config.pe), map_blocks(step, config.pe)
            # Every word of the band, in the buffer's own layout, is inside act_words.
            if first.kind is not LayerKind.FC:
                rows = tile.in_rows[1] - tile.in_rows[0]
                top = max(sub_bank_address(rows - 1, width - 1, blocks - 1, width, blocks)[1],
                          sub_bank_address(rows - 1, 0, blocks - 1, width, blocks)[1])
                assert top < tile.act_words
            # The band holds every in-image row that its output rows' windows touch.
            if step.windowed:
                for row in range(*tile.out_rows):
                    for dy in range(first.kernel):
                        in_row = row * first.stride - first.padding.top + dy
                        if 0 <= in_row < first.in_h:
                            assert tile.in_rows[0] <= in_row < tile.in_rows[1]
        assert covered == {(r, b): 1 for r in range(out_rows) for b in range(cb_out)}


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"pe{c.pe}-{c.alpha}-{c.resolution}")
def test_every_byte_is_read_at_least_once_and_written_once(config):
    """DDR maps and weights are held in whole channel blocks (the DMA moves blocks)."""
    pe = config.pe
    for tiling in _tilings(config):
        step = tiling.step
        cb_in, cb_out = channel_blocks(step.in_channels, pe), channel_blocks(step.last.out_c, pe)
        inputs = step.in_height * map_row_bytes(step, pe)  # conv1: the compact image
        if step.first.kind is LayerKind.FC:
            inputs = cb_in * pe
        param = PARAM_LANE_BITS // 8  # bytes of one channel's bias, multiplier and shift
        if step.weight_layer:
            weights = cb_out * cb_in * pe * pe + cb_out * param * pe
        else:
            weights = pe * pe + cb_in * param * pe  # pooling: the identity block
        if step.fused:
            weights += cb_in * (9 + param) * pe
        assert tiling.ddr_read_bytes >= inputs + weights
        assert tiling.ddr_write_bytes == step.last.out_h * step.last.out_w * cb_out * pe
        if len(tiling.tiles) == 1:
            assert tiling.ddr_read_bytes == inputs + weights


def test_mobilenet_1_0_224_at_1mb_stays_under_12_mb_of_ddr_traffic():
    tilings = _tilings(CONFIGS[0])
    total = sum(t.ddr_read_bytes + t.ddr_write_bytes for t in tilings)
    assert 10_500_000 <= total <= 12_000_000
    by_name = {t.step.name: t for t in tilings}
    # The 1 MiB final pointwise layer cannot sit in one half of the weight buffer.
    assert len(by_name["dw13+pw13"].tiles) > 1


def test_minimum_sram_tiles_every_step_and_less_does_not():
    need = AcceleratorConfig(pe=8, alpha=0.25, resolution=64, sram_bytes=10**6).sram_min_bytes
    smallest = AcceleratorConfig(pe=8, alpha=0.25, resolution=64, sram_bytes=need)
    tilings = _tilings(smallest)
    assert all(t.tiles for t in tilings)
    step = network_steps(smallest.network)[1]
    act_words = smallest.min_tile_words(step)[0]
    with pytest.raises(TilingError, match=rf"step dw1\+pw1: one output row needs {act_words} words"):
        tile_step(step, smallest.pe, act_words - 1, 10**6)
