"""``python -m sw.soak``: random configurations through the fast model bit-exactly, a
sample of them on the RTL, measured cycles against the cost model.

Every configuration is one ``python -m sw.run`` command line (printed, so any one can be
replayed alone) drawn from ``--seed``: pe, SRAM (from the network's minimum to a few
MB), alpha, resolution, padding, DDR width, bandwidth and latency, multipliers and the
seed of the random weights and input. All of them run on the fast model (the
schedule's instructions decoded from DDR and executed with the golden model's
arithmetic); the first ``--rtl`` are drawn small enough for a simulator and run on the
RTL too. Each step's output is compared with the golden model element by element; the
RTL's measured cycles per step and per frame are compared with the cost model.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import random
import sys
import tempfile
import time
import traceback
from pathlib import Path

from model.cli import Parser, UsageError, check_output_dir, run_main

__all__ = ["draw", "draw_configurations", "run_one", "soak", "summarise", "main"]

DESCRIPTION = """\
Soak test: run N random accelerator configurations of the built-in MobileNet-v1 (random
calibrated int8 weights) on the fast model and check every step bit-exactly against
the golden model; run the first M of them (drawn small: resolution <= 64, alpha <= 0.5,
pe <= 16) on the RTL as well, where the measured cycles are compared with the cost
model's prediction per step and per frame.

The configurations are a function of --seed (and --rtl, --small: configuration i is the
same whatever --count is). Each is printed as the `python -m sw.run` command that
replays it. A draw that AcceleratorConfig refuses is counted and redrawn; a
configuration the scheduler refuses with an error is counted as refused; neither is a
pass or a failure. Any step that is not bit-exact, or any other error, is a failure and
the exit code is 1.

examples:
  python -m sw.soak --count 200 --rtl 10 --jobs 2 --out soak/
  python -m sw.soak --count 20 --jobs 2        # the fast model only, a few minutes
  python -m sw.soak --count 5 --small          # a quick check, seconds
"""

POW2_PE = (4, 8, 16, 32, 64)
ALPHAS = (0.25, 0.5, 0.75, 1.0)
RESOLUTIONS = (32, 64, 96, 128, 160, 192, 224)
RESOLUTION_WEIGHTS = (5, 5, 4, 3, 1, 1, 1)
LATENCIES = (0, 1, 4, 16, 32, 64, 100, 200)
LARGE_SRAM = 4_000_000  # the top of the SRAM range when the minimum is below it
RTL_LIMITS = {"resolution": 64, "alpha": 0.5, "pe": 16}
RTL_SRAM = 1_000_000  # the top of the SRAM range of the small (RTL) configurations
MAX_REDRAWS = 50


# -- drawing ----------------------------------------------------------------------------
def _legal_widths(pe: int) -> list[int]:
    from hw.config import DDR_DATA_WIDTHS
    return [bits for bits in DDR_DATA_WIDTHS if (8 * pe) % bits == 0]


def _fmt(value: float) -> str:
    return f"{value:g}" if value == round(value, 6) else repr(value)


def draw(rng: random.Random, small: bool = False) -> list[str]:
    """One configuration as ``sw.run`` arguments (without ``--sim``), from ``rng``.
    ``small``: within :data:`RTL_LIMITS`, cheap enough for an RTL simulation."""
    from hw.config import AcceleratorConfig, multiplier_plan

    if small:
        pe = rng.choice((4, 4, 8, 8, 12, 16))
        alpha = rng.choice((0.25, 0.25, 0.5, 0.5, round(rng.uniform(0.1, 0.5), 2)))
        resolution = rng.choice((32, 32, 64))
    else:
        # Powers of two three times as often as the other multiples of 4.
        pes = [p for p in range(4, 65, 4)]
        pe = rng.choices(pes, [3 if p in POW2_PE else 1 for p in pes])[0]
        alpha = rng.choice(ALPHAS) if rng.random() < 0.6 else round(rng.uniform(0.1, 1.0), 2)
        resolution = rng.choices(RESOLUTIONS, RESOLUTION_WEIGHTS)[0]
    padding = "symmetric" if rng.random() < 0.3 else "same"
    bits = rng.choice(_legal_widths(pe))
    peak = bits // 8
    bandwidth = round(peak * rng.uniform(0.1, 1.0), 2) or 0.1
    latency = rng.choice(LATENCIES) if rng.random() < 0.5 else rng.randint(0, 150)
    try:
        minimum = AcceleratorConfig(pe=pe, sram_bytes=10 ** 9, alpha=alpha, resolution=resolution,
                                    ddr_data_bits=bits).sram_min_bytes
    except ValueError:
        minimum = 1  # the config refuses it below, with its own reason
    top = max(RTL_SRAM if small else LARGE_SRAM, 4 * minimum)
    if rng.random() < 0.3:  # the smallest SRAM: the most tiles, the most DDR overlap
        sram = minimum
    else:
        sram = round(math.exp(rng.uniform(math.log(minimum), math.log(top))))
    argv = ["--pe", str(pe), "--sram", str(sram), "--alpha", _fmt(alpha),
            "--resolution", str(resolution)]
    if padding != "same":
        argv += ["--padding", padding]
    argv += ["--ddr-width", str(bits), "--ddr-bandwidth", _fmt(bandwidth),
             "--ddr-latency", str(latency)]
    multipliers = rng.random()
    if multipliers < 0.2:
        argv.append("--dsp-packing")
    elif multipliers < 0.4:
        plan = multiplier_plan(pe)
        argv += ["--dsp-limit", str(rng.randint(plan.requant_dsps, plan.dsps))]
    argv += ["--seed", str(rng.randrange(2 ** 31))]
    return argv


def config_of(argv: list[str]):
    """``(config, seed)`` exactly as ``python -m sw.run`` builds them from ``argv``."""
    from .run import build_parser, config_from_run_args

    args = build_parser().parse_args(argv)
    return config_from_run_args(args), args.seed


def draw_configurations(seed: int, count: int, rtl: int,
                        small_only: bool = False) -> tuple[list[dict], list[dict]]:
    """``count`` accepted configurations (the first ``rtl`` small, or all with
    ``small_only``) and the refusals met on the way. Configuration ``i`` depends only on
    ``seed``, ``i`` and whether it is small."""
    configs, refusals = [], []
    for index in range(count):
        small = index < rtl or small_only
        for attempt in range(MAX_REDRAWS):
            rng = random.Random(f"{seed}:{index}:{attempt}")
            argv = draw(rng, small)
            try:
                config_of(argv)
            except (ValueError, SystemExit) as error:
                refusals.append({"index": index, "args": argv, "stage": "config",
                                 "reason": str(error)})
                continue
            configs.append({"index": index, "args": argv, "rtl": index < rtl})
            break
        else:
            raise UsageError(f"configuration {index}: {MAX_REDRAWS} draws in a row were refused")
    return configs, refusals


def command(argv: list[str], sim: str) -> str:
    return " ".join(["python -m sw.run", *argv, "--sim", sim])


# -- running ----------------------------------------------------------------------------
def run_one(argv: list[str], sim: str, workdir: str | None = None) -> dict:
    """Run one configuration; the outcome is ``pass``, ``mismatch`` (a step not
    bit-exact), ``refused`` (the scheduler refused it with an error) or ``error``."""
    from .run import execute

    start = time.perf_counter()
    outcome = {"sim": sim, "command": command(argv, sim)}
    try:
        config, seed = config_of(argv)
        report = execute(config, sim=sim, seed=seed, workdir=workdir)
    except Exception as error:  # noqa: BLE001 - every failure is a result here
        frames = [frame.name for frame in traceback.extract_tb(error.__traceback__)]
        refused = isinstance(error, ValueError) and "build_schedule" in frames
        outcome.update(outcome="refused" if refused else "error",
                       reason=f"{type(error).__name__}: {error}",
                       seconds=round(time.perf_counter() - start, 2))
        if not refused:
            outcome["traceback"] = traceback.format_exc(limit=6)
        return outcome
    # Cycles are measured on the RTL only; the fast model's are the prediction itself.
    measured = report["totals"]["cycles_basis"] == "measured"
    keys = ("name", "bit_exact", "mismatches", "predicted_cycles", "tiles") + \
        (("measured_cycles", "error") if measured else ())
    steps = [{key: l[key] for key in keys} for l in report["layers"]]
    totals = report["totals"]
    outcome.update(
        outcome="pass" if report["bit_exact"] and report["complete"] else "mismatch",
        network=report["network"], steps=steps,
        mismatched_steps=[s["name"] for s in steps if s["bit_exact"] is False],
        predicted_cycles=totals["predicted_cycles"])
    if measured:
        outcome.update(
            measured_cycles=totals["measured_cycles"], frame_error=totals["error"],
            step_error=max((s["error"] for s in steps), key=abs),
            step_error_at=max(steps, key=lambda s: abs(s["error"]))["name"])
    outcome.update(
        sram_min_bytes=report["config"]["derived"]["sram_min_bytes"],
        tiles=sum(s["tiles"] for s in steps),
        output_sha256=[o["sha256"] for o in report["outputs"]],
        sim_wall_seconds=totals["sim_wall_seconds"], build_seconds=totals["build_seconds"],
        seconds=round(time.perf_counter() - start, 2))
    return outcome


def _fast(job):
    return run_one(job, "model")


def soak(configs: list[dict], *, sim: str = "verilator", jobs: int = 1, log=print) -> None:
    """Run every configuration on the fast model (``jobs`` processes) and the ``rtl`` ones
    on ``sim`` too; the outcomes go into each configuration as ``model`` and ``rtl``."""
    start = time.perf_counter()
    width = len(str(len(configs)))

    def report(config, result, what):
        mark = {"pass": "ok", "mismatch": "NOT BIT-EXACT", "refused": "refused",
                "error": "ERROR"}[result["outcome"]]
        extra = ""
        if result["outcome"] in ("pass", "mismatch"):
            extra = f"{result['network'].split(' ')[1]}, {result['tiles']} tiles"
            if what != "model":
                extra += (f", {result['measured_cycles']:,} cycles vs {result['predicted_cycles']:,} "
                          f"predicted ({100 * result['frame_error']:+.2f} %; worst step "
                          f"{result['step_error_at']} {100 * result['step_error']:+.2f} %)")
            if result["mismatched_steps"]:
                extra += f"; steps not bit-exact: {', '.join(result['mismatched_steps'])}"
        else:
            extra = result["reason"].splitlines()[0][:200]
        log(f"[{config['index']:>{width}}] {what:<9} {mark:<13} {result['seconds']:6.1f} s  "
            f"{extra}\n{'':>{width + 2}}   {result['command']}")

    rtl = [c for c in configs if c["rtl"]]
    log(f"fast model: {len(configs)} configurations, {jobs} job(s)"
        + (f"; RTL ({sim}): {len(rtl)} of them, one at a time beside" if rtl else ""))
    if jobs == 1 and not rtl:
        for config in configs:
            config["model"] = run_one(config["args"], "model")
            report(config, config["model"], "model")
        return
    # The fast-model runs go to a pool of processes while this one runs the RTL.
    import multiprocessing
    import threading

    lock = threading.Lock()

    def done(config):
        def callback(result):
            with lock:
                config["model"] = result
                report(config, result, "model")
        return callback

    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        pending = [pool.apply_async(_fast, (c["args"],), callback=done(c)) for c in configs]
        for config in rtl:
            with tempfile.TemporaryDirectory(prefix="mnaccel-soak-") as workdir:
                result = run_one(config["args"], sim, workdir)
            with lock:
                config["rtl_result"] = result
                report(config, result, sim)
        for job in pending:
            job.wait()
        pool.close()
        pool.join()
    log(f"done in {time.perf_counter() - start:.0f} s")
    for config in rtl:
        result, model = config["rtl_result"], config["model"]
        if result["outcome"] == "pass" and model["outcome"] == "pass":
            # Both equal the golden model step by step, so they equal each other; the
            # outputs' hashes say so once more.
            result["equals_fast_model"] = result["output_sha256"] == model["output_sha256"]


# -- summary ----------------------------------------------------------------------------
def summarise(configs: list[dict], refusals: list[dict], sim: str, seconds: float) -> tuple[str, bool]:
    """The summary text and whether everything that ran was bit-exact."""
    def count(results, outcome):
        return sum(1 for r in results if r["outcome"] == outcome)

    model = [c["model"] for c in configs]
    rtl = [c["rtl_result"] for c in configs if "rtl_result" in c]
    ran_model = [r for r in model if r["outcome"] != "refused"]
    ran_rtl = [r for r in rtl if r["outcome"] != "refused"]
    ok = all(r["outcome"] == "pass" for r in ran_model + ran_rtl) and \
        all(r.get("equals_fast_model", True) for r in rtl)
    lines = ["", "soak summary", f"  configurations drawn: {len(configs)} accepted; "
             f"{len(refusals)} refused by the configuration while drawing (redrawn)"]
    for r in refusals[:5]:
        lines.append(f"    refused: {r['reason']}")
    model_refused = count(model, "refused")
    lines.append(f"  fast model: bit-exact {count(model, 'pass')}/{len(ran_model)}"
                 + (f", refused by the scheduler {model_refused}" if model_refused else "")
                 + (f", NOT bit-exact {count(model, 'mismatch')}" if count(model, 'mismatch') else "")
                 + (f", errors {count(model, 'error')}" if count(model, 'error') else ""))
    if rtl:
        lines.append(f"  RTL ({sim}): bit-exact {count(rtl, 'pass')}/{len(ran_rtl)}"
                     + (f", NOT bit-exact {count(rtl, 'mismatch')}" if count(rtl, 'mismatch') else "")
                     + (f", errors {count(rtl, 'error')}" if count(rtl, 'error') else "")
                     + (f", refused {count(rtl, 'refused')}" if count(rtl, 'refused') else "")
                     + "; outputs equal to the fast model's: "
                     + f"{sum(1 for r in rtl if r.get('equals_fast_model'))}/{len(ran_rtl)}")
        measured = [(c, c["rtl_result"]) for c in configs
                    if c.get("rtl_result", {}).get("outcome") in ("pass", "mismatch")]
        if measured:
            exact_frames = sum(1 for _, r in measured if r["measured_cycles"] == r["predicted_cycles"])
            exact_steps = sum(1 for _, r in measured for s in r["steps"]
                              if s["measured_cycles"] == s["predicted_cycles"])
            all_steps = sum(len(r["steps"]) for _, r in measured)
            lines.append(f"  RTL cycles vs the cost model: {exact_frames}/{len(measured)} frames and "
                         f"{exact_steps}/{all_steps} steps exactly as predicted")
            c, r = max(measured, key=lambda cr: abs(cr[1]["frame_error"]))
            lines.append(f"    worst per frame: {100 * r['frame_error']:+.2f} % "
                         f"({r['measured_cycles']:,} measured, {r['predicted_cycles']:,} predicted), "
                         f"configuration {c['index']}:\n      {r['command']}")
            c, r = max(measured, key=lambda cr: abs(cr[1]["step_error"]))
            step = next(s for s in r["steps"] if s["name"] == r["step_error_at"])
            lines.append(f"    worst per step: {100 * r['step_error']:+.2f} % ({step['name']}: "
                         f"{step['measured_cycles']:,} measured, {step['predicted_cycles']:,} "
                         f"predicted, {step['tiles']} tiles), configuration {c['index']}:\n"
                         f"      {r['command']}")
            frame_errors = [abs(r["frame_error"]) for _, r in measured]
            lines.append(f"    mean |error| per frame {100 * sum(frame_errors) / len(frame_errors):.2f} %")
    for c in configs:
        for key in ("model", "rtl_result"):
            r = c.get(key)
            if r and r["outcome"] in ("mismatch", "error"):
                what = r["mismatched_steps"] if r["outcome"] == "mismatch" else r["reason"]
                lines.append(f"  FAILED configuration {c['index']} ({r['sim']}): {what}\n"
                             f"    {r['command']}")
    wall = f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
    lines.append(f"  {'PASS' if ok else 'FAIL'}: wall time {wall}")
    return "\n".join(lines), ok


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as file:
            file.write(text)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp's 0600 would outlive the rename
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_results(out: Path, configs, refusals, summary: str, meta: dict) -> list[Path]:
    """``soak.json`` (everything), ``soak.csv`` (one row per run) and ``summary.txt``,
    each written to a temporary file and renamed."""
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for c in configs:
        for key in ("model", "rtl_result"):
            r = c.get(key)
            if not r:
                continue
            rows.append({"index": c["index"], "sim": r["sim"], "outcome": r["outcome"],
                         "network": r.get("network", ""),
                         "measured_cycles": r.get("measured_cycles", ""),
                         "predicted_cycles": r.get("predicted_cycles", ""),
                         "frame_error": r.get("frame_error", ""),
                         "worst_step": r.get("step_error_at", ""),
                         "worst_step_error": r.get("step_error", ""),
                         "seconds": r["seconds"], "command": r["command"]})
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]) if rows else ["index"])
    writer.writeheader()
    writer.writerows(rows)
    paths = [out / "soak.json", out / "soak.csv", out / "summary.txt"]
    _write_atomic(paths[0], json.dumps({**meta, "configurations": configs, "refusals": refusals},
                                       indent=1) + "\n")
    _write_atomic(paths[1], text.getvalue())
    _write_atomic(paths[2], summary.lstrip("\n") + "\n")
    return paths


# -- command line -----------------------------------------------------------------------
def _count(name, minimum, maximum=None):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise UsageError(f"{name} must be an integer, not {text!r}") from None
        if value < minimum:
            raise UsageError(f"{name} must be at least {minimum}, not {value}")
        if maximum is not None and value > maximum:
            raise UsageError(f"{name} must be at most {maximum:,}, not {value:,}")
        return value
    return parse


#: More configurations than a soak runs in days; more processes than is useful.
MAX_COUNT = 100_000
MAX_JOBS = 4 * (os.cpu_count() or 1)


def build_parser() -> Parser:
    parser = Parser(prog="python -m sw.soak", description=DESCRIPTION)
    parser.add_argument("--count", type=str, default="200", metavar="N",
                        help="configurations run on the fast model, every one checked "
                             "bit-exactly step by step (default: 200)")
    parser.add_argument("--rtl", type=str, default="0", metavar="M",
                        help="how many of them (the first M, drawn with resolution <= 64, alpha "
                             "<= 0.5 and pe <= 16 so a run takes minutes) also run on the RTL, "
                             "bit-exact and with measured cycles; at most N (default: 0)")
    parser.add_argument("--sim", choices=["verilator", "icarus"], default="verilator",
                        help="the HDL simulator of the RTL runs; Icarus runs a few thousand "
                             "cycles/s, so keep --rtl small with it (default: verilator)")
    parser.add_argument("--seed", type=str, default="0", metavar="S",
                        help="seed of the draw; the same seed draws the same configurations, "
                             "weights and inputs (default: 0)")
    parser.add_argument("--jobs", type=str, default="1", metavar="J",
                        help="processes for the fast-model runs; the RTL runs go one at a time "
                             "(the Verilator build uses every core) beside them (default: 1)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="write soak.json (every configuration, its command and outcome, "
                             "per-step cycles), soak.csv (one row per run) and summary.txt "
                             "here, each atomically (default: nothing written)")
    parser.add_argument("--small", action="store_true",
                        help="draw every configuration as the RTL ones are drawn (resolution <= "
                             "64, alpha <= 0.5, pe <= 16): a check of a few seconds per "
                             "configuration instead of up to a minute")
    parser.add_argument("--quiet", action="store_true",
                        help="print the summary only, not a line per run")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    count = _count("--count", 1, MAX_COUNT)(args.count)
    rtl = _count("--rtl", 0)(args.rtl)
    jobs = _count("--jobs", 1, MAX_JOBS)(args.jobs)
    seed = _count("--seed", 0, 2**32 - 1)(args.seed)
    if rtl > count:
        raise UsageError(f"--rtl ({rtl}) must be at most --count ({count})")
    if args.out is not None:
        check_output_dir("--out", args.out, "soak.json")
    if rtl:
        from sim.toolchain import simulator_status

        available, reason = simulator_status(args.sim)
        if not available:
            raise UsageError(f"--sim {args.sim}: {reason}")
    start = time.perf_counter()
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    configs, refusals = draw_configurations(seed, count, rtl, args.small)

    def log(text):
        if not args.quiet:
            print(text, flush=True)

    soak(configs, sim=args.sim, jobs=jobs, log=log)
    seconds = time.perf_counter() - start
    summary, ok = summarise(configs, refusals, args.sim, seconds)
    print(summary)
    if args.out is not None:
        meta = {"command": " ".join(["python -m sw.soak", *(argv if argv is not None else sys.argv[1:])]),
                "started": started, "wall_seconds": round(seconds, 1), "seed": seed,
                "count": count, "rtl": rtl, "small": args.small, "sim": args.sim, "pass": ok}
        for path in write_results(args.out, configs, refusals, summary, meta):
            print(f"wrote {path}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(run_main("python -m sw.soak", main))
