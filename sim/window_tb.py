"""cocotb testbench of the activation buffer + window generator (hw.window_harness.WindowHarness).

Run through ``sim/test_window.py`` (pytest builds the harness and passes ``params``:
``pe``, ``depth``, ``latency`` and the JSON layouts of the write, request and window
payloads). Each test runs the layers of :data:`LAYERS` one after the other under one
pause pattern, as the engine would:

1. select the layer's half and geometry, then fill both halves through ``w_stream``, the
   writes of both shuffled together: the selected half with the layer's map ``x``, the
   other half with different data (``-1 - x``) that must never be read;
2. request every window of the layer (stride 1 or 2, starting in the top-left padding or
   at (0, 0), every channel block; plus windows reaching two pixels beyond each edge and
   one wholly outside the map) with random tags, while ``w_stream`` overwrites the other
   half with yet other data (double buffering);
3. check every window's 9 taps against the map padded with the layer's zero point, and
   its tag.

Words of the selected half outside the layer's map still hold earlier layers' data, so
a padding tap that is not masked shows up. Records each layer's cycles from its first
request to its last window (without pauses: windows + latency).
"""

from __future__ import annotations

from dataclasses import dataclass

import cocotb
import numpy as np

from hw.act_buffer import sub_bank_address
from hw.window import window_request
from model.numerics import INT8_MAX, INT8_MIN
from sim.runner import pack, record, test_params, unpack
from sim.streams import CLOCK_NS, Pause, StreamTB

PARAMS = test_params()


@dataclass(frozen=True)
class Layer:
    """One tile's input map and how its windows are read."""

    name: str
    rows: int
    cols: int
    channels: int
    stride: int
    start: int  # top-left tap of the first window: -1 (padding) or 0
    half: int  # the half the windows read
    zero_point: int

    def blocks(self, pe: int) -> int:
        return -(-self.channels // pe)

    def windows(self) -> list[tuple[int, int]]:
        """Top-left taps of every window, then of corners reaching past every edge."""
        grid = [(r, c) for r in range(self.start, self.rows, self.stride)
                for c in range(self.start, self.cols, self.stride)]
        h, w = self.rows, self.cols
        return grid + [(-2, -2), (-2, w - 1), (h - 1, -2), (h + 1, -1), (h, w)]


def layers(pe: int) -> list[Layer]:
    """Odd and even sizes, channels that are and are not multiples of ``pe``, both strides,
    both halves, zero points at both int8 extremes."""
    return [
        Layer("5x7x(pe+2)/s1", 5, 7, pe + 2, 1, -1, 1, -7),
        Layer("6x9x(2pe-1)/s2", 6, 9, 2 * pe - 1, 2, -1, 0, INT8_MAX),
        Layer("7x5x3/s2-from-0", 7, 5, 3, 2, 0, 1, INT8_MIN),
        Layer("4x11xpe/s1", 4, 11, pe, 1, -1, 0, 0),
    ]


def window_taps(x: np.ndarray, r: int, c: int, ib: int, pe: int, zero_point: int) -> list:
    """``taps[3 * dy + dx][channel]`` of window (r, c) of block ``ib``; outside is padding."""
    rows, cols, _ = x.shape
    taps = []
    for dy in range(3):
        for dx in range(3):
            y, z = r + dy, c + dx
            inside = 0 <= y < rows and 0 <= z < cols
            taps.append(x[y, z, ib * pe:(ib + 1) * pe].tolist() if inside else [zero_point] * pe)
    return taps


class WindowTB(StreamTB):
    """The harness with sources on ``w_stream`` and ``i_stream`` and a sink on ``o_stream``."""

    def __init__(self, dut, pause=Pause.none):
        super().__init__(dut, pause)
        self.pe = PARAMS["pe"]
        self.depth = PARAMS["depth"]
        self.np_rng = np.random.default_rng(self.rng.getrandbits(64))

    async def start(self):
        """Reset, then attach the stream drivers."""
        await self.reset()
        self.writes = self.add_source("w_stream")
        self.requests = self.add_source("i_stream")
        self.windows = self.add_sink("o_stream")

    def words(self, half: int, data: np.ndarray, blocks: int) -> list[int]:
        """The packed writes that store map ``data`` (rows x cols x blocks * pe) in ``half``."""
        rows, cols, _ = data.shape
        writes = []
        for r in range(rows):
            for c in range(cols):
                for ib in range(blocks):
                    bank, addr = sub_bank_address(r, c, ib, cols, blocks)
                    assert addr < self.depth, f"{rows}x{cols}x{blocks} exceeds {self.depth} words"
                    writes.append(pack(PARAMS["w_layout"], {
                        "half": half, "bank": bank, "addr": addr,
                        "data": data[r, c, ib * self.pe:(ib + 1) * self.pe].tolist()}))
        return writes

    def send_shuffled(self, writes: list[int]) -> None:
        for k in self.np_rng.permutation(len(writes)):
            self.writes.send(writes[k])

    async def run_layer(self, layer: Layer) -> dict:
        """Fill, request and check one layer; return what to record."""
        dut, pe = self.dut, self.pe
        blocks = layer.blocks(pe)
        x = self.np_rng.integers(INT8_MIN, INT8_MAX + 1, (layer.rows, layer.cols, blocks * pe))
        dut.r_half.value = layer.half
        dut.rows.value = layer.rows
        dut.cols.value = layer.cols
        dut.row_pitch.value = -(-layer.cols // 3) * blocks
        dut.col_pitch.value = blocks
        dut.zero_point.value = layer.zero_point & 0xFF

        # Fill both halves, their writes shuffled together.
        fill = self.words(layer.half, x, blocks) + self.words(1 - layer.half, -1 - x, blocks)
        fill_start = len(self.writes.sent_cycles)
        self.send_shuffled(fill)
        await self.drain(self.writes)
        fill_cycles = self.writes.sent_cycles[-1] - self.writes.sent_cycles[fill_start] + 1

        first_request, first_window = len(self.requests.sent_cycles), len(self.windows.beats)
        requests = [(r, c, ib, int(self.np_rng.integers(0, 1 << PARAMS["tag_bits"])))
                    for r, c in layer.windows() for ib in range(blocks)]
        for r, c, ib, tag in requests:
            self.requests.send(pack(PARAMS["req_layout"], window_request(
                r, c, ib, width=layer.cols, blocks=blocks, tag=tag)))
        # Meanwhile the loader refills the other half: never visible to these windows.
        other = (x + self.np_rng.integers(1, 256, x.shape) - INT8_MIN) % 256 + INT8_MIN
        self.send_shuffled(self.words(1 - layer.half, other, blocks))
        await self.expect(self.windows, first_window + len(requests))

        for k, (r, c, ib, tag) in enumerate(requests):
            got = unpack(PARAMS["out_layout"], self.windows.beats[first_window + k])
            assert got["tag"] == tag, f"{layer.name}, window {k}: tag {got['tag']}, sent {tag}"
            want = window_taps(x, r, c, ib, pe, layer.zero_point)
            assert got["taps"] == want, (f"{layer.name}, window ({r}, {c}) block {ib}: "
                                         f"got taps {got['taps']}, expected {want}")
        await self.drain(self.writes)
        return {"cycles": self.span(self.requests, self.windows, first_request),
                "windows": len(requests), "fill_writes": len(fill), "fill_cycles": fill_cycles}


def _timeout_ns() -> int:
    # A deadlock guard only: every layer's writes and windows, 20 cycles each.
    beats = sum(3 * layer.rows * layer.cols * layer.blocks(PARAMS.get("pe", 1))
                + len(layer.windows()) * layer.blocks(PARAMS.get("pe", 1))
                for layer in layers(PARAMS.get("pe", 1)))
    return (beats * 20 + 1000) * CLOCK_NS


@cocotb.test(timeout_time=2 * _timeout_ns(), timeout_unit="ns")
@cocotb.parametrize(pause=list(Pause))
async def layer_windows(dut, pause):
    """Every window of every layer of :func:`layers`, bit-exact, tags in order."""
    tb = WindowTB(dut, pause)
    await tb.start()
    for layer in layers(tb.pe):
        measured = await tb.run_layer(layer)
        if pause is Pause.none:
            expected = measured["windows"] + PARAMS["latency"]
            assert measured["cycles"] == expected, (
                f"{layer.name}: {measured['windows']} windows took {measured['cycles']} cycles "
                f"without pauses, expected {expected}")
            assert measured["fill_cycles"] == measured["fill_writes"], "a write was refused"
        record(f"{layer.name}/pause={pause.name}", **measured)
