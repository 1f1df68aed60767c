"""RTL test of the activation buffer + window generator (hw.window_harness.WindowHarness)
against the padded map (sim/window_tb.py)."""

import pytest

from hw.act_buffer import ActBuffer, act_write_layout
from hw.window import WindowGenerator, window_request_layout
from hw.window_harness import WindowHarness
from sim.runner import describe_layout
from sim.test_mac_arrays import PES, assert_rejected_without_unused_warning

DEPTH = 32  # words per sub-bank half: the testbench's largest layer needs 12
TAG_BITS = 8
# From a request to its window without stalls: the address registers, the synchronous
# read, the output registers, the tap selection.
WINDOW_LATENCY = WindowGenerator.LATENCY
PAUSES = ("none", "idle", "backpressure", "both")  # sim.streams.Pause
LAYERS = ("5x7x(pe+2)/s1", "6x9x(2pe-1)/s2", "7x5x3/s2-from-0", "4x11xpe/s1")  # window_tb.layers


@pytest.mark.quick_case(sim="icarus", pe=4)
@pytest.mark.parametrize("pe", PES)
def test_window_rtl(rtl, sim, pe):
    dut = WindowHarness(pe, DEPTH, TAG_BITS)
    run = rtl(dut, toplevel="window", test_module="sim.window_tb", params={
        "pe": pe,
        "depth": DEPTH,
        "tag_bits": TAG_BITS,
        "latency": WINDOW_LATENCY,
        "w_layout": describe_layout(act_write_layout(pe, DEPTH)),
        "req_layout": describe_layout(window_request_layout(DEPTH, TAG_BITS)),
        "out_layout": describe_layout(dut.o_stream.payload.shape()),
    }, seed=1)  # fixed: a short layer under a random pause pattern may see no stall at all
    assert set(run.tests.values()) == {"passed"}
    records = {r["name"]: r for r in run.records}
    assert set(records) == {f"{layer}/pause={p}" for layer in LAYERS for p in PAUSES}
    for layer in LAYERS:
        quiet = records[f"{layer}/pause=none"]
        # The testbench asserts one window per cycle without pauses; pauses only add.
        assert quiet["cycles"] == quiet["windows"] + WINDOW_LATENCY
        assert quiet["fill_cycles"] == quiet["fill_writes"]
        paused = [records[f"{layer}/pause={p}"]["cycles"] for p in PAUSES if p != "none"]
        assert all(cycles >= quiet["cycles"] for cycles in paused)
        assert any(cycles > quiet["cycles"] for cycles in paused)


@pytest.mark.parametrize("make, message", [
    (lambda: ActBuffer(0, DEPTH), "pe must be a positive integer, not 0"),
    (lambda: ActBuffer(4, 2.0), "depth must be a positive integer, not 2.0"),
    (lambda: WindowGenerator(None, DEPTH), "pe must be a positive integer, not None"),
    (lambda: WindowHarness(True, DEPTH), "pe must be a positive integer, not True"),
    (lambda: WindowHarness(4, -1), "depth must be a positive integer, not -1"),
], ids=["buffer-pe", "buffer-depth", "generator-pe", "harness-pe", "harness-depth"])
def test_window_components_reject_bad_arguments(make, message):
    assert_rejected_without_unused_warning(make, message)
