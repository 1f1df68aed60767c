"""Band groups (issue "Past the per-layer roofline": maps kept on chip band by band):
a run of steps cut into bands of the last step's output rows, each step run per band on
just the rows the next one needs (``model.cost.band_group``, ``plan_bands``); the inner
maps stay in the activation halves. The RTL runs them in ``sim/test_bands_rtl.py``."""

import pytest

from hw.config import AcceleratorConfig
from model.cost import (DdrTiming, band_chain, band_group, plan_network, step_cost, step_costs)
from model.tiling import TilingError, act_words, band_input_rows, network_steps
from tests import band_group_only, flip_load_half

pytestmark = pytest.mark.quick


def _config(**kwargs):
    base = dict(pe=4, alpha=0.25, resolution=32, sram_bytes=80_000, ddr_data_bits=32,
                ddr_bytes_per_cycle=4.0, ddr_latency_cycles=20)
    return AcceleratorConfig(**{**base, **kwargs})


def _depths(config):
    return config.bank["act"].depth, config.bank["pw_weights"].depth


@pytest.mark.parametrize("resolution", [32, 64, 96])
@pytest.mark.parametrize("height", [1, 2, 3, 5])
def test_each_band_computes_what_the_next_step_reads(resolution, height):
    """Per band, a step's output rows are the input rows (halo included) the next step's
    rows read; the last step's bands partition its map; every step's bands together
    cover every row the next step reads, and new_rows counts each row once."""
    config = _config(resolution=resolution, sram_bytes=10**6)
    steps = network_steps(config.network)[:4]
    programs = band_group(steps, config.pe, *_depths(config), height)
    assert len(programs) % len(steps) == 0
    bands = len(programs) // len(steps)
    out_h = steps[-1].last.out_h
    assert bands == -(-out_h // height)
    for j in range(bands):
        chain = programs[j * len(steps):(j + 1) * len(steps)]
        assert [p.step for p in chain] == steps
        assert [p.part for p in chain] == [(j, bands)] * len(steps)
        assert chain[-1].rows == (j * height, min(out_h, (j + 1) * height))
        for before, after in zip(chain, chain[1:]):
            assert before.rows == band_input_rows(after.step, *after.rows)
            assert all(t.in_rows == before.rows for t in after.tiles)
        assert [(p.input_resident, p.output_resident) for p in chain] == \
            [(k > 0, k + 1 < len(steps)) for k in range(len(steps))]
        assert all(p.single_band for p in chain)
    for k, step in enumerate(steps):
        mine = programs[k::len(steps)]
        assert sum(p.new_rows for p in mine) == max(p.rows[1] for p in mine)
        if k + 1 < len(steps):  # the rows the next step reads, all of them made
            need = band_input_rows(steps[k + 1], 0, steps[k + 1].last.out_h)
            assert min(p.rows[0] for p in mine) <= need[0] and max(p.rows[1] for p in mine) >= need[1]
        else:
            assert sum(p.new_rows for p in mine) == out_h


def test_band_chain_of_a_stride_2_step():
    """dw2+pw2 of 0.25-32 (stride 2, 16 -> 8 rows, TensorFlow's SAME padding: none on top)
    reads input rows 2a .. 2b + 1 (clipped) for output rows a .. b - 1; conv1 before it
    (stride 1 here from dw1+pw1's point of view) one more row each side."""
    steps = network_steps(_config().network)[:3]
    assert band_chain(steps, (0, 3)) == [(0, 8), (0, 7), (0, 3)]
    assert band_chain(steps, (3, 6)) == [(5, 14), (6, 13), (3, 6)]
    assert band_chain(steps, (6, 8)) == [(11, 16), (12, 16), (6, 8)]


def test_a_band_that_does_not_fit_is_refused():
    """An inner band larger than an activation half is a TilingError, never a program."""
    config = _config(resolution=64)
    steps = network_steps(config.network)[:3]
    act_depth, weight_depth = _depths(config)
    tall = steps[-1].last.out_h - 1
    chain = band_chain(steps, (0, tall))
    first = steps[0]
    need = act_words(chain[0][1] - chain[0][0], first.last.out_w, first.last.out_c, config.pe)
    assert need > act_depth  # the premise: conv1's band is too tall for a half
    with pytest.raises(TilingError):
        band_group(steps, config.pe, act_depth, weight_depth, tall)


def test_band_programs_share_the_steps_work():
    """The useful Mult-Adds of a step's bands add up to the step's (the halo rows computed
    again are not counted twice), while their compute cycles exceed the step's alone."""
    config = _config(resolution=64, sram_bytes=10**6)
    steps = network_steps(config.network)[:3]
    ddr = DdrTiming.of(config)
    programs = band_group(steps, config.pe, *_depths(config), 4)
    costs = [step_cost(p, config.pe, ddr) for p in programs]
    alone = {s.name: step_cost(t, config.pe, ddr) for s, t in
             ((s, plan_network(config)[k]) for k, s in enumerate(steps))}
    for k, step in enumerate(steps):
        mine = costs[k::len(steps)]
        assert sum(c.macs for c in mine) == sum(layer.mult_adds for layer in step.layers)
    inner = costs[0::len(steps)]  # conv1: its bands overlap by the halo dw1+pw1 reads
    assert sum(c.compute_cycles for c in inner) > alone["conv1"].compute_cycles


def test_plan_takes_a_band_group_only_where_it_is_predicted_faster():
    """plan_network compares the plans with and without band groups and keeps the one
    with fewer predicted cycles: forcing a group that the planner did not choose never
    predicts fewer cycles than its choice."""
    config = _config()
    ddr = DdrTiming.of(config)
    chosen = sum(c.cycles for c in step_costs(plan_network(config), config.pe, ddr))
    with band_group_only(0, 3, 3):
        forced_plan = plan_network(config)
    forced = sum(c.cycles for c in step_costs(forced_plan, config.pe, ddr))
    assert any(t.part for t in forced_plan)
    assert chosen <= forced


@pytest.mark.slow
def test_plan_predicts_each_chain_with_the_steps_after_it():
    """1.0-224, pe 16, 1 MB: the planner predicts each candidate chain together with the
    steps after it, the maps kept on chip and the prefetches over them. Every chain
    length it could take from conv1 (each in the band height the planner would try
    first) makes the frame no faster than its choice, which hands the step after the
    group its first band (prefetched by the group's last program) where that step reads
    its input from DDR."""
    from model.cost import (GROUP_STEPS, input_prefetch_allowed, plan_prefetch, plan_residency,
                            plan_step)

    config = AcceleratorConfig(pe=16, sram_bytes=1_000_000)
    ddr, pe, share = DdrTiming.of(config), config.pe, config.pw_requant_share
    chosen_plan = plan_network(config)
    chosen = sum(c.cycles for c in step_costs(chosen_plan, pe, ddr, share))
    after = next(k for k, t in enumerate(chosen_plan) if k and chosen_plan[k - 1].part and not t.part)
    assert chosen_plan[after].input_prefetched
    assert input_prefetch_allowed(chosen_plan[after - 1], chosen_plan[after])
    depths = config.bank["act"].depth, config.bank["pw_weights"].depth
    alone = [plan_step(step, pe, *depths, ddr, share) for step in config.steps]
    tried = 0
    for length in range(2, GROUP_STEPS + 1):
        steps = list(config.steps[:length])
        for bands in range(2, 9):
            height = -(-steps[-1].last.out_h // bands)
            try:
                programs = band_group(steps, pe, *depths, height)
            except TilingError:
                continue
            plan = plan_residency(programs + alone[length:], pe, *depths, ddr, share)
            plan = plan_prefetch(plan, pe, ddr, share)
            assert sum(c.cycles for c in step_costs(plan, pe, ddr, share)) >= chosen, (length, bands)
            tried += 1
            break  # the tallest bands that fit: the first height plan_bands tries
    assert tried == GROUP_STEPS - 1


def test_the_step_after_a_group_is_prefetched_only_from_the_last_band():
    """``input_prefetch_allowed`` for a program outside any group: only from the group's
    last program (the last band's last step, output to DDR), and only into a step whose
    first band is all it reads there or whose bands take turns in one half; never from a
    band before the last, nor from a step that keeps its output on chip."""
    from dataclasses import replace

    from model.cost import input_prefetch_allowed, plan_step, split_tilings

    config = _config()
    act_depth, weight_depth = _depths(config)
    steps = config.steps
    programs = band_group(steps[:3], config.pe, act_depth, weight_depth, 3)
    ddr = DdrTiming.of(config)
    after = plan_step(steps[3], config.pe, act_depth, weight_depth, ddr)
    last, earlier, inner = programs[-1], programs[-4], programs[-2]
    assert last.part == (2, 3) and earlier.part == (1, 3) and not last.output_resident
    single = after if after.single_band else replace(after, tiles=after.tiles[:1])
    assert input_prefetch_allowed(last, single)
    assert not input_prefetch_allowed(earlier, single)  # a band before the last
    assert not input_prefetch_allowed(inner, single)  # keeps its output on chip
    assert not input_prefetch_allowed(last, replace(single, input_resident=True))
    for split in split_tilings(steps[3], config.pe, act_depth, weight_depth, ddr):
        assert input_prefetch_allowed(last, split)


def test_fast_model_runs_a_band_group_bit_exact():
    """The fast model executes the group's programs from their decoded instructions: the
    inner bands from the activation halves (an unwritten word read is an error), the
    last step's rows to DDR; every map equal to the golden model's."""
    from sw.run import execute

    config = _config(pe=8, resolution=64, sram_bytes=150_000, ddr_data_bits=64,
                     ddr_bytes_per_cycle=5.0, ddr_latency_cycles=64)
    with band_group_only(1, 4, 3):
        report = execute(config, "model", seed=4)
    layers = report["layers"]
    banded = [l for l in layers if l["band"]]
    assert {l["step"] for l in banded} == {"dw1+pw1", "dw2+pw2", "dw3+pw3"}
    assert report["bit_exact"] and report["complete"]
    assert all(l["bit_exact"] for l in banded if l["band"][0] == l["band"][1])
    assert all(l["ddr_write_bytes"] == 0 for l in banded if l["step"] != "dw3+pw3")


def test_each_band_after_the_first_finds_its_input_band_loaded_by_the_band_before():
    """From the second band on, a group's first program finds its input band in the
    activation half the band before's last program does not read: that program LOADs
    it after its last EXEC (``StepTiling.input_prefetched``); the first program LOADs no
    band itself and reads the half it went to. After the last band, the step that reads
    the group's output from DDR finds its first band loaded the same way by the group's
    last program; its first tile LOADs no band. Not the first band (nothing runs before
    it reading on chip), nor any other program."""
    from hw.command import Target
    from hw.instruction import Op
    from model.cost import input_prefetch_allowed
    from model.quantize import random_input, random_mobilenet
    from sw.schedule import build_schedule

    config = _config()
    with band_group_only(0, 3, 3):
        schedule = build_schedule(config, random_mobilenet(config.network, seed=2),
                                  random_input(config.network, seed=2))
    steps = schedule.steps
    prefetched = [k for k, s in enumerate(steps) if s.tiling.input_prefetched]
    assert [steps[k].name for k in prefetched] == ["conv1 b2/3", "conv1 b3/3", "dw3+pw3"]
    for k in prefetched:
        before, after = steps[k - 1], steps[k]
        assert input_prefetch_allowed(before.tiling, after.tiling)
        last = max(i for i, ins in enumerate(before.instructions) if ins["op"] is Op.EXEC)
        band = before.instructions[last + 1]
        assert band["op"] is Op.LOAD and Target(band["load"]["target"]) is Target.ACT
        assert band["load"]["half"] == before.instructions[last]["cmd"]["act_half"] ^ 1
        assert band["load"]["base"] == 0
        rows = after.tiling.tiles[0].in_rows
        assert band["load"]["image"] == after.step.from_image
        assert band["load"]["words"] == (rows[1] - rows[0]) * after.in_shape[1] * (
            1 if after.step.from_image else after.in_shape[2] // config.pe)
        first = next(i for i, ins in enumerate(after.instructions) if ins["op"] is Op.EXEC)
        assert after.instructions[first]["cmd"]["act_half"] == band["load"]["half"]
        assert not any(ins["op"] is Op.LOAD and Target(ins["load"]["target"]) is Target.ACT
                       for ins in after.instructions[:first])
        if after.tiling.part is None:  # the step after the group, from its last band
            assert before.tiling.part == (2, 3) and before.step.name == "dw2+pw2"
            assert after.step.name == "dw3+pw3"
        else:
            assert not any(ins["op"] is Op.LOAD and Target(ins["load"]["target"]) is Target.ACT
                           for ins in after.instructions)
    assert all(s.tiling.part for s in steps[:prefetched[-1]] if s.tiling.input_prefetched)


def test_fast_model_catches_a_prefetched_band_in_the_wrong_half():
    """The fast model keeps which band each activation half was LOADed with: a band
    prefetched into the half the next program does not read is an error, not a pass."""
    from hw.instruction import Op
    from model.quantize import random_input, random_mobilenet
    from sw.fast_model import run_model_schedule
    from sw.schedule import ScheduleError, build_schedule

    config = _config()
    qnet, image = random_mobilenet(config.network, seed=2), random_input(config.network, seed=2)
    with band_group_only(0, 3, 3):
        schedule = build_schedule(config, qnet, image)
    run_model_schedule(schedule, qnet, image=image)  # as scheduled: no error
    k = next(k for k, s in enumerate(schedule.steps) if s.tiling.input_prefetched)
    before = schedule.steps[k - 1]
    index = max(i for i, ins in enumerate(before.instructions) if ins["op"] is Op.EXEC) + 1
    flip_load_half(schedule, before, index)
    with pytest.raises(ScheduleError, match="holds no LOAD of that band"):
        run_model_schedule(schedule, qnet, image=image)
