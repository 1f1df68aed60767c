"""sw.explore: design points by the cost model, Pareto fronts, the sweep on a local Dask
cluster (the same code path as a remote one), and the command's outputs and errors."""

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from hw.config import AcceleratorConfig
from hw.requant import DSPS_PER_LANE
from model.cost import network_cost
from sw.explore import DesignPoint, evaluate, evaluate_batch, pareto, sweep

ROOT = Path(__file__).resolve().parents[1]


def test_evaluate_is_the_cost_model():
    point = evaluate(16, 1_000_000, 1.0, 224, settings={"clock_mhz": 200.0})
    config = AcceleratorConfig(pe=16, sram_bytes=1_000_000)
    steps = network_cost(config)
    cycles = sum(step.cycles for step in steps)
    assert point.feasible and point.cycles == cycles
    assert point.frames_per_second == pytest.approx(200e6 / cycles)
    assert point.dsps == config.dsp_estimate == 16 * 16 + 9 * 16 + DSPS_PER_LANE * (16 + 8)
    assert config.pw_requant_share == 2
    assert point.compute_cycles == sum(step.compute_cycles for step in steps) < cycles
    assert point.ddr_mb_per_frame == sum(step.ddr_bytes for step in steps) / 1e6
    assert 0 < point.ddr_bound_steps < len(steps)
    assert point.accuracy == 70.6 and point.mult_adds == 568_740_352
    # 1 GB/s DDR: most layers are DDR-bound, so the array is busy well under 100 %
    assert 0.5 < point.array_utilisation < 0.9


def test_infeasible_point_says_why():
    point = evaluate(32, 100_000, 1.0, 224)
    assert not point.feasible and point.cycles is None
    assert "is too small" in point.reason


def test_settings_reach_every_point():
    slow = evaluate(16, 1_000_000, 1.0, 224, settings={"ddr_bytes_per_cycle": 2.0})
    fast = evaluate(16, 1_000_000, 1.0, 224, settings={"ddr_bytes_per_cycle": 8.0, "ddr_data_bits": 64})
    assert slow.frames_per_second < fast.frames_per_second
    packed = evaluate(16, 1_000_000, 1.0, 224, settings={"dsp_packing": True, "dsp_limit": 300})
    assert (packed.dsps, packed.cycles) == (300, evaluate(16, 1_000_000, 1.0, 224).cycles)
    too_few = evaluate(16, 1_000_000, 1.0, 224, settings={"dsp_limit": 10})
    assert not too_few.feasible and too_few.reason.startswith("dsp_limit must be at least 96")


def _p(cost, fps):
    return DesignPoint(1, cost, 1.0, 224, True, "", 1, fps, 0, 0, 1.0, 0, cost, None)


def test_pareto_keeps_only_undominated_points():
    points = [_p(1, 10), _p(2, 5), _p(2, 20), _p(3, 20), _p(4, 30), _p(5, 25)]
    front = pareto(points, lambda p: p.sram_bytes, lambda p: p.frames_per_second)
    assert [(p.sram_bytes, p.frames_per_second) for p in front] == [(1, 10), (2, 20), (4, 30)]


def test_sweep_on_a_local_dask_cluster_matches_serial_evaluation():
    from distributed import Client, LocalCluster
    grid = [(pe, sram, alpha, 128) for pe in (4, 8) for sram in (300_000, 2_000_000)
            for alpha in (0.25, 0.5)]
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        seen = []
        points = sweep(grid, client=client, batch=3, progress=lambda done, total: seen.append(done))
    assert points == evaluate_batch(grid)
    assert seen[-1] == len(grid)


@pytest.mark.slow
def test_command_writes_csv_and_plots(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "sw.explore", "--out", str(tmp_path), "--pe", "4,8",
         "--sram", "256kB,1MB", "--alpha", "0.5,1.0", "--resolution", "160,224", "--workers", "2"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "sweep.csv") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 2 * 2 * 2 * 2
    assert {"pe", "sram_bytes", "alpha", "resolution", "frames_per_second", "dsps",
            "accuracy"} <= set(rows[0])
    for name in ("pareto_sram.png", "pareto_dsps.png", "accuracy_fps.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Pareto front of 1 MobileNet-224" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("args, message", [
    (["--pe", "0"], "--pe must be a positive integer, not 0"),
    (["--alpha", "1.5"], "--alpha: alpha must be in (0, 1], not 1.5"),
    (["--sram", "lots"], "argument --sram: sram: size must be bytes with an optional unit"),
    (["--confirm", "-1"], "--confirm must be a non-negative integer, not -1"),
    (["--pe", "4", "--sram", "1MB", "--alpha", "0.25", "--resolution", "128",
      "--scheduler", "tcp://127.0.0.1:9"], "cannot reach the Dask scheduler at tcp://127.0.0.1:9"),
])
def test_bad_input_one_line(tmp_path, args, message):
    result = subprocess.run([sys.executable, "-m", "sw.explore", "--out", str(tmp_path), *args],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith(f"python -m sw.explore: error: {message}")
    assert result.stderr.count("\n") == 1


@pytest.mark.slow
def test_a_rerun_removes_what_it_did_not_write(tmp_path):
    """A folder of a previous sweep is reused; its confirmations and accuracy plot must
    not sit beside a sweep that made neither (no point of this one is in the paper)."""
    (tmp_path / "sweep.csv").write_text("pe\n")
    for name in ("confirmed.json", "accuracy_fps.png"):
        (tmp_path / name).write_text("of an older sweep")
    result = subprocess.run(
        [sys.executable, "-m", "sw.explore", "--out", str(tmp_path), "--pe", "4",
         "--sram", "1MB", "--alpha", "0.25", "--resolution", "96", "--workers", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pareto_dsps.png", "pareto_sram.png",
                                                          "sweep.csv"]
    assert f"removed {tmp_path / 'confirmed.json'} (of a previous sweep)" in result.stdout


def test_each_pe_at_its_routed_fmax(tmp_path):
    """--synth: a pe's points run at the Fmax of its hw.synth result (routed at one SRAM
    and network, applied to the others, as the source says); other pes at --clock-mhz."""
    import json

    from hw.config import AcceleratorConfig
    from sw.explore import clocks_from_synthesis

    config = AcceleratorConfig(pe=8, sram_bytes=200_000, alpha=0.25, resolution=128)
    path = tmp_path / "pe8.json"
    path.write_text(json.dumps({"fmax_mhz": 61.5, "device": "LFE5U-85F", "config": config.to_dict(),
                                "fmax_source": "nextpnr-ecp5 nextpnr-0.11.1, speed grade 6, seed 1"}))
    clocks = clocks_from_synthesis([path])
    assert list(clocks) == [8] and clocks[8][0] == 61.5
    assert "speed grade 6" in clocks[8][1] and "routed at 200 kB, MobileNet-v1 0.25-128" in clocks[8][1]
    settings = {"clock_mhz": 200.0}
    routed = evaluate(8, 1_000_000, 0.5, 160, settings=settings, clocks=clocks)
    assumed = evaluate(4, 1_000_000, 0.5, 160, settings=settings, clocks=clocks)
    assert (routed.clock_mhz, assumed.clock_mhz, assumed.clock_source) == (61.5, 200.0, "--clock-mhz")
    assert routed.frames_per_second == pytest.approx(61.5e6 / routed.cycles)
    assert assumed.frames_per_second == pytest.approx(200e6 / assumed.cycles)
    with pytest.raises(ValueError, match="a second result for pe 8"):
        clocks_from_synthesis([path, path])


def test_default_clocks_are_the_checked_in_fmax_table(tmp_path):
    """Without --synth or --clock-mhz, each pe with a routed result in docs/fmax/ runs at
    that Fmax (the lowest of its seeds), the others at the default reporting clock, and
    sweep.csv names each point's clock; a given --clock-mhz replaces the table."""
    import json

    from hw.config import AcceleratorConfig
    from hw.synth import fmax_table

    # The table's rule on a folder of its own: per pe the slowest seed; a component's
    # result and a result without Fmax are no clock of the accelerator.
    config = AcceleratorConfig(pe=8, sram_bytes=200_000, alpha=0.25, resolution=128)
    for seed, fmax in ((1, 101.5), (2, 97.25)):
        (tmp_path / f"pe8_seed{seed}.json").write_text(json.dumps(
            {"fmax_mhz": fmax, "device": "LFE5U-85F", "config": config.to_dict(),
             "fmax_source": f"nextpnr-ecp5 nextpnr-0.11.1, speed grade 6, seed {seed}"}))
    (tmp_path / "component.json").write_text(json.dumps(
        {"fmax_mhz": 300.0, "component": "fetch", "config": {**config.to_dict(), "pe": 4}}))
    (tmp_path / "unrouted.json").write_text(json.dumps(
        {"fmax_mhz": None, "config": {**config.to_dict(), "pe": 16}}))
    table = fmax_table(tmp_path)
    assert list(table) == [8] and table[8][0] == 97.25
    assert "seed 2" in table[8][1] and "the lowest of 2 seeds' Fmax" in table[8][1]

    checked_in = fmax_table()
    assert checked_in, "docs/fmax/ holds no routed result"
    pe = min(checked_in)
    other = next(p for p in (4, 8, 12, 16) if p not in checked_in)
    out = tmp_path / "sweep"
    result = subprocess.run(
        [sys.executable, "-m", "sw.explore", "--out", str(out), "--pe", f"{pe},{other}",
         "--sram", "1MB", "--alpha", "0.25", "--resolution", "128", "--workers", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    with open(out / "sweep.csv") as file:
        rows = {int(row["pe"]): row for row in csv.DictReader(file)}
    assert float(rows[pe]["clock_mhz"]) == checked_in[pe][0]
    assert rows[pe]["clock_source"] == checked_in[pe][1]
    assert float(rows[other]["clock_mhz"]) == 200.0
    assert "not a place-and-route result (no routed result of this pe in docs/fmax/)" \
        in rows[other]["clock_source"]
    assert f"pe {pe}: frames/s at {checked_in[pe][0]:g} MHz (Fmax of " in result.stdout
    result = subprocess.run(
        [sys.executable, "-m", "sw.explore", "--out", str(out), "--pe", f"{pe}", "--sram", "1MB",
         "--alpha", "0.25", "--resolution", "128", "--workers", "1", "--clock-mhz", "150"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    with open(out / "sweep.csv") as file:
        row = next(csv.DictReader(file))
    assert (float(row["clock_mhz"]), row["clock_source"]) == \
        (150.0, "--clock-mhz, not a place-and-route result")
