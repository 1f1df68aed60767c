"""``python -m hw.generate``: configure an accelerator and write its build folder.

Validates the configuration (one-line errors, exit code 2, nothing written on error),
prints what gets built (MAC arrays, every SRAM bank and the layer that sized it, peak
throughput) and writes the build folder: ``mnaccel.v``, ``config.json`` (the one
configuration every other part reads) and ``mnaccel_regs.h`` (the register map for
firmware, from ``hw.regs.REGISTER_MAP``).
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import time
from pathlib import Path

from model.atomic import atomic_write
from model.cli import Parser, UsageError, check_output_dir, finite_float, run_main

from .config import DDR_DATA_WIDTHS, MAX_ID_BITS, AcceleratorConfig, format_size, parse_size
from .regs import c_header, register_table

__all__ = ["main", "describe", "write_build", "emit_verilog", "verilog_ports", "TOP_NAME", "REGS_HEADER",
           "add_accelerator_arguments", "add_ddr_arguments", "add_multiplier_arguments",
           "config_from_args", "imported_model", "check_accelerator_options", "parse_sram",
           "in_option_terms", "MAX_SRAM_BYTES", "MAX_DDR_LATENCY"]

TOP_NAME = "mnaccel"
REGS_HEADER = "mnaccel_regs.h"

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
    return finite_float(text)


#: The largest --sram: on-chip RAM, more than any FPGA has.
MAX_SRAM_BYTES = 256 * 1000 ** 2
#: The largest --ddr-latency in cycles (the DDR model keeps it in a Verilog integer).
MAX_DDR_LATENCY = 1_000_000


def parse_sram(text) -> int:
    """``--sram``: :func:`hw.config.parse_size`, at most :data:`MAX_SRAM_BYTES`."""
    value = parse_size(text)
    if value > MAX_SRAM_BYTES:
        raise ValueError(f"size must be at most {format_size(MAX_SRAM_BYTES).replace(' ', '')} "
                         f"(on-chip RAM), not {text!r}")
    return value


def add_accelerator_arguments(parser) -> None:
    """--pe, --sram, --alpha, --resolution: shared with ``sw.run``."""
    parser.add_argument("--pe", type=_parse("pe", _int), default=16, metavar="N",
                        help="channel lanes, a multiple of 4 up to 64: the pointwise array does "
                             "N x N int8 MACs per cycle, the depthwise stage N channels x 9 taps "
                             "(default: 16)")
    parser.add_argument("--sram", type=_parse("size", parse_sram), default=parse_size("1MB"),
                        metavar="SIZE",
                        help="total on-chip buffer: bytes with an optional unit, e.g. 1MB "
                             "(1,000,000 B), 512KiB (524,288 B), 1048576; at most 256MB "
                             "(default: 1MB)")
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


def add_ddr_arguments(parser, clock_help: str | None = None) -> None:
    """The DDR and clock options, shared with ``sw.run``. With ``clock_help``, a command
    that finds its clock elsewhere when none is given (a routed Fmax) describes
    ``--clock-mhz`` so, and its default is None (not given)."""
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
                        help="DDR read latency in cycles, 0..1,000,000 (default: 64)")
    parser.add_argument("--clock-mhz", type=_parse("clock", _float),
                        default=200.0 if clock_help is None else None, metavar="MHZ",
                        help=clock_help or "clock for reporting time and frames/s, positive "
                                           "(default: 200)")
    parser.add_argument("--axi-id-bits", type=_parse("id bits", _int), default=1, metavar="BITS",
                        help="width of the AXI4 master's ID signals (m_axi_awid, bid, arid, "
                             "rid), 1..32; the core drives ID 0 and flags a response with "
                             "another ID, or not OKAY, in STATUS.error (default: 1)")


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
        from model.tflite import TFLiteImportError, load_tflite
        try:
            args._imported = load_tflite(args.tflite)
        except TFLiteImportError as error:
            raise UsageError(f"--tflite {error}") from None
    return args._imported


def _widths(widths) -> str:
    widths = [str(w) for w in widths]
    return widths[0] if len(widths) == 1 else f"{', '.join(widths[:-1])} or {widths[-1]}"


def check_accelerator_options(pe, ddr_width=None, ddr_bandwidth=None, ddr_latency=64,
                              clock_mhz=200.0, dsp_limit=None, axi_id_bits=1) -> None:
    """Refuse bad --pe, --ddr-* , --clock-mhz and --dsp-limit values in the options' own
    terms (UsageError), before the configuration is built: what the user can change."""
    if pe < 1:
        raise UsageError(f"--pe must be a positive integer, not {pe}")
    if pe > 64:
        raise UsageError(f"--pe must be at most 64, not {pe}")
    # A DDR beat (an AXI4 width, 32 bits at least) divides a pe-byte word: the load and
    # store DMA move whole words in whole beats (hw.config).
    fitting = [w for w in DDR_DATA_WIDTHS if (8 * pe) % w == 0]
    if not fitting:
        raise UsageError(f"--pe must be a multiple of 4 (a DDR beat, at least "
                         f"{DDR_DATA_WIDTHS[0]} bits, must divide a pe-byte word of {8 * pe} "
                         f"bits), not {pe}: try --pe "
                         f"{_widths([n for n in (pe - pe % 4, pe - pe % 4 + 4) if 4 <= n <= 64])}")
    if ddr_width is not None and ddr_width not in fitting:
        raise UsageError(f"--ddr-width {ddr_width} does not divide a pe-byte word (8 x pe = "
                         f"{8 * pe} bits); with --pe {pe} use --ddr-width {_widths(fitting)}")
    width = ddr_width or max(w for w in fitting if w <= 64)
    if ddr_bandwidth is not None and not 0 < ddr_bandwidth <= width // 8:
        raise UsageError(f"--ddr-bandwidth must be more than 0 and at most {width // 8} bytes per "
                         f"cycle (the {width}-bit port's peak; --ddr-width sets it), not "
                         f"{ddr_bandwidth:g}")
    if not 0 <= ddr_latency <= MAX_DDR_LATENCY:
        raise UsageError(f"--ddr-latency must be 0..{MAX_DDR_LATENCY:,} cycles, not {ddr_latency}")
    if not clock_mhz > 0:
        raise UsageError(f"--clock-mhz must be positive, not {clock_mhz:g}")
    if dsp_limit is not None and dsp_limit < 0:
        raise UsageError(f"--dsp-limit must be a non-negative integer, not {dsp_limit}")
    if not 1 <= axi_id_bits <= MAX_ID_BITS:
        raise UsageError(f"--axi-id-bits must be 1..{MAX_ID_BITS}, not {axi_id_bits}")


def config_from_args(args) -> AcceleratorConfig:
    """The configuration the command line describes (DDR defaults follow ``--pe``); a bad
    value is refused naming its option."""
    options = dict(ddr_width=getattr(args, "ddr_width", None),
                   ddr_bandwidth=getattr(args, "ddr_bandwidth", None),
                   ddr_latency=getattr(args, "ddr_latency", 64),
                   clock_mhz=getattr(args, "clock_mhz", 200.0),
                   dsp_limit=getattr(args, "dsp_limit", None),
                   axi_id_bits=getattr(args, "axi_id_bits", 1))
    check_accelerator_options(args.pe, **options)
    model = imported_model(args)
    # Without --tflite: the built-in network; AcceleratorConfig fills in 1.0-224.
    network = dict(network=model.network) if model else dict(alpha=args.alpha,
                                                              resolution=args.resolution)
    try:
        return AcceleratorConfig(pe=args.pe, sram_bytes=args.sram, **network,
                                 ddr_data_bits=options["ddr_width"],
                                 ddr_bytes_per_cycle=options["ddr_bandwidth"],
                                 ddr_latency_cycles=options["ddr_latency"],
                                 clock_mhz=options["clock_mhz"],
                                 axi_id_bits=options["axi_id_bits"],
                                 dsp_limit=options["dsp_limit"],
                                 dsp_packing=getattr(args, "dsp_packing", False))
    except ValueError as error:
        raise UsageError(in_option_terms(str(error))) from None


def in_option_terms(message: str) -> str:
    """AcceleratorConfig's message with its field named as the option that sets it."""
    for field, option in (("dsp_limit", "--dsp-limit"), ("alpha", "--alpha"),
                          ("resolution", "--resolution"), ("axi_id_bits", "--axi-id-bits")):
        if message.startswith(f"{field} "):
            return option + message[len(field):]
    if message.startswith("SRAM of "):
        need = re.search(r"needs at least (\d+) bytes", message)
        if need:
            kb = -(-int(need.group(1)) // 1000)
            return f"--sram: {message}; give --sram {kb}kB or more"
    return message


def build_parser() -> Parser:
    parser = Parser(prog="python -m hw.generate", description=DESCRIPTION)
    add_accelerator_arguments(parser)
    add_ddr_arguments(parser)
    add_multiplier_arguments(parser)
    parser.add_argument("--target", choices=TARGETS, default="portable",
                        help="portable (default): multipliers as '*' between registers, for any "
                             "simulator or synthesis tool; ecp5: every int8 and requantiser "
                             "multiplier a Lattice MULT18X18D primitive with its input and output "
                             "registers in use (what python -m hw.synth --target ecp5 places and "
                             "routes; simulate it with Lattice's library or sim/hdl/"
                             "ecp5_mult18x18d.v). Same cycles and results either way")
    parser.add_argument("-o", "--out", type=Path, default=None, metavar="DIR",
                        help="output folder (default: build/mnaccel_pe<N>); it gets mnaccel.v, "
                             "config.json and mnaccel_regs.h (the register map as a C header), "
                             "replacing those of a previous build there; a folder with other "
                             "files and no config.json is refused")
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
        f"  DMA), INCR bursts of up to 256 beats, never across 4 KiB, {config.axi_id_bits}-bit IDs "
        f"(driven 0)",
        f"  {config.ddr_data_bits}-bit; the cost model and the DDR model assume "
        f"{config.ddr_bytes_per_cycle:g} B/cycle ({config.ddr_bytes_per_cycle * config.clock_mhz / 1e3:.2f} "
        f"GB/s at {config.clock_mhz:g} MHz), latency {config.ddr_latency_cycles} cycles",
        "Control port: AXI4-Lite s_axil_* (32-bit), interrupt irq; registers (also in "
        f"{REGS_HEADER}):",
        *(f"  {line}" for line in register_table().splitlines()),
    ]
    return "\n".join(lines)


#: What ``--target`` elaborates for: the ``platform`` ``hw.products`` builds multipliers for.
TARGETS = ("portable", "ecp5")


def emit_verilog(config: AcceleratorConfig, target: str = "portable") -> str:
    """The accelerator as one self-contained Verilog module named :data:`TOP_NAME`; with
    ``target="ecp5"`` its multipliers are ECP5 primitives (``hw.products.registered_product``)."""
    from amaranth.back import verilog

    from .products import ECP5
    from .top import Accelerator
    return verilog.convert(Accelerator(config), name=TOP_NAME, emit_src=False,
                           platform=ECP5 if target == "ecp5" else None)


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
    files = [("config.json", config.to_json() + "\n"),
             (REGS_HEADER, c_header(config.pe, config.ddr_data_bits // 8))]
    if verilog_text is not None:
        files.insert(0, (f"{TOP_NAME}.v", verilog_text))
    with contextlib.ExitStack() as complete:  # renamed together once every file is written
        for name, text in files:
            complete.enter_context(atomic_write(out / name)).write(text)
            written.append(out / name)
    return written


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    out = args.out or Path("build") / f"mnaccel_pe{config.pe}"
    check_output_dir("--out", out, "config.json")
    print(describe(config))
    print(f"\nemitting Verilog for {args.target} ...", end="", flush=True)
    start = time.perf_counter()
    text = emit_verilog(config, args.target)
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
