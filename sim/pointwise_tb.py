"""cocotb testbench of hw.pointwise.PointwiseArray: every run's accumulators against NumPy.

Run through ``sim/test_mac_arrays.py`` (pytest builds the design and passes ``params``:
``pe``, ``latency``, ``beats`` and ``max_run``, and the JSON layouts of both payloads).
Each test sends runs of 1 to ``max_run`` beats (``first`` on the first, ``last`` on the
last; the bias of the other beats is random and must be ignored) under one pause
pattern, starting with the saturation corners: every activation and weight -128 (the
largest product), -128 against 127 (the most negative one), biases that put the result
exactly on ``INT32_MAX`` or ``INT32_MIN``, and a run whose partial sum wraps around
int32 before coming back. Then random runs with random biases, ``beats`` in all.
"""

from __future__ import annotations

import cocotb
import numpy as np

from model.numerics import INT8_MAX, INT8_MIN, INT32_MAX, INT32_MIN
from sim.runner import record, test_params
from sim.streams import CLOCK_NS, Pause, PipelineTB

PARAMS = test_params()
LARGEST_PRODUCT = INT8_MIN * INT8_MIN  # 2**14
SMALLEST_PRODUCT = INT8_MIN * INT8_MAX  # -16256


def reference(act, weights, bias) -> list[int]:
    """The accumulators of one run: ``bias[o] + sum_k sum_i act[k][i] * weights[k][i][o]``."""
    total = np.asarray(bias, np.int64) + np.einsum("ki,kio->o", np.asarray(act, np.int64),
                                                   np.asarray(weights, np.int64))
    assert INT32_MIN <= total.min() and total.max() <= INT32_MAX, "stimulus overflows int32"
    return total.tolist()


def corner_runs(pe: int, max_run: int):
    """``(act, weights, bias)`` runs at the int8 and int32 extremes."""
    def run(length, act, weight, bias):
        return (np.full((length, pe), act), np.full((length, pe, pe), weight),
                np.full(pe, bias, np.int64))

    top = pe * LARGEST_PRODUCT
    bottom = pe * SMALLEST_PRODUCT
    wrap = run(3, INT8_MIN, INT8_MIN, INT32_MAX)
    wrap[0][1:] = INT8_MAX  # +top wraps past INT32_MAX, then two beats of `bottom` return
    return [
        run(1, INT8_MIN, INT8_MIN, INT32_MAX - top),
        run(max_run, INT8_MIN, INT8_MIN, INT32_MAX - max_run * top),
        run(1, INT8_MIN, INT8_MAX, INT32_MIN - bottom),
        run(max_run, INT8_MAX, INT8_MIN, INT32_MIN - max_run * bottom),
        wrap,
    ]


def random_run(rng: np.random.Generator, pe: int, length: int):
    """A run of random activations and weights with a random bias that cannot overflow."""
    margin = length * pe * LARGEST_PRODUCT
    return (rng.integers(INT8_MIN, INT8_MAX + 1, (length, pe)),
            rng.integers(INT8_MIN, INT8_MAX + 1, (length, pe, pe)),
            rng.integers(INT32_MIN + margin, INT32_MAX - margin + 1, pe))


class PointwiseTB(PipelineTB):
    """The pointwise array driven and checked against :func:`reference`."""

    def __init__(self, dut, pause=Pause.none):
        super().__init__(dut, pause, in_layout=PARAMS["in_layout"],
                         out_layout=PARAMS["out_layout"])
        self.pe = PARAMS["pe"]
        self.np_rng = np.random.default_rng(self.rng.getrandbits(64))

    def send_run(self, act, weights, bias):
        """Queue the beats of one run, the last with the run's expected accumulators."""
        length = len(act)
        for k in range(length):
            # Only the first beat's bias counts: the others carry noise.
            beat_bias = bias if k == 0 else self.np_rng.integers(INT32_MIN, INT32_MAX + 1, self.pe)
            last = k == length - 1
            self.send({"act": act[k].tolist(), "weights": weights[k].tolist(),
                       "bias": beat_bias.tolist(), "first": int(k == 0), "last": int(last)},
                      reference(act, weights, bias) if last else None)


def _timeout_ns() -> int:
    return (PARAMS.get("beats", 0) * 20 + 1000) * CLOCK_NS


@cocotb.test(timeout_time=2 * _timeout_ns(), timeout_unit="ns")
@cocotb.parametrize(pause=list(Pause))
async def runs(dut, pause):
    """Corner runs, then random runs of 1..max_run beats; bit-exact against NumPy."""
    tb = PointwiseTB(dut, pause)
    await tb.start()
    pe, max_run = tb.pe, PARAMS["max_run"]
    for run in corner_runs(pe, max_run):
        tb.send_run(*run)
    while tb.sent < PARAMS["beats"]:
        length = min(int(tb.np_rng.integers(1, max_run + 1)), PARAMS["beats"] - tb.sent)
        tb.send_run(*random_run(tb.np_rng, pe, length))
    dut._log.info("pe %d, pause %s: %d runs, %d beats", pe, pause.name, len(tb.expected), tb.sent)
    await tb.check("run")
    cycles = tb.cycles()
    if pause is Pause.none:
        # One beat per cycle: the last run leaves LATENCY cycles after its last beat.
        expected = tb.sent + PARAMS["latency"]
        assert cycles == expected, (f"{tb.sent} beats took {cycles} cycles without pauses, "
                                    f"expected {expected}")
    record(f"runs/pause={pause.name}", cycles=cycles, beats=tb.sent, runs=len(tb.expected))
