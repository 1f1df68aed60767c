"""``python -m hw.generate``: configure an accelerator and write its build folder.

Validates the configuration (one-line errors, exit code 2, nothing written on error),
prints what gets built (MAC arrays, every SRAM bank and the layer that sized it, peak
throughput) and writes ``config.json``, the one configuration every other part reads.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

from model.cli import Parser, run_main

from .config import DDR_DATA_WIDTHS, AcceleratorConfig, format_size, parse_size
from .regs import REGISTERS

__all__ = ["main", "describe", "write_build", "emit_verilog", "verilog_ports", "TOP_NAME",
           "add_accelerator_arguments", "add_ddr_arguments", "add_multiplier_arguments",
           "config_from_args", "imported_model"]

TOP_NAME = "mnaccel"

DESCRIPTION = """\
Generate an mnaccel accelerator for MobileNet-v1: a fused depthwise + pointwise engine
with pe channel lanes, an on-chip SRAM buffer sized from the network's layer table, a
DMA with an AXI4 master to DDR and AXI4-Lite control registers.

Sizes use SI prefixes (1 kB = 1000 B, 1 MB = 1,000,000 B); KiB and MiB are binary.

examples:
  python -m hw.generate --pe 16 --sram 1MB                      # built-in 1.0-224
  python -m hw.generate --tflite mobilenet_v1_int8.tflite --pe 16 --sram 1MB -o build/
"""


def _parse(kind, convert):
    def parse(text):
        try:
            return convert(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    parse.__name__ = kind
    return parse


def _int(text):
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"expected an integer, not {text!r}") from None


def _float(text):
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"expected a number, not {text!r}") from None


def add_accelerator_arguments(parser) -> None:
    """--pe, --sram, --alpha, --resolution: shared with ``sw.run``."""
    parser.add_argument("--pe", type=_parse("pe", _int), default=16, metavar="N",
                        help="channel lanes, a multiple of 4 up to 64: the pointwise array does N x N int8 MACs per "
                             "cycle, the depthwise stage N channels x 9 taps (default: 16)")
    parser.add_argument("--sram", type=_parse("size", parse_size), default=parse_size("1MB"),
                        metavar="SIZE",
                        help="total on-chip buffer: bytes with an optional unit, e.g. 1MB "
                             "(1,000,000 B), 512KiB (524,288 B), 1048576 (default: 1MB)")
    parser.add_argument("--tflite", type=Path, default=None, metavar="FILE",
                        help="a trained int8 .tflite MobileNet-v1 (full-integer quantisation, as "
                             "TFLite's converter writes it): its layers size the SRAM banks and "
                             "run with TFLite's arithmetic; replaces --alpha/--resolution")
    parser.add_argument("--alpha", type=_parse("alpha", _float), default=None, metavar="A",
                        help="width multiplier in (0, 1] of the built-in MobileNet-v1 (random "
                             "weights) whose layer table sizes the SRAM banks (default: 1.0)")
    parser.add_argument("--resolution", type=_parse("resolution", _int), default=None, metavar="R",
                        help="input resolution of the built-in MobileNet-v1 in pixels, a "
                             "multiple of 32 (default: 224)")


def add_ddr_arguments(parser) -> None:
    """The DDR and clock options, shared with ``sw.run``."""
    parser.add_argument("--ddr-width", type=_parse("width", _int), default=None, metavar="BITS",
                        choices=DDR_DATA_WIDTHS,
                        help="AXI4 data width of the DDR port in bits, dividing 8 x pe (a pe-byte "
                             "word is a whole number of beats) (default: the widest such of at "
                             "most 64)")
    parser.add_argument("--ddr-bandwidth", type=_parse("bandwidth", _float), default=None,
                        metavar="B",
                        help="sustained DDR bandwidth in bytes per cycle, shared by reads and "
                             "writes, for the cost model and the DDR model (default: 5, i.e. "
                             "1 GB/s at 200 MHz, or the port's peak if that is less)")
    parser.add_argument("--ddr-latency", type=_parse("latency", _int), default=64, metavar="CYCLES",
                        help="DDR read latency in cycles (default: 64)")
    parser.add_argument("--clock-mhz", type=_parse("clock", _float), default=200.0, metavar="MHZ",
                        help="clock for reporting time and frames/s (default: 200)")


def add_multiplier_arguments(parser) -> None:
    """--dsp-limit, --dsp-packing: where the multipliers go (shared with ``hw.synth`` and
    ``sw.run``); results and cycles are the same either way."""
    parser.add_argument("--dsp-limit", type=_parse("dsp limit", _int), default=None, metavar="N",
                        help="use at most N DSP multipliers (18x18 on ECP5, DSP48E1 on 7-series): "
                             "the int8 products beyond them are built in LUTs as Booth "
                             "multipliers, depthwise ones first; the requantisers' 4 x pe "
                             "multipliers always stay in DSPs (default: no limit, pe^2 + 13 pe)")
    parser.add_argument("--dsp-packing", action="store_true",
                        help="two pointwise int8 products that share an activation per DSP "
                             "(an 8 x 25-bit product: one 7-series DSP48E1; an ECP5 18x18 "
                             "multiplier cannot, so this saves nothing there)")


def imported_model(args):
    """The ``--tflite`` model (imported once per command line), or None."""
    if getattr(args, "tflite", None) is None:
        return None
    if args.alpha is not None or args.resolution is not None:
        raise ValueError("--tflite gives the network; drop --alpha and --resolution")
    if getattr(args, "_imported", None) is None:
        from model.tflite import load_tflite
        args._imported = load_tflite(args.tflite)
    return args._imported


def config_from_args(args) -> AcceleratorConfig:
    """The configuration the command line describes (DDR defaults follow ``--pe``)."""
    model = imported_model(args)
    # Without --tflite: the built-in network; AcceleratorConfig fills in 1.0-224.
    network = dict(network=model.network) if model else dict(alpha=args.alpha,
                                                              resolution=args.resolution)
    return AcceleratorConfig(pe=args.pe, sram_bytes=args.sram, **network,
                             ddr_data_bits=args.ddr_width,
                             ddr_bytes_per_cycle=args.ddr_bandwidth,
                             ddr_latency_cycles=args.ddr_latency,
                             clock_mhz=args.clock_mhz,
                             dsp_limit=getattr(args, "dsp_limit", None),
                             dsp_packing=getattr(args, "dsp_packing", False))


def build_parser() -> Parser:
    parser = Parser(prog="python -m hw.generate", description=DESCRIPTION)
    add_accelerator_arguments(parser)
    add_ddr_arguments(parser)
    add_multiplier_arguments(parser)
    parser.add_argument("-o", "--out", type=Path, default=None, metavar="DIR",
                        help="output folder (default: build/mnaccel_pe<N>); it gets config.json")
    return parser


def describe(config: AcceleratorConfig) -> str:
    """The summary a hardware engineer reads before building."""
    pe = config.pe
    lines = [
        f"mnaccel for {config.network.name}: pe {pe}, SRAM {format_size(config.sram_bytes)} "
        f"({config.sram_bytes:,} B)",
        "",
        "MAC arrays",
        f"  depthwise  {pe} channels x 9 taps = {config.depthwise_macs_per_cycle} int8 MAC/cycle",
        f"  pointwise  {pe} x {pe} = {config.pointwise_macs_per_cycle} int8 MAC/cycle "
        f"(peak {config.pointwise_macs_per_cycle * config.clock_mhz / 1e3:.1f} GMAC/s at "
        f"{config.clock_mhz:g} MHz)",
        f"  requantise 2 x {pe} lanes, TFLite's arithmetic: int32 << shift x M0 (uint{config.mult_bits}), "
        f"two roundings, zero point, clamp",
        f"  multipliers: {config.multipliers.describe()}",
        "",
        "SRAM banks",
    ]
    header = ("bank", "width x depth", "copies", "bytes", "sized by", "holds")
    rows = [(b.name, f"{b.width} x {b.depth}", str(b.copies), f"{b.bytes:,}", b.sized_by, b.purpose)
            for b in config.banks]
    used = sum(b.bytes for b in config.banks)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        lines.append(("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths))).rstrip())
    lines.append(f"  used {used:,} of {config.sram_bytes:,} B "
                 f"(minimum for this network at pe {pe}: {config.sram_min_bytes:,} B)")
    lines += [
        "",
        "DDR port: AXI4 master m_axi_* (reads: instruction fetch and load DMA; writes: store",
        "  DMA), INCR bursts of up to 256 beats, never across 4 KiB",
        f"  {config.ddr_data_bits}-bit; the cost model and the DDR model assume "
        f"{config.ddr_bytes_per_cycle:g} B/cycle ({config.ddr_bytes_per_cycle * config.clock_mhz / 1e3:.2f} "
        f"GB/s at {config.clock_mhz:g} MHz), latency {config.ddr_latency_cycles} cycles",
        "Control port: AXI4-Lite s_axil_* (32-bit), interrupt irq",
        *(f"  0x{offset:02X} {name}" for name, offset in REGISTERS.items()),
    ]
    return "\n".join(lines)


def emit_verilog(config: AcceleratorConfig) -> str:
    """The accelerator as one self-contained Verilog module named :data:`TOP_NAME`."""
    from amaranth.back import verilog

    from .top import Accelerator
    return verilog.convert(Accelerator(config), name=TOP_NAME, emit_src=False)


def verilog_ports(text: str) -> list[tuple[str, str, int]]:
    """(direction, name, width) of the top module's ports, read from the Verilog itself."""
    module = text[text.index(f"module {TOP_NAME}("):]
    header = module[:module.index(");")]
    names = [n.strip() for n in header[header.index("(") + 1:].split(",")]
    body = module[module.index(");"):]
    ports = []
    for name in names:
        match = re.search(rf"^\s*(input|output)\s+(?:wire\s+|reg\s+)?(?:\[(\d+):0\]\s+)?{re.escape(name)}\s*;",
                          body, re.M)
        if match:
            ports.append((match.group(1), name, int(match.group(2)) + 1 if match.group(2) else 1))
    return ports


def describe_ports(ports, config) -> str:
    """Ports in a stable order (clock and reset, then by name), several to a line."""
    order = {"clk": 0, "rst": 1}
    lines = ["", f"Top-level ports (module {TOP_NAME}; clk, synchronous active-high rst)"]
    cells = [f"{'in ' if d == 'input' else 'out'} {n}[{w}]" if w > 1 else
             f"{'in ' if d == 'input' else 'out'} {n}"
             for d, n, w in sorted(ports, key=lambda p: (order.get(p[1], 2), p[1]))]
    width = max(len(c) for c in cells) + 2
    for start in range(0, len(cells), 3):
        lines.append("  " + "".join(c.ljust(width) for c in cells[start:start + 3]).rstrip())
    return "\n".join(lines)


def write_build(config: AcceleratorConfig, out: Path, verilog_text: str | None = None) -> list[Path]:
    """Write the build folder atomically: files appear only when all are complete."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    files = [("config.json", config.to_json() + "\n")]
    if verilog_text is not None:
        files.insert(0, (f"{TOP_NAME}.v", verilog_text))
    for name, text in files:
        fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{name}.")
        with os.fdopen(fd, "w") as file:
            file.write(text)
        os.replace(tmp, out / name)
        written.append(out / name)
    return written


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    print(describe(config))
    out = args.out or Path("build") / f"mnaccel_pe{config.pe}"
    print("\nemitting Verilog ...", end="", flush=True)
    start = time.perf_counter()
    text = emit_verilog(config)
    seconds = time.perf_counter() - start
    print(f" {len(text.splitlines()):,} lines in {seconds:.1f} s")
    print(describe_ports(verilog_ports(text), config))
    written = write_build(config, out, text)
    print()
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main("python -m hw.generate", main))
