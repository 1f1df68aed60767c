"""``python -m sw.explore``: which MobileNet on which accelerator, by the cost model.

Sweeps PE count x SRAM size x width multiplier x resolution, evaluates every design
point with the analytical cost model (``model.cost``: the tiling the driver runs, from
DDR at the given bandwidth and latency), and writes ``sweep.csv`` and plots: the Pareto
fronts of frames/s against SRAM and against DSPs, and the paper's ImageNet accuracy
against frames/s (the accelerator-aware Figure 4). The sweep runs on a Dask cluster: a
local one on this machine's cores by default, or an existing one with ``--scheduler``;
``--confirm`` runs chosen points' networks from DDR on the RTL, on the workers.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from model.atomic import atomic_write, write_text
from model.cli import Parser, UsageError, check_output_dir, finite_float, run_main

__all__ = ["DesignPoint", "evaluate", "evaluate_batch", "sweep", "pareto", "confirm_point",
           "confirm", "main"]


@dataclass(frozen=True)
class DesignPoint:
    pe: int
    sram_bytes: int
    alpha: float
    resolution: int
    feasible: bool
    reason: str
    cycles: int | None
    frames_per_second: float | None
    mult_adds: int
    params: int
    array_utilisation: float | None
    sram_min_bytes: int | None
    dsps: int
    accuracy: float | None  # the paper's ImageNet top-1, where it prints one
    compute_cycles: int | None = None  # the floor with every operand on chip
    ddr_mb_per_frame: float | None = None
    ddr_bound_steps: int | None = None  # steps whose DDR bytes take longer than their compute
    clock_mhz: float | None = None  # the clock of frames_per_second ...
    clock_source: str = ""  # ... and where it came from (--synth's Fmax, or --clock-mhz)


def _paper_accuracy():
    from model.paper import PAPER_MODELS
    return {(m.alpha, m.resolution): m.accuracy for m in PAPER_MODELS if m.dataset == "ImageNet"}


def evaluate(pe: int, sram_bytes: int, alpha: float, resolution: int,
             settings: dict | None = None, clocks: dict | None = None) -> DesignPoint:
    """One design point by the cost model (pure: safe to run on any worker). ``settings``
    are the other ``AcceleratorConfig`` fields (DDR, clock, multipliers) for every point;
    ``clocks`` maps a pe to (MHz, source) that replaces the settings' clock at that pe
    (:func:`clocks_from_synthesis`)."""
    from hw.config import AcceleratorConfig, multiplier_plan
    from model.cost import network_cost
    from model.layers import mobilenet_v1

    settings = dict(settings or {})
    mhz, source = (clocks or {}).get(pe, (settings.get("clock_mhz", 200.0), "--clock-mhz"))
    settings["clock_mhz"] = mhz
    network = mobilenet_v1(alpha, resolution)
    accuracy = _paper_accuracy().get((alpha, resolution))
    base = dict(pe=pe, sram_bytes=sram_bytes, alpha=alpha, resolution=resolution,
                mult_adds=network.mult_adds, params=network.params, accuracy=accuracy,
                clock_mhz=mhz, clock_source=source)
    try:
        config = AcceleratorConfig(pe=pe, sram_bytes=sram_bytes, alpha=alpha,
                                   resolution=resolution, **settings)
    except ValueError as error:
        try:
            dsps = multiplier_plan(pe, settings.get("dsp_packing", False), settings.get("dsp_limit")).dsps
        except ValueError:
            dsps = multiplier_plan(pe, settings.get("dsp_packing", False)).dsps
        return DesignPoint(feasible=False, reason=str(error), cycles=None,
                           frames_per_second=None, array_utilisation=None,
                           sram_min_bytes=None, dsps=dsps, **base)
    steps = network_cost(config)
    cycles = sum(step.cycles for step in steps)
    array_macs = sum(step.pointwise_macs for step in steps)
    return DesignPoint(feasible=True, reason="", cycles=cycles,
                       frames_per_second=config.clock_mhz * 1e6 / cycles,
                       array_utilisation=array_macs / (cycles * pe * pe),
                       sram_min_bytes=config.sram_min_bytes, dsps=config.dsp_estimate,
                       compute_cycles=sum(step.compute_cycles for step in steps),
                       ddr_mb_per_frame=sum(step.ddr_bytes for step in steps) / 1e6,
                       ddr_bound_steps=sum(step.bound == "ddr" for step in steps), **base)


def evaluate_batch(points, settings: dict | None = None, clocks: dict | None = None) -> list[DesignPoint]:
    return [evaluate(*point, settings=settings, clocks=clocks) for point in points]


def clocks_from_synthesis(paths) -> dict:
    """{pe: (Fmax in MHz, source)} from ``python -m hw.synth --json`` results, one per pe.
    A sweep point takes the Fmax of its pe's result: routed at one SRAM size and network,
    applied to the others of that pe (the source says so). Raises ValueError naming the
    file for a file that is no such result, has no Fmax, or repeats a pe."""
    from hw.config import AcceleratorConfig
    from hw.synth import routed_result, routed_source

    clocks = {}
    for path in paths:
        try:
            document, fmax, source = routed_result(path)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
        try:
            config = AcceleratorConfig.from_dict(document["config"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{path}: is not a python -m hw.synth --json result") from None
        if config.pe in clocks:
            raise ValueError(f"{path}: a second result for pe {config.pe} (give one per pe)")
        clocks[config.pe] = (fmax, routed_source(source, document["config"]))
    return clocks


def pareto(points, cost, benefit):
    """Points not dominated: no other point has lower-or-equal ``cost`` and higher
    ``benefit`` (or equal benefit at strictly lower cost)."""
    ordered = sorted(points, key=lambda p: (cost(p), -benefit(p)))
    front, best = [], -math.inf
    for point in ordered:
        if benefit(point) > best:
            front.append(point)
            best = benefit(point)
    return front


def sweep(grid, *, client, settings=None, clocks=None, batch=16, progress=print) -> list[DesignPoint]:
    """Evaluate every point of ``grid`` on the Dask ``client`` in batches, in grid order."""
    from distributed import as_completed

    grid = list(grid)
    batches = [grid[k:k + batch] for k in range(0, len(grid), batch)]
    futures = client.map(evaluate_batch, batches, settings=settings, clocks=clocks, pure=False)
    index = {future.key: k for k, future in enumerate(futures)}
    results = [None] * len(batches)
    done = 0
    for future in as_completed(futures):
        results[index[future.key]] = future.result()
        done += len(results[index[future.key]])
        progress(done, len(grid))
    return [point for chunk in results for point in chunk]


def confirm_point(point: DesignPoint, settings: dict | None = None, sim: str = "verilator",
                  steps: int | None = None) -> dict:
    """Run ``point``'s network (its first ``steps`` steps; all when None) from DDR on its
    accelerator in RTL simulation, as ``python -m sw.run`` does, and return measured vs
    predicted cycles and whether every output was bit-exact. Runs on a worker: it needs
    the simulators and this package there."""
    from hw.config import AcceleratorConfig
    from sw.run import execute

    settings = dict(settings or {})
    if point.clock_mhz is not None:  # the point's own clock (its pe's routed Fmax)
        settings["clock_mhz"] = point.clock_mhz
    config = AcceleratorConfig(pe=point.pe, sram_bytes=point.sram_bytes, alpha=point.alpha,
                               resolution=point.resolution, **settings)
    report = execute(config, sim, limit=steps, clock_source=point.clock_source or "--clock-mhz")
    return {"pe": point.pe, "sram_bytes": point.sram_bytes, "alpha": point.alpha,
            "resolution": point.resolution, "sim": sim, "bit_exact": report["bit_exact"],
            "steps": [{key: layer[key] for key in ("name", "measured_cycles", "predicted_cycles",
                                                  "error", "bit_exact")}
                      for layer in report["layers"]],
            "measured_cycles": report["totals"]["measured_cycles"],
            "predicted_cycles": report["totals"]["predicted_cycles"],
            "frames_per_second": report["totals"]["frames_per_second"]}


def confirm(points, *, client, settings=None, sim="verilator", steps=None) -> list[dict]:
    """:func:`confirm_point` for every point, in parallel on the Dask ``client``."""
    futures = [client.submit(confirm_point, point, settings, sim, steps, pure=False)
               for point in points]
    return client.gather(futures)


#: Every file a sweep may write into its folder.
OUTPUTS = ("sweep.csv", "pareto_sram.png", "pareto_dsps.png", "accuracy_fps.png", "confirmed.json")


def _plots(points, out: Path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    feasible = [p for p in points if p.feasible]
    written = []
    top_res = max(p.resolution for p in feasible)
    for name, cost, label, scale in (("pareto_sram.png", lambda p: p.sram_bytes, "SRAM (MB)", 1e6),
                                     ("pareto_dsps.png", lambda p: p.dsps, "DSP multipliers", 1)):
        fig, ax = plt.subplots(figsize=(7, 5))
        ax.scatter([cost(p) / scale for p in feasible], [p.frames_per_second for p in feasible],
                   s=8, color="0.75", label="all design points")
        # One front per network: the fastest design for each budget.
        for alpha in sorted({p.alpha for p in feasible}):
            group = [p for p in feasible if p.alpha == alpha and p.resolution == top_res]
            front = pareto(group, cost, lambda p: p.frames_per_second)
            ax.plot([cost(p) / scale for p in front], [p.frames_per_second for p in front], "o-",
                    ms=4, label=f"{alpha:g} MobileNet-{top_res} Pareto front")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("frames/s (cost model from DDR; each point's clock in sweep.csv)")
        ax.set_title(f"MobileNet-v1 on mnaccel: frames/s against {label.split(' (')[0]}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        with atomic_write(out / name, "wb") as file:
            fig.savefig(file, format="png", dpi=120)
        plt.close(fig)
        written.append(out / name)

    known = [p for p in feasible if p.accuracy is not None]
    if not known:  # no swept network is one of the paper's: no accuracy to plot
        return written
    fig, ax = plt.subplots(figsize=(7, 5))
    for pe in sorted({p.pe for p in known}):
        group = [p for p in known if p.pe == pe]
        # The best SRAM for each model at this PE count.
        best = {}
        for p in group:
            key = (p.alpha, p.resolution)
            if key not in best or p.frames_per_second > best[key].frames_per_second:
                best[key] = p
        chosen = sorted(best.values(), key=lambda p: p.frames_per_second)
        ax.plot([p.frames_per_second for p in chosen], [p.accuracy for p in chosen], "o-",
                label=f"pe {pe}")
        for p in chosen:
            ax.annotate(f"{p.alpha:g}-{p.resolution}", (p.frames_per_second, p.accuracy),
                        fontsize=6, xytext=(3, 2), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("frames/s (cost model from DDR, best SRAM of the sweep)")
    ax.set_ylabel("ImageNet top-1 accuracy (%), paper Tables 6-8")
    ax.set_title("Accuracy against frames/s (accelerator-aware Figure 4)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_write(out / "accuracy_fps.png", "wb") as file:
        fig.savefig(file, format="png", dpi=120)
    plt.close(fig)
    written.append(out / "accuracy_fps.png")
    return written


DESCRIPTION = """\
Sweep PE count x SRAM size x width multiplier x resolution with the cost model (frames/s
from DDR at the given bandwidth and latency) and write DIR/sweep.csv (one row per design
point) and plots: frames/s against SRAM and against DSPs with their Pareto fronts, and
the paper's accuracy against frames/s. Runs on a local Dask cluster (this machine's
cores) unless --scheduler names one; --confirm runs chosen points on the RTL there.

examples:
  python -m sw.explore --out explore/
  python -m sw.explore --out explore/ --pe 8,16 --sram 512kB,1MB --scheduler tcp://10.0.0.5:8786
  python -m sw.explore --out explore/ --alpha 0.25 --resolution 128 --confirm 2 --confirm-steps 4
"""


def _list(convert, what):
    def parse(text):
        try:
            values = [convert(item) for item in text.split(",") if item.strip()]
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"{what}: {error}") from None
        if not values:
            raise argparse.ArgumentTypeError(f"{what}: empty list")
        return values
    return parse


def build_parser() -> Parser:
    from hw.config import parse_size
    from hw.generate import _int, _parse, add_ddr_arguments, add_multiplier_arguments, parse_sram

    from .run import DEFAULT_CLOCK_MHZ
    parser = Parser(prog="python -m sw.explore", description=DESCRIPTION)
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="output folder for sweep.csv and the plots, checked before the "
                             "sweep starts: a folder with other files and no sweep.csv is "
                             "refused, a previous sweep's files are replaced")
    parser.add_argument("--pe", type=_list(_int, "pe"), default=[4, 8, 12, 16, 24, 32],
                        metavar="LIST", help="PE counts, each 4..64 (default: 4,8,12,16,24,32)")
    parser.add_argument("--sram", type=_list(parse_sram, "sram"),
                        default=[parse_size(s) for s in ("128kB", "256kB", "384kB", "512kB", "768kB",
                                                         "1MB", "1.5MB", "2MB", "3MB", "4MB")],
                        metavar="LIST", help="SRAM sizes (default: 128kB ... 4MB, 10 sizes)")
    parser.add_argument("--alpha", type=_list(finite_float, "alpha"), default=[0.25, 0.5, 0.75, 1.0],
                        metavar="LIST", help="width multipliers (default: 0.25,0.5,0.75,1.0)")
    parser.add_argument("--resolution", type=_list(_int, "resolution"),
                        default=[96, 128, 160, 192, 224], metavar="LIST",
                        help="input resolutions (default: 96,128,160,192,224: with the default "
                             "alphas the paper's 16 models and 4 more; 1,200 design points in all)")
    # The clock: --synth's (or the checked-in table's) Fmax per pe, --clock-mhz for the
    # other pes; a given --clock-mhz replaces the table.
    add_ddr_arguments(parser, clock_help=(
        "clock for reporting frames/s of the pes without a --synth result, positive; given, "
        f"it replaces the checked-in Fmax table (default: {DEFAULT_CLOCK_MHZ:g} for a pe the "
        "table does not have)"))
    add_multiplier_arguments(parser)
    parser.add_argument("--synth", type=_list(Path, "synth"), default=None, metavar="LIST",
                        help="hw.synth --json results, one per pe (comma-separated): each pe's "
                             "points get frames/s at its routed Fmax; a pe without one uses "
                             "--clock-mhz; sweep.csv says which clock each point used (default: "
                             "the per-pe Fmax table checked into docs/fmax/, unless --clock-mhz "
                             "is given)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="address of an existing Dask scheduler (default: start a local "
                             "cluster on this machine's cores)")
    parser.add_argument("--workers", type=_parse("workers", _int), default=None, metavar="N",
                        help="local cluster workers, at most 4 x the number of cores (default: "
                             "the number of cores)")
    parser.add_argument("--confirm", type=_parse("confirm", _int), default=0, metavar="N",
                        help="confirm the N fastest points of the largest network's Pareto front "
                             "by running their networks from DDR on the RTL (as python -m sw.run "
                             "does), one point per worker; minutes per point (default: 0)")
    parser.add_argument("--confirm-steps", type=_parse("confirm steps", _int), default=None,
                        metavar="K",
                        help="confirmation runs only the first K steps of each network "
                             "(default: all of them, logits included)")
    parser.add_argument("--sim", choices=["verilator", "icarus"], default="verilator",
                        help="simulator of the confirmation runs (default: verilator)")
    return parser


def _check(args) -> None:
    """Every option's value, before the cluster starts: one line naming the option."""
    from hw.config import MAX_REQUANT_SHARE, multiplier_plan
    from hw.generate import check_accelerator_options, in_option_terms
    from hw.synth import fmax_table
    from model.layers import validate_alpha, validate_resolution

    from .run import DEFAULT_CLOCK_MHZ

    check_output_dir("--out", args.out, "sweep.csv")
    args.clocks, args.default_clock = {}, "--clock-mhz, not a place-and-route result"
    if args.clock_mhz is None:
        args.clock_mhz = DEFAULT_CLOCK_MHZ
        args.default_clock = ("the default reporting clock, not a place-and-route result "
                              + ("(no --synth result of this pe)" if args.synth else
                                 "(no routed result of this pe in docs/fmax/)"))
        if args.synth is None:  # the checked-in per-pe table
            args.clocks = {pe: clock for pe, clock in fmax_table().items() if pe in args.pe}
    for option, values, validate in (("--alpha", args.alpha, validate_alpha),
                                     ("--resolution", args.resolution, validate_resolution)):
        for value in values:
            try:
                validate(value)
            except ValueError as error:
                raise UsageError(f"{option}: {error}") from None
    for pe in args.pe:
        # The DDR and DSP options must suit every --pe of the list (the message names it).
        try:
            check_accelerator_options(pe, args.ddr_width, args.ddr_bandwidth, args.ddr_latency,
                                      args.clock_mhz, args.dsp_limit, args.axi_id_bits)
        except UsageError as error:
            message = str(error)
            raise UsageError(message if message.startswith("--pe ") else
                             f"with --pe {pe}: {message}") from None
        # The DSP limit against the most sharing any network allows this pe.
        share = max(s for s in (1, 2, 4, 8) if s <= MAX_REQUANT_SHARE and pe % s == 0)
        try:
            multiplier_plan(pe, args.dsp_packing, args.dsp_limit, share)
        except ValueError as error:
            raise UsageError(in_option_terms(str(error))) from None
    if args.synth:
        try:
            args.clocks = clocks_from_synthesis(args.synth)
        except ValueError as error:
            raise UsageError(f"--synth {error}") from None
        unused = sorted(set(args.clocks) - set(args.pe))
        if unused:
            raise UsageError(f"--synth: a result for pe {unused[0]}, which --pe does not sweep "
                             f"({', '.join(map(str, args.pe))})")
    for pe in args.pe:  # every point says which clock its frames/s are at
        args.clocks.setdefault(pe, (args.clock_mhz, args.default_clock))
    if args.scheduler is not None and not args.scheduler.strip():
        raise UsageError("--scheduler needs an address, e.g. tcp://10.0.0.5:8786 (leave it out "
                         "for a local cluster)")
    cores = os.cpu_count() or 1
    if args.workers is not None and not 1 <= args.workers <= 4 * cores:
        raise UsageError(f"--workers must be 1..{4 * cores} (4 x this machine's {cores} cores), "
                         f"not {args.workers}")
    if args.confirm < 0:
        raise UsageError(f"--confirm must be a non-negative integer, not {args.confirm}")
    if args.confirm_steps is not None and args.confirm_steps < 1:
        raise UsageError(f"--confirm-steps must be a positive integer, not {args.confirm_steps}")
    if args.confirm and args.scheduler is None:  # the local workers simulate here
        from sim.toolchain import simulator_status

        available, reason = simulator_status(args.sim)
        if not available:
            raise UsageError(f"--sim {args.sim}: {reason}")


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    grid = list(itertools.product(args.pe, args.sram, args.alpha, args.resolution))
    _check(args)
    settings = {"ddr_data_bits": args.ddr_width, "ddr_bytes_per_cycle": args.ddr_bandwidth,
                "ddr_latency_cycles": args.ddr_latency, "clock_mhz": args.clock_mhz,
                "dsp_limit": args.dsp_limit, "dsp_packing": args.dsp_packing,
                "axi_id_bits": args.axi_id_bits}
    for pe in args.pe:
        mhz, source = args.clocks[pe]
        print(f"pe {pe}: frames/s at {mhz:g} MHz ({source})")
    from distributed import Client, LocalCluster

    start = time.perf_counter()
    if args.scheduler:
        print(f"connecting to the Dask scheduler at {args.scheduler} ...", flush=True)
        try:
            client = Client(args.scheduler, timeout="10s")
        except OSError as error:
            raise UsageError(f"cannot reach the Dask scheduler at {args.scheduler}: {error}") from None
        cluster = None
    else:
        workers = args.workers or os.cpu_count() or 1
        # The workers ignore Ctrl-C (it reaches the whole process group): this process
        # alone stops the sweep and closes the cluster, so nothing prints a traceback.
        handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
        finally:
            signal.signal(signal.SIGINT, handler)
        client = Client(cluster)
        print(f"local Dask cluster: {workers} worker processes", flush=True)
    try:
        with tqdm(total=len(grid), unit="point", desc="design points", dynamic_ncols=True,
                  mininterval=1.0, delay=1.0) as bar:
            points = sweep(grid, client=client, settings=settings, clocks=args.clocks,
                           progress=lambda done, total: bar.update(done - bar.n))
        confirmed = []
        if args.confirm:
            feasible = [p for p in points if p.feasible]
            largest = [p for p in feasible
                       if (p.alpha, p.resolution) == (max(args.alpha), max(args.resolution))]
            front = pareto(largest, lambda p: p.sram_bytes, lambda p: p.frames_per_second)
            chosen = sorted(front, key=lambda p: -p.frames_per_second)[:args.confirm]
            which = f"first {args.confirm_steps} steps" if args.confirm_steps else "whole network"
            print(f"confirming {len(chosen)} design points from DDR on the RTL ({args.sim}, "
                  f"{which}) on the workers ...", flush=True)
            confirmed = confirm(chosen, client=client, settings=settings, sim=args.sim,
                                steps=args.confirm_steps)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    seconds = time.perf_counter() - start
    if not any(p.feasible for p in points):
        raise UsageError(f"no design point is feasible (e.g. pe {points[0].pe}, "
                         f"{points[0].alpha:g}-{points[0].resolution}: {points[0].reason}); "
                         f"nothing written")

    args.out.mkdir(parents=True, exist_ok=True)
    with atomic_write(args.out / "sweep.csv", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(asdict(points[0])))
        writer.writeheader()
        for point in points:
            writer.writerow(asdict(point))
    plots = _plots(points, args.out)
    feasible = [p for p in points if p.feasible]
    print(f"{len(points)} design points ({len(feasible)} feasible) in {seconds:.1f} s")
    largest = [p for p in feasible if (p.alpha, p.resolution) == (max(args.alpha), max(args.resolution))]
    if largest:
        print(f"Pareto front of {largest[0].alpha:g} MobileNet-{largest[0].resolution}, "
              f"frames/s against SRAM:")
        for p in pareto(largest, lambda p: p.sram_bytes, lambda p: p.frames_per_second):
            print(f"  pe {p.pe:>2}, SRAM {p.sram_bytes / 1e6:>5.3g} MB: {p.frames_per_second:8.1f} "
                  f"frames/s, {p.dsps} DSPs, array utilisation {100 * p.array_utilisation:.1f} %, "
                  f"DDR {p.ddr_mb_per_frame:.2f} MB/frame, {p.ddr_bound_steps} DDR-bound steps")
    known = [p for p in feasible if p.accuracy is not None]
    if known:
        print("Pareto front of accuracy against frames/s (paper accuracies):")
        for p in reversed(pareto(known, lambda p: -p.accuracy, lambda p: p.frames_per_second)):
            print(f"  {p.alpha:g} MobileNet-{p.resolution} ({p.accuracy} % top-1) on pe {p.pe}, "
                  f"SRAM {p.sram_bytes / 1e6:.3g} MB: {p.frames_per_second:.1f} frames/s")
    for result in confirmed:
        error = (result["measured_cycles"] - result["predicted_cycles"]) / result["predicted_cycles"]
        worst = max(result["steps"], key=lambda step: abs(step["error"]))
        print(f"RTL from DDR: pe {result['pe']}, SRAM {result['sram_bytes'] / 1e6:.3g} MB, "
              f"{result['alpha']:g}-{result['resolution']}, {len(result['steps'])} steps: measured "
              f"{result['measured_cycles']:,} cycles, predicted {result['predicted_cycles']:,} "
              f"({100 * error:+.2f} %; worst step {worst['name']} {100 * worst['error']:+.2f} %), "
              f"{'bit-exact' if result['bit_exact'] else 'NOT BIT-EXACT'}")
    written = [args.out / "sweep.csv", *plots]
    if confirmed:
        write_text(args.out / "confirmed.json", json.dumps(confirmed, indent=2))
        written.append(args.out / "confirmed.json")
    # A previous sweep's file that this one did not write (RTL confirmations, an accuracy
    # plot) would sit beside this sweep's as if it were of it.
    for name in OUTPUTS:
        stale = args.out / name
        if stale not in written and stale.is_file():
            stale.unlink()
            print(f"removed {stale} (of a previous sweep)")
    for path in written:
        print(f"wrote {path}")
    return 0 if all(result["bit_exact"] for result in confirmed) else 1


if __name__ == "__main__":
    sys.exit(run_main("python -m sw.explore", main))
