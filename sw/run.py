"""``python -m sw.run``: MobileNet-v1 through the generated RTL (or the fast model), step
by step from DDR, checked bit-exactly against the golden model; measured cycles against
the cost model's prediction.

Writes ``DIR/report.json``, ``DIR/layers.csv``, ``DIR/measured_vs_predicted.png`` (on the
fast model, which measures nothing: ``DIR/predicted_cycles.png``) and ``DIR/roofline.png``,
and prints the per-layer table. ``report.json``'s ``sources`` says what produced each figure.
"""

from __future__ import annotations

import csv
import hashlib
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

from hw.config import AcceleratorConfig, format_size
from model.quantize import INPUT_SCALE, INPUT_ZERO_POINT
from hw.generate import (_int, _parse, add_accelerator_arguments, add_ddr_arguments,
                         add_multiplier_arguments, config_from_args, imported_model)
from model.atomic import atomic_write
from model.cli import Parser, UsageError, check_output_dir, run_main
from model.layers import LayerKind

from .inputs import load_image, load_int8_array, parse_range

#: The reporting clock without --clock-mhz or --synth: the configuration's own default.
DEFAULT_CLOCK_MHZ = {f.name: f.default for f in dataclasses.fields(AcceleratorConfig)}["clock_mhz"]

__all__ = ["main", "build_parser", "execute", "write_report", "config_from_run_args", "run_clock",
           "DEFAULT_CLOCK_MHZ"]

DESCRIPTION = """\
Run MobileNet-v1 on an mnaccel accelerator: a user's int8 .tflite model (--tflite) or
the built-in network with random calibrated int8 weights (--alpha, --resolution). Every
step's program is fetched and executed by the accelerator from a DDR model with the
given bandwidth and latency. Checks every layer's output against the golden model and,
for a .tflite model, against LiteRT's reference kernels; prints the top-5 classes (or
the output shapes of a backbone) and compares the measured cycles of each layer (start
to done) with the cost model.

examples:
  python -m sw.run --pe 16 --sram 1MB --alpha 1.0 --resolution 224 --sim verilator --report out
  python -m sw.run --tflite mobilenet_v1_int8.tflite --image cat.jpg --pe 16 --sram 1MB \\
      --sim verilator --report out
"""


def build_parser() -> Parser:
    parser = Parser(prog="python -m sw.run", description=DESCRIPTION)
    add_accelerator_arguments(parser)
    # The clock: --clock-mhz when given, else the --synth result's Fmax, else 200 MHz.
    add_ddr_arguments(parser, clock_help=(
        "clock for reporting time and frames/s, positive; overrides --synth (default: the "
        f"--synth result's Fmax, else {DEFAULT_CLOCK_MHZ:g})"))
    add_multiplier_arguments(parser)
    parser.add_argument("--sim", choices=["verilator", "icarus", "model"], default="verilator",
                        help="verilator or icarus: the RTL on a DDR model; model: the fast "
                             "Python model (the schedule's instructions decoded and executed "
                             "with the golden model's arithmetic, cycles from the cost model) "
                             "(default: verilator)")
    parser.add_argument("--report", type=Path, default=None, metavar="DIR",
                        help="write report.json, layers.csv and the plots here (default: "
                             "report/<network>_pe<N>); checked before the run starts: a folder "
                             "with other files and no report.json is refused, a previous "
                             "report's files are replaced")
    parser.add_argument("--padding", choices=["same", "symmetric"], default="same",
                        help="how the built-in network's 3x3 layers pad: same (TensorFlow: the "
                             "extra pixel at the bottom/right) or symmetric (PyTorch: one pixel "
                             "on every side) (default: same)")
    parser.add_argument("--seed", type=_parse("seed", _int), default=0, metavar="S",
                        help="seed of the random weights and test image, a non-negative "
                             "integer (default: 0)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--image", type=Path, default=None, metavar="FILE",
                        help="a PNG or JPEG photo: resized to the input (bilinear), pixels mapped "
                             "to --input-range and quantised as the input tensor says "
                             "(default: a deterministic test image)")
    source.add_argument("--input", type=Path, default=None, metavar="X.npy",
                        help="an int8 array already in the model's input shape (H x W x 3, a "
                             "leading batch of 1 allowed), for exact tests")
    parser.add_argument("--input-range", type=_parse("range", parse_range), default=(-1.0, 1.0),
                        metavar="LO,HI",
                        help="float range the image's pixels 0..255 map to before "
                             "quantisation (default: -1,1, as Keras' MobileNet expects)")
    parser.add_argument("--synth", type=Path, default=None, metavar="FILE",
                        help="the JSON python -m hw.synth --json wrote for this hardware: "
                             "frames/s and time are given at its place-and-route Fmax, named "
                             "with its device, speed grade and seed (--clock-mhz overrides)")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    return parser


def _top5(values: np.ndarray, scale: float, zero_point: int) -> list[dict]:
    """The five largest logits, ties to the lower index, with softmax probabilities."""
    logits = (values.astype(np.float64) - zero_point) * scale
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    order = np.argsort(-values.astype(np.int64), kind="stable")[:5]
    return [{"class": int(c), "value": int(values[c]), "probability": float(probs[c])} for c in order]


def execute(config, sim: str = "verilator", seed: int = 0, progress=None, workdir=None,
            limit: int | None = None, *, model=None, image=None,
            clock_source: str = "--clock-mhz") -> dict:
    """Run the network of ``config`` and return the report (``report.json``'s content).
    ``model`` is the imported ``.tflite`` model (``model.tflite.ImportedModel``) whose
    layers ``config.network`` holds; without it the network gets random weights from
    ``seed``. ``image`` is the int8 input (default: a deterministic test image).
    ``limit`` runs only the first steps (the report then covers those; no outputs).
    ``clock_source`` says where ``config.clock_mhz`` came from (:func:`run_clock`)."""
    from model.golden import run_network
    from model.quantize import random_input, random_mobilenet
    from model.tflite import reference_run

    from .driver import Progress, run_rtl_schedule
    from .fast_model import run_model_schedule
    from .schedule import build_schedule, layer_range

    progress = progress or Progress(0, enabled=False)
    network = config.network
    t0 = time.perf_counter()
    qnet = list(model.qlayers) if model else random_mobilenet(network, seed=seed)
    if image is None:
        image = random_input(network, seed=seed, scale=qnet[0].in_scale,
                             zero_point=qnet[0].in_zero_point)
    golden = run_network(qnet, image)
    reference, reference_outputs = reference_run(model, image) if model else (None, None)
    schedule = build_schedule(config, qnet, image)
    host_seconds = time.perf_counter() - t0
    progress.total = len(schedule.steps)
    progress.note(f"{network.name}: {len(schedule.steps)} steps, "
                  f"{sum(len(s.tiling.tiles) for s in schedule.steps)} tiles, DDR image "
                  f"{format_size(schedule.size)}; host preparation {host_seconds:.1f} s")
    if sim == "model":
        result = run_model_schedule(schedule, qnet, progress, image=image)
    else:
        result = run_rtl_schedule(schedule, sim, progress, workdir=workdir, limit=limit)
    costs = [s.cost for s in schedule.steps]

    pe2 = config.pe * config.pe
    rtl = sim != "model"
    basis = "measured" if rtl else "predicted"  # what every cycle-derived figure rests on
    layers, maps = [], {}
    for index, (sched, measured, cost) in enumerate(zip(schedule.steps, result.steps, costs)):
        span = layer_range(network, sched.step)
        want = golden[span.stop - 1]
        part = sched.tiling.part
        # a band of a band group: the step's map is whole after its last band only
        got = None if part and part[0] + 1 < part[1] else schedule.read_map(result.memory, index)
        if got is None:  # kept on chip: the fast model has it, an RTL run does not
            got = result.on_chip_maps.get(index)
        if got is not None:
            got = got.reshape(want.shape)
            maps[sched.step.last.name] = got
        mismatches = None if got is None else int(np.count_nonzero(got != want))
        row = {"name": sched.name, "step": sched.step.name, "kind": cost.mode.name.lower(),
               "tiles": measured.tiles,
               # a band of a band group ([band, bands], model.cost.plan_bands): the step's
               # output rows it computes; its map is checked with the last band
               "band": [part[0] + 1, part[1]] if part else None,
               "rows": list(sched.tiling.rows) if sched.tiling.rows else None}
        if rtl:  # the fast model measures nothing: its cycles are the prediction itself
            row.update(measured_cycles=measured.cycles,
                       error=(measured.cycles - cost.cycles) / cost.cycles)
        row.update({
            "predicted_cycles": cost.cycles,
            "compute_floor_cycles": cost.compute_cycles,
            "ddr_floor_cycles": round(cost.ddr_cycles, 1),
            "ddr_bytes": sched.read_bytes + sched.write_bytes,
            "ddr_read_bytes": sched.read_bytes,
            "ddr_write_bytes": sched.write_bytes,
            # of ddr_read_bytes, a later program's first operands read during this step
            # (its first weight group; a band group's next input band)
            "prefetch_bytes": cost.prefetch_bytes,
            "weights_prefetched": sched.tiling.prefetched,  # its own, by a program before
            # over the one-tile program between (fc's, by dw13+pw13, over avgpool)
            "weights_prefetched_over": sched.tiling.prefetch_over,
            # its input band, by the program before (the next band of a band group)
            "input_prefetched": sched.tiling.input_prefetched,
            "mult_adds": cost.macs,
            "mac_utilisation": cost.pointwise_macs / (measured.cycles * pe2),
            "bound": cost.bound,
            # the output stays in the activation buffer as the next step's input (no DDR)
            "kept_on_chip": sched.tiling.output_resident,
            "input_on_chip": sched.tiling.input_resident,
            # several input bands, in turns in the two halves of one activation half,
            # while the output map fills the other (its output kept on chip)
            "input_bands_in_one_half": sched.tiling.split_input,
            # a conv's input: "image" (formed on chip) or "im2col" (the host's map)
            "conv_input": _conv_input(sched.tiling.step),
            "conv_input_choice": sched.tiling.step.host_im2col,
            # None: kept on chip in an RTL run, where only the maps that reach DDR can be
            # read; a wrong word there would show in the next map that does
            "bit_exact": None if mismatches is None else mismatches == 0,
            "mismatches": mismatches,
        })
        if reference is not None:
            # Every layer of the step: the golden model's inner maps (the depthwise output
            # never leaves the chip) and the accelerator's output, against TFLite's.
            inner = all(np.array_equal(golden[j], reference[qnet[j].layer.name])
                        for j in span)
            mine = want if got is None else got  # on chip in an RTL run: the golden map's
            row["tflite_exact"] = bool(inner and np.array_equal(mine, reference[sched.step.last.name]))
        layers.append(row)
    complete = len(layers) == len(schedule.steps)
    # every map that could be read equal to the golden model's (maps kept on chip in an
    # RTL run are checked through the steps after them), and at least one was read
    bit_exact = all(l["bit_exact"] is not False for l in layers) and \
        any(l["bit_exact"] is not None for l in layers)
    tflite_exact = all(l.get("tflite_exact", True) for l in layers) if reference is not None else None

    outputs = []
    if complete:
        scales = {q.layer.name: (q.out_scale, q.out_zero_point, q.layer.kind is LayerKind.FC)
                  for q in qnet}
        if model is not None and model.host_layers:  # a Dense classifier, on the host
            maps.update(model.run_host(maps[network.layers[-1].name]))
            scales.update({h.name: (h.out_scale, h.out_zero_point, True) for h in model.host_layers})
        specs = [(o.name, o.layer, o.shape, o.softmax) for o in model.outputs] if model else \
            [(name, name, maps[name].shape, False) for name in network.output_layers]
        for name, layer_name, shape, softmax in specs:
            tensor = np.ascontiguousarray(maps[layer_name]).reshape(shape)
            scale, zero_point, classifier = scales[layer_name]
            entry = {"name": name, "layer": layer_name, "shape": list(shape),
                     "sha256": hashlib.sha256(tensor.astype(np.int8).tobytes()).hexdigest()}
            if softmax:
                entry["before_softmax"] = True  # the model's SOFTMAX runs on the host, in float
            if classifier:  # logits
                entry["top5"] = _top5(tensor.reshape(-1), scale, zero_point)
            if reference_outputs is not None:
                entry["tflite_exact"] = bool(np.array_equal(tensor, reference_outputs[name]))
                if classifier:  # the interpreter's own ranking, for accuracy against TFLite
                    entry["tflite_top5"] = _top5(reference_outputs[name].reshape(-1), scale, zero_point)
                tflite_exact = tflite_exact and entry["tflite_exact"]
            outputs.append(entry)
    top5 = next((o["top5"] for o in outputs if "top5" in o), [])

    cycles = sum(l[f"{basis}_cycles"] for l in layers)
    predicted_total = sum(l["predicted_cycles"] for l in layers)
    roofline = sum(max(l["compute_floor_cycles"], l["ddr_floor_cycles"]) for l in layers)
    # the frame's bound: every step's compute back to back, or every DDR byte at full
    # bandwidth, whichever takes longer (no schedule of these steps can beat it)
    frame_bound = max(sum(l["compute_floor_cycles"] for l in layers),
                      sum(l["ddr_floor_cycles"] for l in layers))
    ddr_bytes = sum(l["ddr_bytes"] for l in layers)
    pw_macs = sum(c.pointwise_macs for c in costs[:len(layers)])
    wall = result.seconds.get("run", 0.0)
    totals = {"cycles_basis": basis}
    if rtl:
        totals.update(measured_cycles=cycles,
                      error=(cycles - predicted_total) / predicted_total,
                      max_layer_error=max(abs(l["error"]) for l in layers))
    totals.update({
        "predicted_cycles": predicted_total,
        "roofline_cycles": round(roofline),
        f"{basis}_over_roofline": cycles / roofline,
        "frame_bound_cycles": round(frame_bound),
        f"{basis}_over_frame_bound": cycles / frame_bound,
        "prefetch_bytes": sum(l["prefetch_bytes"] for l in layers),
        "compute_floor_cycles": sum(l["compute_floor_cycles"] for l in layers),
        "ddr_floor_cycles": round(sum(l["ddr_floor_cycles"] for l in layers)),
        "ddr_bytes": ddr_bytes,
        "ddr_mb_per_frame": ddr_bytes / 1e6,
        "mult_adds": sum(l["mult_adds"] for l in layers),
        "mac_utilisation": pw_macs / (cycles * pe2),
        "clock_mhz": config.clock_mhz,
        "clock_source": clock_source,
        "frames_per_second": config.clock_mhz * 1e6 / cycles,
        "latency_ms": cycles / (config.clock_mhz * 1e3),
        "sim": sim,
        "sim_wall_seconds": round(wall, 2),
        "sim_cycles": result.sim_cycles,
        "sim_cycles_per_second": result.sim_cycles / wall if wall else None,
        "verilog_emit_seconds": round(result.seconds.get("emit", 0.0), 2),
        "build_seconds": round(result.seconds.get("build", 0.0), 2),
        "host_seconds": round(host_seconds, 2),
    })
    return {"config": config.to_dict(), "network": network.name, "layers": layers,
            "totals": totals, "sources": _sources(sim, config.clock_mhz, clock_source),
            "bit_exact": bit_exact, "tflite_exact": tflite_exact,
            "complete": complete, "outputs": outputs, "top5": top5,
            "input": {"sha256": hashlib.sha256(np.ascontiguousarray(image, np.int8).tobytes()).hexdigest(),
                      "scale": qnet[0].in_scale, "zero_point": qnet[0].in_zero_point}}


def _sources(sim: str, clock_mhz: float, clock_source: str) -> dict:
    """What produced each figure of the report (``report.json``'s ``sources``)."""
    if sim == "model":
        basis = "predicted cycles"
        sources = {"outputs": "fast model: the schedule's instructions decoded and executed in "
                              "Python with the golden model's arithmetic",
                   "cycles": "cost model (model/cost.py) only; nothing was measured"}
    else:
        basis = "measured cycles"
        sources = {"outputs": f"{sim} simulation of the generated RTL on the DDR model "
                              "(sim/hdl/axi_ddr.v)",
                   "measured_cycles": f"{sim} simulation: the accelerator's CYCLES register, "
                                      "start to done of each step",
                   "predicted_cycles": "cost model (model/cost.py)"}
    return {**sources,
            "frames_per_second": f"{basis} at {clock_mhz:g} MHz ({clock_source})",
            "mac_utilisation": f"pointwise Mult-Adds over {basis} x pe x pe",
            "ddr_bytes": "the schedule (sw/schedule.py): the bytes each step's program moves"}


def format_table(report: dict) -> str:
    t = report["totals"]
    measured = t["cycles_basis"] == "measured"
    layers = report["layers"]
    cycle_head = ("measured", "predicted", "error") if measured else ("predicted",)

    def cycle_cells(l):
        if not measured:
            return (f"{l['predicted_cycles']:,}",)
        return f"{l['measured_cycles']:,}", f"{l['predicted_cycles']:,}", f"{100 * l['error']:+.2f}%"

    head = ("layer", "tiles", *cycle_head, "compute", "DDR floor", "DDR read", "of it next",
            "DDR write", "util", "bound", "exact")
    rows = [(l["name"], str(l["tiles"]), *cycle_cells(l), f"{l['compute_floor_cycles']:,}",
             f"{l['ddr_floor_cycles']:,.0f}", format_size(l["ddr_read_bytes"]),
             format_size(l["prefetch_bytes"]) if l["prefetch_bytes"] else "-",
             format_size(l["ddr_write_bytes"]) if not l["kept_on_chip"] else "on chip",
             f"{100 * l['mac_utilisation']:.1f}%", l["bound"],
             _exact_cell(l)) for l in layers]
    rows.append(("total", str(sum(l["tiles"] for l in layers)), *cycle_cells(t), f"{t['compute_floor_cycles']:,}",
                 f"{t['ddr_floor_cycles']:,}",
                 format_size(sum(l["ddr_read_bytes"] for l in layers)),
                 format_size(t["prefetch_bytes"]),
                 format_size(sum(l["ddr_write_bytes"] for l in layers)),
                 f"{100 * t['mac_utilisation']:.1f}%", "", "yes" if report["bit_exact"] else "NO"))
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = []
    for n, row in enumerate([head, *rows]):
        if n == len(rows):
            lines.append("  ".join("-" * w for w in widths))
        lines.append("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
    basis = t["cycles_basis"]
    if measured:
        cycles = (f"cycles {t['measured_cycles']:,} measured, {t['predicted_cycles']:,} predicted "
                  f"({100 * t['error']:+.2f}%, worst layer {100 * t['max_layer_error']:.2f}%)")
    else:
        cycles = f"cycles {t['predicted_cycles']:,} predicted by the cost model"
    lines += [
        "",
        f"{cycles}; per-layer roofline {t['roofline_cycles']:,} ({basis} = "
        f"{t[f'{basis}_over_roofline']:.3f} x), frame bound max(compute, DDR) "
        f"{t['frame_bound_cycles']:,} ({t[f'{basis}_over_frame_bound']:.3f} x)",
        f"prefetched across programs: {format_size(t['prefetch_bytes'])} read during a "
        f"program before their own ({sum(l['weights_prefetched'] for l in layers)} of "
        f"{len(layers)} programs found their first weights on chip, "
        f"{sum(l['weights_prefetched_over'] for l in layers)} of them loaded over a one-tile "
        f"program; {sum(l['input_prefetched'] for l in layers)} their input band)",
        f"{t['frames_per_second']:.1f} frames/s ({basis}) at {t['clock_mhz']:g} MHz "
        f"({t['latency_ms']:.2f} ms/frame); MAC utilisation {100 * t['mac_utilisation']:.1f}%; "
        f"DDR {t['ddr_mb_per_frame']:.2f} MB/frame",
        f"clock {t['clock_mhz']:g} MHz: {t.get('clock_source', '--clock-mhz')}",
        *_conv_lines(layers),
        *_band_lines(layers),
        _kept_line(layers),
        f"every map read back {'bit-exact with' if report['bit_exact'] else 'NOT bit-exact with'} "
        f"the golden model" + _unread_note(layers) + ("" if report.get("tflite_exact") is None else
                    f"; every layer {'equal to' if report['tflite_exact'] else 'DIFFERENT from'} "
                    f"TFLite's reference kernels (LiteRT BUILTIN_REF)"),
        *_describe_outputs(report),
    ]
    if measured:
        sim_speed = (f"{t['sim_cycles'] / t['sim_wall_seconds'] / 1e3:,.0f} k cycles/s"
                     if t["sim_wall_seconds"] else "n/a")
        lines.append(f"simulation ({t['sim']}): {t['sim_cycles']:,} cycles in "
                     f"{t['sim_wall_seconds']:.1f} s ({sim_speed}); Verilog "
                     f"{t['verilog_emit_seconds']:.1f} s, build {t['build_seconds']:.1f} s")
    else:
        lines.append("fast model: the data are computed and checked; every cycle figure is the "
                     "cost model's prediction, nothing was measured (run --sim verilator to "
                     "measure)")
    return "\n".join(lines)


def _conv_input(step) -> str | None:
    if step.from_image:
        return "image"
    return "im2col" if step.im2col else None


def _conv_lines(layers: list[dict]) -> list[str]:
    """How each conv step got its input (the planner may prefer the host's im2col map)."""
    steps = {l.get("step", l["name"]): l for l in layers if l.get("conv_input")}
    return [f"{name}: from the raw image in DDR, its windows formed on chip"
            if l["conv_input"] == "image" else
            f"{name}: from the host's im2col map in DDR"
            + (" (the planner's choice: fewer predicted cycles than from the raw image)"
               if l.get("conv_input_choice") else "")
            for name, l in steps.items()]


def _band_lines(layers: list[dict]) -> list[str]:
    """The band groups (``model.cost.plan_bands``): which steps run band by band. A
    group's first band runs each of its steps once, in order."""
    groups: list[list[dict]] = []
    for before, l in zip([None, *layers], layers):
        band = l.get("band")
        if band and band[0] == 1:
            if not (before and before.get("band") and before["band"][0] == 1):
                groups.append([])
            groups[-1].append(l)
    return [f"band group: {' -> '.join(l['step'] for l in chain)} in {chain[0]['band'][1]} bands "
            f"of output rows (the inner maps never reach DDR; halo rows are computed again "
            f"for each band)" for chain in groups]


def _kept_line(layers: list[dict]) -> str:
    kept = []
    for l in layers:
        name = l.get("step", l["name"])
        if l["kept_on_chip"] and name not in kept:
            kept.append(name)
    if not kept:
        return "maps kept on chip: none (every step's output goes to DDR)"
    return (f"maps kept on chip (never in DDR, the next step reads them, or a band of them, "
            f"in the activation buffer): {', '.join(kept)}")


def _unread_note(layers: list[dict]) -> str:
    unread = [l["name"] for l in layers if l["bit_exact"] is None
              and not (l.get("band") and l["band"][0] < l["band"][1])]
    return (f" ({len(unread)} kept on chip, not readable in an RTL run, are checked through "
            f"the maps after them)" if unread else "")


def _exact_cell(layer: dict) -> str:
    band = layer.get("band")
    if layer["bit_exact"] is None and band and band[0] < band[1]:
        return f"at b{band[1]}"  # the map is checked once its last band is made
    if layer["bit_exact"] is None:
        return "on chip"  # not readable in an RTL run; the next maps check it
    return "yes" if layer["bit_exact"] else f"NO ({layer['mismatches']})"


def _describe_outputs(report: dict) -> list[str]:
    if not report["complete"]:
        return [f"{len(report['layers'])} steps run (no outputs)"]
    lines = []
    for output in report["outputs"]:
        shape = "x".join(map(str, output["shape"]))
        if "top5" in output:
            classes = ", ".join(f"{c['class']} ({c['probability']:.3f})" for c in output["top5"])
            lines.append(f"output {output['name']} ({shape} logits): top-5 classes {classes}")
        else:
            lines.append(f"output {output['name']}: {shape} int8 (layer {output['layer']}), "
                         f"sha256 {output['sha256'][:16]}")
    return lines


def write_report(report: dict, out: Path) -> list[Path]:
    """Write the report's files into ``out``. Each appears whole or not at all (a
    temporary file renamed when complete), ``report.json`` last: an interrupted call
    leaves the previous report.json (or none) beside whatever files it completed."""
    out.mkdir(parents=True, exist_ok=True)
    cycles_plot = ("measured_vs_predicted.png" if report["totals"]["cycles_basis"] == "measured"
                   else "predicted_cycles.png")
    paths = [out / "report.json", out / "layers.csv", out / cycles_plot, out / "roofline.png",
             out / "timeline.png"]
    with atomic_write(paths[1], newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(report["layers"][0]))
        writer.writeheader()
        writer.writerows(report["layers"])
    _plot_cycles(report, paths[2])
    _plot_roofline(report, paths[3])
    _plot_timeline(report, paths[4])
    with atomic_write(paths[0]) as file:
        file.write(json.dumps(report, indent=2) + "\n")
    return paths


def _plot_cycles(report, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers = report["layers"]
    measured = report["totals"]["cycles_basis"] == "measured"
    x = np.arange(len(layers))
    fig, ax = plt.subplots(figsize=(12, 5))
    predicted = [l["predicted_cycles"] for l in layers]
    if measured:
        ax.bar(x - 0.2, [l["measured_cycles"] for l in layers], 0.4,
               label=f"measured ({report['totals']['sim']} RTL)")
        ax.bar(x + 0.2, predicted, 0.4, label="predicted (cost model)")
        for i, l in enumerate(layers):
            ax.annotate(f"{100 * l['error']:+.1f}%", (i, max(l["measured_cycles"], predicted[i])),
                        ha="center", va="bottom", fontsize=7)
        tops = [max(l["measured_cycles"], l["predicted_cycles"]) for l in layers]
        what = "measured vs predicted per layer"
    else:
        ax.bar(x, predicted, 0.6, label="predicted (cost model; fast model run, nothing measured)")
        tops, what = predicted, "predicted cycles per layer"
    ax.plot(x, [max(l["compute_floor_cycles"], l["ddr_floor_cycles"]) for l in layers], "k_",
            markersize=18, label="roofline bound max(compute, DDR)")
    ax.set_xticks(x, [l["name"] for l in layers], rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("cycles")
    ax.set_ylim(0, 1.2 * max(tops))
    cfg = report["config"]
    ax.set_title(f"{report['network']} on pe {cfg['pe']}, SRAM {format_size(cfg['sram_bytes'])}, "
                 f"DDR {cfg['ddr_bytes_per_cycle']:g} B/cycle: {what}")
    ax.legend(loc="upper center", ncol=3)
    fig.tight_layout()
    with atomic_write(path, "wb") as file:
        fig.savefig(file, format="png", dpi=120)
    plt.close(fig)


def _plot_roofline(report, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg = report["config"]
    # both arrays: pe x pe pointwise and pe x 9 depthwise MACs per cycle
    peak = cfg["derived"]["pointwise_macs_per_cycle"] + cfg["derived"]["depthwise_macs_per_cycle"]
    bw = cfg["ddr_bytes_per_cycle"]
    layers = [l for l in report["layers"] if l["mult_adds"]]
    basis = report["totals"]["cycles_basis"]
    intensity = [l["mult_adds"] / l["ddr_bytes"] for l in layers]
    achieved = [l["mult_adds"] / l[f"{basis}_cycles"] for l in layers]
    fig, ax = plt.subplots(figsize=(8, 6))
    xs = np.logspace(np.log10(min(intensity) / 2), np.log10(max(intensity) * 2), 200)
    ax.loglog(xs, np.minimum(peak, bw * xs), "k-", label=f"roof: min({peak} MAC/cycle, "
                                                        f"{bw:g} B/cycle x intensity)")
    colours = {"ddr": "tab:red", "compute": "tab:blue"}
    for l, i, a in zip(layers, intensity, achieved):
        ax.scatter(i, a, color=colours[l["bound"]])
        ax.annotate(l["name"], (i, a), fontsize=7, xytext=(3, 3), textcoords="offset points")
    for bound, colour in colours.items():
        ax.scatter([], [], color=colour, label=f"{bound}-bound (cost model)")
    ax.set_xlabel("operational intensity (Mult-Adds per DDR byte)")
    ax.set_ylabel(f"Mult-Adds per cycle ({basis}"
                  + (f", {report['totals']['sim']} RTL)" if basis == "measured" else ", cost model)"))
    ax.set_title(f"Roofline: {report['network']}, pe {cfg['pe']}, SRAM {format_size(cfg['sram_bytes'])}")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    with atomic_write(path, "wb") as file:
        fig.savefig(file, format="png", dpi=120)
    plt.close(fig)


def _plot_timeline(report, path):
    """The frame step by step along its cycles: how busy the arrays and the DDR port are
    in each step (compute floor and DDR floor over the step's cycles), so the DDR's idle
    time, which prefetching can borrow, shows where it is."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    layers = report["layers"]
    basis = report["totals"]["cycles_basis"]
    starts = np.concatenate([[0], np.cumsum([l[f"{basis}_cycles"] for l in layers])])
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 5), sharex=True)
    for l, start, stop in zip(layers, starts[:-1], starts[1:]):
        span = stop - start
        compute = min(1.0, l["compute_floor_cycles"] / span)
        ddr = min(1.0, l["ddr_floor_cycles"] / span)
        prefetch = l["prefetch_bytes"] / l["ddr_bytes"] * ddr if l["ddr_bytes"] else 0.0
        top.bar(start, 100 * compute, span, align="edge", color="tab:blue", edgecolor="white")
        bottom.bar(start, 100 * (ddr - prefetch), span, align="edge", color="tab:red",
                   edgecolor="white")
        bottom.bar(start, 100 * prefetch, span, bottom=100 * (ddr - prefetch), align="edge",
                   color="tab:orange", edgecolor="white")
        if span > 0.015 * starts[-1]:
            top.text(start + span / 2, 3, l["name"], ha="center", va="bottom", fontsize=7,
                     rotation=90, color="white" if compute > 0.25 else "black")
    top.set_ylabel("engine busy %")
    bottom.set_ylabel("DDR busy %")
    bottom.legend(handles=[Patch(color="tab:red", label="the step's own operands, outputs, program"),
                           Patch(color="tab:orange",
                                 label="read ahead for a later program (prefetch)")],
                  fontsize=8, loc="lower right")
    for ax in (top, bottom):
        ax.set_ylim(0, 105)
        ax.grid(True, axis="y", alpha=0.3)
    bottom.set_xlabel(f"cycles into the frame ({basis}); each bar one step, as wide as its cycles")
    cfg = report["config"]
    top.set_title(f"{report['network']}, pe {cfg['pe']}, SRAM {format_size(cfg['sram_bytes'])}, "
                  f"DDR {cfg['ddr_bytes_per_cycle']:g} B/cycle: compute and DDR time per step "
                  f"(floors over the step's cycles)", fontsize=10)
    fig.tight_layout()
    with atomic_write(path, "wb") as file:
        fig.savefig(file, format="png", dpi=120)
    plt.close(fig)


def config_from_run_args(args):
    """The configuration ``sw.run``'s command line describes: ``config_from_args`` with the
    built-in network padded as ``--padding`` says, at ``--clock-mhz`` or, without it, at
    DEFAULT_CLOCK_MHZ (:func:`run_clock` puts a ``--synth`` Fmax in its place)."""
    import argparse

    from model.layers import mobilenet_v1

    clock = DEFAULT_CLOCK_MHZ if args.clock_mhz is None else args.clock_mhz
    config = config_from_args(argparse.Namespace(**{**vars(args), "clock_mhz": clock}))
    if args.padding == "same":
        return config
    if args.tflite is not None:
        raise ValueError("--padding applies to the built-in network; a .tflite model has its own")
    network = mobilenet_v1(config.alpha, config.resolution, padding=args.padding)
    return dataclasses.replace(config, alpha=None, resolution=None, network=network)


def run_clock(args, config) -> tuple:
    """(config at the reporting clock, where that clock came from): ``--clock-mhz`` when
    given, else the Fmax of the ``--synth`` result (checked to be of this hardware), else
    DEFAULT_CLOCK_MHZ."""
    from hw.synth import synthesis_clock

    if args.synth is not None:
        try:
            fmax, source = synthesis_clock(args.synth, config)
        except ValueError as error:
            raise UsageError(f"--synth {args.synth}: {error}") from None
        if args.clock_mhz is None:
            return dataclasses.replace(config, clock_mhz=fmax), source
    if args.clock_mhz is not None:
        return config, "--clock-mhz"
    return config, "the default reporting clock, not a place-and-route result (give --synth)"


def main(argv=None) -> int:
    from .driver import Progress

    args = build_parser().parse_args(argv)
    config, clock_source = run_clock(args, config_from_run_args(args))
    model = imported_model(args)
    if args.seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, not {args.seed}")
    out = args.report or Path("report") / f"{config.network.name.split(' ')[0]}_pe{config.pe}"
    check_output_dir("--report", out, "report.json")
    if args.sim != "model":
        from sim.toolchain import simulator_status

        available, reason = simulator_status(args.sim)
        if not available:
            raise UsageError(f"--sim {args.sim}: {reason}")
    first = config.network.layers[0]
    scale, zero_point = (model.input_scale, model.input_zero_point) if model else \
        (INPUT_SCALE, INPUT_ZERO_POINT)
    image = None
    try:
        if args.image is not None:
            image = load_image(args.image, first.in_h, first.in_w, scale, zero_point,
                               args.input_range)
        elif args.input is not None:
            image = load_int8_array(args.input, first.in_shape)
    except ValueError as error:
        raise UsageError(f"--{'image' if args.image is not None else 'input'} {error}") from None
    progress = Progress(0, enabled=not args.quiet)
    report = execute(config, args.sim, args.seed, progress, model=model, image=image,
                     clock_source=clock_source)
    print(format_table(report))
    for path in write_report(report, out):
        print(f"wrote {path}")
    return 0 if report["bit_exact"] and report["tflite_exact"] is not False else 1


if __name__ == "__main__":
    sys.exit(run_main("python -m sw.run", main))
