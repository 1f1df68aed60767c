"""``--tflite`` on the commands: hw.generate sizes the banks from the model, sw.run runs it
(fast model) on an image or an int8 array and reports its outputs; bad input is one line,
exit 2, nothing written."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hw.config import AcceleratorConfig
from model.tflite import load_tflite, reference_run
from sw.inputs import load_image, quantize_input

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "tests" / "models"


def command(module, *args):
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow
def test_generate_sizes_the_banks_from_the_model(tmp_path):
    model = MODELS / "mnv1_a050_128x96.tflite"
    out = tmp_path / "build"
    result = command("hw.generate", "--tflite", str(model), "--pe", "8", "--sram", "300kB",
                     "-o", str(out))
    assert result.returncode == 0, result.stderr
    config = AcceleratorConfig.from_json(out / "config.json")
    assert config.network == load_tflite(model).network
    assert (config.alpha, config.resolution) == (None, None)
    document = json.loads((out / "config.json").read_text())
    assert document["network"]["layers"][0]["in_h"] == 128 and document["network"]["layers"][0]["in_w"] == 96
    assert "mnv1_a050_128x96" in result.stdout
    assert (out / "mnaccel.v").stat().st_size > 0


def test_run_reports_outputs_equal_to_tflite(tmp_path):
    """--input X.npy: the report's outputs are TFLite's tensors (sha256 of the int8 bytes)."""
    path = MODELS / "mnv1_a025_ssd_2out.tflite"
    model = load_tflite(path)
    x = np.random.default_rng(4).integers(-128, 128, model.network.layers[0].in_shape, dtype=np.int8)
    np.save(tmp_path / "x.npy", x[None])  # with the batch axis
    out = tmp_path / "report"
    result = command("sw.run", "--tflite", str(path), "--input", str(tmp_path / "x.npy"),
                     "--pe", "8", "--sram", "300kB", "--sim", "model", "--report", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["bit_exact"] and report["tflite_exact"]
    assert all(layer["tflite_exact"] for layer in report["layers"])
    _, reference = reference_run(model, x)
    assert [(o["name"], o["shape"], o["sha256"]) for o in report["outputs"]] == [
        (name, list(tensor.shape), hashlib.sha256(tensor.tobytes()).hexdigest())
        for name, tensor in reference.items()]
    assert "top5" not in report["outputs"][0]
    assert "output StatefulPartitionedCall_1:1: 1x5x5x256 int8 (layer pw13)" in result.stdout


def test_run_classifies_a_photo(tmp_path):
    path = MODELS / "mnv1_a025_96.tflite"
    model = load_tflite(path)
    photo = tmp_path / "photo.png"
    rng = np.random.default_rng(5)
    Image.fromarray(rng.integers(0, 256, (120, 150, 3), dtype=np.uint8)).save(photo)
    out = tmp_path / "report"
    result = command("sw.run", "--tflite", str(path), "--image", str(photo), "--pe", "4",
                     "--sram", "150kB", "--sim", "model", "--report", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    x = load_image(photo, 96, 96, model.input_scale, model.input_zero_point)
    _, reference = reference_run(model, x)
    logits = next(iter(reference.values())).reshape(-1)
    top5 = report["outputs"][0]["top5"]
    assert [c["class"] for c in top5] == list(np.argsort(-logits.astype(int), kind="stable")[:5])
    assert "top-5 classes" in result.stdout and report["tflite_exact"]


def test_input_quantisation_rounds_half_away_from_zero():
    assert quantize_input(np.array([0.5, 1.5, -0.5, -1.5, 1000.0]), 1.0, 0).tolist() == \
        [1, 2, -1, -2, 127]
    assert quantize_input(np.array([-1.0, 1.0]), 2 / 255, -1).tolist() == [-128, 127]  # +-127.5


def _bad_inputs(tmp_path):
    not_image = tmp_path / "notes.png"
    not_image.write_text("hello")
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((5, 5, 3), np.int8))
    floats = tmp_path / "floats.npy"
    np.save(floats, np.zeros((96, 96, 3), np.float32))
    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes((MODELS / "mnv1_a025_96.tflite").read_bytes()[:5000])
    model = str(MODELS / "mnv1_a025_96.tflite")
    return [
        (["--tflite", str(tmp_path / "nope.tflite")], "nope.tflite: no such file"),
        (["--tflite", str(corrupt)], "corrupt.tflite: corrupt or truncated TFLite flatbuffer"),
        (["--tflite", str(MODELS / "refuse_residual.tflite")], "operator 3 (ADD)"),
        (["--tflite", model, "--alpha", "0.5"], "--tflite gives the network; drop --alpha"),
        (["--tflite", model, "--sram", "20kB", "--pe", "4"], "is too small"),
        (["--tflite", model, "--image", str(not_image)], "not a readable PNG or JPEG image"),
        (["--tflite", model, "--image", str(tmp_path / "none.jpg")], "no such image file"),
        (["--tflite", model, "--input", str(wrong)], "is not the model's input (96, 96, 3)"),
        (["--tflite", model, "--input", str(floats)], "must hold an int8 array, not float32"),
        (["--tflite", model, "--input-range", "1,-1"], "input range must be finite with LO < HI"),
        (["--tflite", model, "--input-range", "a,b"], "input range must be two numbers"),
    ]


@pytest.mark.slow
def test_bad_input_is_one_line_and_writes_nothing(tmp_path):
    out = tmp_path / "report"
    for args, message in _bad_inputs(tmp_path):
        result = command("sw.run", *args, "--sim", "model", "--report", str(out), "--quiet")
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
        assert not out.exists()


def test_unwritable_report_folder_is_refused_before_the_run(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = command("sw.run", "--tflite", str(MODELS / "mnv1_a025_96.tflite"), "--sim", "model",
                     "--report", str(blocker / "out"), "--quiet")
    assert result.returncode == 2 and "is a file, not a folder" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--tflite", "missing.tflite"], "missing.tflite: no such file"),
    (["--tflite", "tests/models/refuse_maxpool.tflite"], "operator 1 (MAX_POOL_2D)"),
])
def test_generate_refuses_in_one_line(tmp_path, args, message):
    out = tmp_path / "build"
    result = command("hw.generate", *args, "-o", str(out))
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not out.exists()


def test_accuracy_command_agrees_with_tflite_image_for_image():
    result = command("sw.accuracy", "--tflite", str(MODELS / "digits_a025_32.tflite"), "--data",
                     str(MODELS / "digits_heldout.npz"), "--pe", "8", "--sram", "300kB",
                     "--limit", "12")
    assert result.returncode == 0, result.stderr
    assert "predictions agree on 100.00 %; 12 of 12 images bit-exact on every layer" in result.stdout
    refused = command("sw.accuracy", "--tflite", str(MODELS / "mnv1_a025_ssd_2out.tflite"),
                      "--data", str(MODELS / "digits_heldout.npz"))
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
