"""cocotb testbench of hw.requant.Requantizer: every output beat against model.numerics.requantize.

Run through ``sim/test_requant.py`` (pytest builds the design and passes ``params``:
``lanes``, ``beats``, ``latency`` and the JSON layouts of both payloads). Each test
drives random beats, including int32 extremes, shifts -31 and 7, multipliers 0, 2**30
and 2**31 - 1, ties in both roundings and every clamp kind, under one pause pattern (idle cycles on
the input, backpressure on the output, both, or neither), and records its cycle count.
"""

from __future__ import annotations

import random

import cocotb
from cocotb.triggers import FallingEdge, RisingEdge, Timer

from model.numerics import (INT8_MAX, INT8_MIN, INT32_MAX, INT32_MIN, MULT_BITS, SHIFT_MAX,
                            SHIFT_MIN, requantize)
from sim.runner import pack, record, test_params, unpack
from sim.streams import CLOCK_NS, Pause, PipelineTB, is_high

PARAMS = test_params()
M0_MIN, M0_MAX = 1 << (MULT_BITS - 1), (1 << MULT_BITS) - 1


class RequantTB(PipelineTB):
    """The requantiser driven and checked against :func:`model.numerics.requantize`."""

    def __init__(self, dut, pause=Pause.none):
        super().__init__(dut, pause, in_layout=PARAMS["in_layout"],
                         out_layout=PARAMS["out_layout"])
        self.lanes = PARAMS["lanes"]

    def send(self, beat: dict):
        """Queue one input beat and its expected output from the golden model."""
        super().send(beat, requantize(beat["acc"], beat["multiplier"], beat["shift"],
                                      beat["zero_point"], beat["lo"], beat["hi"]).tolist())


def random_lane(rng: random.Random) -> tuple[int, int, int]:
    """One channel's ``(acc, M0, shift)``, biased toward edges, rounding ties and
    unclamped results."""
    kind = rng.random()
    if kind < 0.10:  # ties in both roundings: M0 = 2**30 halves x; h = (2k + 1) * 2**(r-1)
        right = rng.randint(1, 20)
        h = (2 * rng.randint(-(1 << (29 - right)), (1 << (29 - right)) - 1) + 1) << (right - 1)
        return 2 * h - rng.randint(0, 1), 1 << 30, -right
    if kind < 0.20:
        acc = rng.choice([INT32_MIN, INT32_MAX, INT32_MIN + 1, 0, 1, -1])
    elif kind < 0.80:
        acc = rng.choice((-1, 1)) * rng.randrange(1 << rng.randint(0, 31))
    else:
        acc = rng.randint(INT32_MIN, INT32_MAX)
    multiplier = rng.choice([0, M0_MIN, M0_MAX]) if rng.random() < 0.2 \
        else rng.randint(M0_MIN, M0_MAX)
    pick = rng.random()
    if pick < 0.15:
        shift = rng.choice([SHIFT_MIN, SHIFT_MIN + 1, -1, 0, 1, SHIFT_MAX])
    elif pick < 0.75:  # land the result near the int8 range so the clamp does not hide it
        shift = 31 - abs(acc * multiplier).bit_length() + rng.randint(3, 9)
        shift = max(SHIFT_MIN, min(SHIFT_MAX, shift))
    else:
        shift = rng.randint(SHIFT_MIN, SHIFT_MAX)
    return acc, multiplier, shift


def random_beat(rng: random.Random, lanes: int) -> dict:
    """One input beat: ``lanes`` random channels and a random zero point and clamp."""
    lane_values = [random_lane(rng) for _ in range(lanes)]
    zero_point = rng.randint(INT8_MIN, INT8_MAX)
    kind = rng.randrange(5)
    if kind == 0:  # no activation
        lo, hi = INT8_MIN, INT8_MAX
    elif kind == 1:  # ReLU
        lo, hi = zero_point, INT8_MAX
    elif kind == 2:  # ReLU6-like
        lo, hi = zero_point, min(INT8_MAX, zero_point + rng.randint(0, 100))
    elif kind == 3:  # degenerate: one value
        lo = hi = rng.randint(INT8_MIN, INT8_MAX)
    else:
        lo, hi = sorted(rng.randint(INT8_MIN, INT8_MAX) for _ in range(2))
    return {
        "acc": [a for a, _, _ in lane_values],
        "multiplier": [m for _, m, _ in lane_values],
        "shift": [s for _, _, s in lane_values],
        "zero_point": zero_point, "lo": lo, "hi": hi,
    }


def _timeout_ns() -> int:
    # A deadlock guard only: generous against the worst pause pattern.
    return (PARAMS.get("beats", 0) * 20 + 1000) * CLOCK_NS


@cocotb.test(timeout_time=2 * _timeout_ns(), timeout_unit="ns")
@cocotb.parametrize(pause=list(Pause))
async def stream_random(dut, pause):
    """Random beats under a pause pattern; bit-exact against the golden model."""
    tb = RequantTB(dut, pause)
    dut._log.info("%d lanes, pause %s", tb.lanes, pause.name)
    await tb.start()
    beats = PARAMS["beats"]
    for _ in range(beats):
        tb.send(random_beat(tb.rng, tb.lanes))
    await tb.check()
    cycles = tb.cycles()
    if pause is Pause.none:
        # One beat per cycle: the last beat leaves LATENCY cycles after it entered.
        expected = beats + PARAMS["latency"]
        assert cycles == expected, (f"{beats} beats took {cycles} cycles without stalls, "
                                    f"expected {expected}")
    record(f"stream_random/pause={pause.name}", cycles=cycles, beats=beats,
           beats_per_cycle=round(beats / cycles, 4))


@cocotb.test(timeout_time=2000, timeout_unit="ns")
async def valid_ignores_ready(dut):
    """``o_stream.valid`` and payload must not follow ``o_stream.ready`` within a cycle."""
    tb = RequantTB(dut)
    await tb.reset()  # no stream drivers: this test drives the ports itself
    dut.o_stream__ready.value = 0
    beat = random_beat(tb.rng, tb.lanes)
    dut.i_stream__payload.value = pack(tb.in_layout, beat)
    dut.i_stream__valid.value = 1
    start = tb.cycle()
    for _ in range(PARAMS["latency"] + 2):  # fill the pipeline behind a stalled output
        await RisingEdge(tb.clk)
    dut.i_stream__valid.value = 0
    await FallingEdge(tb.clk)
    assert is_high(dut.o_stream__valid), "output not valid after the pipeline latency"
    before = dut.o_stream__payload.value.to_unsigned()
    for ready in (1, 0, 1):
        dut.o_stream__ready.value = ready
        await Timer(1, unit="ns")
        assert is_high(dut.o_stream__valid), f"valid fell when ready became {ready}"
        assert dut.o_stream__payload.value.to_unsigned() == before, "payload followed ready"
    assert unpack(tb.out_layout, before) == requantize(
        beat["acc"], beat["multiplier"], beat["shift"], beat["zero_point"], beat["lo"],
        beat["hi"]).tolist()
    record("valid_ignores_ready", cycles=tb.cycle() - start + 1)
