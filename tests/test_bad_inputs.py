"""Every bad input, every command (issue #13, item 3).

A table of bad values for every option of every command: each one must end in one line
on stderr and exit code 2, with no traceback, nothing written, and no expensive work
started (no Verilog emission, simulation, synthesis or sweep: they are replaced here by
stand-ins that fail the test). Options are read from each command's own parser, so a
new option without a row in the table fails :func:`test_the_table_covers_every_option`.
"""

from __future__ import annotations

import importlib
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from model.cli import run_main

# Stand-ins replace the expensive steps after the accelerator object is built.
pytestmark = pytest.mark.filterwarnings("ignore:.*created but never used")

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "tests" / "models"
DIGITS = str(MODELS / "digits_a025_32.tflite")
HELDOUT = str(MODELS / "digits_heldout.npz")
UNWRITABLE = "/proc/mnaccel/x"  # no one can create anything under /proc

COMMANDS = ["model.table", "hw.generate", "hw.synth", "sim.bench", "sw.run", "sw.explore",
            "sw.accuracy", "sw.soak"]

# Good values that let a command get as far as the option under test (small networks:
# fast to configure).
BASE = {
    "model.table": [],
    "hw.generate": ["--pe", "4", "--sram", "100kB", "--alpha", "0.25", "--resolution", "32"],
    "hw.synth": ["--pe", "4", "--sram", "100kB", "--alpha", "0.25", "--resolution", "32"],
    "sim.bench": ["--pe", "4", "--sram", "100kB", "--alpha", "0.25", "--resolution", "32"],
    "sw.run": ["--pe", "4", "--sram", "100kB", "--alpha", "0.25", "--resolution", "32",
               "--sim", "model"],
    "sw.explore": ["--out", "explore", "--pe", "4", "--sram", "100kB", "--alpha", "0.25",
                   "--resolution", "32"],
    "sw.accuracy": ["--tflite", DIGITS, "--data", HELDOUT, "--pe", "4", "--sram", "100kB"],
    "sw.soak": ["--count", "2", "--rtl", "1"],
}

# Bad values by kind. "{F}" is replaced by the fixture folder (see ``fixtures``).
HUGE = "1000000000000"
INT = ["0", "-1", HUGE, "nan", "inf", "1.5", "many", ""]
COUNT = ["-1", "nan", "1.5", "many", ""]  # non-negative integers where 0 and huge are fine
POSITIVE = ["0", "-1", "nan", "inf", "1.5", "many", ""]  # where huge means "all"
FINITE = ["0", "-1", "nan", "inf", "=-inf", "1e400", "many", ""]
SIZE = ["0", "-1", "1e30", "10000000000000000000000", "nan", "1MiBs", "5 parsecs", "1.5B", ""]
FLAG = ["=yes"]
FILE_IN = ["{F}/missing", "{F}/folder", "{F}/garbage"]
MODEL_IN = FILE_IN + ["{F}/truncated.tflite", str(MODELS / "refuse_maxpool.tflite"),
                      str(MODELS / "refuse_residual.tflite")]
FILE_OUT = [UNWRITABLE, "/proc/version", "{F}/folder", "{F}/garbage/x"]
DIR_OUT = [UNWRITABLE, "{F}/garbage", "{F}/garbage/x", "{F}/full"]

ACCELERATOR = {
    "--pe": INT + ["3", "5", "65"],
    "--sram": SIZE + ["1kB"],
    "--tflite": MODEL_IN,
    "--alpha": FINITE + ["1.5", "1e30", "50%"],
    "--resolution": INT + ["100", "16", "224px", "8192"],
}
DDR = {
    "--ddr-width": ["0", "-1", "24", "48", "1024", HUGE, "nan", "64bits", "many"],
    "--ddr-bandwidth": FINITE + ["1e30", "100", "1GB/s"],
    "--ddr-latency": COUNT + [HUGE, "64cycles", "1us"],
    "--clock-mhz": FINITE + ["200MHz"],
    "--axi-id-bits": INT + ["33", "4bits"],
}
MULTIPLIERS = {
    "--dsp-limit": COUNT + ["1", "156DSPs"],
    "--dsp-packing": FLAG,
}

TABLE = {
    "model.table": {
        "--alpha": FINITE + ["1.5"],
        "--resolution": INT + ["100"],
        "--classes": INT,
        "--padding": ["valid", ""],
        "--activation": ["sigmoid", ""],
        "--tflite": MODEL_IN,
        "--json": FLAG,
        "--paper": FLAG,
    },
    "hw.generate": {
        **ACCELERATOR, **DDR, **MULTIPLIERS,
        "--target": ["xilinx", "ECP5", ""],
        "--out": DIR_OUT,
    },
    "hw.synth": {
        **ACCELERATOR, **DDR, **MULTIPLIERS,
        "--target": ["asic", ""],
        "--device": ["huge", "xc7a200t"],  # the second: not an ecp5 device
        "--fit": FLAG,
        "--freq": FINITE + ["100MHz"],
        "--speed": INT + ["5", "9", "-6"],
        "--seed": INT + [str(2**31), "0x1"],
        "--placer": ["sa", "router2", "HEAP", ""],
        "--router": ["router3", "heap", "Router2", ""],
        "--timing-weight": COUNT + [HUGE, str(2**31)],
        "--component": ["nosuch", "ENGINE", ""],
        "--no-pnr": FLAG,
        "--no-floorplan": FLAG,
        "--pnr-timeout": FINITE + ["1h"],
        "--json": FILE_OUT,
    },
    "sim.bench": {
        "--pe": INT + ["3", "5", "65"],
        "--sram": SIZE + ["1kB"],
        "--alpha": FINITE + ["1.5"],
        "--resolution": INT + ["100"],
        "--sim": ["model", "ghdl", ""],
        "--steps": ["dw99", "conv1,nosuch", ",", ""],
        "--json": FILE_OUT,
    },
    "sw.run": {
        **ACCELERATOR, **DDR, **MULTIPLIERS,
        "--sim": ["ghdl", ""],
        "--report": DIR_OUT,
        "--seed": ["-1", "nan", "1.5", "many", ""],
        "--image": FILE_IN + ["{F}/bomb.png"],
        "--input": FILE_IN + ["{F}/floats.npy", "{F}/wrong_shape.npy"],
        "--input-range": ["1,-1", "0,0", "nan,1", "0,inf", "1", "1,2,3", "a,b", ""],
        "--padding": ["valid", "SAME", ""],
        "--synth": FILE_IN + ["{F}/list.json", "{F}/no_fmax.json", "{F}/pe8.json", "{F}/sram.json"],
        "--quiet": FLAG,
    },
    "sw.explore": {
        "--out": DIR_OUT,
        "--pe": INT + ["4,,0", "3", "65", ","],
        "--sram": SIZE + [","],
        "--alpha": FINITE + ["1.5", ","],
        "--resolution": INT + ["100", ","],
        **DDR, **MULTIPLIERS,
        "--synth": FILE_IN + ["{F}/list.json", "{F}/no_fmax.json", "{F}/pe8.json",
                              "{F}/sram.json,{F}/sram.json", ","],
        "--scheduler": ["", "tcp://127.0.0.1:9"],
        "--workers": INT,
        "--confirm": COUNT,
        "--confirm-steps": POSITIVE,
        "--sim": ["model", "ghdl", ""],
    },
    "sw.accuracy": {
        **ACCELERATOR, **DDR, **MULTIPLIERS,
        "--tflite": MODEL_IN + [str(MODELS / "mnv1_a025_ssd_2out.tflite")],  # not a classifier
        "--data": FILE_IN + ["{F}/no_labels.npz", "{F}/wrong_shape.npz"],
        "--limit": POSITIVE,
        "--sim": ["ghdl", ""],
        "--json": FILE_OUT,
    },
    "sw.soak": {
        "--count": INT,
        "--rtl": COUNT + ["3"],  # more than --count
        "--sim": ["model", "ghdl", ""],
        "--seed": ["-1", "nan", "1.5", "many", "", HUGE],
        "--jobs": INT,
        "--out": DIR_OUT,
        "--small": FLAG,
        "--quiet": FLAG,
    },
}


def _options(name):
    """The long option strings of command ``name``'s parser, --help excepted."""
    parser = importlib.import_module(name).build_parser()
    return {max(action.option_strings, key=len) for action in parser._actions
            if action.option_strings and action.dest != "help"}


def test_the_table_covers_every_option():
    for name in COMMANDS:
        assert set(TABLE[name]) == _options(name), name
        assert all(TABLE[name].values()), name


@pytest.mark.parametrize("name", COMMANDS)
def test_the_good_values_reach_the_work(name, tmp_path, monkeypatch, capsys, no_expensive_work):
    """The table's base command lines are good: each gets as far as its expensive step, so
    every refusal in the table is the bad value's."""
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    if name == "model.table":
        assert run_main(f"python -m {name}", module.main, BASE[name]) == 0
        return
    with pytest.raises(AssertionError, match="started before the bad value was refused"):
        run_main(f"python -m {name}", module.main, BASE[name])
    assert capsys.readouterr().err == ""


# Options that only make sense (or only get checked) with another one.
CONTEXT = {
    ("sw.explore", "--confirm-steps"): ["--confirm", "1"],
    ("sw.explore", "--sim"): ["--confirm", "1"],
    ("hw.synth", "--device"): ["--target", "ecp5"],
}

CASES = [(name, option, value) for name in COMMANDS for option, values in TABLE[name].items()
         for value in values]


def _argv(name, option, value, folder):
    value = value.replace("{F}", str(folder))
    base = list(BASE[name])
    if option in base:  # the bad value replaces the good one
        index = base.index(option)
        del base[index:index + 2]
    if name != "sw.accuracy" and option == "--tflite":
        for drop in ("--alpha", "--resolution"):
            if drop in base:
                index = base.index(drop)
                del base[index:index + 2]
    given = [option + value] if value.startswith("=") else [option, value]
    return base + CONTEXT.get((name, option), []) + given


@pytest.fixture
def fixtures(tmp_path):
    folder = tmp_path / "fixtures"
    folder.mkdir()
    (folder / "folder").mkdir()
    (folder / "full").mkdir()
    (folder / "full" / "notes.txt").write_text("someone's work\n")
    (folder / "garbage").write_bytes(b"not what you think\n")
    data = Path(DIGITS).read_bytes()
    (folder / "truncated.tflite").write_bytes(data[:len(data) // 2])
    # A PNG header claiming 20000 x 20000 pixels: Pillow refuses it as a decompression bomb.
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    (folder / "bomb.png").write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))
    # hw.synth --json results: one without Fmax, two of other hardware than sw.run's BASE
    from hw.config import AcceleratorConfig
    (folder / "list.json").write_text("[1, 2]")
    for name, fmax, pe, sram in (("no_fmax", None, 4, 70_000), ("pe8", 80.0, 8, 200_000),
                                 ("sram", 80.0, 4, 90_000)):
        config = AcceleratorConfig(pe=pe, sram_bytes=sram, alpha=0.25, resolution=32)
        (folder / f"{name}.json").write_text(json.dumps({"fmax_mhz": fmax, "config": config.to_dict()}))
    np.save(folder / "floats.npy", np.zeros((32, 32, 3), np.float32))
    np.save(folder / "wrong_shape.npy", np.zeros((31, 32, 3), np.int8))
    np.savez(folder / "no_labels.npz", x=np.zeros((2, 32, 32, 3), np.int8))
    np.savez(folder / "wrong_shape.npz", x=np.zeros((2, 31, 32, 3), np.int8), y=np.zeros(2))
    return folder


def _expensive(what):
    def stand_in(*args, **kwargs):
        raise AssertionError(f"{what} started before the bad value was refused")
    return stand_in


@pytest.fixture
def no_expensive_work(monkeypatch):
    """Stand-ins for every step that takes more than a moment."""
    import distributed

    import hw.generate
    import hw.synth
    import sim.bench
    import sim.toolchain
    import sw.accuracy
    import sw.explore
    import sw.run
    import sw.soak

    monkeypatch.setattr(hw.generate, "emit_verilog", _expensive("Verilog emission"))
    monkeypatch.setattr(hw.synth, "synthesize", _expensive("synthesis"))
    monkeypatch.setattr(hw.synth, "place_and_route", _expensive("place and route"))
    monkeypatch.setattr(sim.bench, "run_network_rtl", _expensive("the RTL simulation"))
    monkeypatch.setattr(sw.run, "execute", _expensive("the network run"))
    monkeypatch.setattr(sw.accuracy, "evaluate", _expensive("the accuracy run"))
    monkeypatch.setattr(sw.explore, "sweep", _expensive("the sweep"))
    monkeypatch.setattr(sw.soak, "soak", _expensive("the soak"))
    monkeypatch.setattr(distributed, "LocalCluster", _expensive("a local Dask cluster"))

    def unreachable(address, *args, **kwargs):
        raise OSError(f"Timed out trying to connect to {address}")
    monkeypatch.setattr(distributed, "Client", unreachable)
    # Simulators count as installed, so each bad value is what gets refused.
    monkeypatch.setattr(sim.toolchain, "simulator_status", lambda sim: (True, f"{sim} found"))


def _refused(name, argv, fixtures, work, capsys):
    """Run ``name`` on ``argv`` in the empty folder ``work``: one line, exit 2, nothing
    written there or among the fixtures."""
    before = sorted(p.relative_to(fixtures) for p in fixtures.rglob("*"))
    module = importlib.import_module(name)
    try:
        code = run_main(f"python -m {name}", module.main, argv)
    except SystemExit as exit:
        code = exit.code
    out, err = capsys.readouterr()
    assert code == 2, (argv, out[-2000:], err)
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"python -m {name}: error: "), (argv, err)
    assert lines[0] != f"python -m {name}: error: ", argv
    assert not any(work.iterdir()), (argv, list(work.iterdir()))
    assert sorted(p.relative_to(fixtures) for p in fixtures.rglob("*")) == before, argv
    return lines[0]


@pytest.fixture
def work(tmp_path, monkeypatch):
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


@pytest.mark.parametrize("name, option, value", CASES,
                         ids=[f"{n}-{o}-{v!r}" for n, o, v in CASES])
def test_bad_value_is_one_line_exit_2_nothing_written(name, option, value, fixtures, work,
                                                     capsys, no_expensive_work):
    _refused(name, _argv(name, option, value, fixtures), fixtures, work, capsys)


# Values good alone, bad together: (command, extra options, what the line must say).
COMBINATIONS = [
    ("hw.generate", ["--ddr-width", "64"], "with --pe 4 use --ddr-width 32"),
    ("hw.generate", ["--tflite", DIGITS], "--tflite gives the network; drop --alpha"),
    ("hw.synth", ["--dsp-packing"], "--dsp-packing needs a 25x18 multiplier"),
    ("hw.synth", ["--target", "xilinx", "--device", "85k"], "give --target ecp5"),
    ("hw.synth", ["--device", "25k", "--fit"], "fewer than the requantisers need at pe 4"),
    ("hw.synth", ["--placer", "static", "--timing-weight", "50"], "--placer static has none"),
    ("sw.run", ["--image", "{F}/garbage", "--input", "{F}/floats.npy"], "not allowed with"),
    ("sw.run", ["--ddr-width", "32", "--ddr-bandwidth", "5"], "at most 4 bytes per cycle"),
    ("sw.explore", ["--pe", "4,8", "--ddr-bandwidth", "5"], "with --pe 4: --ddr-bandwidth"),
    ("sw.explore", ["--pe", "8,16", "--ddr-width", "128"], "with --pe 8 use --ddr-width 32 or 64"),
    ("sw.accuracy", ["--tflite", str(MODELS / "mnv1_a025_96.tflite")], "x must be int8 N x 96"),
]


@pytest.mark.parametrize("name, extra, message", COMBINATIONS,
                         ids=[f"{n}-{' '.join(e)}" for n, e, _ in COMBINATIONS])
def test_bad_combination_is_one_line_exit_2_nothing_written(name, extra, message, fixtures, work,
                                                           capsys, no_expensive_work):
    base = list(BASE[name])
    for option in ("--pe", "--tflite"):  # an extra option replaces the base's
        if option in extra and option in base:
            index = base.index(option)
            del base[index:index + 2]
    argv = base + [e.replace("{F}", str(fixtures)) for e in extra]
    assert message in _refused(name, argv, fixtures, work, capsys)


def test_explore_writes_nothing_when_no_point_is_feasible(tmp_path, monkeypatch, capsys):
    """Infeasible points are results, but a sweep with none has nothing to plot: one line,
    exit 2, no folder."""
    import distributed

    import sw.explore

    class Stub:
        def __init__(self, *args, **kwargs):
            pass

        def close(self):
            pass

    def sweep(grid, **kwargs):
        return [sw.explore.evaluate(*point, settings=kwargs["settings"]) for point in grid]
    monkeypatch.setattr(distributed, "LocalCluster", Stub)
    monkeypatch.setattr(distributed, "Client", Stub)
    monkeypatch.setattr(sw.explore, "sweep", sweep)
    out = tmp_path / "explore"
    code = run_main("python -m sw.explore", sw.explore.main,
                    ["--out", str(out), "--pe", "4", "--sram", "1kB", "--alpha", "0.25",
                     "--resolution", "32"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "no design point is feasible (e.g. pe 4, 0.25-32: SRAM of 1 kB" in err
    assert not out.exists()


@pytest.mark.parametrize("name", COMMANDS)
def test_help_exits_0(name, capsys):
    with pytest.raises(SystemExit) as exit:
        importlib.import_module(name).main(["--help"])
    assert exit.value.code == 0 and "usage: python -m " + name in capsys.readouterr().out


@pytest.mark.parametrize("name, extra", [("sim.bench", []), ("sw.run", ["--sim", "verilator"]),
                                         ("sw.accuracy", ["--sim", "icarus"]),
                                         ("sw.explore", ["--confirm", "1"])])
def test_a_missing_simulator_is_refused_before_any_work(name, extra, tmp_path, monkeypatch,
                                                        capsys, no_expensive_work):
    import sim.toolchain

    monkeypatch.setattr(sim.toolchain, "simulator_status",
                        lambda sim: (False, f"{sim} is not installed: pip install it"))
    monkeypatch.chdir(tmp_path)
    argv = [a for a in BASE[name] if a != "model"]
    if "--sim" in argv:
        argv.remove("--sim")
    code = run_main(f"python -m {name}", importlib.import_module(name).main, argv + extra)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "is not installed: pip install it" in err, err
    assert not any(tmp_path.iterdir())
