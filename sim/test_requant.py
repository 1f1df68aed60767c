"""RTL test of hw.requant.Requantizer against model.numerics.requantize (sim/requant_tb.py)."""

import re

import pytest

from hw.products import ECP5
from hw.requant import Requantizer, requant_input_layout, requant_output_layout
from sim.runner import ECP5_MODELS, describe_layout

LANES = (4, 8)
BEATS = 300  # per pause pattern; Python drives every cycle, so Icarus sets the pace
PAUSES = ("none", "idle", "backpressure", "both")  # sim.streams.Pause


@pytest.mark.quick_case(sim="icarus", lanes=4, ecp5=False, ties=False)
@pytest.mark.parametrize("lanes, ecp5, ties", [(lanes, False, False) for lanes in LANES]
                         + [(4, True, False), (4, True, True)])
def test_requant_rtl(rtl, sim, lanes, ecp5, ties):
    """``ecp5``: elaborated for ECP5, its multipliers MULT18X18D primitives (sim/hdl's model);
    ``ties``: their control inputs from each lane's tie flip-flops (``hw.products.dsp_ties``,
    as a chip-wide design's)."""
    target = {"platform": ECP5, "extra_sources": ECP5_MODELS} if ecp5 else {}
    run = rtl(Requantizer(lanes, local_ties=ties), toplevel="requant", test_module="sim.requant_tb", **target,
              params={
                  "lanes": lanes,
                  "beats": BEATS,
                  "latency": Requantizer.LATENCY,
                  "in_layout": describe_layout(requant_input_layout(lanes)),
                  "out_layout": describe_layout(requant_output_layout(lanes)),
              })
    assert set(run.tests.values()) == {"passed"}
    assert set(run.cycles) == {f"stream_random/pause={p}" for p in PAUSES} | {"valid_ignores_ready"}
    # Without pauses the testbench itself asserts one beat per cycle; stalls only add.
    assert run.cycles["stream_random/pause=none"] == BEATS + Requantizer.LATENCY
    assert all(run.cycles[f"stream_random/pause={p}"] > BEATS + Requantizer.LATENCY
               for p in PAUSES if p != "none")


@pytest.mark.parametrize("lanes", [0, -3, 2.0, True, "4", None])
def test_requantizer_rejects_bad_lanes(lanes):
    message = f"lanes must be a positive integer, not {lanes!r}"
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        Requantizer(lanes)
