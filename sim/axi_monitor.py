"""A bus monitor for AXI4 and AXI4-Lite: checks, every clock cycle, the rules of the AXI
protocol that mnaccel relies on, and names the channel, the cycle and the rule when one
is broken.

Rules (``AxiChecker``):

- on every channel (AW, W, B, AR, R): once VALID is high it stays high until READY
  ("VALID dropped before READY"), and the payload does not change while VALID waits
  for READY ("payload changed while stalled");
- AXI4 only: an INCR burst never crosses a 4 KiB boundary (AW, AR); WLAST is high on the
  last beat of each write burst and only there, the burst's length taken from its AW
  whether the W beats come before, with or after it (W); RLAST likewise (R, bursts in
  AR order: the design uses one ID); a write response only after its burst's AW and
  last W beat (B).

The checker itself is plain Python (``sample(cycle, values)``), so ``tests/`` feeds it
synthetic traces to show that each rule does fire; :func:`watch` is the cocotb coroutine
that samples a DUT's ``<prefix>_*`` ports after every rising edge.
"""

from __future__ import annotations

from collections import deque
from typing import Mapping

__all__ = ["AxiRuleError", "AxiChecker", "CHANNELS", "watch"]

BOUNDARY_BYTES = 4096

#: Channel -> (VALID, READY, payload signals), per protocol. Optional payload signals
#: absent from a DUT are not checked.
CHANNELS = {
    "axi4": {
        "AW": ("awvalid", "awready", ("awid", "awaddr", "awlen", "awsize", "awburst", "awcache",
                                      "awprot")),
        "W": ("wvalid", "wready", ("wdata", "wstrb", "wlast")),
        "B": ("bvalid", "bready", ("bid", "bresp")),
        "AR": ("arvalid", "arready", ("arid", "araddr", "arlen", "arsize", "arburst", "arcache",
                                      "arprot")),
        "R": ("rvalid", "rready", ("rid", "rdata", "rresp", "rlast")),
    },
    "axi4-lite": {
        "AW": ("awvalid", "awready", ("awaddr", "awprot")),
        "W": ("wvalid", "wready", ("wdata", "wstrb")),
        "B": ("bvalid", "bready", ("bresp",)),
        "AR": ("arvalid", "arready", ("araddr", "arprot")),
        "R": ("rvalid", "rready", ("rdata", "rresp")),
    },
}


class AxiRuleError(AssertionError):
    """An AXI rule was broken; the message names the port, channel, cycle and rule."""


class AxiChecker:
    """Checks one AXI4 or AXI4-Lite port, one sampled cycle at a time.

    ``sample(cycle, values)`` takes the values of the port's signals (names without the
    prefix, e.g. ``"awvalid"``) as they are during ``cycle``; a transfer happens at the
    end of a cycle in which VALID and READY are both high. Broken rules are collected in
    :attr:`errors`; with ``fail_fast`` the first one also raises :class:`AxiRuleError`.
    """

    def __init__(self, name: str, protocol: str = "axi4", fail_fast: bool = True):
        if protocol not in CHANNELS:
            raise ValueError(f"protocol must be one of {', '.join(CHANNELS)}, not {protocol!r}")
        self.name, self.protocol, self.fail_fast = name, protocol, fail_fast
        self.channels = CHANNELS[protocol]
        self.errors: list[str] = []
        #: (address, bytes) of every write burst (AW transfer), in order.
        self.writes: list[tuple[int, int]] = []
        self.transfers = {channel: 0 for channel in self.channels}
        #: Cycles in which VALID waited for READY, per channel (what the hold rules check).
        self.stalls = {channel: 0 for channel in self.channels}
        self.reset()

    @property
    def signals(self) -> list[str]:
        return [s for valid, ready, payload in self.channels.values() for s in (valid, ready, *payload)]

    def reset(self) -> None:
        """Forget everything in flight (the bus is in reset)."""
        self._stalled: dict[str, tuple | None] = {channel: None for channel in self.channels}
        self._aw_beats: deque[int] = deque()  # AWs whose W burst has not ended
        self._w_early: deque[int] = deque()  # W bursts that ended before their AW
        self._w_beat = 0  # beats of the current W burst
        self._writes_done = 0  # bursts with both AW and last W transferred
        self._b_count = 0
        self._ar_beats: deque[int] = deque()
        self._r_beat = 0

    def _fail(self, cycle: int, channel: str, rule: str) -> None:
        message = f"{self.name} {channel} channel, cycle {cycle}: {rule}"
        self.errors.append(message)
        if self.fail_fast:
            raise AxiRuleError(message)

    def sample(self, cycle: int, values: Mapping[str, int]) -> None:
        transfers = []
        for channel, (valid_name, ready_name, payload_names) in self.channels.items():
            valid, ready = bool(values[valid_name]), bool(values[ready_name])
            payload = tuple(values.get(name) for name in payload_names)
            waiting = self._stalled[channel]
            if waiting is not None:
                if not valid:
                    self._fail(cycle, channel, f"VALID dropped before READY ({valid_name} low "
                                               f"while {ready_name} had not been high)")
                else:
                    changed = [f"{name} {old!r} -> {new!r}" for name, old, new
                               in zip(payload_names, waiting, payload) if old != new]
                    if changed:
                        self._fail(cycle, channel, f"payload changed while stalled "
                                                   f"({', '.join(changed)})")
            self._stalled[channel] = payload if valid and not ready else None
            self.stalls[channel] += valid and not ready
            if valid and ready:
                self.transfers[channel] += 1
                transfers.append((channel, dict(zip(payload_names, payload))))
        if self.protocol == "axi4":
            for channel, beat in transfers:
                getattr(self, f"_{channel.lower()}")(cycle, beat)

    # -- AXI4 burst rules (called on each transfer, in channel order AW, W, B, AR, R) -----
    def _burst_bytes(self, beat, prefix):
        return (beat[f"{prefix}len"] + 1) << beat[f"{prefix}size"]

    def _check_boundary(self, cycle, channel, beat, prefix):
        addr, nbytes = beat[f"{prefix}addr"], self._burst_bytes(beat, prefix)
        if beat.get(f"{prefix}burst", 1) == 1 and addr % BOUNDARY_BYTES + nbytes > BOUNDARY_BYTES:
            self._fail(cycle, channel, f"burst crosses a 4 KiB boundary (address {addr:#x}, "
                                       f"{beat[f'{prefix}len'] + 1} beats, {nbytes} bytes)")

    def _aw(self, cycle, beat):
        self._check_boundary(cycle, "AW", beat, "aw")
        self.writes.append((beat["awaddr"], self._burst_bytes(beat, "aw")))
        beats = beat["awlen"] + 1
        if self._w_early:  # its W burst already ended
            got = self._w_early.popleft()
            if got != beats:
                self._fail(cycle, "AW", f"WLAST on the wrong beat: the W burst this AW describes "
                                        f"ended after {got} beats, AWLEN says {beats}")
            self._writes_done += 1
            return
        if not self._aw_beats and self._w_beat >= beats:  # the current W burst is this AW's
            self._fail(cycle, "AW", f"WLAST missing: the W burst this AW describes has "
                                    f"{self._w_beat} beats without WLAST, AWLEN says {beats}")
        self._aw_beats.append(beats)

    def _w(self, cycle, beat):
        self._w_beat += 1
        last = bool(beat["wlast"])
        if self._aw_beats:
            expected = self._aw_beats[0]
            if last and self._w_beat != expected:
                self._fail(cycle, "W", f"WLAST on the wrong beat: beat {self._w_beat} of a burst "
                                       f"of {expected}")
            elif not last and self._w_beat == expected:
                self._fail(cycle, "W", f"WLAST missing on the last beat ({expected} of {expected})")
        if last:
            if self._aw_beats:
                self._aw_beats.popleft()
                self._writes_done += 1
            else:
                self._w_early.append(self._w_beat)
            self._w_beat = 0

    def _b(self, cycle, beat):
        self._b_count += 1
        if self._b_count > self._writes_done:
            self._fail(cycle, "B", "write response before its burst's AW and last W beat")

    def _ar(self, cycle, beat):
        self._check_boundary(cycle, "AR", beat, "ar")
        self._ar_beats.append(beat["arlen"] + 1)

    def _r(self, cycle, beat):
        if not self._ar_beats:
            self._fail(cycle, "R", "read data without an outstanding AR")
            return
        self._r_beat += 1
        expected, last = self._ar_beats[0], bool(beat["rlast"])
        if last != (self._r_beat == expected):
            self._fail(cycle, "R", f"RLAST {'on' if last else 'missing on'} beat {self._r_beat} "
                                   f"of a burst of {expected}")
        if last or self._r_beat >= expected:
            self._ar_beats.popleft()
            self._r_beat = 0


def _value(handle):
    value = handle.value
    try:
        return int(value)
    except ValueError:  # X or Z bits: compare their text
        return str(value)


async def watch(dut, prefix: str, checker: AxiChecker, clock=None, reset=None) -> None:
    """Sample ``dut``'s ``<prefix>_*`` signals after every rising edge of ``clock``
    (default ``dut.clk``) and feed ``checker``; while ``reset`` (default ``dut.rst``) is
    high the checker is reset. Cycle numbers count rising edges from the start."""
    from cocotb.triggers import ReadOnly, RisingEdge

    clock = clock if clock is not None else dut.clk
    reset = reset if reset is not None else dut.rst
    handles = {}
    for name in checker.signals:
        try:
            handles[name] = getattr(dut, f"{prefix}_{name}")
        except AttributeError:
            pass  # an optional signal the port does not have
    cycle = 0
    while True:
        await RisingEdge(clock)
        await ReadOnly()
        cycle += 1
        if _value(reset) == 1:
            checker.reset()
            continue
        checker.sample(cycle, {name: _value(handle) for name, handle in handles.items()})
