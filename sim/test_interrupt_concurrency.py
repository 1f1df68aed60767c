"""Ctrl-C and concurrent runs against the simulator build cache (sim.runner).

A build interrupted by Ctrl-C (SIGINT to the process group, as a terminal sends it) ends
with one line and exit code 130 and leaves no finished-build stamp, so it is never
trusted; two processes then running the same design at once into the same cache both
succeed with identical records: one builds, the other waits for it and reuses the build,
and each runs in its own run folder. Two runs of one configuration at once (``sw.run``'s
execute and write_report), into different report folders, both succeed with the same report.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import let_children_take_ctrl_c

let_children_take_ctrl_c()  # this module presses Ctrl-C on its children

ROOT = Path(__file__).resolve().parents[1]

# The smallest design the sim/ tests build (the 4-lane requantiser of test_requant.py),
# with a short stimulus.
_REQUANT_RUN = """
import json, sys
from model.cli import run_main
def main(argv):
    from hw.requant import Requantizer, requant_input_layout, requant_output_layout
    from sim.runner import describe_layout, run_rtl
    run = run_rtl(Requantizer(4), toplevel="requant", test_module="sim.requant_tb",
                  sim=argv[0], seed=1, params={
                      "lanes": 4, "beats": 40, "latency": Requantizer.LATENCY,
                      "in_layout": describe_layout(requant_input_layout(4)),
                      "out_layout": describe_layout(requant_output_layout(4))})
    print(json.dumps({"reused": run.reused_build, "records": run.records,
                      "test_dir": str(run.test_dir)}))
sys.exit(run_main("requant run", main, sys.argv[1:]))
"""


def _start(code, *args, env):
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def test_interrupted_build_then_two_concurrent_runs(sim, tmp_path):
    cache = tmp_path / "cache"
    # The same run-folder name for both runs (it comes from the pytest test's name).
    env = dict(os.environ, MNACCEL_SIM_CACHE=str(cache), MNACCEL_SIM_REBUILD="",
               PYTEST_CURRENT_TEST="sim/test_interrupt_concurrency.py::requant (call)")

    first = _start(_REQUANT_RUN, sim, env=env)
    deadline = time.monotonic() + 120
    while not list(cache.glob("requant-*/requant.v")) and first.poll() is None:
        assert time.monotonic() < deadline, "the build never started"
        time.sleep(0.05)
    if sim == "verilator":
        time.sleep(1.0)  # Verilator and the C++ compiler at work (a build takes 10 s or more)
    os.killpg(first.pid, signal.SIGINT)
    _, stderr = first.communicate(timeout=120)
    assert first.returncode == 130, stderr
    assert stderr.splitlines()[-1] == "requant run: interrupted"
    assert "Traceback" not in stderr
    [entry] = [p for p in cache.iterdir() if p.is_dir()]
    if sim == "verilator":
        assert not (entry / "mnaccel-build.json").exists()  # unfinished: not trusted

    runs = [_start(_REQUANT_RUN, sim, env=env) for _ in range(2)]
    results = []
    for run in runs:
        stdout, stderr = run.communicate(timeout=600)
        assert run.returncode == 0, stderr
        results.append(json.loads(stdout.splitlines()[-1]))
    assert results[0]["records"] == results[1]["records"]
    assert results[0]["records"]
    assert results[0]["test_dir"] != results[1]["test_dir"]  # both ran, each in its folder
    if sim == "verilator":
        assert sorted(r["reused"] for r in results) == [False, True]  # one build, one wait
    assert (entry / "mnaccel-build.json").is_file()
    assert [p for p in cache.iterdir() if p.is_dir()] == [entry]


# sw.run's execute and write_report, as its main calls them, on the configuration
# test_system_rtl.py's pe-4 test builds (so the build is shared), first two steps only:
# Verilog emission and the two simulations share two cores.
_SW_RUN = """
import dataclasses, sys
from pathlib import Path
from hw.config import AcceleratorConfig
from model.cli import run_main
from sw.run import execute, write_report
def main(argv):
    base = AcceleratorConfig(sram_bytes=10**6, pe=4, alpha=0.25, resolution=32, ddr_data_bits=32,
                             ddr_bytes_per_cycle=4.0, ddr_latency_cycles=20)
    config = dataclasses.replace(base, sram_bytes=base.sram_min_bytes)
    write_report(execute(config, "verilator", seed=5, limit=2), Path(argv[0]))
sys.exit(run_main("sw.run", main, sys.argv[1:]))
"""


def test_two_runs_of_one_configuration_at_once(tmp_path):
    """Two runs of one configuration at once, sharing the build cache, reporting to
    different folders (two terminals running ``python -m sw.run``)."""
    from sim.toolchain import simulator_status

    available, reason = simulator_status("verilator")
    if not available:
        pytest.skip(f"verilator: {reason}")
    env = dict(os.environ, MNACCEL_SIM_REBUILD="",
               PYTEST_CURRENT_TEST="sim/test_interrupt_concurrency.py::sw.run (call)")
    runs = [_start(_SW_RUN, str(tmp_path / name), env=env) for name in ("a", "b")]
    for run in runs:
        _, stderr = run.communicate(timeout=1200)
        assert run.returncode == 0, stderr
    reports = [json.loads((tmp_path / name / "report.json").read_text()) for name in ("a", "b")]
    assert reports[0]["bit_exact"] and [l["name"] for l in reports[0]["layers"]] == ["conv1", "dw1+pw1"]
    assert reports[0]["layers"] == reports[1]["layers"]
    assert reports[0]["totals"]["sim_cycles"] == reports[1]["totals"]["sim_cycles"]
    for name in ("a", "b"):
        assert sorted(p.name for p in (tmp_path / name).iterdir()) == [
            "layers.csv", "measured_vs_predicted.png", "report.json", "roofline.png",
            "timeline.png"]
