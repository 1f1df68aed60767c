"""``python -m sw.accuracy``: a classifier's accuracy on the accelerator, image for image
against TFLite's reference kernels.

Runs every image of a labelled set (an ``.npz`` with ``x``: N x H x W x 3 int8, already
quantised to the model's input, and ``y``: N labels) through the accelerator (the RTL on
the DDR model, or the fast model) and through LiteRT's reference kernels, and prints the
accuracy of both and how many predictions agree (they must all agree: the outputs are
bit-exact). Predictions are the argmax of the int8 logits, ties to the lower index.
"""

from __future__ import annotations

import json
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
from tqdm import tqdm

from hw.generate import (_int, _parse, add_accelerator_arguments, add_ddr_arguments,
                         add_multiplier_arguments, config_from_args, imported_model)
from model.atomic import write_text
from model.cli import Parser, UsageError, check_output_file, run_main

__all__ = ["main", "evaluate"]

DESCRIPTION = """\
Accuracy of an int8 .tflite classifier on an mnaccel accelerator against TFLite's
reference kernels, image for image.

example:
  python -m sw.accuracy --tflite tests/models/digits_a025_32.tflite \\
      --data tests/models/digits_heldout.npz --pe 8 --sram 300kB --sim model
"""


def build_parser() -> Parser:
    parser = Parser(prog="python -m sw.accuracy", description=DESCRIPTION)
    add_accelerator_arguments(parser)
    add_ddr_arguments(parser)
    add_multiplier_arguments(parser)
    parser.add_argument("--data", type=Path, required=True, metavar="FILE.npz",
                        help="labelled images: x (N x H x W x 3 int8, quantised to the model's "
                             "input) and y (N integer labels)")
    parser.add_argument("--limit", type=_parse("limit", _int), default=None, metavar="N",
                        help="only the first N images, N >= 1 (default: all)")
    parser.add_argument("--sim", choices=["verilator", "icarus", "model"], default="model",
                        help="the RTL on a DDR model, or the fast model (default: model)")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE",
                        help="also write the figures as JSON (its folder must exist; an "
                             "existing file is replaced)")
    return parser


def _load(path: Path, shape) -> tuple[np.ndarray, np.ndarray]:
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ValueError(f"--data {path}: no such file") from None
    except IsADirectoryError:
        raise ValueError(f"--data {path}: is a folder, not an .npz file") from None
    except (ValueError, OSError, EOFError) as error:
        raise ValueError(f"--data {path}: not a NumPy .npz file ({type(error).__name__})") from None
    missing = [name for name in ("x", "y") if name not in getattr(data, "files", ())]
    if missing:
        raise ValueError(f"--data {path}: has no array {' or '.join(missing)}; it needs x "
                         f"(images) and y (labels)")
    try:
        x, y = data["x"], data["y"]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"--data {path}: not a NumPy .npz file ({type(error).__name__})") from None
    if x.dtype != np.int8 or x.shape[1:] != tuple(shape) or len(y) != len(x):
        raise ValueError(f"--data {path}: x must be int8 N x {' x '.join(map(str, shape))} with one "
                         f"label per image, not {x.dtype} {x.shape} and {len(y)} labels")
    return x, y


def evaluate(config, model, x, y, sim: str = "model", progress=None) -> dict:
    """Accuracy of the accelerator and of TFLite on ``x``, ``y``; the agreement."""
    from .run import execute

    ours, theirs, exact = [], [], 0
    start = time.perf_counter()
    for index, image in enumerate(x):
        # execute() runs LiteRT's reference kernels on the same image once.
        report = execute(config, sim, model=model, image=image)
        output = report["outputs"][0]
        ours.append(output["top5"][0]["class"])
        theirs.append(output["tflite_top5"][0]["class"])
        exact += bool(report["bit_exact"] and report["tflite_exact"])
        if progress:
            progress(index + 1, len(x), time.perf_counter() - start)
    ours, theirs = np.array(ours), np.array(theirs)
    return {"images": len(x), "accelerator_accuracy": float(np.mean(ours == y)),
            "tflite_accuracy": float(np.mean(theirs == y)),
            "agreement": float(np.mean(ours == theirs)), "bit_exact_images": exact,
            "sim": sim, "seconds": round(time.perf_counter() - start, 1)}


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit must be a positive integer, not {args.limit}")
    if args.json:
        check_output_file("--json", args.json)
    if args.tflite is None:
        raise UsageError("--tflite is required: accuracy needs a trained model")
    config = config_from_args(args)
    model = imported_model(args)
    if not any(o.layer.startswith("fc") for o in model.outputs):
        raise UsageError(f"--tflite {args.tflite}: not a classifier (its outputs are feature maps)")
    x, y = _load(args.data, config.network.layers[0].in_shape)
    if args.limit is not None:
        x, y = x[:args.limit], y[:args.limit]
    if args.sim != "model":
        from sim.toolchain import simulator_status

        available, reason = simulator_status(args.sim)
        if not available:
            raise UsageError(f"--sim {args.sim}: {reason}")

    with tqdm(total=len(x), unit="image", file=sys.stderr, dynamic_ncols=True, delay=1.0) as bar:
        figures = evaluate(config, model, x, y, args.sim,
                           lambda done, total, seconds: bar.update(done - bar.n))
    print(f"{figures['images']} images on {args.sim}: accelerator accuracy "
          f"{100 * figures['accelerator_accuracy']:.2f} %, TFLite (reference kernels) "
          f"{100 * figures['tflite_accuracy']:.2f} %; predictions agree on "
          f"{100 * figures['agreement']:.2f} %; {figures['bit_exact_images']} of "
          f"{figures['images']} images bit-exact on every layer; {figures['seconds']} s")
    if args.json:
        write_text(args.json, json.dumps(figures, indent=2) + "\n")
    return 0 if figures["agreement"] == 1.0 and figures["bit_exact_images"] == len(x) else 1


if __name__ == "__main__":
    sys.exit(run_main("python -m sw.accuracy", main))
