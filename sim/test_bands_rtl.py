"""Band groups on the RTL (``model.cost.band_group``): a chain of steps run band by band
with its inner maps in the activation buffer, the next band's input and the first band
of the step after the group prefetched across programs; every program bit-exact and
within the per-step tolerance of the cost model, from the DDR model.
"""

from __future__ import annotations

import pytest

from hw.config import AcceleratorConfig
from sw.run import execute

from sim.test_system_rtl import TOLERANCE


def test_a_band_group_runs_band_by_band(sim, tmp_path):
    """pe 4, 80 kB: conv1 -> dw1+pw1 -> dw2+pw2 as a band group of 3 bands of 3 output
    rows of dw2+pw2 (``model.cost.band_group``): per band conv1 from the image in DDR,
    its band into an activation half, dw1+pw1 reading it there (halo rows computed
    again) and writing its band into the other half, dw2+pw2 reading that and writing
    its rows to DDR, where the whole map is read back bit-exact after the last band;
    from the second band on, conv1's image band LOADed by the band before's dw2+pw2
    into the activation half it does not read (``StepTiling.input_prefetched``); each
    program's cycles the cost model's, on both simulators."""
    from tests import band_group_only

    config = AcceleratorConfig(pe=4, alpha=0.25, resolution=32, sram_bytes=80_000,
                               ddr_data_bits=32, ddr_bytes_per_cycle=4.0, ddr_latency_cycles=20)
    with band_group_only(0, 3, 3):
        report = execute(config, sim, seed=11, workdir=tmp_path, limit=9)
    layers = report["layers"]
    steps = ["conv1", "dw1+pw1", "dw2+pw2"]
    assert [l["name"] for l in layers] == [f"{s} b{j}/3" for j in (1, 2, 3) for s in steps]
    assert [l["rows"] for l in layers[2::3]] == [[0, 3], [3, 6], [6, 8]]
    assert [l["rows"] for l in layers[1::3]] == [[0, 7], [6, 13], [12, 16]]  # halo rows again
    assert [l["rows"] for l in layers[0::3]] == [[0, 8], [5, 14], [11, 16]]
    assert [l["kept_on_chip"] for l in layers] == [True, True, False] * 3
    assert [l["input_on_chip"] for l in layers] == [False, True, True] * 3
    assert [l["input_prefetched"] for l in layers[0::3]] == [False, True, True]
    assert [l["bit_exact"] for l in layers[2::3]] == [None, None, True] and report["bit_exact"]
    assert all(l["ddr_write_bytes"] == 0 for l in layers if l["kept_on_chip"])
    for layer in layers:
        assert abs(layer["error"]) <= TOLERANCE, \
            f"{layer['name']}: measured {layer['measured_cycles']}, predicted {layer['predicted_cycles']}"


def _after_group(sim, tmp_path, resolution: int, sram_bytes: int, group: tuple[int, int, int],
                 keep: tuple[int, int], seed: int, half: int):
    """A band group (``band_group``: first step, stop, band height) whose last program
    prefetches the step after it's first input band into activation half ``half``; that
    step keeps its output on chip with its bands in turns in the two halves of that half
    (``keep``: the window of steps where maps may stay on chip), and the step after it
    writes to DDR, where the maps are read back. pe 8, 0.25 width."""
    from hw.command import Target
    from hw.instruction import Op
    from model.quantize import random_input, random_mobilenet
    from sw.schedule import build_schedule
    from tests import band_group_only, keep_on_chip_only

    config = AcceleratorConfig(pe=8, alpha=0.25, resolution=resolution, sram_bytes=sram_bytes,
                               ddr_data_bits=32, ddr_bytes_per_cycle=4.0, ddr_latency_cycles=20)
    after = keep[0]  # the step after the group, first in the window
    with band_group_only(*group), keep_on_chip_only(*keep):
        schedule = build_schedule(config, random_mobilenet(config.network, seed=seed),
                                  random_input(config.network, seed=seed))
        report = execute(config, sim, seed=seed, workdir=tmp_path, limit=after + 2)
    layers, steps = report["layers"], schedule.steps
    bands = -(-steps[after - 1].step.last.out_h // group[2])
    assert layers[after - 1]["name"] == f"{steps[after - 1].step.name} b{bands}/{bands}"
    assert steps[after].tiling.split_input and len(steps[after].tiling.tiles) > 2
    loads = [i["load"] for i in steps[after - 1].instructions
             if i["op"] is Op.LOAD and Target(i["load"]["target"]) is Target.ACT]
    assert [(b["half"], b["base"]) for b in loads] == [(half, 0)]
    assert {i["cmd"]["act_half"] for i in steps[after].instructions if i["op"] is Op.EXEC} == {half}
    assert [l["input_prefetched"] for l in layers[after - 1:]] == [False, True, False]
    assert [l["kept_on_chip"] for l in layers[after - 1:]] == [False, True, False]
    assert [l["bit_exact"] for l in layers[after - 1:]] == [True, None, True] and report["bit_exact"]
    for layer in layers:
        assert abs(layer["error"]) <= TOLERANCE, \
            f"{layer['name']}: measured {layer['measured_cycles']}, predicted {layer['predicted_cycles']}"


def test_the_step_after_a_band_group_finds_its_first_band_prefetched(sim, tmp_path):
    """pe 8, 0.25-32, 70 kB: dw1+pw1 -> dw2+pw2 as a band group of 2 bands; dw2+pw2's
    last band reads its input on chip and writes its rows to DDR, so after its last
    EXEC it LOADs dw3+pw3's first input band (of the map the group just wrote) into the
    activation half it does not read, half 0 (``model.cost.input_prefetch_allowed``);
    dw3+pw3 keeps its output on chip, its bands in turns in the two halves of that half
    (``StepTiling.split_input``: the first where the prefetch put it, at word 0, the
    others LOADed by itself), its output in half 1, which dw4+pw4 reads and writes to
    DDR, read back bit-exact; each program's cycles the cost model's, on both
    simulators."""
    _after_group(sim, tmp_path, 32, 70_000, (1, 3, 4), (5, 7), seed=13, half=0)


def test_the_step_after_a_band_group_splits_the_other_half(tmp_path):
    """As above with the prefetched band in activation half 1 (a group of three steps:
    pe 8, 0.25-96, 130 kB, dw1+pw1 -> dw2+pw2 -> dw3+pw3 in 3 bands, then dw4+pw4's bands
    in turns in the two halves of half 1, its output in half 0); Verilator (55 k cycles,
    ten minutes on Icarus)."""
    from sim.toolchain import simulator_status

    available, reason = simulator_status("verilator")
    if not available:
        pytest.skip(f"verilator: {reason}")
    _after_group("verilator", tmp_path, 96, 130_000, (1, 4, 8), (10, 12), seed=13, half=1)
