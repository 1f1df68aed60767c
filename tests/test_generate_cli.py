"""`python -m hw.generate`: summary, config.json, and one-line errors that write nothing."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hw.config import AcceleratorConfig

ROOT = Path(__file__).resolve().parents[1]


def run(*args):
    return subprocess.run([sys.executable, "-m", "hw.generate", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_generate_writes_verilog_config_and_prints_plan(tmp_path):
    out = tmp_path / "pe4"
    result = run("--pe", "4", "--sram", "200kB", "--alpha", "0.25", "--resolution", "64",
                 "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "4 x 4 = 16 int8 MAC/cycle" in result.stdout
    for bank in ("act", "pw_weights", "dw_weights", "dw_params", "pw_params", "pixel"):
        assert f"\n  {bank} " in result.stdout
    config = AcceleratorConfig.from_json(out / "config.json")
    assert config.pe == 4 and config.sram_bytes == 200_000
    assert json.loads((out / "config.json").read_text())["derived"]["sram_used_bytes"] <= 200_000
    verilog = (out / "mnaccel.v").read_text()
    assert "module mnaccel(" in verilog and verilog.rstrip().endswith("endmodule")
    # Every port the summary lists is a port of the module, with its width.
    for name, width in [("m_axi_araddr", 32), ("m_axi_wdata", 32), ("m_axi_rvalid", 1),
                        ("m_axi_awid", 1), ("m_axi_bid", 1), ("m_axi_arid", 1), ("m_axi_rid", 1),
                        ("s_axil_wdata", 32), ("s_axil_awaddr", 8), ("irq", 1)]:
        assert f" {name}[{width}]" in result.stdout if width > 1 else f" {name}" in result.stdout
        if width > 1:
            assert f"[{width - 1}:0] {name};" in verilog
        else:
            assert f" {name};" in verilog


@pytest.mark.parametrize("args, message", [
    (["--pe", "0"], "--pe must be a positive integer, not 0"),
    (["--pe", "-3"], "--pe must be a positive integer, not -3"),
    (["--pe", "3"], "--pe must be a multiple of 4 (a DDR beat, at least 32 bits, must divide a "
                    "pe-byte word of 24 bits), not 3: try --pe 4"),
    (["--pe", "6"], "--pe must be a multiple of 4 (a DDR beat, at least 32 bits, must divide a "
                    "pe-byte word of 48 bits), not 6: try --pe 4 or 8"),
    (["--pe", "4", "--ddr-width", "64"], "--ddr-width 64 does not divide a pe-byte word (8 x pe = "
                                         "32 bits); with --pe 4 use --ddr-width 32"),
    (["--pe", "24", "--ddr-width", "512"], "--ddr-width 512 does not divide a pe-byte word (8 x pe = "
                                           "192 bits); with --pe 24 use --ddr-width 32 or 64"),
    (["--clock-mhz", "nan"], "argument --clock-mhz: expected a finite number, not 'nan'"),
    (["--pe", "many"], "argument --pe: expected an integer, not 'many'"),
    (["--sram", "lots"], "argument --sram: size must be bytes with an optional unit (kB, MB, KiB, MiB; "
                         "e.g. 1MB, 512KiB, 1048576), not 'lots'"),
    (["--sram", "100kB"], "--sram: SRAM of 100 kB (100000 bytes) is too small: it needs at least"),
    (["--resolution", "100"], "--resolution must be a multiple of 32 from 32 up, not 100"),
    (["--dsp-limit", "-1"], "--dsp-limit must be a non-negative integer, not -1"),
    (["--dsp-limit", "lots"], "argument --dsp-limit: expected an integer, not 'lots'"),
    (["--dsp-limit", "95"], "--dsp-limit must be at least 96 at pe 16 (the requantisers' 24 lanes of "
                            "32 x 31 bits, 4 multipliers each, stay in DSPs), not 95"),
    (["--axi-id-bits", "0"], "--axi-id-bits must be 1..32, not 0"),
    (["--axi-id-bits", "33"], "--axi-id-bits must be 1..32, not 33"),
    (["--axi-id-bits", "two"], "argument --axi-id-bits: expected an integer, not 'two'"),
])
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, args, message):
    out = tmp_path / "never"
    result = run(*args, "-o", str(out))
    assert result.returncode == 2
    assert result.stderr.startswith(f"python -m hw.generate: error: {message}")
    assert result.stderr.count("\n") == 1
    assert not out.exists()


def test_help_explains_units():
    result = run("--help")
    assert result.returncode == 0
    for text in ["--pe", "--sram", "1,000,000 B", "524,288 B", "--alpha", "--resolution",
                 "--ddr-width", "--ddr-bandwidth", "--ddr-latency", "--clock-mhz", "--out",
                 "--dsp-limit", "--dsp-packing", "--axi-id-bits"]:
        assert text in result.stdout


@pytest.mark.slow
def test_dsp_options_reach_config_json_and_the_summary(tmp_path):
    result = run("--pe", "4", "--sram", "200kB", "--alpha", "0.25", "--resolution", "64",
                 "--dsp-limit", "56", "--dsp-packing", "-o", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert ("multipliers: 56 DSP multipliers: pointwise 8 (two int8 products each), depthwise 24, "
            "requantisers 24 (32 x 31 bits; the pointwise one shared by 2 lane groups); 12 int8 "
            "products in LUTs (depthwise 12, pointwise 0)" in result.stdout)
    document = json.loads((tmp_path / "config.json").read_text())
    assert (document["dsp_limit"], document["dsp_packing"]) == (56, True)
    assert document["derived"]["dsp_estimate"] == 56
    assert document["derived"]["multipliers"]["depthwise_lut"] == 12
    assert AcceleratorConfig.from_json(tmp_path / "config.json").dsp_estimate == 56


def test_axi_id_bits_reach_the_config_and_the_ports():
    from hw.generate import build_parser, config_from_args
    from amaranth.hdl import Shape

    from hw.top import Accelerator

    args = build_parser().parse_args(["--pe", "4", "--alpha", "0.25", "--resolution", "32",
                                      "--sram", "200kB", "--axi-id-bits", "4"])
    config = config_from_args(args)
    assert config.axi_id_bits == 4
    assert AcceleratorConfig.from_dict(config.to_dict()).axi_id_bits == 4
    accelerator = Accelerator(config)
    accelerator._MustUse__silence = True  # only its ports are looked at (Amaranth's own switch)
    members = accelerator.signature.members
    widths = [Shape.cast(members[f"m_axi_{name}"].shape).width for name in ("awid", "bid", "arid", "rid")]
    assert widths == [4] * 4
    default = config_from_args(build_parser().parse_args(["--pe", "4", "--alpha", "0.25",
                                                          "--resolution", "32", "--sram", "200kB"]))
    assert default.axi_id_bits == 1


@pytest.mark.slow
def test_target_ecp5_puts_every_dsp_multiplier_in_a_registered_mult18x18d(tmp_path):
    """--target ecp5: one MULT18X18D per DSP multiplier the configuration plans, each with
    its input and output registers; the portable Verilog has no primitive at all."""
    config = AcceleratorConfig(pe=4, sram_bytes=200_000, alpha=0.25, resolution=64)
    texts = {}
    for target in ("portable", "ecp5"):
        out = tmp_path / target
        result = run("--pe", "4", "--sram", "200kB", "--alpha", "0.25", "--resolution", "64",
                     "--target", target, "-o", str(out))
        assert result.returncode == 0, result.stderr
        assert f"emitting Verilog for {target}" in result.stdout
        texts[target] = (out / "mnaccel.v").read_text()
    assert "MULT18X18D" not in texts["portable"]
    ecp5 = texts["ecp5"]
    assert ecp5.count("MULT18X18D #(") == config.dsp_estimate
    for register in ("INPUTA", "INPUTB", "OUTPUT"):
        assert ecp5.count(f'.REG_{register}_CLK("CLK0")') == config.dsp_estimate
    assert ecp5.count('.REG_PIPELINE_CLK("NONE")') == config.dsp_estimate
