"""Valid/ready stream drivers shared by the cocotb testbenches.

A testbench subclasses :class:`StreamTB` (clock, reset, cycle index, random source, pause
pattern), takes a :class:`StreamSource` for each input stream and a :class:`StreamSink`
for each output stream of the design (ports ``<name>__valid``, ``<name>__ready``,
``<name>__payload`` in the generated Verilog), queues packed payloads into the sources
and waits on the sinks::

    tb = MyTB(dut, Pause.both)
    await tb.reset()
    source, sink = tb.add_source("i_stream"), tb.add_sink("o_stream")
    source.send(pack(layout, beat))
    await tb.expect(sink, 1)
    cycles = tb.span(source, sink)      # first beat in .. last beat out, inclusive

:class:`PipelineTB` does this for the usual ``i_stream`` -> ``o_stream`` component and
checks every output beat against the expected values queued with the input beats.
Under a :class:`Pause` pattern every source leaves random idle cycles, every sink
withholds ``ready`` at random, or both.
"""

from __future__ import annotations

import enum
import random
from collections import deque

import cocotb
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.triggers import Event, FallingEdge, RisingEdge, SimTimeoutError, with_timeout

from sim.runner import pack, unpack

__all__ = [
    "CLOCK_NS",
    "IDLE_PROBABILITY",
    "STALL_PROBABILITY",
    "Pause",
    "coin",
    "is_high",
    "StreamSource",
    "StreamSink",
    "StreamTB",
    "PipelineTB",
]

CLOCK_NS = 10
IDLE_PROBABILITY = 0.3  # of a source not offering a new beat in a cycle
STALL_PROBABILITY = 0.4  # of a sink not being ready in a cycle


class Pause(enum.Enum):
    """Which side of the streams pauses at random (cocotb names tests by member name)."""

    none = "none"
    idle = "idle"  # the sources leave gaps between beats
    backpressure = "backpressure"  # the sinks are not always ready
    both = "both"

    @property
    def idles(self) -> bool:
        return self in (Pause.idle, Pause.both)

    @property
    def stalls(self) -> bool:
        return self in (Pause.backpressure, Pause.both)


def coin(rng: random.Random, probability: float):
    """A callable that returns True with ``probability`` (never calls ``rng`` for 0)."""
    if probability == 0:
        return lambda: False
    return lambda: rng.random() < probability


def is_high(handle) -> bool:
    """True if a 1-bit signal is 1 (not 0, X or Z)."""
    return str(handle.value) == "1"


class StreamSource:
    """Drive a valid/ready stream from a queue of packed payloads.

    Signals change just after a rising edge and are sampled at the falling edge, when
    both the testbench's and the design's combinational outputs have settled, so the
    same code is exact on Icarus and on Verilator. ``idle`` is a callable returning True
    when the source should not offer a new beat this cycle; once ``valid`` is high it
    stays high, with the same payload, until the beat is taken. While ``valid`` is low the
    payload is random: a design must not take, or keep using, what is not offered (a
    register loaded while its stage is empty, and read as if it held the last beat, fails).

    ``sent_cycles`` holds the cycle index of every accepted beat.
    """

    def __init__(self, tb: StreamTB, name: str, idle=lambda: False):
        self._tb = tb
        self.name = name
        self._valid = getattr(tb.dut, f"{name}__valid")
        self._ready = getattr(tb.dut, f"{name}__ready")
        self._payload = getattr(tb.dut, f"{name}__payload")
        self._idle = idle
        self._queue: deque[int] = deque()
        self._offered = False
        self._drained = Event()
        self._drained.set()
        self.sent_cycles: list[int] = []
        self._valid.value = 0
        cocotb.start_soon(self._run())

    def send(self, payload: int) -> None:
        """Queue one packed payload."""
        self._queue.append(payload)
        self._drained.clear()

    @property
    def pending(self) -> int:
        """Beats queued or offered and not yet accepted."""
        return len(self._queue) + self._offered

    async def drained(self) -> None:
        """Wait until every queued beat has been accepted."""
        await self._drained.wait()

    async def _run(self):
        clk = self._tb.clk
        while True:
            if not self._offered and self._queue and not self._idle():
                self._payload.value = self._queue.popleft()
                self._offered = True
            elif not self._offered:
                self._payload.value = self._tb.rng.getrandbits(len(self._payload))
            self._valid.value = int(self._offered)
            await FallingEdge(clk)
            taken = self._offered and is_high(self._ready)
            await RisingEdge(clk)
            if taken:
                self.sent_cycles.append(self._tb.cycle() - 1)
                self._offered = False
                if not self._queue:
                    self._drained.set()


class StreamSink:
    """Take beats from a valid/ready stream, with ``stall()`` deciding when not to be ready.

    Collects ``beats`` (packed payloads) and ``cycles`` (the cycle index of each), and
    checks the stream rule the producer must keep: a beat that was offered and not taken
    is offered again, unchanged.
    """

    def __init__(self, tb: StreamTB, name: str, stall=lambda: False):
        self._tb = tb
        self.name = name
        self._valid = getattr(tb.dut, f"{name}__valid")
        self._ready = getattr(tb.dut, f"{name}__ready")
        self._payload = getattr(tb.dut, f"{name}__payload")
        self._stall = stall
        self.beats: list[int] = []
        self.cycles: list[int] = []
        self._wanted = None
        self._arrived = Event()
        self._ready.value = 0
        cocotb.start_soon(self._run())

    async def wait_for(self, count: int) -> None:
        """Wait until ``count`` beats have arrived in total."""
        if len(self.beats) >= count:
            return
        self._wanted = count
        self._arrived.clear()
        await self._arrived.wait()

    async def _run(self):
        clk = self._tb.clk
        held = None  # payload offered but not taken in the previous cycle
        while True:
            ready = not self._stall()
            self._ready.value = int(ready)
            await FallingEdge(clk)
            if is_high(self._valid):
                payload = self._payload.value.to_unsigned()
                assert held is None or payload == held, (
                    f"{self.name}, cycle {self._tb.cycle()}: stalled beat changed "
                    f"from {held:#x} to {payload:#x}")
                if ready:
                    self.beats.append(payload)
                    self.cycles.append(self._tb.cycle())
                    held = None
                    if len(self.beats) == self._wanted:
                        self._arrived.set()
                else:
                    held = payload
            else:
                assert held is None, (f"{self.name}, cycle {self._tb.cycle()}: valid dropped "
                                      f"before the beat was taken")
            await RisingEdge(clk)


class StreamTB:
    """Owns a design's clock, reset, random source and pause pattern, and its stream drivers.

    ``rng`` is seeded from cocotb's seed, so a run is replayed by its seed. Sources and
    sinks made by :meth:`add_source` and :meth:`add_sink` pause as ``pause`` says.
    """

    def __init__(self, dut, pause: Pause = Pause.none, rng: random.Random | None = None):
        self.dut = dut
        self.clk = dut.clk
        self.pause = pause
        self.rng = rng or random.Random(cocotb.RANDOM_SEED)
        self.sources: list[StreamSource] = []
        self.sinks: list[StreamSink] = []

    def cycle(self) -> int:
        """Index of the current clock cycle (rising edges since time 0)."""
        return int(get_sim_time(unit="ns")) // CLOCK_NS

    async def reset(self, cycles: int = 3) -> None:
        """Start the clock and hold ``rst`` high for ``cycles`` cycles."""
        Clock(self.clk, CLOCK_NS, unit="ns").start()
        self.dut.rst.value = 1
        for _ in range(cycles):
            await RisingEdge(self.clk)
        self.dut.rst.value = 0
        await RisingEdge(self.clk)

    async def idle(self, cycles: int) -> None:
        for _ in range(cycles):
            await RisingEdge(self.clk)

    def add_source(self, name: str) -> StreamSource:
        """A driver of input stream ``name``, leaving idle cycles if the pattern says so."""
        idle = coin(self.rng, IDLE_PROBABILITY if self.pause.idles else 0)
        source = StreamSource(self, name, idle)
        self.sources.append(source)
        return source

    def add_sink(self, name: str) -> StreamSink:
        """A monitor of output stream ``name``, withholding ready if the pattern says so."""
        stall = coin(self.rng, STALL_PROBABILITY if self.pause.stalls else 0)
        sink = StreamSink(self, name, stall)
        self.sinks.append(sink)
        return sink

    async def expect(self, sink: StreamSink, count: int, *, timeout_cycles: int | None = None,
                     extra_cycles: int = 8) -> None:
        """Wait until ``sink`` holds ``count`` beats, then ``extra_cycles`` more and check
        that no further beat came (a duplicated beat would).

        ``timeout_cycles`` (default: 20 per beat still expected, plus 200) only guards
        against a deadlock: it is generous against the worst pause pattern.
        """
        if timeout_cycles is None:
            timeout_cycles = 20 * max(0, count - len(sink.beats)) + 200
        try:
            await with_timeout(sink.wait_for(count), timeout_cycles * CLOCK_NS, "ns")
        except SimTimeoutError:
            sent = ", ".join(f"{s.name}: {len(s.sent_cycles)} accepted, {s.pending} pending"
                             for s in self.sources)
            raise AssertionError(f"stream stuck: {len(sink.beats)} of {count} beats came out of "
                                 f"{sink.name} in {timeout_cycles} cycles ({sent})") from None
        await self.idle(extra_cycles)
        assert len(sink.beats) == count, (f"expected {count} beats on {sink.name}, "
                                          f"got {len(sink.beats)}")

    async def drain(self, source: StreamSource, *, timeout_cycles: int | None = None) -> None:
        """Wait until ``source`` has no beat left (default timeout as :meth:`expect`)."""
        if timeout_cycles is None:
            timeout_cycles = 20 * source.pending + 200
        try:
            await with_timeout(source.drained(), timeout_cycles * CLOCK_NS, "ns")
        except SimTimeoutError:
            raise AssertionError(f"stream stuck: {source.name} still holds {source.pending} "
                                 f"beats after {timeout_cycles} cycles") from None

    @staticmethod
    def span(source: StreamSource, sink: StreamSink, first: int = 0) -> int:
        """Cycles from the ``first``-th beat ``source`` sent to the last beat ``sink`` took,
        both included (beats + latency for a pipeline that never stalls)."""
        return sink.cycles[-1] - source.sent_cycles[first] + 1


class PipelineTB(StreamTB):
    """A component with one input stream ``i_stream`` and one output stream ``o_stream``.

    Queue input beats with :meth:`send`, each with the output beat it must produce, if
    any; :meth:`check` waits for every expected output and compares them in order.
    ``in_layout`` and ``out_layout`` are the payloads' JSON descriptions
    (:func:`sim.runner.describe_layout`).
    """

    def __init__(self, dut, pause: Pause = Pause.none, *, in_layout, out_layout):
        super().__init__(dut, pause)
        self.in_layout, self.out_layout = in_layout, out_layout
        self.expected: list = []
        self.sent = 0

    async def start(self) -> None:
        """Reset, then attach the stream drivers (``self.source`` and ``self.sink``)."""
        await self.reset()
        self.source = self.add_source("i_stream")
        self.sink = self.add_sink("o_stream")

    def send(self, beat, expected=None) -> None:
        """Queue input ``beat``; ``expected`` is the output it completes (None: no output)."""
        self.source.send(pack(self.in_layout, beat))
        self.sent += 1
        if expected is not None:
            self.expected.append(expected)

    async def check(self, what: str = "beat") -> None:
        """Wait for every expected output beat, then compare each (``what`` names them)."""
        await self.expect(self.sink, len(self.expected))
        for index, (bits, want) in enumerate(zip(self.sink.beats, self.expected)):
            got = unpack(self.out_layout, bits)
            assert got == want, f"{what} {index}: got {got}, expected {want}"

    def cycles(self) -> int:
        """Cycles from the first input beat to the last output beat, both included."""
        return self.span(self.source, self.sink)
