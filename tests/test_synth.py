"""hw.synth: Yosys from the yowasp packages on a small real design, the resource parser,
the fit report and the command's errors. (Synthesis of a whole accelerator is a
benchmark-sized run: python -m hw.synth.)"""

import subprocess
import sys
from pathlib import Path

import pytest

from hw.pointwise import PointwiseArray
from hw.synth import DEVICES, Resources, fit_report, parse_stat, synthesize
from sim.runner import emit_verilog

ROOT = Path(__file__).resolve().parents[1]


def test_yosys_maps_the_pointwise_array_to_dsps(tmp_path):
    # 4 x 4 int8 products: sixteen 18x18 multipliers on ECP5, nothing else needs a DSP.
    resources = synthesize(emit_verilog(PointwiseArray(4), "pw4"), "pw4", "ecp5", tmp_path,
                           progress=lambda text: None)
    assert resources.dsps == 16
    assert resources.ffs >= 4 * 4 * 16  # at least the registered products
    assert resources.luts > 0 and resources.brams == 0


def test_parse_stat_both_formats():
    new = """=== top ===\n\n        +----------Local Count\n    20216 cells\n     1377   CCU2C\n
       82   DP16KD\n    11730   LUT4\n       68   MULT18X18D\n       44   TRELLIS_DPR16X4\n
     3720   TRELLIS_FF\n"""
    r = parse_stat(new, "ecp5")
    assert (r.luts, r.ffs, r.dsps, r.brams) == (11730 + 88, 3720, 68, 82)
    old = """=== top ===\n   Number of cells: 30\n     DSP48E1 256\n     FDRE 100\n     FDSE 4\n
     LUT2 10\n     LUT6 20\n     RAMB36E1 3\n     RAMB18E1 2\n"""
    r = parse_stat(old, "xilinx")
    assert (r.luts, r.ffs, r.dsps, r.brams) == (30, 104, 256, 4)


def test_fit_report_says_by_how_much():
    fits, lines = fit_report(Resources(50_000, 20_000, 256, 100, {}), DEVICES["85k"])
    assert not fits
    assert lines[2] == ("  DSPs         256 of     156 (164.1 %)  DOES NOT FIT: 100 over "
                        "(64 % more than the device has)")
    fits, _ = fit_report(Resources(50_000, 20_000, 100, 100, {}), DEVICES["85k"])
    assert fits


@pytest.mark.parametrize("args, message", [
    (["--target", "xilinx", "--device", "85k"], "device 85k is not a xilinx device"),
    (["--pe", "0"], "pe must be a positive integer, not 0"),
    (["--target", "asic"], "argument --target: invalid choice: 'asic' (choose from 'ecp5', 'xilinx')"),
])
def test_bad_input_one_line(args, message):
    result = subprocess.run([sys.executable, "-m", "hw.synth", *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == f"python -m hw.synth: error: {message}"


def test_lut_multipliers_use_no_dsp(tmp_path):
    verilog = emit_verilog(PointwiseArray(1), "pw1")
    with_dsp = synthesize(verilog, "pw1", "ecp5", tmp_path / "a", progress=lambda text: None)
    in_luts = synthesize(verilog, "pw1", "ecp5", tmp_path / "b", progress=lambda text: None,
                         lut_multipliers=True)
    assert in_luts.dsps == 0 and with_dsp.dsps == 1
    assert in_luts.luts > with_dsp.luts + 30  # an 8x8 multiplier is dozens of LUT4s
