"""``python -m sw.explore``: which MobileNet on which accelerator, by the cost model.

Sweeps PE count x SRAM size x width multiplier x resolution, evaluates every design
point with the analytical cost model (``model.cost``, the same tiling the driver runs),
and writes ``sweep.csv`` and plots: the Pareto fronts of frames/s against SRAM and
against DSPs, and the paper's ImageNet accuracy against frames/s (the accelerator-aware
Figure 4). The sweep runs on a Dask cluster: a local one on this machine's cores by
default, or an existing one with ``--scheduler``.

Frames/s here are compute-bound (operands on chip, at ``--clock-mhz``): the DDR terms of
the cost model are not there yet.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from model.cli import Parser, UsageError, run_main

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


def _paper_accuracy():
    from model.paper import PAPER_MODELS
    return {(m.alpha, m.resolution): m.accuracy for m in PAPER_MODELS if m.dataset == "ImageNet"}


def evaluate(pe: int, sram_bytes: int, alpha: float, resolution: int,
             clock_mhz: float = 200.0) -> DesignPoint:
    """One design point by the cost model (pure: safe to run on any worker)."""
    from hw.config import AcceleratorConfig, dsp_estimate
    from model.cost import network_cost
    from model.layers import mobilenet_v1

    network = mobilenet_v1(alpha, resolution)
    accuracy = _paper_accuracy().get((alpha, resolution))
    base = dict(pe=pe, sram_bytes=sram_bytes, alpha=alpha, resolution=resolution,
                mult_adds=network.mult_adds, params=network.params,
                dsps=dsp_estimate(pe), accuracy=accuracy)
    try:
        config = AcceleratorConfig(pe=pe, sram_bytes=sram_bytes, alpha=alpha,
                                   resolution=resolution, clock_mhz=clock_mhz)
    except ValueError as error:
        return DesignPoint(feasible=False, reason=str(error), cycles=None,
                           frames_per_second=None, array_utilisation=None,
                           sram_min_bytes=None, **base)
    steps = network_cost(config)
    cycles = sum(step.cycles for step in steps)
    array_macs = sum(step.pointwise_macs for step in steps)
    return DesignPoint(feasible=True, reason="", cycles=cycles,
                       frames_per_second=clock_mhz * 1e6 / cycles,
                       array_utilisation=array_macs / (cycles * pe * pe),
                       sram_min_bytes=config.sram_min_bytes, **base)


def evaluate_batch(points, clock_mhz: float = 200.0) -> list[DesignPoint]:
    return [evaluate(*point, clock_mhz=clock_mhz) for point in points]


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


def sweep(grid, *, client, clock_mhz=200.0, batch=16, progress=print) -> list[DesignPoint]:
    """Evaluate every point of ``grid`` on the Dask ``client`` in batches, in grid order."""
    from distributed import as_completed

    grid = list(grid)
    batches = [grid[k:k + batch] for k in range(0, len(grid), batch)]
    futures = client.map(evaluate_batch, batches, clock_mhz=clock_mhz, pure=False)
    index = {future.key: k for k, future in enumerate(futures)}
    results = [None] * len(batches)
    done = 0
    for future in as_completed(futures):
        results[index[future.key]] = future.result()
        done += len(results[index[future.key]])
        progress(done, len(grid))
    return [point for chunk in results for point in chunk]


def confirm_point(point: DesignPoint, steps, sim: str = "verilator") -> dict:
    """Run ``steps`` of ``point``'s network on its accelerator in RTL simulation (on a
    worker: it needs the simulators and this package) and return measured vs predicted."""
    from hw.config import AcceleratorConfig
    from sim.bench import run_network_rtl, select_steps

    config = AcceleratorConfig(pe=point.pe, sram_bytes=point.sram_bytes, alpha=point.alpha,
                               resolution=point.resolution)
    result = run_network_rtl(config, select_steps(config, steps), sim, progress=lambda text: None)
    return {"pe": point.pe, "sram_bytes": point.sram_bytes, "alpha": point.alpha,
            "resolution": point.resolution, "steps": result.rows,
            "measured_cycles": sum(r["measured_cycles"] for r in result.rows),
            "predicted_cycles": sum(r["predicted_cycles"] for r in result.rows)}


def confirm(points, steps, *, client, sim="verilator") -> list[dict]:
    """:func:`confirm_point` for every point, in parallel on the Dask ``client``."""
    futures = [client.submit(confirm_point, point, steps, sim, pure=False) for point in points]
    return client.gather(futures)


def _plots(points, out: Path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    feasible = [p for p in points if p.feasible]
    written = []
    top_res = max(p.resolution for p in feasible)
    for name, cost, label, scale in (("pareto_sram.png", lambda p: p.sram_bytes, "SRAM (MB)", 1e6),
                                     ("pareto_dsps.png", lambda p: p.dsps, "18x18 multipliers (DSPs)", 1)):
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
        ax.set_ylabel("frames/s (compute-bound)")
        ax.set_title(f"MobileNet-v1 on mnaccel: frames/s against {label.split(' (')[0]}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / name, dpi=120)
        plt.close(fig)
        written.append(out / name)

    known = [p for p in feasible if p.accuracy is not None]
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
    ax.set_xlabel("frames/s (compute-bound, best SRAM of the sweep)")
    ax.set_ylabel("ImageNet top-1 accuracy (%), paper Tables 6-8")
    ax.set_title("Accuracy against frames/s (accelerator-aware Figure 4)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "accuracy_fps.png", dpi=120)
    plt.close(fig)
    written.append(out / "accuracy_fps.png")
    return written


DESCRIPTION = """\
Sweep PE count x SRAM size x width multiplier x resolution with the cost model and
write DIR/sweep.csv (one row per design point) and plots: frames/s against SRAM and
against DSPs with their Pareto fronts, and the paper's accuracy against frames/s.
Runs on a local Dask cluster (this machine's cores) unless --scheduler names one.

examples:
  python -m sw.explore --out explore/
  python -m sw.explore --out explore/ --pe 8,16 --sram 512kB,1MB --scheduler tcp://10.0.0.5:8786
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
    parser = Parser(prog="python -m sw.explore", description=DESCRIPTION)
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="output folder for sweep.csv and the plots")
    parser.add_argument("--pe", type=_list(int, "pe"), default=[4, 8, 12, 16, 24, 32],
                        metavar="LIST", help="PE counts (default: 4,8,12,16,24,32)")
    parser.add_argument("--sram", type=_list(parse_size, "sram"),
                        default=[parse_size(s) for s in
                                 ("256kB", "384kB", "512kB", "768kB", "1MB", "1.5MB", "2MB", "4MB")],
                        metavar="LIST", help="SRAM sizes (default: 256kB ... 4MB, 8 sizes)")
    parser.add_argument("--alpha", type=_list(float, "alpha"), default=[0.25, 0.5, 0.75, 1.0],
                        metavar="LIST", help="width multipliers (default: 0.25,0.5,0.75,1.0)")
    parser.add_argument("--resolution", type=_list(int, "resolution"),
                        default=[128, 160, 192, 224], metavar="LIST",
                        help="input resolutions (default: 128,160,192,224: the paper's 16 models)")
    parser.add_argument("--clock-mhz", type=float, default=200.0, metavar="MHZ",
                        help="clock for frames/s (default: 200)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="address of an existing Dask scheduler (default: start a local "
                             "cluster on this machine's cores)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="local cluster workers (default: the number of cores)")
    parser.add_argument("--confirm", type=int, default=0, metavar="N",
                        help="confirm the N fastest points of the largest network's Pareto front "
                             "by RTL simulation on the workers (default: 0)")
    parser.add_argument("--confirm-steps", default="dw13+pw13,avgpool,fc", metavar="NAMES",
                        help="steps the confirmation runs (default: dw13+pw13,avgpool,fc)")
    parser.add_argument("--sim", choices=["verilator", "icarus"], default="verilator",
                        help="simulator of the confirmation runs (default: verilator)")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from model.layers import validate_alpha, validate_resolution
    for alpha in args.alpha:
        validate_alpha(alpha)
    for resolution in args.resolution:
        validate_resolution(resolution)
    for pe in args.pe:
        if pe < 1 or pe > 64:
            raise UsageError(f"pe must be in 1..64, not {pe}")
    grid = list(itertools.product(args.pe, args.sram, args.alpha, args.resolution))
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
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
        print(f"local Dask cluster: {workers} worker processes", flush=True)
    try:
        shown = set()

        def progress(done, total):
            tenth = 10 * done // total
            if tenth not in shown:
                shown.add(tenth)
                print(f"  evaluated {done}/{total} design points", flush=True)
        points = sweep(grid, client=client, clock_mhz=args.clock_mhz, progress=progress)
        confirmed = []
        if args.confirm:
            feasible = [p for p in points if p.feasible]
            largest = [p for p in feasible
                       if (p.alpha, p.resolution) == (max(args.alpha), max(args.resolution))]
            front = pareto(largest, lambda p: p.sram_bytes, lambda p: p.frames_per_second)
            chosen = sorted(front, key=lambda p: -p.frames_per_second)[:args.confirm]
            steps = [name.strip() for name in args.confirm_steps.split(",") if name.strip()]
            print(f"confirming {len(chosen)} design points by RTL simulation ({args.sim}, steps "
                  f"{', '.join(steps)}) on the workers ...", flush=True)
            confirmed = confirm(chosen, steps, client=client, sim=args.sim)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    seconds = time.perf_counter() - start

    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "sweep.csv", "w", newline="") as file:
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
                  f"frames/s, {p.dsps} DSPs, array utilisation {100 * p.array_utilisation:.1f} %")
    known = [p for p in feasible if p.accuracy is not None]
    if known:
        print("Pareto front of accuracy against frames/s (paper accuracies):")
        for p in reversed(pareto(known, lambda p: -p.accuracy, lambda p: p.frames_per_second)):
            print(f"  {p.alpha:g} MobileNet-{p.resolution} ({p.accuracy} % top-1) on pe {p.pe}, "
                  f"SRAM {p.sram_bytes / 1e6:.3g} MB: {p.frames_per_second:.1f} frames/s")
    for result in confirmed:
        error = (result["measured_cycles"] - result["predicted_cycles"]) / result["predicted_cycles"]
        print(f"RTL: pe {result['pe']}, SRAM {result['sram_bytes'] / 1e6:.3g} MB, "
              f"{result['alpha']:g}-{result['resolution']}: measured {result['measured_cycles']:,} "
              f"cycles, predicted {result['predicted_cycles']:,} ({100 * error:+.2f} %), "
              f"bit-exact")
    if confirmed:
        (args.out / "confirmed.json").write_text(json.dumps(confirmed, indent=2))
    for path in [args.out / "sweep.csv", *plots]:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main("python -m sw.explore", main))
