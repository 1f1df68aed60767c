"""``python -m model.table``: print the MobileNet-v1 layer table (paper Table 1 and more).

Every figure comes from ``model.layers``; ``--paper`` also prints each figure the paper
prints (Tables 2, 3, 6-9) beside the computed one.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys

from .cli import Parser, run_main
from .layers import (MAX_RESOLUTION, Activation, PaddingStyle, mobilenet_v1, validate_alpha,
                     validate_resolution)
from .paper import paper_comparison

__all__ = ["main", "network_rows", "format_table"]

DESCRIPTION = """\
Print the MobileNet-v1 layer table for a width multiplier and an input resolution:
per layer its type and stride, filter shape, input size, Mult-Adds and parameters (the
paper's conventions: one Mult-Add per multiply-accumulate, weights without biases), and
the int8 bytes of its input, output and weights, with totals.

examples:
  python -m model.table --alpha 1.0 --resolution 224
  python -m model.table --alpha 0.25 --resolution 128 --json
  python -m model.table --paper
"""


def _alpha(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"alpha must be a number in (0, 1], not {text!r}")
    try:
        validate_alpha(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error))
    return value


def _resolution(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"resolution must be a multiple of 32 from 32 up, not {text!r}")
    try:
        return validate_resolution(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


#: The most --classes: more than any classification data set has.
MAX_CLASSES = 1_000_000


def _classes(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, not {text!r}") from None
    if not 1 <= value <= MAX_CLASSES:
        raise argparse.ArgumentTypeError(f"classes must be 1..{MAX_CLASSES:,}, not {value}")
    return value


def build_parser() -> Parser:
    parser = Parser(prog="python -m model.table", description=DESCRIPTION)
    parser.add_argument("--alpha", type=_alpha, default=1.0, metavar="A",
                        help="width multiplier in (0, 1]; channels become floor(A * channels) "
                             "(default: 1.0)")
    parser.add_argument("--resolution", type=_resolution, default=224, metavar="R",
                        help=f"input height and width in pixels, a multiple of 32 from 32 to "
                             f"{MAX_RESOLUTION} (default: 224)")
    parser.add_argument("--classes", type=_classes, default=1000, metavar="N",
                        help="outputs of the final FC layer, 1..1,000,000 (default: 1000, ImageNet)")
    parser.add_argument("--padding", choices=[s.value for s in PaddingStyle], default="same",
                        help="3x3 padding: TensorFlow 'same' (stride 2 pads bottom/right only) or "
                             "PyTorch-style 'symmetric' (default: same)")
    parser.add_argument("--activation", choices=["relu", "relu6"], default="relu6",
                        help="activation after each convolution (default: relu6)")
    parser.add_argument("--tflite", type=Path, default=None, metavar="FILE",
                        help="print the layer table of a user's int8 .tflite MobileNet-v1 "
                             "instead of the built-in network's")
    parser.add_argument("--json", action="store_true",
                        help="print JSON (keys: network, alpha, resolution, mult_adds, params, "
                             "layers) instead of the table")
    parser.add_argument("--paper", action="store_true",
                        help="also print every figure of the paper's Tables 2, 3, 6-9 beside "
                             "the computed one")
    return parser


def network_rows(network) -> list[dict]:
    """One dict per layer with the table's columns (all integers are exact)."""
    return [{
        "name": layer.name,
        "kind": layer.kind.value,
        "type": layer.type_label,
        "filter": layer.filter_label,
        "input": [layer.in_h, layer.in_w, layer.in_c],
        "output": [layer.out_h, layer.out_w, layer.out_c],
        "stride": layer.stride,
        "padding": list(layer.padding.as_tuple()),
        "activation": layer.activation.value,
        "mult_adds": layer.mult_adds,
        "params": layer.params,
        "in_bytes": layer.in_bytes,
        "out_bytes": layer.out_bytes,
        "weight_bytes": layer.weight_bytes,
    } for layer in network]


def format_table(network) -> str:
    rows = network_rows(network)
    header = ("Layer", "Type / Stride", "Filter Shape", "Input Size", "Mult-Adds", "Params",
              "In B", "Out B", "Weight B")
    body = [(r["name"], r["type"], r["filter"], " x ".join(map(str, r["input"])),
             f"{r['mult_adds']:,}", f"{r['params']:,}", f"{r['in_bytes']:,}",
             f"{r['out_bytes']:,}", f"{r['weight_bytes']:,}") for r in rows]
    total = ("total", "", "", "", f"{network.mult_adds:,}", f"{network.params:,}",
             "", "", f"{sum(r['weight_bytes'] for r in rows):,}")
    widths = [max(len(line[i]) for line in [header, *body, total]) for i in range(len(header))]
    left = {0, 1, 2, 3}

    def fmt(line):
        return "  ".join(cell.ljust(w) if i in left else cell.rjust(w)
                         for i, (cell, w) in enumerate(zip(line, widths)))

    rule = "  ".join("-" * w for w in widths)
    lines = [network.name, "", fmt(header), rule, *map(fmt, body), rule, fmt(total), ""]
    lines.append(f"Mult-Adds {network.mult_adds / 1e6:.1f} M, parameters {network.params / 1e6:.2f} M")
    macs, params = network.mult_adds_by_type(), network.params_by_type()
    lines.append("share by type (paper Table 2):  " + ", ".join(
        f"{row} {100 * macs[row] / network.mult_adds:.2f} % of Mult-Adds / "
        f"{100 * params[row] / network.params:.2f} % of params" for row in macs))
    return "\n".join(lines)


def format_paper(rows) -> str:
    width = max(len(r["what"]) for r in rows)
    lines = ["", "The paper's figures (a computed value agrees when its rounding or truncation "
             "to the printed precision equals the print):", ""]
    for r in rows:
        lines.append(f"{r['source']:<8} {r['what']:<{width}}  computed {r['computed']:>10.4f}  "
                     f"printed {r['printed']:>7g}  {'agrees' if r['ok'] else 'DISAGREES'}")
    lines.append("Table 2 prints 1.19 % for the 3x3 conv's Mult-Adds: a digit swap of 1.91 %.")
    lines.append("Table 1 prints s2 for the last depthwise layer: a typo, its stride is 1.")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.tflite is not None:
        from .tflite import TFLiteImportError, load_tflite

        try:
            network = load_tflite(args.tflite).network
        except TFLiteImportError as error:
            raise ValueError(f"--tflite {error}") from None
    else:
        network = mobilenet_v1(args.alpha, args.resolution, num_classes=args.classes,
                               padding=args.padding, activation=Activation(args.activation))
    if args.json:
        document = {"network": network.name,
                    "alpha": None if args.tflite else args.alpha,
                    "resolution": None if args.tflite else args.resolution,
                    "mult_adds": network.mult_adds, "params": network.params,
                    "layers": network_rows(network)}
        if args.paper:
            document["paper"] = paper_comparison()
        json.dump(document, sys.stdout, indent=2)
        print()
        return 0
    print(format_table(network))
    if args.paper:
        rows = paper_comparison()
        print(format_paper(rows))
        if not all(r["ok"] for r in rows):
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_main("python -m model.table", main))
