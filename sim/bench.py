"""``python -m sim.bench``: MobileNet-v1 layers through the generated RTL on Verilator.

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
from pathlib import Path

from model.cli import Parser, UsageError, run_main

__all__ = ["main"]

DESCRIPTION = """\
Benchmark the generated accelerator on MobileNet-v1 layer shapes (real channel counts,
reduced spatial size) in RTL simulation: measured vs predicted cycles per step, array
utilisation, simulation speed and Verilog emission time.

example:
  python -m sim.bench --pe 16 --resolution 64
"""


def build_parser() -> Parser:
    parser = Parser(prog="python -m sim.bench", description=DESCRIPTION)
    parser.add_argument("--pe", type=int, default=16, metavar="N",
                        help="channel lanes of the accelerator (default: 16)")
    parser.add_argument("--sram", default="1MB", metavar="SIZE",
                        help="on-chip buffer, e.g. 1MB = 1,000,000 B (default: 1MB)")
    parser.add_argument("--alpha", type=float, default=1.0, metavar="A",
                        help="width multiplier (default: 1.0, the real channel counts)")
    parser.add_argument("--resolution", type=int, default=64, metavar="R",
                        help="input resolution, a multiple of 32; 224 is the real network, "
                             "smaller keeps the run short (default: 64)")
    parser.add_argument("--sim", choices=["verilator", "icarus"], default="verilator",
                        help="simulator (default: verilator; icarus is ~10x slower)")
    parser.add_argument("--steps", default=None, metavar="NAMES",
                        help="comma-separated steps to run, e.g. conv1,dw2+pw2,fc (default: all)")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE",
                        help="also write the figures as JSON")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from hw.config import AcceleratorConfig, parse_size
    from hw.generate import emit_verilog
    from hw.pw_stage import store_layout
    from model.cost import step_cost
    from model.golden import run_network
    from model.quantize import random_input, random_mobilenet
    from model.tiling import network_steps, tile_step
    from sim.runner import describe_layout, run_rtl
    from sim.stimulus import step_stimulus
    from sim.toolchain import simulator_status

    available, reason = simulator_status(args.sim)
    if not available:
        raise UsageError(reason)
    config = AcceleratorConfig(pe=args.pe, sram_bytes=parse_size(args.sram), alpha=args.alpha,
                               resolution=args.resolution)
    network = config.network
    steps = network_steps(network)
    if args.steps:
        wanted = [name.strip() for name in args.steps.split(",") if name.strip()]
        unknown = sorted(set(wanted) - {s.name for s in steps})
        if unknown:
            raise UsageError(f"unknown step {', '.join(unknown)}; the steps are "
                             f"{', '.join(s.name for s in steps)}")
        steps = [s for s in steps if s.name in wanted]

    print(f"{network.name} on pe {config.pe}, SRAM {config.sram_bytes:,} B, {args.sim}")
    start = time.perf_counter()
    verilog = emit_verilog(config)
    emit_seconds = time.perf_counter() - start
    print(f"Verilog emission: {emit_seconds:.1f} s ({len(verilog.splitlines()):,} lines)")

    print("preparing stimulus (quantised network, golden outputs, tile programs) ...", flush=True)
    qlayers = random_mobilenet(network, seed=0)
    x = random_input(network, seed=0)
    outputs = run_network(qlayers, x)
    names = [layer.name for layer in network]
    tiles, costs = [], {}
    for step in steps:
        index = names.index(step.first.name)
        q_step = qlayers[index:index + len(step.layers)]
        x_in = x if index == 0 else outputs[index - 1]
        tiling = tile_step(step, config.pe, config.bank["act"].depth,
                           config.bank["pw_weights"].depth)
        costs[step.name] = step_cost(tiling, config.pe)
        tiles += step_stimulus(config, step, q_step, x_in, outputs[index + len(step.layers) - 1],
                               tiling, first_tile=len(tiles))
    load_beats = sum(len(t["loads"]) for t in tiles)
    print(f"{len(steps)} steps, {len(tiles)} tiles, {load_beats:,} load beats, "
          f"{sum(t['predicted'] for t in tiles):,} predicted compute cycles", flush=True)

    with tempfile.TemporaryDirectory() as folder:
        stimulus = Path(folder) / "stimulus.json"
        stimulus.write_text(json.dumps({"tiles": tiles}))
        print(f"building and running on {args.sim} (the first build of a design takes a "
              "minute) ...", flush=True)
        run = run_rtl(verilog, toplevel="mnaccel", test_module="sim.engine_tb", sim=args.sim,
                      testcase="tiles/pause=none", params={
                          "stimulus": str(stimulus),
                          "store_layout": describe_layout(store_layout(config.pe)),
                          "budget_cycles": sum(t["predicted"] for t in tiles) + load_beats})

    measured = {}
    for tile in tiles:
        measured.setdefault(tile["step"], 0)
        measured[tile["step"]] += run.cycles[f"{tile['name']}/pause=none"]
    total_sim_cycles = run.cycles["run/pause=none"]
    run_seconds = run.seconds.get("run", 0.0)

    header = f"{'step':<11} {'tiles':>5} {'measured':>10} {'predicted':>10} {'error':>7} " \
             f"{'MACs':>12} {'array util':>10}"
    print()
    print(header)
    print("-" * len(header))
    rows = []
    for step in steps:
        cost = costs[step.name]
        cycles = measured[step.name]
        error = (cycles - cost.cycles) / cost.cycles
        util = cost.pointwise_macs / (cycles * config.pe ** 2)
        rows.append({"step": step.name, "tiles": len(cost.tiles), "measured_cycles": cycles,
                     "predicted_cycles": cost.cycles, "error": error, "macs": cost.macs,
                     "array_utilisation": util})
        print(f"{step.name:<11} {len(cost.tiles):>5} {cycles:>10,} {cost.cycles:>10,} "
              f"{100 * error:>6.2f}% {cost.macs:>12,} {100 * util:>9.1f}%")
    total_measured = sum(r["measured_cycles"] for r in rows)
    total_predicted = sum(r["predicted_cycles"] for r in rows)
    print("-" * len(header))
    print(f"{'total':<11} {len(tiles):>5} {total_measured:>10,} {total_predicted:>10,} "
          f"{100 * (total_measured - total_predicted) / total_predicted:>6.2f}%")
    speed = total_sim_cycles / run_seconds if run_seconds else float("nan")
    print(f"\nsimulation: {total_sim_cycles:,} clock cycles (compute {total_measured:,}, "
          f"loads through the 1-beat/cycle load stream the rest) in {run_seconds:.1f} s "
          f"= {speed:,.0f} cycles/s (build {run.seconds.get('build', 0.0):.1f} s"
          f"{', reused' if run.reused_build else ''})")
    print(f"every output word matched the golden model ({len(tiles)} tiles)")
    if args.json:
        args.json.write_text(json.dumps({
            "network": network.name, "pe": config.pe, "sram_bytes": config.sram_bytes,
            "sim": args.sim, "verilog_emit_seconds": emit_seconds, "steps": rows,
            "sim_cycles": total_sim_cycles, "sim_seconds": run_seconds,
            "sim_cycles_per_second": speed}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(run_main("python -m sim.bench", main))
