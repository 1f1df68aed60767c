"""RTL tests of the MAC arrays against NumPy: hw.pointwise.PointwiseArray
(sim/pointwise_tb.py) and hw.depthwise.DepthwiseLanes (sim/depthwise_tb.py)."""

import gc
import re
import warnings

import pytest
from amaranth.hdl import Fragment, UnusedElaboratable

from hw.depthwise import DepthwiseLanes, depthwise_input_layout
from hw.pointwise import PointwiseArray, pointwise_input_layout
from hw.products import ECP5
from sim.runner import ECP5_MODELS, describe_layout

PES = (4, 8)
WIDE_PE = 16  # one Verilator build: Icarus runs ~1 k cycles/s at this width
POINTWISE_BEATS = 160  # per pause pattern, corner runs included
MAX_RUN = 8  # beats of the longest run (input channel blocks of a dot product)
DEPTHWISE_BEATS = 160
PAUSES = ("none", "idle", "backpressure", "both")  # sim.streams.Pause


def _check_cycles(run, test, latency):
    records = {r["name"]: r for r in run.records}
    assert set(records) == {f"{test}/pause={p}" for p in PAUSES}
    beats = records[f"{test}/pause=none"]["beats"]
    # Without pauses the testbench itself asserts one beat per cycle; pauses only add.
    assert run.cycles[f"{test}/pause=none"] == beats + latency
    assert all(run.cycles[f"{test}/pause={p}"] > beats + latency for p in PAUSES if p != "none")


# (pe, packed, lut_multipliers): the default DSP products, and one array with every kind
# (packed pairs, an odd column alone, LUT products) as the Verilog builds them.
POINTWISE_BUILDS = [*((pe, False, 0) for pe in (*PES, WIDE_PE)), (5, True, 6)]
#: Where the products go: portable RTL, or elaborated for ECP5 (MULT18X18D primitives with
#: their registers, simulated with sim/hdl's model of them; at pe 8, ``hw.skid.CHIP_WIDE_PE``,
#: their control inputs from the tie flip-flops of ``hw.products.dsp_ties``).
TARGETS = {"generic": {}, "ecp5": {"platform": ECP5, "extra_sources": ECP5_MODELS}}


@pytest.mark.quick_case(sim="icarus", pe=4, packed=False, lut=0, target="generic")
@pytest.mark.parametrize("pe, packed, lut, target", [(*build, "generic") for build in POINTWISE_BUILDS]
                         + [(4, False, 0, "ecp5"), (8, False, 0, "ecp5")])
def test_pointwise_rtl(rtl, sim, pe, packed, lut, target):
    if pe == WIDE_PE and sim != "verilator":
        pytest.skip(f"pe={WIDE_PE} is built for Verilator only (Icarus is too slow at this width)")
    dut = PointwiseArray(pe, packed=packed, lut_multipliers=lut)
    run = rtl(dut, toplevel="pointwise", test_module="sim.pointwise_tb", **TARGETS[target], params={
        "pe": pe,
        "beats": POINTWISE_BEATS,
        "max_run": MAX_RUN,
        "latency": PointwiseArray.latency(pe),
        "in_layout": describe_layout(pointwise_input_layout(pe)),
        "out_layout": describe_layout(dut.o_stream.payload.shape()),
    })
    assert set(run.tests.values()) == {"passed"}
    _check_cycles(run, "runs", PointwiseArray.latency(pe))


@pytest.mark.quick_case(sim="icarus", pe=4, lut=0, target="generic")
@pytest.mark.parametrize("pe, lut, target", [(pe, 0, "generic") for pe in PES] + [(4, 13, "generic"),
                                                                                 (4, 13, "ecp5"),
                                                                                 (8, 13, "ecp5")])
def test_depthwise_rtl(rtl, sim, pe, lut, target):
    dut = DepthwiseLanes(pe, lut_multipliers=lut)
    run = rtl(dut, toplevel="depthwise", test_module="sim.depthwise_tb", **TARGETS[target], params={
        "pe": pe,
        "beats": DEPTHWISE_BEATS,
        "latency": DepthwiseLanes.LATENCY,
        "in_layout": describe_layout(depthwise_input_layout(pe)),
        "out_layout": describe_layout(dut.o_stream.payload.shape()),
    })
    assert set(run.tests.values()) == {"passed"}
    _check_cycles(run, "windows", DepthwiseLanes.LATENCY)


def assert_rejected_without_unused_warning(make, message):
    """``make()`` raises TypeError(message) and leaves no UnusedElaboratable behind."""
    Fragment.get(DepthwiseLanes(1), None)  # Amaranth only warns once something was elaborated
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
            make()
        gc.collect()  # the half-built component sits in a reference cycle
    unused = [str(w.message) for w in caught if issubclass(w.category, UnusedElaboratable)]
    assert not unused


@pytest.mark.parametrize("component", [PointwiseArray, DepthwiseLanes])
@pytest.mark.parametrize("pe", [0, -3, 2.0, True, "4", None])
def test_mac_arrays_reject_bad_pe(component, pe):
    assert_rejected_without_unused_warning(lambda: component(pe),
                                           f"pe must be a positive integer, not {pe!r}")
