"""tools/: the flatbuffer summary (tools/tflite_summary.py, its own reading of the LiteRT
schema) agrees with the importer (model/tflite.py) on every accepted test model: the
same convolutions in the same order, with the same strides and output shapes; and its
command prints the compact form tests/models/README.md uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model.layers import LayerKind
from model.tflite import load_tflite
from tools.tflite_summary import compact, main, op_records

MODELS = Path(__file__).resolve().parent / "models"
ACCEPTED = sorted(name for name in json.loads((MODELS / "manifest.json").read_text())["models"]
                  if not name.startswith("refuse"))
CONVOLUTIONS = {"CONV_2D", "DEPTHWISE_CONV_2D"}


@pytest.mark.parametrize("name", ACCEPTED)
def test_summary_and_importer_see_the_same_convolutions(name):
    path = MODELS / f"{name}.tflite"
    ops = [r for r in op_records(str(path)) if r["op"] in CONVOLUTIONS]
    layers = [l for l in load_tflite(path).network.layers if l.kind is not LayerKind.AVGPOOL]
    assert len(ops) == len(layers), (len(ops), [l.name for l in layers])
    for op, layer in zip(ops, layers):
        assert (op["op"] == "DEPTHWISE_CONV_2D") == (layer.kind is LayerKind.DEPTHWISE), layer.name
        assert op["stride_h"] == layer.stride, layer.name
        assert op["outputs"][0]["shape"][1:] == [layer.out_h, layer.out_w, layer.out_c], layer.name


def test_summary_command_prints_the_compact_form(capsys):
    path = str(MODELS / "mnv1_a025_96.tflite")
    assert main(["--compact", path]) == 0
    line = capsys.readouterr().out.strip()
    assert line == f"{path}: {compact(path)}"
    assert line.split(": ")[1].startswith("C3s2S6 D3s1S6 C1s1S6 D3s2S6")
