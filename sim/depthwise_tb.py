"""cocotb testbench of hw.depthwise.DepthwiseLanes: every beat's accumulators against NumPy.

Run through ``sim/test_mac_arrays.py`` (pytest builds the design and passes ``params``:
``pe``, ``latency``, ``beats`` and the JSON layouts of both payloads). Each test sends
``beats`` windows under one pause pattern, starting with the saturation corners: every
tap and weight -128 (the largest products), -128 against 127 (the most negative), with
biases that put the result exactly on ``INT32_MAX`` or ``INT32_MIN``; then random
windows, weights and biases.
"""

from __future__ import annotations

import cocotb
import numpy as np

from hw.depthwise import TAPS
from model.numerics import INT8_MAX, INT8_MIN, INT32_MAX, INT32_MIN
from sim.runner import record, test_params
from sim.streams import CLOCK_NS, Pause, PipelineTB

PARAMS = test_params()
LARGEST_SUM = TAPS * INT8_MIN * INT8_MIN
SMALLEST_SUM = TAPS * INT8_MIN * INT8_MAX


def reference(window, weights, bias) -> list[int]:
    """``bias[c] + sum_t window[t][c] * weights[t][c]`` for every channel ``c``."""
    total = np.asarray(bias, np.int64) + np.einsum("tc,tc->c", np.asarray(window, np.int64),
                                                   np.asarray(weights, np.int64))
    assert INT32_MIN <= total.min() and total.max() <= INT32_MAX, "stimulus overflows int32"
    return total.tolist()


def corner_beats(pe: int):
    """``(window, weights, bias)`` beats at the int8 and int32 extremes."""
    def beat(tap, weight, bias):
        return np.full((TAPS, pe), tap), np.full((TAPS, pe), weight), np.full(pe, bias, np.int64)

    return [
        beat(INT8_MIN, INT8_MIN, INT32_MAX - LARGEST_SUM),
        beat(INT8_MIN, INT8_MAX, INT32_MIN - SMALLEST_SUM),
        beat(INT8_MAX, INT8_MIN, INT32_MIN - SMALLEST_SUM),
        beat(INT8_MIN, INT8_MIN, 0),
    ]


def random_beat(rng: np.random.Generator, pe: int):
    return (rng.integers(INT8_MIN, INT8_MAX + 1, (TAPS, pe)),
            rng.integers(INT8_MIN, INT8_MAX + 1, (TAPS, pe)),
            rng.integers(INT32_MIN + LARGEST_SUM, INT32_MAX - LARGEST_SUM + 1, pe))


class DepthwiseTB(PipelineTB):
    """The depthwise lanes driven and checked against :func:`reference`."""

    def __init__(self, dut, pause=Pause.none):
        super().__init__(dut, pause, in_layout=PARAMS["in_layout"],
                         out_layout=PARAMS["out_layout"])
        self.pe = PARAMS["pe"]
        self.np_rng = np.random.default_rng(self.rng.getrandbits(64))

    def send_window(self, window, weights, bias):
        """Queue one beat and its expected accumulators."""
        self.send({"window": window.tolist(), "weights": weights.tolist(), "bias": bias.tolist()},
                  reference(window, weights, bias))


def _timeout_ns() -> int:
    return (PARAMS.get("beats", 0) * 20 + 1000) * CLOCK_NS


@cocotb.test(timeout_time=2 * _timeout_ns(), timeout_unit="ns")
@cocotb.parametrize(pause=list(Pause))
async def windows(dut, pause):
    """Corner beats, then random beats; bit-exact against NumPy."""
    tb = DepthwiseTB(dut, pause)
    await tb.start()
    corners = corner_beats(tb.pe)
    for beat in corners:
        tb.send_window(*beat)
    for _ in range(PARAMS["beats"] - len(corners)):
        tb.send_window(*random_beat(tb.np_rng, tb.pe))
    beats = tb.sent
    await tb.check()
    cycles = tb.cycles()
    if pause is Pause.none:
        expected = beats + PARAMS["latency"]
        assert cycles == expected, (f"{beats} beats took {cycles} cycles without pauses, "
                                    f"expected {expected}")
    record(f"windows/pause={pause.name}", cycles=cycles, beats=beats)
