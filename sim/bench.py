"""``python -m sim.bench``: MobileNet-v1 layers through the compute engine on Verilator.

The engine alone (``hw.engine``, no DMA): operands stream in from Python, so this
measures compute cycles with every operand on chip. ``python -m sw.run`` runs the whole
accelerator from DDR.

Runs every step (conv1 ... fc) of MobileNet-v1 with its real channel counts at a
resolution small enough for the run to take minutes, tile by tile through the whole
engine, checks every output word against the golden model and prints per step the
measured and predicted cycles, the pointwise-array utilisation
(MACs / (cycles x pe^2)) and the simulation speed, plus the Verilog emission time.
Figures, not a test: nothing here fails on a slow machine.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from model.atomic import write_text
from model.cli import Parser, UsageError, check_output_file, run_main

__all__ = ["main", "run_network_rtl", "select_steps", "NetworkRun"]

DESCRIPTION = """\
Benchmark the generated accelerator on MobileNet-v1 layer shapes (real channel counts,
reduced spatial size) in RTL simulation: measured vs predicted cycles per step, array
utilisation, simulation speed and Verilog emission time.

example:
  python -m sim.bench --pe 16 --resolution 64
"""


def build_parser() -> Parser:
    from hw.generate import _float, _int, _parse, parse_sram

    parser = Parser(prog="python -m sim.bench", description=DESCRIPTION)
    parser.add_argument("--pe", type=_parse("pe", _int), default=16, metavar="N",
                        help="channel lanes of the engine, 4..64 (default: 16)")
    parser.add_argument("--sram", type=_parse("size", parse_sram), default=parse_sram("1MB"),
                        metavar="SIZE",
                        help="on-chip buffer, e.g. 1MB = 1,000,000 B (default: 1MB)")
    parser.add_argument("--alpha", type=_parse("alpha", _float), default=1.0, metavar="A",
                        help="width multiplier (default: 1.0, the real channel counts)")
    parser.add_argument("--resolution", type=_parse("resolution", _int), default=64, metavar="R",
                        help="input resolution, a multiple of 32; 224 is the real network, "
                             "smaller keeps the run short (default: 64)")
    parser.add_argument("--sim", choices=["verilator", "icarus"], default="verilator",
                        help="simulator (default: verilator; icarus is ~10x slower)")
    parser.add_argument("--steps", default=None, metavar="NAMES",
                        help="comma-separated steps to run, e.g. conv1,dw2+pw2,fc (default: all)")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE",
                        help="also write the figures as JSON (its folder must exist; an "
                             "existing file is replaced)")
    return parser


@dataclass
class NetworkRun:
    """Measured and predicted figures of steps of a network run through the RTL."""

    rows: list[dict]  # per step: step, tiles, measured_cycles, predicted_cycles, error, ...
    tiles: int
    sim_cycles: int  # every simulated clock cycle, loads included
    run_seconds: float
    build_seconds: float
    reused_build: bool
    emit_seconds: float


def select_steps(config, names=None):
    """The network's steps, or those named (ValueError naming the unknown ones)."""
    from model.tiling import network_steps
    steps = network_steps(config.network)
    if names:
        unknown = sorted(set(names) - {s.name for s in steps})
        if unknown:
            raise ValueError(f"unknown step {', '.join(unknown)}; the steps are "
                             f"{', '.join(s.name for s in steps)}")
        steps = [s for s in steps if s.name in names]
    return steps


def run_network_rtl(config, steps, sim="verilator", seed=0, progress=print) -> NetworkRun:
    """Run ``steps`` of ``config.network`` tile by tile through the RTL (sim/engine_tb.py):
    every output word is checked against the golden model (a mismatch raises), and the
    measured cycles come back beside the cost model's."""
    from amaranth.back import verilog as amaranth_verilog

    from hw.engine import Engine
    from hw.pw_stage import store_layout
    from model.cost import step_cost
    from model.golden import run_network
    from model.quantize import random_input, random_mobilenet
    from model.tiling import tile_step
    from sim.runner import describe_layout, run_rtl
    from sim.stimulus import step_stimulus

    network = config.network
    start = time.perf_counter()
    verilog = amaranth_verilog.convert(Engine(config), name="mnaccel_engine", emit_src=False)
    emit_seconds = time.perf_counter() - start
    progress(f"Verilog emission: {emit_seconds:.1f} s ({len(verilog.splitlines()):,} lines)")
    progress("preparing stimulus (quantised network, golden outputs, tile programs) ...")
    qlayers = random_mobilenet(network, seed=seed)
    x = random_input(network, seed=seed)
    outputs = run_network(qlayers, x)
    names = [layer.name for layer in network]
    tiles, costs = [], {}
    for step in steps:
        index = names.index(step.first.name)
        q_step = qlayers[index:index + len(step.layers)]
        x_in = x if index == 0 else outputs[index - 1]
        tiling = tile_step(step, config.pe, config.bank["act"].depth,
                           config.bank["pw_weights"].depth)
        costs[step.name] = step_cost(tiling, config.pe, pw_share=config.pw_requant_share)
        tiles += step_stimulus(config, step, q_step, x_in, outputs[index + len(step.layers) - 1],
                               tiling, first_tile=len(tiles))
    load_beats = sum(len(t["loads"]) for t in tiles)
    progress(f"{len(steps)} steps, {len(tiles)} tiles, {load_beats:,} load beats, "
             f"{sum(t['predicted'] for t in tiles):,} predicted compute cycles")
    with tempfile.TemporaryDirectory() as folder:
        stimulus = Path(folder) / "stimulus.json"
        stimulus.write_text(json.dumps({"tiles": tiles}))
        progress(f"building and running on {sim} (the first build of a design takes a minute) ...")
        run = run_rtl(verilog, toplevel="mnaccel_engine", test_module="sim.engine_tb", sim=sim,
                      testcase="tiles/pause=none", params={
                          "stimulus": str(stimulus),
                          "store_layout": describe_layout(store_layout(config.pe)),
                          "budget_cycles": sum(t["predicted"] for t in tiles) + load_beats})
    measured = {}
    for tile in tiles:
        measured[tile["step"]] = measured.get(tile["step"], 0) + run.cycles[f"{tile['name']}/pause=none"]
    rows = []
    for step in steps:
        cost = costs[step.name]
        cycles = measured[step.name]
        rows.append({"step": step.name, "tiles": len(cost.tiles), "measured_cycles": cycles,
                     "predicted_cycles": cost.cycles,
                     "error": (cycles - cost.cycles) / cost.cycles, "macs": cost.macs,
                     "array_utilisation": cost.pointwise_macs / (cycles * config.pe ** 2)})
    return NetworkRun(rows, len(tiles), run.cycles["run/pause=none"], run.seconds.get("run", 0.0),
                      run.seconds.get("build", 0.0), run.reused_build, emit_seconds)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from hw.generate import config_from_args
    from sim.toolchain import simulator_status

    if args.json:
        check_output_file("--json", args.json)
    args.ddr_width = None  # the engine alone has no DDR port: the default, unused
    config = config_from_args(args)
    names = None
    if args.steps is not None:
        names = [name.strip() for name in args.steps.split(",") if name.strip()]
        if not names:
            raise UsageError(f"--steps names no step ({args.steps!r}); leave it out to run all")
    try:
        steps = select_steps(config, names)
    except ValueError as error:
        raise UsageError(f"--steps: {error}") from None
    available, reason = simulator_status(args.sim)
    if not available:
        raise UsageError(reason)
    print(f"{config.network.name} on pe {config.pe}, SRAM {config.sram_bytes:,} B, {args.sim}")
    result = run_network_rtl(config, steps, args.sim, progress=lambda text: print(text, flush=True))
    rows = result.rows

    header = f"{'step':<11} {'tiles':>5} {'measured':>10} {'predicted':>10} {'error':>7} " \
             f"{'MACs':>12} {'array util':>10}"
    print()
    print(header)
    print("-" * len(header))
    for row in rows:
        print(f"{row['step']:<11} {row['tiles']:>5} {row['measured_cycles']:>10,} "
              f"{row['predicted_cycles']:>10,} {100 * row['error']:>6.2f}% {row['macs']:>12,} "
              f"{100 * row['array_utilisation']:>9.1f}%")
    total_measured = sum(r["measured_cycles"] for r in rows)
    total_predicted = sum(r["predicted_cycles"] for r in rows)
    print("-" * len(header))
    print(f"{'total':<11} {result.tiles:>5} {total_measured:>10,} {total_predicted:>10,} "
          f"{100 * (total_measured - total_predicted) / total_predicted:>6.2f}%")
    speed = result.sim_cycles / result.run_seconds if result.run_seconds else float("nan")
    print(f"\nsimulation: {result.sim_cycles:,} clock cycles (compute {total_measured:,}; the "
          f"next tile's loads overlap compute) in {result.run_seconds:.1f} s "
          f"= {speed:,.0f} cycles/s (build {result.build_seconds:.1f} s"
          f"{', reused' if result.reused_build else ''})")
    print(f"every output word matched the golden model ({result.tiles} tiles)")
    if args.json:
        write_text(args.json, json.dumps({
            "network": config.network.name, "pe": config.pe, "sram_bytes": config.sram_bytes,
            "sim": args.sim, "verilog_emit_seconds": result.emit_seconds, "steps": rows,
            "sim_cycles": result.sim_cycles, "sim_seconds": result.run_seconds,
            "sim_cycles_per_second": speed}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(run_main("python -m sim.bench", main))
