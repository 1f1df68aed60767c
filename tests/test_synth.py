"""hw.synth: Yosys from the yowasp packages on small real designs (the multiplier options,
the smallest whole accelerator's DSPs), the resource parser, the fit report and the
command's errors. (Synthesis of a full-size accelerator is a benchmark-sized run:
python -m hw.synth.)"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hw.config import AcceleratorConfig
from hw.pointwise import PointwiseArray
from hw.synth import (DEVICES, PLACERS, ROUTERS, Resources, _nextpnr_where, bram_estimate, describe_phases,
                      fit_report, fitted, largest_sram, parse_stat, place_and_route, pnr_phases, routed_result,
                      synthesize)
from model.cost import network_cost

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_yosys_maps_the_pointwise_array_to_dsps(tmp_path):
    # 4 x 4 int8 products: sixteen 18x18 multipliers on ECP5, nothing else needs a DSP.
    resources = synthesize(PointwiseArray(4), "pw4", "ecp5", tmp_path,
                           progress=lambda text: None)
    assert resources.dsps == 16
    assert resources.ffs >= 4 * 4 * 16  # at least the registered products
    assert resources.luts > 0 and resources.brams == 0


def test_parse_stat_both_formats():
    new = """=== top ===\n\n        +----------Local Count\n    20216 cells\n     1377   CCU2C\n
       82   DP16KD\n    11730   LUT4\n       68   MULT18X18D\n       44   TRELLIS_DPR16X4\n
     3720   TRELLIS_FF\n"""
    r = parse_stat(new, "ecp5")
    assert (r.luts, r.ffs, r.dsps, r.brams) == (11730 + 2 * 1377 + 88, 3720, 68, 82)
    old = """=== top ===\n   Number of cells: 30\n     DSP48E1 256\n     FDRE 100\n     FDSE 4\n
     LUT2 10\n     LUT6 20\n     RAMB36E1 3\n     RAMB18E1 2\n"""
    r = parse_stat(old, "xilinx")
    assert (r.luts, r.ffs, r.dsps, r.brams) == (30, 104, 256, 4)


def test_fit_report_says_by_how_much():
    fits, lines = fit_report(Resources(50_000, 20_000, 256, 100, {}), DEVICES["85k"])
    assert not fits
    assert lines[2] == ("  DSPs         256 of     156 (164.1 %)  DOES NOT FIT: 100 over "
                        "(64 % more than the device has)")
    fits, _ = fit_report(Resources(50_000, 20_000, 100, 100, {}), DEVICES["85k"])
    assert fits


@pytest.mark.parametrize("args, message", [
    (["--target", "xilinx", "--device", "85k"], "--device 85k is a ecp5 device, not xilinx: give "
                                                "--target ecp5, or one of xc7a100t, xc7a200t, xc7z020"),
    (["--pe", "0"], "--pe must be a positive integer, not 0"),
    (["--target", "asic"], "argument --target: invalid choice: 'asic' (choose from 'ecp5', 'xilinx')"),
    (["--dsp-packing"], "--dsp-packing needs a 25x18 multiplier (7-series DSP48E1); an ECP5 "
                        "MULT18X18D is 18x18: use --dsp-limit (or --fit) to fit an ECP5"),
    (["--pnr-timeout", "0"], "--pnr-timeout must be positive, not 0"),
    (["--dsp-limit", "95"], "--dsp-limit must be at least 96 at pe 16 (the requantisers' 24 lanes of "
                            "32 x 31 bits, 4 multipliers each, stay in DSPs), not 95"),
])
def test_bad_input_one_line(args, message):
    result = subprocess.run([sys.executable, "-m", "hw.synth", *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == f"python -m hw.synth: error: {message}"


@pytest.mark.slow
def test_lut_and_packed_multipliers_map_as_planned(tmp_path):
    """The array's multiplier options do to Yosys' DSP mapping what the plan says."""
    quiet = {"progress": lambda text: None}
    lut = synthesize(PointwiseArray(2, lut_multipliers=3), "pw2", "ecp5",
                     tmp_path / "lut", **quiet)
    assert lut.dsps == 1  # three of four products in LUTs
    plain = synthesize(PointwiseArray(4), "pw4", "xilinx", tmp_path / "x", **quiet)
    packed = synthesize(PointwiseArray(4, packed=True), "pw4", "xilinx",
                        tmp_path / "p", **quiet)
    assert (plain.dsps, packed.dsps) == (16, 8)


@pytest.mark.slow
def test_command_on_a_whole_accelerator_writes_json_and_uses_the_planned_dsps(tmp_path):
    """``python -m hw.synth --json`` on the smallest accelerator under a DSP limit, on ECP5,
    whose mapping puts even a 2 x 2-bit product in a MULT18X18D: nothing but the planned
    multipliers takes a DSP (the DMA's constant multiples are shifts and adds), and the
    banks take the block RAMs their shapes say (the DMA's queues and the parameter-tag
    FIFOs add a few). It also keeps ABC9 working on the whole design (Yosys' ABC9 asserted
    on it without ``splitnets``, and the fallback took over 10 minutes)."""
    config = AcceleratorConfig(pe=4, sram_bytes=70_000, alpha=0.25, resolution=32, dsp_limit=56)
    plan = config.multipliers
    assert (plan.requant_dsps, plan.pointwise, plan.depthwise, plan.depthwise_lut) == (32, 16, 36, 28)
    out = tmp_path / "synth.json"
    result = subprocess.run([sys.executable, "-m", "hw.synth", "--pe", "4", "--sram", "70kB",
                             "--alpha", "0.25", "--resolution", "32", "--dsp-limit", "56",
                             "--target", "ecp5", "--no-pnr", "--json", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    assert "ABC9 stopped" not in result.stdout
    # no handshake that is constant in the accelerator is left in it as flip-flops that a
    # constant holds (hw.synth.held_flip_flops: the depthwise beats skid's were, f6f7e4a)
    assert "held by a constant" not in result.stdout
    document = json.loads(out.read_text())
    assert {"luts", "ffs", "dsps", "brams", "fmax_mhz"} <= set(document)
    assert document["fmax_mhz"] is None and document["fits"]
    assert document["yosys_version"].startswith("Yosys 0.") and len(document["date"]) == 10
    assert document["dsps"] == config.dsp_estimate == 56
    # the banks, plus the DMA's queues and the parameter-tag FIFOs (see bram_estimate)
    assert bram_estimate(config, "ecp5") <= document["brams"] <= bram_estimate(config, "ecp5") + 8
    assert document["predicted_cycles"] == sum(step.cycles for step in network_cost(config))
    assert "  DSPs          56 of     156 ( 35.9 %)" in result.stdout


def test_fit_packs_then_limits():
    config = AcceleratorConfig(pe=16, sram_bytes=1_000_000)
    assert config.dsp_estimate == 256 + 144 + 96  # pointwise, depthwise, requantisers (shared)
    on_7series = fitted(config, DEVICES["xc7a100t"])  # 240 DSP48E1
    assert on_7series.dsp_packing and on_7series.dsp_limit == 240 and on_7series.dsp_estimate == 240
    assert fitted(config, DEVICES["xc7a200t"]) == config  # 496 of 740: nothing to do
    on_ecp5 = fitted(config, DEVICES["85k"])
    assert not on_ecp5.dsp_packing and on_ecp5.dsp_estimate == 156
    assert on_ecp5.multipliers.lut_products == 496 - 156
    assert fitted(AcceleratorConfig(pe=4, sram_bytes=100_000, alpha=0.25, resolution=64),
                  DEVICES["85k"]).dsp_limit is None


def test_bram_estimate_counts_whole_blocks_by_width():
    config = AcceleratorConfig(pe=16, sram_bytes=1_000_000)
    # a 1152-bit parameter word takes 32 DP16KD (512 x 36) or 16 RAMB36 (512 x 72), x 2 halves
    params = config.bank["dw_params"]
    assert (params.width, params.depth, params.copies) == (1152, 64, 2)
    assert bram_estimate(config, "ecp5") > config.sram_bytes * 8 / 18432  # more than bits / block
    assert bram_estimate(config, "xilinx") < bram_estimate(config, "ecp5")


def test_largest_sram_fits_and_the_next_kilobyte_does_not():
    from dataclasses import replace
    config = AcceleratorConfig(pe=8, sram_bytes=200_000, alpha=0.25, resolution=128)
    size = largest_sram(config, 200, "ecp5")
    assert config.sram_min_bytes <= size
    assert bram_estimate(replace(config, sram_bytes=size), "ecp5") <= 200
    assert bram_estimate(replace(config, sram_bytes=size + 1000), "ecp5") > 200
    # pe 16 at its minimum SRAM: the fixed banks alone need more than an 85k has
    assert largest_sram(AcceleratorConfig(pe=16), 208, "ecp5") is None


def test_a_tool_over_its_time_is_stopped(tmp_path):
    """What stops a place and route that does not converge: the tool is killed at the
    timeout, progress came from its log meanwhile, and the error says where it was."""
    import time

    from hw.synth import _run_logged

    script = ("import time\nfor k in range(100):\n    print(f'Info: step {k}', flush=True)\n"
              "    open('tool.log', 'a').write(f'Info: step {k}\\n')\n    time.sleep(0.1)\n")
    seen = []
    start = time.perf_counter()
    with pytest.raises(TimeoutError, match=r"^tool did not finish in 0\.025 min \(last: step \d+\)$"):
        _run_logged([sys.executable, "-c", script], tmp_path, "tool.log",
                    lambda log: log.splitlines()[-1][6:] if log else None, seen.append, "tool",
                    every=0.3, timeout=1.5)
    assert time.perf_counter() - start < 5  # killed, not waited for (the tool needs 10 s)
    assert seen and all(line.startswith("  tool: ") for line in seen)


_TOOL_UNDER_TERM = """
import sys, time
from pathlib import Path
from hw.synth import _run_logged
from model.cli import run_main
def main(argv):
    child = "import os, time; open('child.pid', 'w').write(str(os.getpid())); time.sleep(120)"
    _run_logged([sys.executable, "-c", child], Path(sys.argv[1]), "tool.log", lambda log: None,
                print, "tool", every=0.2)
sys.exit(run_main("python -m hw.synth", main))
"""


def test_sigterm_stops_the_tool_too(tmp_path):
    """``kill`` (SIGTERM) on a command running a tool (nextpnr, Yosys) stops the tool
    with it, not only Ctrl-C: one line, exit 143, no orphan left running."""
    import os
    import signal
    import subprocess
    import time

    process = subprocess.Popen([sys.executable, "-c", _TOOL_UNDER_TERM, str(tmp_path)],
                               cwd=Path(__file__).resolve().parents[1], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    pid_file = tmp_path / "child.pid"
    deadline = time.monotonic() + 60
    while not (pid_file.exists() and pid_file.read_text()):
        assert time.monotonic() < deadline and process.poll() is None, process.stderr.read()
        time.sleep(0.1)
    child = int(pid_file.read_text())
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 143, stderr
    assert stderr.strip().splitlines() == ["python -m hw.synth: terminated"]
    for _ in range(50):  # the tool is killed and reaped by the time its parent exits
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(child, signal.SIGKILL)
        raise AssertionError("the tool outlived the command SIGTERM stopped")


def _registered_product():
    """A tiny real design for nextpnr: two input registers, an 18x18 product, a register."""
    from amaranth import Module, Signal, signed
    from amaranth.lib import wiring
    from amaranth.lib.wiring import In, Out

    class RegisteredProduct(wiring.Component):
        a: In(signed(18))
        b: In(signed(18))
        p: Out(signed(36))

        def elaborate(self, platform):
            m = Module()
            ra, rb = Signal(signed(18)), Signal(signed(18))
            m.d.sync += [ra.eq(self.a), rb.eq(self.b), self.p.eq(ra * rb)]
            return m

    return RegisteredProduct()


def test_held_flip_flops_are_those_a_constant_lut_holds():
    """hw.synth.held_flip_flops: a TRELLIS_FF whose set/reset a constant-1 LUT drives (or a
    constant 0 through an inverting LSRMUX), or whose clock enable a constant 0 drives, is
    held; one whose LUT has a signal input, or whose constant is the inactive level, is
    not."""
    from hw.synth import held_flip_flops

    def lut(out, init, inputs=("0", "0", "0", "0")):
        return {"type": "LUT4", "parameters": {"INIT": init},
                "connections": {**dict(zip("ABCD", ([i] for i in inputs))), "Z": [out]}}

    def ff(lsr, ce, lsrmux="LSR"):
        return {"type": "TRELLIS_FF", "parameters": {"LSRMUX": lsrmux, "CEMUX": "CE"},
                "connections": {"LSR": [lsr], "CE": [ce], "DI": [9], "Q": [10]}}

    cells = {
        "one": lut(2, "1" * 16), "zero": lut(3, "0" * 16), "live": lut(4, "1" * 16, (5, "0", "0", "0")),
        "one_at_b": lut(6, "0000000000000100", ("0", "1", "0", "0")),  # INIT bit 2: B = 1
        "reset_held": ff(2, 7), "inverted_held": ff(3, 7, "INV"), "enable_off": ff(8, 3),
        "b_held": ff(6, 7), "live_reset": ff(4, 7), "reset_released": ff(3, 7), "free": ff(8, 7),
    }
    netlist = {"modules": {"top": {"attributes": {"top": 1}, "cells": cells}}}
    assert held_flip_flops(netlist) == ["b_held", "enable_off", "inverted_held", "reset_held"]


def test_on_global_clock_buffers_the_clock_and_keeps_the_ports():
    """hw.synth's ECP5 designs take their clock and their reset through a DCCA each (the
    buffer of a global network; a top-level input has no driver out of context, and
    nextpnr routes no net without one) and have the design's ports, clk and rst
    included, by the same names."""
    from amaranth.back import rtlil

    from hw.synth import on_global_clock

    netlist = rtlil.convert(on_global_clock(_registered_product()), name="product")
    assert netlist.count("cell \\DCCA ") == 2
    for port in ("clk", "rst"):
        buffer = netlist[netlist.index(f"cell \\DCCA \\{port}_buffer"):]
        buffer = buffer[:buffer.index("end\n")]
        driven = re.search(r"connect \\CLKO (\S+)", buffer).group(1)
        assert f"connect \\CLKI \\{port} [0]" in buffer
        assert f"connect \\{port}_global {driven} [0]" in netlist  # ECP5_IS_GLOBAL, keep
    top = netlist[netlist.index("module \\product\n"):]
    top = top[:top.index("\nend\n")]
    for port in ("a", "b", "p", "clk", "rst"):
        assert re.search(rf"wire width \d+ (input|output) \d+ .*\\{port}$", top, re.M), port


#: nextpnr-ecp5's log as it reads in the middle of router1 (lines of a pe-8 run, cut).
NEXTPNR_ROUTING = """\
Info:     at iteration #22, type ALL: wirelen solved = 183012, spread = 487100, legal = 601874; time = 6.10s
Info: HeAP Placer Time: 172.90s
Info:   at iteration #1: temp = 0.000000, timing cost = 2309, wirelen = 602174
Info:   at iteration #28: temp = 0.000000, timing cost = 811, wirelen = 476095
Info: SA placement time 361.80s
Info: Routing..
Info: Setting up routing queue.
Info: Routing 149122 arcs.
Info:            |   (re-)routed arcs  |   delta    | remaining|       time spent     |
Info:    IterCnt |  w/ripup   wo/ripup |  w/r  wo/r |      arcs| batch(sec) total(sec)|
Info:       1000 |        0        999 |    0   999 |    148129|       2.04       2.04|
Info:     189000 |    54327     134672 |  287   713 |     83611|       3.61     533.03|
"""


def test_pnr_phases_say_where_nextpnr_spent_its_time():
    """hw.synth's account of a nextpnr run (its JSON's ``pnr_phases``, its progress lines):
    placement by phase, router1's seconds, routes and arcs, during a run and after it."""
    routing = pnr_phases(NEXTPNR_ROUTING)
    assert routing == {"heap_seconds": 172.9, "refine_seconds": 361.8, "route_seconds": 533.03,
                       "arcs": 149122, "routes": 189000, "arcs_left": 83611}
    assert describe_phases(routing) == ("placement 535 s (HeAP 173 s, refinement 362 s), routing 533 s "
                                        "(router1: 189,000 routes for 149,122 arcs, 83,611 left)")
    assert _nextpnr_where(NEXTPNR_ROUTING) == "router1: 83,611 of 149,122 arcs left after 189,000 routes"
    placing = NEXTPNR_ROUTING[:NEXTPNR_ROUTING.index("Info: SA placement")]
    assert _nextpnr_where(placing) == "placement: annealing refinement, iteration 28"
    assert _nextpnr_where(placing[:placing.index("Info: HeAP")]) == "placement: HeAP iteration 22"
    assert pnr_phases(placing)["route_seconds"] is None
    assert describe_phases(pnr_phases(placing)) == "placement: HeAP 173 s"
    assert describe_phases(pnr_phases(placing[:placing.index("Info: HeAP")])) == ""
    done = NEXTPNR_ROUTING + ("Info:     470517 |   130422     340095 |   11   506 |         0|"
                              "       0.93    1901.77|\nInfo: Routing complete.\nInfo: Router1 time 1901.77s\n")
    finished = pnr_phases(done)
    assert (finished["routes"], finished["arcs_left"], finished["route_seconds"]) == (470517, 0, 1901.77)
    assert describe_phases(finished).endswith("routing 1,902 s (router1: 470,517 routes for 149,122 arcs)")
    # router2, then router1 with nothing left to route: router2's time, no router1 figures
    router2 = (NEXTPNR_ROUTING[:NEXTPNR_ROUTING.index("Info: Routing..")]
               + "Info: Router2 time 88.12s\nInfo: Setting up routing queue.\nInfo: Routing 0 arcs.\n"
               "Info:          0 |        0          0 |    0     0 |         0|       0.00       0.00|\n"
               "Info: Routing complete.\nInfo: Router1 time 0.00s\n")
    assert pnr_phases(router2)["route_seconds"] == 88.12 and pnr_phases(router2)["routes"] is None
    assert describe_phases(pnr_phases(router2)).endswith(", routing 88 s")


@pytest.mark.slow
@pytest.mark.parametrize("placer, router", [(PLACERS[0], ROUTERS[0])]
                         + [(placer, ROUTERS[0]) for placer in PLACERS[1:]]
                         + [(PLACERS[0], router) for router in ROUTERS[1:]])
def test_place_and_route_reports_grade_seed_version_and_critical_path(tmp_path, placer, router):
    """nextpnr-ecp5 on a real (tiny) netlist at speed grade 8 with seed 3, by each placer
    and each router: the result says where its Fmax came from, and the critical path runs
    from a register's clock-to-q to a setup whose total delay is the period Fmax is the
    inverse of."""
    synthesize(_registered_product(), "product", "ecp5", tmp_path, progress=lambda text: None)
    pnr = place_and_route(DEVICES["85k"], tmp_path, 100.0, progress=lambda text: None,
                          speed=8, seed=3, placer=placer, router=router, timing_weight=37)
    weight = 37 if placer == "heap" else None  # the timing weight is heap's alone
    assert (pnr.speed, pnr.seed, pnr.placer, pnr.router, pnr.timing_weight) == \
        (8, 3, placer, router, weight)
    heap = " (timing weight 37)" if weight else ""
    assert pnr.version.startswith("nextpnr-") and pnr.describe() == \
        f"nextpnr-ecp5 {pnr.version}, speed grade 8, seed 3, placer {placer}{heap}, {router}"
    log = (tmp_path / "run" / "nextpnr.log").read_text()
    assert ("Running Static placer" in log) == (placer == "static")
    assert ("Router2" in log) == (router == "router2")
    assert pnr.used["MULT18X18D"] == 1
    phases = pnr.phases  # where the time went, by the placer and router that ran
    assert (phases["heap_seconds"] is not None) == (placer == "heap")
    assert phases["route_seconds"] >= 0
    if router == "router1":
        assert phases["routes"] >= phases["arcs"] > 0 and phases["arcs_left"] == 0
    # The clock and the reset on global networks through their DCCAs (on_global_clock):
    # the clock not through the fabric, the reset routed at all.
    assert pnr.used["DCCA"] == 2
    for net in ("clk_global", "rst_global"):
        assert re.search(rf"routing clock net {net} using global \d+", log), net
    path = pnr.critical_path
    assert path[0][0] == "clk-to-q" and path[-1][0] == "setup"
    assert all(abs(hop[2] - sum(h[1] for h in path[:i + 1])) < 0.02 for i, hop in enumerate(path))
    assert 1000 / path[-1][2] == pytest.approx(pnr.fmax_mhz, rel=0.01)
    with pytest.raises(ValueError, match=r"speed must be one of \(6, 7, 8\), not 5"):
        place_and_route(DEVICES["85k"], tmp_path, 100.0, speed=5)
    with pytest.raises(ValueError, match=r"placer must be one of"):
        place_and_route(DEVICES["85k"], tmp_path, 100.0, placer="sa")
    with pytest.raises(ValueError, match=r"router must be one of"):
        place_and_route(DEVICES["85k"], tmp_path, 100.0, router="router3")
    with pytest.raises(ValueError, match=r"timing weight must be a non-negative integer"):
        place_and_route(DEVICES["85k"], tmp_path, 100.0, timing_weight=-1)


@pytest.mark.parametrize("path", sorted((ROOT / "docs" / "fmax").rglob("*.json")),
                         ids=lambda path: path.stem)
def test_checked_in_fmax_results_say_where_they_came_from(path):
    """The routed results kept in docs/fmax/ (what sw.run --synth and sw.explore --synth
    read; history/: the timing-closure steps before main's RTL): each is of the hardware
    its config describes and names its date, tools, speed grade and seed, and its critical
    path's delay is the period of its Fmax. A history/ result is of earlier RTL (its banks
    may be built otherwise): read as a result, not as this version's hardware."""
    from hw.synth import synthesis_clock

    document = json.loads(path.read_text())
    if "history" in path.parent.parts:
        _, fmax, source = routed_result(path)
    else:
        config = AcceleratorConfig.from_dict(document["config"])
        fmax, source = synthesis_clock(path, config)
    assert fmax == document["fmax_mhz"] and f"speed grade {document['speed_grade']}" in source
    assert document["nextpnr_version"].startswith("nextpnr-") and document["yosys_version"]
    assert document["date"] and document["seed"] >= 1
    assert 1000 / document["critical_path"][-1][2] == pytest.approx(fmax, rel=0.01)
    assert f"speed{document['speed_grade']}" in path.stem and f"seed{document['seed']}" in path.stem


@pytest.mark.slow
def test_component_alone_reports_its_own_paths_and_is_no_clock_for_sw_run(tmp_path):
    """--component places and routes one block out of context: its Fmax and critical path
    (between its own registers) are in the JSON, marked as the component's, and a
    --synth reader refuses it as the accelerator's clock."""
    out = tmp_path / "port.json"
    result = subprocess.run([sys.executable, "-m", "hw.synth", "--pe", "4", "--sram", "100kB",
                             "--alpha", "0.25", "--resolution", "64", "--component", "read-port",
                             "--freq", "125", "--seed", "2", "--json", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "the AXI read arbiter (read-port) alone, out of context" in result.stdout
    assert "of read-port's own paths" in result.stdout
    document = json.loads(out.read_text())
    assert document["component"] == "read-port" and document["frames_per_second"] is None
    assert 50 < document["fmax_mhz"] < 1000 and document["seed"] == 2
    hops = document["critical_path"]
    assert hops[0][0] == "clk-to-q" and hops[-1][0] == "setup"
    assert document["dsps"] == 0 and document["luts"] < 1000
    assert re.fullmatch(r"[0-9a-f]{12}(\+dirty)?", document["source_commit"])  # the RTL it came from
    with pytest.raises(ValueError, match="one component .read-port. placed and routed alone"):
        routed_result(out)


@pytest.mark.slow
def test_skid_flag_copies_survive_synthesis(tmp_path):
    """``hw.skid.skid_input(..., parts=...)``: Yosys (this project's ECP5 flow) keeps each
    slice's copy of the ``full`` flag instead of merging it into the handshake's, so the
    copies can be placed beside their slices' consumers: a 16-bit skid in two slices has
    16 + 3 flip-flops, in one 16 + 1; and each of its ``ready_copies`` (the block RAMs'
    read enables at pe 8) one more."""
    from amaranth.hdl import Cat, Module
    from amaranth.lib import stream, wiring
    from amaranth.lib.wiring import In, Out

    from hw.skid import skid_input

    class Skid(wiring.Component):
        def __init__(self, parts, copies):
            self._parts, self._copies = parts, copies
            super().__init__({"i": In(stream.Signature(16)), "o": Out(stream.Signature(16)),
                              "rooms": Out(max(copies, 1))})

        def elaborate(self, platform):
            m = Module()
            inner = skid_input(m, self.i, "s", parts=self._parts, ready_copies=self._copies)
            if self._copies:
                inner, readies = inner
                m.d.comb += self.rooms.eq(Cat(readies))
            wiring.connect(m, inner, wiring.flipped(self.o))
            return m

    cases = ((16,), 0), ((8, 8), 0), ((16,), 2)
    ffs = {case: synthesize(Skid(*case), "skid", "ecp5", tmp_path / str(k),
                            progress=lambda text: None).ffs for k, case in enumerate(cases)}
    assert ffs == {((16,), 0): 17, ((8, 8), 0): 19, ((16,), 2): 19}


@pytest.mark.slow
def test_dsp_ties_stay_one_pair_a_group(tmp_path):
    """``hw.products.dsp_ties``: each group of multipliers keeps its own pair of tie
    flip-flops through Yosys (not merged into one pair for the chip, which would be the
    constant net's fan-out again): three groups of one multiplier, six flip-flops."""
    from amaranth.hdl import Module, signed
    from amaranth.lib import wiring
    from amaranth.lib.wiring import In, Out

    from hw.products import ECP5, dsp_ties, registered_product

    class Products(wiring.Component):
        def __init__(self, groups):
            self._groups = groups
            super().__init__({**{f"a{k}": In(signed(8)) for k in range(groups)},
                              **{f"p{k}": Out(signed(16)) for k in range(groups)}})

        def elaborate(self, platform):
            m = Module()
            for k in range(self._groups):
                ties = dsp_ties(m, f"g{k}")
                a = getattr(self, f"a{k}")
                m.d.comb += getattr(self, f"p{k}").eq(
                    registered_product(m, ECP5, a, a + 1, 1, 1, name=f"p{k}", ties=ties))
            return m

    result = synthesize(Products(3), "products", "ecp5", tmp_path, progress=lambda text: None)
    assert result.dsps == 3 and result.ffs == 3 * 2
    # The clock enables, constant 1 here (a free-running stage's), are the high tie: a
    # net, not a constant nextpnr would route from its one constant LUT.
    cells = json.loads((tmp_path / "run" / "design.json").read_text())["modules"]["products"]["cells"]
    mults = [cell for cell in cells.values() if cell["type"] == "MULT18X18D"]
    assert len(mults) == 3
    for cell in mults:
        for pin in ("CE0", "CE1", "RST0", "SIGNEDA", "SOURCEA"):
            assert all(isinstance(bit, int) for bit in cell["connections"][pin]), (pin, cell["connections"][pin])
