"""The accelerator against standard verification IP (Verilator; Icarus for one case): cocotbext-axi's
``AxiRam`` on the AXI4 master and ``AxiLiteMaster`` on the registers, no project wrapper
in between, random pauses on all five AXI channels and on AXI-Lite, a bus monitor on
both ports (``sim/vip_tb.py``, ``sim/axi_monitor.py``). The first steps of a small
network (0.25-32, pe 4, the minimum SRAM; at 80 kB a map kept on chip, and a band
group whose programs prefetch across programs): every output bit-exact with the golden
model and no byte outside the output regions written. One Verilator build serves every
seed and pause setting; the band group runs on Icarus too. The project's own DDR model (``sim/test_system_rtl.py``) stays the
fast and cycle-exact check; this is the independent one beside it.
"""

from __future__ import annotations

import dataclasses
import functools
import json

import numpy as np
import pytest

from hw.config import AcceleratorConfig
from tests import band_group_only, keep_on_chip_only

#: The steps run: conv1 and both strides, each in several tiles (the smallest SRAM);
#: at 80 kB conv1 in several tiles, dw1+pw1's map kept on chip, dw2+pw2 reading it there.
STEPS = 3
PAUSE_SEEDS = (1, 2, 3)
KEPT_SRAM = 80_000


#: With BANDS: conv1 -> dw1+pw1 -> dw2+pw2 as a band group of 3 bands of 3 rows at 80 kB
#: (each band's image LOADed by the band before, dw3+pw3's first band by the last band's
#: dw2+pw2: the prefetches across programs), then dw3+pw3 keeping its map on chip and
#: dw4+pw4 reading it there: the first 11 programs.
BANDS = (0, 3, 3)
BAND_PROGRAMS = 11


@functools.cache
def _setup(sram: int | None = None, bands: bool = False):
    from hw.generate import emit_verilog
    from hw.regs import info_word
    from model.golden import run_network
    from model.quantize import random_input, random_mobilenet
    from sw.schedule import build_schedule

    base = AcceleratorConfig(sram_bytes=10**6, pe=4, alpha=0.25, resolution=32, ddr_data_bits=32,
                             ddr_bytes_per_cycle=4.0, ddr_latency_cycles=20)
    config = dataclasses.replace(base, sram_bytes=sram or base.sram_min_bytes)
    qnet = random_mobilenet(config.network, seed=11)
    image = random_input(config.network, seed=11, scale=qnet[0].in_scale,
                         zero_point=qnet[0].in_zero_point)
    golden = run_network(qnet, image)
    if bands:
        with band_group_only(*BANDS), keep_on_chip_only(9, 11):
            schedule = build_schedule(config, qnet, image)
        programs = schedule.steps[:BAND_PROGRAMS]
        assert [s.tiling.input_prefetched for s in programs] == [False, False, False] + [
            True, False, False] * 2 + [True, False]
        assert [s.tiling.output_resident for s in programs] == [True, True, False] * 3 + [True, False]
    else:
        with keep_on_chip_only(1, STEPS):
            schedule = build_schedule(config, qnet, image)
        kept = [s.tiling.output_resident for s in schedule.steps[:STEPS]]
        assert kept == ([False, True, False] if sram else [False] * STEPS)
    return config, qnet, golden, schedule, emit_verilog(config), info_word(config.pe, 4)


#: (pause seed, pause probability, SRAM, band group): every pause seed on the plain
#: network at 50 % pauses, and one seed each (a different one) for 25 % pauses, the kept
#: map and the band group: six whole-accelerator runs under pauses instead of all twelve
#: pairs (the test run's 20-minute budget).
VIP_CASES = [(seed, 0.5, None, False) for seed in PAUSE_SEEDS] + [
    (PAUSE_SEEDS[0], 0.25, None, False), (PAUSE_SEEDS[1], 0.5, KEPT_SRAM, False),
    (PAUSE_SEEDS[2], 0.5, KEPT_SRAM, True)]


@pytest.mark.parametrize("pause_seed, pause, sram, bands", VIP_CASES,
                         ids=[f"seed{seed}-pause{round(100 * pause)}"
                              + ("-kept" if sram and not bands else "") + ("-bands" if bands else "")
                              for seed, pause, sram, bands in VIP_CASES])
def test_network_on_axi_vip(pause_seed, pause, sram, bands, tmp_path):
    _on_axi_vip("verilator", pause_seed, pause, sram, bands, tmp_path)


def test_band_group_on_axi_vip_icarus(tmp_path):
    """The band group's prefetches across programs under random pauses on Icarus too
    (one seed: 2 minutes)."""
    _on_axi_vip("icarus", PAUSE_SEEDS[0], 0.5, KEPT_SRAM, True, tmp_path)


def _on_axi_vip(sim, pause_seed, pause, sram, bands, tmp_path):
    from sim.runner import run_rtl
    from sim.toolchain import simulator_status
    from sw.schedule import layer_range

    available, reason = simulator_status(sim)
    if not available:
        pytest.skip(f"{sim}: {reason}")
    config, qnet, golden, schedule, verilog, info = _setup(sram, bands)
    count = BAND_PROGRAMS if bands else STEPS
    before = bytes(schedule.image)
    ram_bytes = 1 << (len(before) - 1).bit_length()
    image_path, dump_path = tmp_path / "ddr.bin", tmp_path / "dump.bin"
    writes_path = tmp_path / "writes.json"
    image_path.write_bytes(before)
    steps = [{"name": s.name, "addr": s.program.addr, "count": len(s.instructions),
              "tiles": len(s.tiling.tiles), "predicted": s.cost.cycles}
             for s in schedule.steps[:count]]
    run = run_rtl(verilog, toplevel="mnaccel", test_module="sim.vip_tb", sim=sim,
                  seed=pause_seed, params={
                      "image": str(image_path), "ram_bytes": ram_bytes, "dump": str(dump_path),
                      "writes": str(writes_path),
                      "steps": steps, "info": info, "pause": pause, "pause_seed": pause_seed})
    after = dump_path.read_bytes()
    assert len(after) == ram_bytes

    # Every output bit-exact with the golden model (a band group's step once its last
    # band is done).
    checked = 0
    for index, sched in enumerate(schedule.steps[:count]):
        want = golden[layer_range(config.network, sched.step).stop - 1]
        got = schedule.read_map(after, index)
        if got is None:  # kept on chip: the next step's map, read back, checks it
            assert sched.tiling.output_resident and index + 1 < count
            continue
        part = sched.tiling.part
        if part is not None and part[0] + 1 < part[1]:
            continue  # a band of the map: checked whole with the last band
        checked += 1
        got = got.reshape(want.shape)
        assert np.array_equal(got, want), \
            f"{sched.name}: {np.count_nonzero(got != want)} of {want.size} outputs differ"
    assert checked == (2 if bands else STEPS - (sram is not None))
    # Nothing written outside the output regions of the steps that ran: no write burst
    # reaches outside them, and no byte outside them differs from the image.
    allowed = np.zeros(ram_bytes, dtype=bool)
    # (a map kept on chip has no output region: a write of it to DDR would be stray)
    regions = [s.out_region for s in schedule.steps[:count] if not s.tiling.output_resident]
    for region in regions:
        allowed[region.addr:region.addr + region.size] = True
    writes = json.loads(writes_path.read_text())
    assert writes
    for addr, nbytes in writes:
        assert any(r.addr <= addr and addr + nbytes <= r.addr + r.size for r in regions), \
            f"a write burst of {nbytes} bytes at {addr:#x} reaches outside the output regions"
    initial = np.frombuffer(before + bytes(ram_bytes - len(before)), dtype=np.uint8)
    final = np.frombuffer(after, dtype=np.uint8)
    changed = np.flatnonzero((initial != final) & ~allowed)
    assert changed.size == 0, (f"{changed.size} bytes written outside the output regions, "
                               f"the first at {changed[0]:#x}")
    records = {r["name"]: r for r in run.records}
    assert all(records[s["name"]]["tiles"] == s["tiles"] for s in steps)
    transfers, stalls = records["run"]["transfers"], records["run"]["stalls"]
    assert transfers["m_axi.B"] == transfers["m_axi.AW"] > 0 and transfers["m_axi.R"] > 0
    # The pauses did stall the accelerator's channels: the hold rules were exercised.
    assert all(stalls[f"m_axi.{channel}"] > 0 for channel in ("AW", "W", "AR")), stalls
