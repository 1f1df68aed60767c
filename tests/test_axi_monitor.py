"""``sim.axi_monitor``: the bus monitor of the AXI verification-IP test passes a legal
trace and catches each rule it checks in a synthetic trace that breaks it."""

import pytest

from sim.axi_monitor import CHANNELS, AxiChecker, AxiRuleError


def idle(protocol="axi4"):
    values = {}
    for valid, ready, payload in CHANNELS[protocol].values():
        values.update({valid: 0, ready: 0, **{name: 0 for name in payload}})
    values.update(awsize=2, arsize=2, awburst=1, arburst=1) if protocol == "axi4" else None
    return values


def run(trace, protocol="axi4"):
    """Feed ``trace`` (a list of {signal: value} changes per cycle, from idle) and return
    the checker; signals keep their values from cycle to cycle."""
    checker = AxiChecker("m_axi", protocol)
    values = idle(protocol)
    for cycle, changes in enumerate(trace, start=1):
        values.update(changes)
        checker.sample(cycle, dict(values))
    return checker


def aw(addr, beats, ready=1):
    return {"awvalid": 1, "awaddr": addr, "awlen": beats - 1, "awready": ready}


def w(last, ready=1, data=0):
    return {"wvalid": 1, "wlast": int(last), "wready": ready, "wdata": data}


LEGAL = [
    aw(0x100, 2, ready=0),                      # AW stalled a cycle
    {"awready": 1},
    {"awvalid": 0, "awready": 0, **w(False)},
    w(True, ready=0, data=5),                   # W stalled, payload held
    w(True, data=5),
    {"wvalid": 0, "bvalid": 1, "bready": 1},
    {"bvalid": 0, **w(False)},                  # W of the next burst before its AW
    {**w(True), **aw(0xFF8, 2)},                # ends next to the 4 KiB boundary: legal
    {"wvalid": 0, "awvalid": 0, "bvalid": 1},
    {"bvalid": 0, "arvalid": 1, "araddr": 0x40, "arlen": 1, "arready": 1},
    {"arvalid": 0, "rvalid": 1, "rready": 1, "rlast": 0},
    {"rlast": 1},
    {"rvalid": 0},
]


def test_a_legal_trace_passes():
    checker = run(LEGAL)
    assert checker.errors == []
    assert checker.transfers == {"AW": 2, "W": 4, "B": 2, "AR": 1, "R": 2}
    assert checker.stalls == {"AW": 1, "W": 1, "B": 0, "AR": 0, "R": 0}
    assert checker.writes == [(0x100, 8), (0xFF8, 8)]


@pytest.mark.parametrize("trace, message", [
    ([aw(0x100, 1, ready=0), {"awvalid": 0}],
     "m_axi AW channel, cycle 2: VALID dropped before READY"),
    ([aw(0x100, 1, ready=0), {"awaddr": 0x140}],
     "m_axi AW channel, cycle 2: payload changed while stalled (awaddr 256 -> 320)"),
    ([w(True, ready=0, data=1), w(True, data=2)],
     "m_axi W channel, cycle 2: payload changed while stalled (wdata 1 -> 2)"),
    ([{"rvalid": 1, "rready": 0}, {"rvalid": 0}],
     "m_axi R channel, cycle 2: VALID dropped before READY"),
    ([{"bvalid": 1}, {"bvalid": 0}], "m_axi B channel, cycle 2: VALID dropped before READY"),
    ([aw(0xFF8, 3)], "m_axi AW channel, cycle 1: burst crosses a 4 KiB boundary (address 0xff8, "
                     "3 beats, 12 bytes)"),
    ([{"arvalid": 1, "araddr": 0x1FFC, "arlen": 1, "arready": 1}],
     "m_axi AR channel, cycle 1: burst crosses a 4 KiB boundary"),
    ([aw(0, 2), {"awvalid": 0, **w(True)}],
     "m_axi W channel, cycle 2: WLAST on the wrong beat: beat 1 of a burst of 2"),
    ([aw(0, 2), {"awvalid": 0, **w(False)}, w(False)],
     "m_axi W channel, cycle 3: WLAST missing on the last beat (2 of 2)"),
    ([w(False), w(False), {"wvalid": 0, **aw(0, 2)}],   # W first, AW later
     "m_axi AW channel, cycle 3: WLAST missing: the W burst this AW describes has 2 beats"),
    ([w(True), {"wvalid": 0, **aw(0, 2)}],
     "m_axi AW channel, cycle 2: WLAST on the wrong beat: the W burst this AW describes ended "
     "after 1 beats, AWLEN says 2"),
    ([aw(0, 1), {"awvalid": 0, "bvalid": 1, "bready": 1}],
     "m_axi B channel, cycle 2: write response before its burst's AW and last W beat"),
    ([{"arvalid": 1, "arlen": 1, "arready": 1}, {"arvalid": 0, "rvalid": 1, "rready": 1, "rlast": 1}],
     "m_axi R channel, cycle 2: RLAST on beat 1 of a burst of 2"),
])
def test_each_rule_fires(trace, message):
    with pytest.raises(AxiRuleError) as error:
        run(trace)
    assert str(error.value).startswith(message), str(error.value)


def test_axi_lite_rules_and_collecting_mode():
    trace = [{"arvalid": 1, "araddr": 4}, {"araddr": 8}, {"arvalid": 0}]
    with pytest.raises(AxiRuleError, match="m_axi AR channel, cycle 2: payload changed while stalled"):
        run(trace, "axi4-lite")
    checker = AxiChecker("s_axil", "axi4-lite", fail_fast=False)
    values = idle("axi4-lite")
    for cycle, changes in enumerate(trace, start=1):
        values.update(changes)
        checker.sample(cycle, dict(values))
    assert len(checker.errors) == 2 and "cycle 3: VALID dropped before READY" in checker.errors[1]
