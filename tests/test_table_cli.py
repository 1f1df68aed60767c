"""`python -m model.table`: the table, its JSON, and one-line errors for bad input."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*args):
    return subprocess.run([sys.executable, "-m", "model.table", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_table_prints_every_layer_and_totals():
    result = run("--alpha", "1.0", "--resolution", "224")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("MobileNet-v1 1.0-224")
    for name in ["conv1", "dw1", "pw13", "avgpool", "fc"]:
        assert f"\n{name} " in out
    assert "568,740,352" in out and "4,209,088" in out
    assert "conv1x1 94.86 %" in out and "conv3x3 1.91 %" in out


def test_json_has_integer_totals():
    result = run("--alpha", "0.25", "--resolution", "224", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["mult_adds"] == 41_030_272 and doc["params"] == 463_600
    assert isinstance(doc["mult_adds"], int) and isinstance(doc["params"], int)
    assert len(doc["layers"]) == 29
    assert sum(layer["mult_adds"] for layer in doc["layers"]) == doc["mult_adds"]


def test_paper_flag_reports_agreement():
    result = run("--paper")
    assert result.returncode == 0
    assert "DISAGREES" not in result.stdout
    assert result.stdout.count("agrees") >= 40


@pytest.mark.parametrize("args, message", [
    (["--alpha", "0"], "argument --alpha: alpha must be in (0, 1], not 0.0"),
    (["--alpha", "1.5"], "argument --alpha: alpha must be in (0, 1], not 1.5"),
    (["--alpha", "big"], "argument --alpha: alpha must be a number in (0, 1], not 'big'"),
    (["--resolution", "100"], "argument --resolution: resolution must be a multiple of 32 from 32 up, not 100"),
    (["--frobnicate"], "unrecognized arguments: --frobnicate"),
    (["--classes", "0"], "argument --classes: classes must be 1..1,000,000, not 0"),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    result = run(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == f"python -m model.table: error: {message}\n"


def test_help_explains_every_option():
    result = run("--help")
    assert result.returncode == 0
    for option in ["--alpha", "--resolution", "--classes", "--padding", "--activation", "--json", "--paper"]:
        assert option in result.stdout
