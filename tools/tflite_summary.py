"""Print the operator sequence of .tflite files (parsed with the LiteRT flatbuffer schema).

Run with a Python that has ``ai_edge_litert`` installed::

    /path/to/venv-with-tensorflow/bin/python tools/tflite_summary.py tests/models/*.tflite

For each operator it prints: op name, padding/stride/fused activation where the
op has them, input/output shapes and whether the weights are quantised per
channel ("pc<N>") or per tensor ("pt").  ``--compact`` prints a one-line form
(the one used in tests/models/README.md).

The functions are also imported by tools/make_test_models.py and
tools/train_digits.py.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from ai_edge_litert import schema_py_generated as fb

_OPNAMES = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}
_PADNAMES = {v: k for k, v in vars(fb.Padding).items() if not k.startswith("_")}
_ACTNAMES = {v: k for k, v in vars(fb.ActivationFunctionType).items() if not k.startswith("_")}
_TYPENAMES = {v: k for k, v in vars(fb.TensorType).items() if not k.startswith("_")}


def load_model(path: str) -> "fb.ModelT":
    with open(path, "rb") as f:
        buf = bytearray(f.read())
    return fb.ModelT.InitFromPackedBuf(buf, 0)


def _name(x) -> str:
    if x is None:
        return ""
    return x.decode() if isinstance(x, (bytes, bytearray)) else str(x)


def op_records(path: str) -> list[dict]:
    """One dict per operator of subgraph 0, in execution order."""
    m = load_model(path)
    sg = m.subgraphs[0]
    recs = []
    for op in sg.operators:
        oc = m.operatorCodes[op.opcodeIndex]
        code = max(oc.builtinCode, oc.deprecatedBuiltinCode)
        rec = {"op": _OPNAMES.get(code, str(code))}
        o = op.builtinOptions
        if o is not None:
            for attr, key in (("padding", "padding"), ("strideH", "stride_h"), ("strideW", "stride_w"),
                              ("filterHeight", "kh"), ("filterWidth", "kw"),
                              ("depthMultiplier", "depth_multiplier"),
                              ("dilationHFactor", "dil_h"), ("dilationWFactor", "dil_w"),
                              ("fusedActivationFunction", "act"), ("keepDims", "keep_dims")):
                if hasattr(o, attr):
                    v = getattr(o, attr)
                    if key == "padding":
                        v = _PADNAMES.get(v, v)
                    elif key == "act":
                        v = _ACTNAMES.get(v, v)
                    rec[key] = v
        ins, outs = [], []
        for lst, ti in ((ins, op.inputs), (outs, op.outputs)):
            for t in ti:
                if t < 0:
                    lst.append(None)
                    continue
                tt = sg.tensors[t]
                q = tt.quantization
                scale = None if q is None or q.scale is None else np.asarray(q.scale)
                zp = None if q is None or q.zeroPoint is None else np.asarray(q.zeroPoint)
                buf = m.buffers[tt.buffer]
                const = buf is not None and buf.data is not None and len(buf.data) > 0
                data = None
                if const and tt.type == fb.TensorType.INT32 and len(buf.data) <= 64:
                    data = np.frombuffer(bytes(bytearray(buf.data)), dtype="<i4").tolist()
                lst.append({
                    "data": data,
                    "name": _name(tt.name), "shape": [int(s) for s in tt.shape] if tt.shape is not None else [],
                    "type": _TYPENAMES.get(tt.type, tt.type), "const": const,
                    "nscale": 0 if scale is None else int(scale.size),
                    "scale_min": None if scale is None or scale.size == 0 else float(scale.min()),
                    "scale_max": None if scale is None or scale.size == 0 else float(scale.max()),
                    "zp_nonzero": bool(zp is not None and np.any(zp != 0)),
                    "qdim": None if q is None else q.quantizedDimension,
                })
        rec["inputs"], rec["outputs"] = ins, outs
        if rec["op"] in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED") and len(ins) > 1 and ins[1]:
            w = ins[1]
            rec["wq"] = f"pc{w['nscale']}" if w["nscale"] > 1 else "pt"
            rec["wshape"] = w["shape"]
            rec["wscale_min"], rec["wscale_max"] = w["scale_min"], w["scale_max"]
        recs.append(rec)
    return recs


def io_records(path: str) -> tuple[list[dict], list[dict]]:
    m = load_model(path)
    sg = m.subgraphs[0]

    def rec(t):
        tt = sg.tensors[t]
        q = tt.quantization
        return {"name": _name(tt.name), "shape": [int(s) for s in tt.shape],
                "type": _TYPENAMES.get(tt.type, tt.type),
                "scale": None if q is None or q.scale is None else [float(s) for s in q.scale],
                "zero_point": None if q is None or q.zeroPoint is None else [int(z) for z in q.zeroPoint]}
    return [rec(t) for t in sg.inputs], [rec(t) for t in sg.outputs]


_SHORT = {"CONV_2D": "C", "DEPTHWISE_CONV_2D": "D", "PAD": "PAD", "MEAN": "MEAN",
          "AVERAGE_POOL_2D": "AVGPOOL", "RESHAPE": "RESHAPE", "FULLY_CONNECTED": "FC",
          "QUANTIZE": "QUANTIZE", "DEQUANTIZE": "DEQUANTIZE", "ADD": "ADD",
          "MAX_POOL_2D": "MAXPOOL", "SOFTMAX": "SOFTMAX"}


def op_token(r: dict) -> str:
    """Compact token, e.g. C3s2S6 = CONV_2D 3x3 stride 2 SAME ReLU6; D3s1S6 = depthwise.

    PAD[t,b|l,r] = PAD of the H axis by t (top) / b (bottom) and W by l / r.
    """
    op = r["op"]
    s = _SHORT.get(op, op)
    if op in ("CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D"):
        w = r.get("wshape")
        if op == "CONV_2D":
            k = f"{w[1]}x{w[2]}" if w[1] != w[2] else f"{w[1]}"
        elif op == "DEPTHWISE_CONV_2D":
            k = f"{w[1]}x{w[2]}" if w[1] != w[2] else f"{w[1]}"
        else:
            k = f"{r['kh']}x{r['kw']}" if r["kh"] != r["kw"] else f"{r['kh']}"
        st = f"{r['stride_h']}" if r["stride_h"] == r["stride_w"] else f"{r['stride_h']}x{r['stride_w']}"
        pad = {"SAME": "S", "VALID": "V"}.get(r["padding"], r["padding"])
        act = {"NONE": "", "RELU6": "6", "RELU": "R", "RELU_N1_TO_1": "R1"}.get(r["act"], r["act"])
        s = f"{s}{k}s{st}{pad}{act}"
    elif op == "PAD" and len(r["inputs"]) > 1 and r["inputs"][1]["data"] is not None:
        d = r["inputs"][1]["data"]  # [[n0,n1],[h0,h1],[w0,w1],[c0,c1]]
        if len(d) == 8 and d[0] == d[1] == d[6] == d[7] == 0:
            s = f"PAD[{d[2]},{d[3]}|{d[4]},{d[5]}]"
        else:
            s = f"PAD{d}"
    elif op == "FULLY_CONNECTED":
        act = {"NONE": "", "RELU6": "6", "RELU": "R"}.get(r.get("act", "NONE"), r.get("act"))
        s = f"FC{act}"
    return s


def compact(path: str) -> str:
    """Op sequence with runs of identical tokens collapsed: 'C1s1S6 x3'."""
    toks = [op_token(r) for r in op_records(path)]
    out = []
    i = 0
    while i < len(toks):
        j = i
        while j < len(toks) and toks[j] == toks[i]:
            j += 1
        out.append(toks[i] + (f"x{j - i}" if j - i > 1 else ""))
        i = j
    return " ".join(out)


def describe(path: str, verbose: bool = True) -> str:
    recs = op_records(path)
    ins, outs = io_records(path)
    lines = [path]
    for name, lst in (("input", ins), ("output", outs)):
        for t in lst:
            lines.append(f"  {name}: {t['name']} {t['shape']} {t['type']} scale={t['scale']} zp={t['zero_point']}")
    counts: dict[str, int] = {}
    for r in recs:
        counts[r["op"]] = counts.get(r["op"], 0) + 1
    lines.append("  op counts: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
    wq = sorted({r["wq"] for r in recs if "wq" in r and r["op"] != "FULLY_CONNECTED"} |
                {("FC:" + r["wq"]) for r in recs if r["op"] == "FULLY_CONNECTED"})
    lines.append("  weight quantisation: " + ", ".join(wq))
    lines.append("  compact: " + compact(path))
    if verbose:
        for i, r in enumerate(recs):
            ish = [t["shape"] if t else None for t in r["inputs"]]
            osh = [t["shape"] for t in r["outputs"]]
            extra = ""
            if "wq" in r:
                extra = f" w={r['wshape']} {r['wq']} wscale=[{r['wscale_min']:.3g},{r['wscale_max']:.3g}]"
            if r["op"] == "PAD" and len(r["inputs"]) > 1:
                extra = f" paddings={r['inputs'][1]['data']}"
            lines.append(f"  {i:3d} {op_token(r):14s} {r['op']:18s} in={ish} out={osh}{extra}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+")
    ap.add_argument("--compact", action="store_true", help="one line per file")
    a = ap.parse_args(argv)
    for f in a.files:
        if a.compact:
            print(f"{f}: {compact(f)}")
        else:
            print(describe(f))
    return 0


if __name__ == "__main__":
    sys.exit(main())
