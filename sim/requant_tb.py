"""cocotb testbench of hw.requant.Requantizer: every output beat against model.numerics.requantize.

Run through ``sim/test_requant.py`` (pytest builds the design and passes ``params``:
``lanes``, ``beats``, ``latency`` and the JSON layouts of both payloads). Each test
drives random beats, including int32 extremes, shifts 1 and 47, multipliers 0 and
2**15 - 1, rounding ties and every clamp kind, under one pause pattern (idle cycles on
the input, backpressure on the output, both, or neither), and records its cycle count.
"""

from __future__ import annotations

import enum
import random
from collections import deque

import cocotb
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.triggers import Event, FallingEdge, RisingEdge, SimTimeoutError, Timer, with_timeout

from model.numerics import (INT8_MAX, INT8_MIN, INT32_MAX, INT32_MIN, MULT_BITS, SHIFT_MAX,
                            SHIFT_MIN, requantize)
from sim.runner import pack, record, test_params, unpack

PARAMS = test_params()
CLOCK_NS = 10
IDLE_PROBABILITY = 0.3  # of the source not offering a new beat in a cycle
STALL_PROBABILITY = 0.4  # of the sink not being ready in a cycle
MULT_MAX = (1 << MULT_BITS) - 1


class Pause(enum.Enum):
    """Which side of the stream pauses at random (cocotb names tests by member name)."""

    none = "none"
    idle = "idle"  # the source leaves gaps between beats
    backpressure = "backpressure"  # the sink is not always ready
    both = "both"


def _coin(rng: random.Random, probability: float):
    """A callable that returns True with ``probability`` (never calls ``rng`` for 0)."""
    if probability == 0:
        return lambda: False
    return lambda: rng.random() < probability


def _is_high(handle) -> bool:
    return str(handle.value) == "1"


class StreamSource:
    """Drive a valid/ready stream from a queue of packed payloads.

    Signals change just after a rising edge and are sampled at the falling edge, when
    both the testbench's and the design's combinational outputs have settled, so the
    same code is exact on Icarus and on Verilator. ``idle`` is a callable returning True
    when the source should not offer a new beat this cycle; once ``valid`` is high it
    stays high, with the same payload, until the beat is taken.
    """

    def __init__(self, tb, valid, ready, payload, idle=lambda: False):
        self._tb, self._valid, self._ready, self._payload = tb, valid, ready, payload
        self._idle = idle
        self.queue: deque[int] = deque()
        self.sent_cycles: list[int] = []
        self._valid.value = 0

    def start(self):
        return cocotb.start_soon(self._run())

    async def _run(self):
        clk = self._tb.clk
        offered = False
        while True:
            if not offered and self.queue and not self._idle():
                self._payload.value = self.queue.popleft()
                offered = True
            self._valid.value = int(offered)
            await FallingEdge(clk)
            taken = offered and _is_high(self._ready)
            await RisingEdge(clk)
            if taken:
                self.sent_cycles.append(self._tb.cycle() - 1)
                offered = False


class StreamSink:
    """Take beats from a valid/ready stream, with ``stall()`` deciding when not to be ready.

    Besides collecting ``(payload, cycle)`` it checks the stream rule the producer must
    keep: a beat that was offered and not taken is offered again, unchanged.
    """

    def __init__(self, tb, valid, ready, payload, stall=lambda: False):
        self._tb, self._valid, self._ready, self._payload = tb, valid, ready, payload
        self._stall = stall
        self.beats: list[int] = []
        self.cycles: list[int] = []
        self.expected_count = None
        self.done = Event()
        self._ready.value = 0

    def start(self):
        return cocotb.start_soon(self._run())

    async def _run(self):
        clk = self._tb.clk
        held = None  # payload offered but not taken in the previous cycle
        while True:
            ready = not self._stall()
            self._ready.value = int(ready)
            await FallingEdge(clk)
            if _is_high(self._valid):
                payload = self._payload.value.to_unsigned()
                assert held is None or payload == held, (
                    f"cycle {self._tb.cycle()}: stalled beat changed "
                    f"from {held:#x} to {payload:#x}")
                if ready:
                    self.beats.append(payload)
                    self.cycles.append(self._tb.cycle())
                    held = None
                    if len(self.beats) == self.expected_count:
                        self.done.set()
                else:
                    held = payload
            else:
                assert held is None, (f"cycle {self._tb.cycle()}: valid dropped before the "
                                      f"beat was taken")
            await RisingEdge(clk)


class RequantTB:
    """Owns the requantiser's clock, reset, input driver and output monitor."""

    def __init__(self, dut, pause=Pause.none, rng=None):
        self.dut = dut
        self.clk = dut.clk
        self.rng = rng or random.Random(cocotb.RANDOM_SEED)
        self.lanes = PARAMS["lanes"]
        self.in_layout = PARAMS["in_layout"]
        self.out_layout = PARAMS["out_layout"]
        idles = pause in (Pause.idle, Pause.both)
        stalls = pause in (Pause.backpressure, Pause.both)
        idle = _coin(self.rng, IDLE_PROBABILITY if idles else 0)
        stall = _coin(self.rng, STALL_PROBABILITY if stalls else 0)
        self.source = StreamSource(self, dut.i_stream__valid, dut.i_stream__ready,
                                   dut.i_stream__payload, idle)
        self.sink = StreamSink(self, dut.o_stream__valid, dut.o_stream__ready,
                               dut.o_stream__payload, stall)
        self.expected: list[list[int]] = []

    def cycle(self) -> int:
        """Index of the current clock cycle (rising edges since time 0)."""
        return int(get_sim_time(unit="ns")) // CLOCK_NS

    async def reset(self):
        Clock(self.clk, CLOCK_NS, unit="ns").start()
        self.dut.rst.value = 1
        for _ in range(3):
            await RisingEdge(self.clk)
        self.dut.rst.value = 0
        await RisingEdge(self.clk)

    def send(self, beat: dict):
        """Queue one input beat and its expected output from the golden model."""
        self.source.queue.append(pack(self.in_layout, beat))
        self.expected.append(requantize(beat["acc"], beat["multiplier"], beat["shift"],
                                        beat["zero_point"], beat["lo"], beat["hi"]).tolist())

    async def run(self):
        """Drive every queued beat, wait for all outputs, then check them and the count."""
        self.sink.expected_count = len(self.expected)
        self.source.start()
        self.sink.start()
        try:
            await with_timeout(self.sink.done.wait(), _timeout_ns(), "ns")
        except SimTimeoutError:
            raise AssertionError(
                f"stream stuck: {len(self.source.sent_cycles)} of {len(self.expected)} beats "
                f"accepted, {len(self.sink.beats)} came out") from None
        for _ in range(8):  # a duplicated beat would show up here
            await RisingEdge(self.clk)
        got = [unpack(self.out_layout, bits) for bits in self.sink.beats]
        assert len(got) == len(self.expected), f"sent {len(self.expected)} beats, got {len(got)}"
        for index, (out, want) in enumerate(zip(got, self.expected)):
            assert out == want, f"beat {index}: got {out}, expected {want}"


def random_lane(rng: random.Random) -> tuple[int, int, int]:
    """One channel's ``(acc, multiplier, shift)``, biased toward edges and unclamped results."""
    kind = rng.random()
    if kind < 0.06:  # a rounding tie: acc * M = (2k + 1) * 2**(s - 1)
        shift = rng.randint(SHIFT_MIN, 31)
        k = rng.randint(-(1 << (31 - shift)), (1 << (31 - shift)) - 1)
        return max(INT32_MIN, min(INT32_MAX, (2 * k + 1) << (shift - 1))), 1, shift
    if kind < 0.20:
        acc = rng.choice([INT32_MIN, INT32_MAX, INT32_MIN + 1, 0, 1, -1])
    elif kind < 0.80:
        acc = rng.choice((-1, 1)) * rng.randrange(1 << rng.randint(0, 31))
    else:
        acc = rng.randint(INT32_MIN, INT32_MAX)
    multiplier = rng.choice([0, 1, MULT_MAX, 1 << (MULT_BITS - 1)]) if rng.random() < 0.2 \
        else rng.randint(0, MULT_MAX)
    pick = rng.random()
    if pick < 0.15:
        shift = rng.choice([SHIFT_MIN, SHIFT_MIN + 1, SHIFT_MAX - 1, SHIFT_MAX])
    elif pick < 0.75:  # land the result near the int8 range so the clamp does not hide it
        shift = abs(acc * multiplier).bit_length() - rng.randint(3, 9)
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
    await tb.reset()
    beats = PARAMS["beats"]
    for _ in range(beats):
        tb.send(random_beat(tb.rng, tb.lanes))
    await tb.run()
    first_in, last_out = tb.source.sent_cycles[0], tb.sink.cycles[-1]
    cycles = last_out - first_in + 1
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
    await tb.reset()
    dut.o_stream__ready.value = 0
    beat = random_beat(tb.rng, tb.lanes)
    dut.i_stream__payload.value = pack(tb.in_layout, beat)
    dut.i_stream__valid.value = 1
    start = tb.cycle()
    for _ in range(PARAMS["latency"] + 2):  # fill the pipeline behind a stalled output
        await RisingEdge(tb.clk)
    dut.i_stream__valid.value = 0
    await FallingEdge(tb.clk)
    assert _is_high(dut.o_stream__valid), "output not valid after the pipeline latency"
    before = dut.o_stream__payload.value.to_unsigned()
    for ready in (1, 0, 1):
        dut.o_stream__ready.value = ready
        await Timer(1, unit="ns")
        assert _is_high(dut.o_stream__valid), f"valid fell when ready became {ready}"
        assert dut.o_stream__payload.value.to_unsigned() == before, "payload followed ready"
    assert unpack(tb.out_layout, before) == requantize(
        beat["acc"], beat["multiplier"], beat["shift"], beat["zero_point"], beat["lo"],
        beat["hi"]).tolist()
    record("valid_ignores_ready", cycles=tb.cycle() - start + 1)
