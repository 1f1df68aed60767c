"""The scheduler, the programs it writes and the fast model, without an HDL simulator."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from hw.command import Target
from hw.config import AcceleratorConfig
from hw.instruction import Op, slices_per_word
from model.cost import network_cost, prefetch_loads, prefetch_target, tile_loads
from model.golden import run_network
from model.quantize import random_input, random_mobilenet
from model.tiling import IMAGE_PIXEL_BYTES, act_words, map_row_bytes, map_width
from sw.fast_model import run_model_schedule
from sw.schedule import _BANK_OF, build_schedule, decode_program


def _config(pe=4, alpha=0.25, resolution=32, bits=32, minimal=True, **ddr):
    base = AcceleratorConfig(pe=pe, alpha=alpha, resolution=resolution, ddr_data_bits=bits,
                             ddr_bytes_per_cycle=ddr.get("bw", min(5.0, bits / 8)),
                             ddr_latency_cycles=ddr.get("latency", 20), sram_bytes=10**6)
    if not minimal:
        return base
    return dataclasses.replace(base, sram_bytes=base.sram_min_bytes)


CONFIGS = [_config(), _config(pe=8, bits=32), _config(pe=8, alpha=0.5, resolution=64, bits=64),
           _config(pe=16, alpha=1.0, resolution=224, bits=64, minimal=False)]
IDS = [f"pe{c.pe}-{c.alpha}-{c.resolution}-{c.sram_bytes}B" for c in CONFIGS]
# The full-size network takes most of this file's time: the full run only.
PARAMS = [pytest.param(c, id=i, marks=[pytest.mark.slow] if c.resolution == 224 else [])
          for c, i in zip(CONFIGS, IDS)]


@pytest.fixture(scope="module", params=PARAMS)
def scheduled(request):
    config = request.param
    qnet = random_mobilenet(config.network, seed=3)
    image = random_input(config.network, seed=3)
    return config, qnet, image, build_schedule(config, qnet, image)


def test_every_load_fits_its_bank_and_every_instruction_decodes(scheduled):
    """A schedule cannot overflow SRAM: every tile's footprint, read back from the
    program bits the accelerator fetches, fits the bank it fills."""
    config, _, _, schedule = scheduled
    depth = {bank.name: bank.depth for bank in config.banks}
    for index, s in enumerate(schedule.steps):
        program = decode_program(schedule.image, s.program.addr, len(s.instructions))
        assert [i["op"] for i in program] == [i["op"] for i in s.instructions]
        loads = execs = 0
        for ins in program:
            if ins["op"] is Op.LOAD:
                load = ins["load"]
                target = Target(load["target"])
                if target is Target.ACT:
                    rows = load["words"] // (load["cols"] * load["blocks"])
                    assert rows * load["cols"] * load["blocks"] == load["words"]
                    footprint = act_words(rows, load["cols"], load["blocks"] * config.pe, config.pe)
                else:
                    footprint = load["words"]
                assert 0 < footprint <= depth[_BANK_OF[target]], (s.name, target, footprint)
                nbytes = load["words"] * (IMAGE_PIXEL_BYTES if load["image"] else
                                          slices_per_word(target, config.pe) * config.pe)
                # an image band: conv1's own, or the next band's conv1's, prefetched
                following = schedule.steps[index + 1] if index + 1 < len(schedule.steps) else s
                assert load["image"] == (target is Target.ACT and (
                    s.step.from_image or following.tiling.input_prefetched and following.step.from_image))
                assert load["addr"] % (config.ddr_data_bits // 8) == 0
                assert nbytes % (config.ddr_data_bits // 8) == 0
                assert load["addr"] + nbytes <= schedule.size
                # a LOAD waits only for tiles issued before it
                assert ins["wait"] <= execs
                loads += 1
            else:
                assert ins["wait"] == loads  # a tile waits for every load before it
                execs += 1
        assert execs == len(s.tiling.tiles)
        # its tiles' loads (the first tile's weights not, when prefetched) and a later
        # program's prefetched operands
        ahead = prefetch_target([t.tiling for t in schedule.steps], index)
        assert loads == sum(len(tile_loads(s.tiling, k, config.pe)) for k in range(execs)) \
            + (len(prefetch_loads(ahead, config.pe)) if ahead else 0)


def test_schedule_moves_the_bytes_the_cost_model_counts(scheduled):
    config, _, _, schedule = scheduled
    for s, cost in zip(schedule.steps, network_cost(config)):
        assert s.read_bytes == cost.ddr_read_bytes, s.name
        assert s.write_bytes == cost.ddr_write_bytes, s.name
        assert cost.cycles >= max(cost.compute_cycles, cost.ddr_cycles)


def test_fast_model_runs_the_schedule_bit_exactly(scheduled):
    config, qnet, image, schedule = scheduled
    golden = run_network(qnet, image)
    result = run_model_schedule(schedule, qnet, image=image)
    position = {layer.name: k for k, layer in enumerate(config.network)}
    for index, s in enumerate(schedule.steps):
        k = position[s.step.last.name] + 1
        if s.tiling.part and s.tiling.part[0] + 1 < s.tiling.part[1]:
            continue  # a band of a band group: the step's map is whole after its last band
        got = schedule.read_map(result.memory, index)
        if s.tiling.output_resident:  # never in DDR: as the fast model's buffer holds it
            assert got is None
            got = result.on_chip_maps[index]
        np.testing.assert_array_equal(got.reshape(golden[k - 1].shape), golden[k - 1],
                                      err_msg=s.name)
    assert [r.tiles for r in result.steps] == [len(s.tiling.tiles) for s in schedule.steps]


def test_fast_model_catches_a_wrong_store_address():
    config = CONFIGS[0]
    qnet = random_mobilenet(config.network, seed=1)
    image = random_input(config.network, seed=1)
    schedule = build_schedule(config, qnet, image)
    golden = run_network(qnet, image)
    # Corrupt the store address of dw3+pw3's first tile in the DDR image.
    s = schedule.steps[3]
    from sw.schedule import encode_instruction
    index = next(i for i, ins in enumerate(s.instructions) if ins["op"] is Op.EXEC)
    bad = dict(s.instructions[index], store={**s.instructions[index]["store"]})
    bad["store"]["addr"] += config.pe
    at = s.program.addr + 64 * index
    schedule.image[at:at + 64] = encode_instruction(bad)
    result = run_model_schedule(schedule, qnet, image=image)
    want = golden[sum(len(t.step.layers) for t in schedule.steps[:4]) - 1]
    got = schedule.read_map(result.memory, 3).reshape(want.shape)
    assert not np.array_equal(got, want)
    # ... and the uncorrupted schedule is exact there
    clean = run_model_schedule(build_schedule(config, qnet, image), qnet, image=image)
    np.testing.assert_array_equal(schedule.read_map(clean.memory, 3).reshape(want.shape), want)


def test_prefetch_loads_follow_the_last_tile_and_wait_for_the_one_before(scheduled):
    """A step that prefetches a later step's first weight group (the next one's, or over
    a one-tile step the one after it) LOADs it after its last EXEC (that EXEC never
    queues behind a waiting LOAD), into the weight half its last tile does not read,
    once the tile before is done; the later step's first EXEC reads that half without
    loading it, and a one-tile step between reads the half the last tile read."""
    from model.cost import prefetch_target
    config, _, _, schedule = scheduled
    tilings = [s.tiling for s in schedule.steps]
    prefetching = 0
    for k, s in enumerate(schedule.steps):
        target = prefetch_target(tilings, k)
        if target is None:
            continue
        following = schedule.steps[k + 2 if target.prefetch_over else k + 1]
        assert following.tiling is target
        sizes = prefetch_loads(target, config.pe)
        prefetching += 1
        tail = s.instructions[-len(sizes):]
        last_exec = s.instructions[-len(sizes) - 1]
        assert last_exec["op"] is Op.EXEC and all(i["op"] is Op.LOAD for i in tail)
        assert {i["wait"] for i in tail} == {len(s.tiling.tiles) - 1}
        # the weights into the weight half the last tile does not read; a prefetched
        # input band (first) into the activation half it does not read
        bands = [i for i in tail if Target(i["load"]["target"]) is Target.ACT]
        assert len(bands) == target.input_prefetched and tail[:len(bands)] == bands
        assert {i["load"]["half"] for i in bands} <= {last_exec["cmd"]["act_half"] ^ 1}
        assert {i["load"]["half"] for i in tail[len(bands):]} == {last_exec["cmd"]["weight_half"] ^ 1}
        first = next(i for i in following.instructions if i["op"] is Op.EXEC)
        assert first["cmd"]["weight_half"] == last_exec["cmd"]["weight_half"] ^ 1
        assert not any(i["op"] is Op.LOAD and Target(i["load"]["target"]) is not Target.ACT
                       for i in following.instructions[:following.instructions.index(first)])
        if target.prefetch_over:
            between = schedule.steps[k + 1]
            assert len(between.tiling.tiles) == 1 and not between.tiling.prefetched
            (exec_,) = [i for i in between.instructions if i["op"] is Op.EXEC]
            assert exec_["cmd"]["weight_half"] == last_exec["cmd"]["weight_half"]
            assert {i["load"]["half"] for i in between.instructions if i["op"] is Op.LOAD
                    and Target(i["load"]["target"]) is not Target.ACT} == {exec_["cmd"]["weight_half"]}
    assert prefetching > len(schedule.steps) // 2


def test_prefetch_never_slows_the_steps_it_joins():
    """The planner prefetches only where the cost model predicts the programs faster:
    the step before and the prefetched one (and, over a one-tile step, the one
    between) with the prefetch take fewer cycles than without it."""
    from model.cost import DdrTiming, plan_network, prefetch_target, step_costs
    overs = 0
    for config in [*CONFIGS[:3], _config(pe=4, alpha=0.25, resolution=64, minimal=False)]:
        ddr = DdrTiming.of(config)
        tilings = plan_network(config)
        for k in range(len(tilings)):
            target = prefetch_target(tilings, k)
            if target is None:
                continue
            stop = k + (3 if target.prefetch_over else 2)
            overs += target.prefetch_over
            joined = tilings[k:stop]
            apart = [*joined[:-1], dataclasses.replace(target, prefetched=False, prefetch_over=False)]

            def cycles(programs):
                return sum(c.cycles for c in step_costs(programs, config.pe, ddr,
                                                        config.pw_requant_share))
            assert cycles(joined) < cycles(apart), (tilings[k].step.name, target.step.name)
    assert overs  # fc over avgpool at 0.25-64, pe 4, 1 MB


def test_fast_model_catches_a_prefetch_into_the_wrong_half():
    """The fast model tracks what each weight half holds across programs: a prefetch
    LOADed into the half the next step does not read is an error, not a silent pass."""
    from sw.schedule import ScheduleError
    from tests import flip_load_half
    config = CONFIGS[0]
    qnet = random_mobilenet(config.network, seed=1)
    image = random_input(config.network, seed=1)
    schedule = build_schedule(config, qnet, image)
    s = next(s for s, f in zip(schedule.steps, schedule.steps[1:]) if f.tiling.prefetched)
    flip_load_half(schedule, s, len(s.instructions) - 1)  # the prefetch's last LOAD
    with pytest.raises(ScheduleError, match="holds"):
        run_model_schedule(schedule, qnet, image=image)


def _corrupt_first_on_chip_store(schedule, change):
    """Re-encode the first EXEC whose output stays on chip with ``change(store)``."""
    from sw.schedule import encode_instruction
    s = next(s for s in schedule.steps if s.tiling.output_resident)
    index = next(i for i, ins in enumerate(s.instructions) if ins["op"] is Op.EXEC)
    ins = s.instructions[index]
    bad = dict(ins, store={**ins["store"], "act": {**ins["store"]["act"]}})
    change(bad["store"]["act"])
    at = s.program.addr + 64 * index
    schedule.image[at:at + 64] = encode_instruction(bad)
    return s


@pytest.mark.parametrize("change, error", [
    (lambda act: act.update(half=act["half"] ^ 1), "did not write all of it"),
    (lambda act: act.update(row_pitch=act["row_pitch"] + 1), "does not|did not write"),
])
def test_fast_model_catches_a_wrong_on_chip_store(change, error):
    """A map kept on chip is written where its store descriptor says and read where the
    next step's commands say: a descriptor into the wrong half, or with the wrong
    geometry, leaves the next step reading words nobody wrote, an error, not a pass."""
    from sw.schedule import ScheduleError
    config = CONFIGS[0]
    qnet = random_mobilenet(config.network, seed=1)
    image = random_input(config.network, seed=1)
    schedule = build_schedule(config, qnet, image)
    _corrupt_first_on_chip_store(schedule, change)
    with pytest.raises(ScheduleError, match=error):
        run_model_schedule(schedule, qnet, image=image)


def test_a_map_on_chip_is_programmed_as_the_next_step_reads_it(scheduled):
    """Each kept map: its step reads one band, stores every tile into the activation half
    it does not read, with the next step's input geometry; the next step LOADs no band
    and its tiles read that half; nothing of the map is written to DDR."""
    config, _, _, schedule = scheduled
    pe = config.pe
    for s, following in zip(schedule.steps, schedule.steps[1:]):
        assert s.tiling.output_resident == following.tiling.input_resident
        if not s.tiling.output_resident:
            continue
        execs = [i for i in s.instructions if i["op"] is Op.EXEC]
        read = {i["cmd"]["act_half"] for i in execs}
        assert len(read) == 1 and all(i["store"]["to_act"] for i in execs)
        (half,) = read
        h, w, c = following.in_shape
        for i in execs:
            act = i["store"]["act"]
            assert (act["half"], act["cols"], act["blocks"]) == (half ^ 1, w, c // pe)
            assert act["row_pitch"] == -(-w // 3) * (c // pe)
        assert s.write_bytes == 0
        # the whole map, or a band of a band group: the rows the next program reads
        rows = h if s.tiling.rows is None else s.tiling.rows[1] - s.tiling.rows[0]
        assert following.tiling.rows is None or \
            {t.in_rows for t in following.tiling.tiles} == {s.tiling.rows}
        assert sum(i["store"]["act"]["pixels"] * i["store"]["act"]["group"] for i in execs) == \
            rows * w * (c // pe)
        nxt = [i for i in following.instructions if i["op"] is Op.EXEC]
        assert {i["cmd"]["act_half"] for i in nxt} == {half ^ 1}
        # no band of its own: an activation LOAD only after its last EXEC, the next band
        # group program's input band into the other half (input_prefetched)
        last = max(k for k, i in enumerate(following.instructions) if i["op"] is Op.EXEC)
        for k, i in enumerate(following.instructions):
            if i["op"] is Op.LOAD and Target(i["load"]["target"]) is Target.ACT:
                assert k > last and i["load"]["half"] == half


def test_full_network_at_1mb_keeps_the_small_maps_on_chip():
    """1.0-224 at 1 MB: the 14x14 and 7x7 maps stay in the activation buffer (a half holds
    800 of its 1,867 words per sub-bank for 14x14x512), which takes their 2 x 100 kB
    each off the 11.48 MB every map through DDR moves, and the 112x112 maps of conv1 and
    dw1+pw1 stay on chip band by band (a band group through dw2+pw2): under the 8 MB a
    frame of issue "Past the per-layer roofline"."""
    from model.cost import plan_network
    config = CONFIGS[-1]
    tilings = plan_network(config)
    kept = [t.step.name for t in tilings if t.output_resident]
    assert {"dw8+pw8", "dw9+pw9", "dw10+pw10", "dw11+pw11"} <= set(kept)
    assert not tilings[-1].output_resident and not tilings[0].input_resident
    for before, after in zip(tilings, tilings[1:]):
        assert before.output_resident == after.input_resident
    grouped = [t.step.name for t in tilings if t.part]
    assert {"conv1", "dw1+pw1"} <= set(grouped)
    total = sum(c.ddr_bytes for c in network_cost(config))
    # every weight (one byte each) comes from DDR at least once a frame
    assert config.network.params <= total <= 8_000_000


def test_sw_run_on_the_fast_model_writes_the_report(tmp_path, capsys):
    from sw.run import main

    out = tmp_path / "report"
    assert main(["--pe", "4", "--sram", "70kB", "--alpha", "0.25", "--resolution", "32",
                 "--sim", "model", "--report", str(out), "--quiet"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["bit_exact"] is True
    from hw.config import AcceleratorConfig
    from model.cost import plan_network
    config = AcceleratorConfig(pe=4, sram_bytes=70_000, alpha=0.25, resolution=32)
    assert len(report["layers"]) == len(plan_network(config))  # a row per program
    for layer in report["layers"]:
        assert {"name", "predicted_cycles", "ddr_bytes", "mac_utilisation", "bound"} <= set(layer)
        assert layer["bound"] in ("compute", "ddr")
    assert report["totals"]["predicted_cycles"] == sum(l["predicted_cycles"] for l in report["layers"])
    for name in ("layers.csv", "predicted_cycles.png", "roofline.png", "timeline.png"):
        assert (out / name).stat().st_size > 0
    # weights prefetched across steps: what one step reads ahead, the next finds on chip
    totals = report["totals"]
    assert totals["prefetch_bytes"] == sum(l["prefetch_bytes"] for l in report["layers"]) > 0
    for before, after in zip(report["layers"], report["layers"][1:]):
        assert (before["prefetch_bytes"] > 0) == after["weights_prefetched"]
    assert totals["frame_bound_cycles"] == round(max(
        totals["compute_floor_cycles"], sum(l["ddr_floor_cycles"] for l in report["layers"])))
    assert totals["predicted_cycles"] >= totals["frame_bound_cycles"]
    printed = capsys.readouterr().out
    assert "frames/s" in printed and "dw13+pw13" in printed
    assert [l["conv_input"] for l in report["layers"]] == ["image"] + [None] * (len(report["layers"]) - 1)
    assert "conv1: from the raw image in DDR" in printed
    # The fast model measures nothing: no figure may be called measured, nor an error shown.
    assert report["totals"]["cycles_basis"] == "predicted"
    assert "measured" not in printed.replace("nothing was measured", "")
    assert "error" not in printed
    csv_text = (out / "layers.csv").read_text()
    assert "measured" not in csv_text and "error" not in csv_text
    assert not any(key.startswith("measured") or key.endswith("error")
                   for part in (report["totals"], *report["layers"]) for key in part)
    assert "cost model" in report["sources"]["cycles"] and "measured_cycles" not in report["sources"]
    assert not (out / "measured_vs_predicted.png").exists()


def test_sw_run_reports_frames_per_second_at_the_synthesised_clock(tmp_path, capsys):
    """--synth: frames/s at the place-and-route Fmax of this hardware, saying where it came
    from; --clock-mhz still overrides; without either, the report says the clock is no
    place-and-route result."""
    from sw.run import DEFAULT_CLOCK_MHZ, main

    config = AcceleratorConfig(pe=4, sram_bytes=70_000, alpha=0.25, resolution=32,
                               ddr_bytes_per_cycle=2.0)  # the DDR is not hardware: still matches
    synth = tmp_path / "synth.json"
    synth.write_text(json.dumps({"fmax_mhz": 87.5, "device": "LFE5U-85F", "config": config.to_dict(),
                                 "fmax_source": "nextpnr-ecp5 nextpnr-0.11.1, speed grade 6, seed 2"}))
    argv = ["--pe", "4", "--sram", "70kB", "--alpha", "0.25", "--resolution", "32", "--sim", "model",
            "--quiet", "--synth", str(synth)]
    for extra, mhz, source in (([], 87.5, "Fmax of synth.json (hw.synth on LFE5U-85F: nextpnr-ecp5 "
                                          "nextpnr-0.11.1, speed grade 6, seed 2)"),
                               (["--clock-mhz", "150"], 150.0, "--clock-mhz")):
        out = tmp_path / f"report{mhz:g}"
        assert main(argv + extra + ["--report", str(out)]) == 0
        report = json.loads((out / "report.json").read_text())
        totals = report["totals"]
        assert (totals["clock_mhz"], totals["clock_source"]) == (mhz, source)
        assert totals["frames_per_second"] == pytest.approx(mhz * 1e6 / totals["predicted_cycles"])
        assert report["sources"]["frames_per_second"] == f"predicted cycles at {mhz:g} MHz ({source})"
        assert f"clock {mhz:g} MHz: {source}" in capsys.readouterr().out
    out = tmp_path / "plain"
    assert main(argv[:-2] + ["--report", str(out)]) == 0
    totals = json.loads((out / "report.json").read_text())["totals"]
    assert totals["clock_mhz"] == DEFAULT_CLOCK_MHZ
    assert "not a place-and-route result" in totals["clock_source"]


@pytest.mark.parametrize("argv, message", [
    (["--sram", "10kB", "--pe", "4", "--alpha", "0.25", "--resolution", "32"], "too small"),
    (["--pe", "4", "--ddr-width", "64"], "--ddr-width 64 does not divide a pe-byte word"),
    (["--resolution", "100"], "multiple of 32"),
    (["--sim", "spice"], "invalid choice"),
])
def test_sw_run_refuses_bad_input_in_one_line(argv, message, capsys):
    from model.cli import run_main
    from sw.run import main

    with pytest.raises(SystemExit) if "--sim" in argv else _nothing():
        assert run_main("python -m sw.run", main, argv + ["--sim", "model"] if "--sim" not in argv
                        else argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_progress_prints_one_line_per_step_off_a_terminal():
    """In a log (stderr not a terminal) the tqdm bar gives way to one line per step, with
    the step, its cycles and the time; a disabled Progress prints nothing."""
    import io

    from sw.driver import Progress

    stream = io.StringIO()
    progress = Progress(0, stream=stream)
    progress.total = 2
    progress.note("net: 2 steps")
    progress.update("conv1", "     1,234 cycles")
    progress.update("dw1+pw1", "        56 cycles")
    lines = stream.getvalue().splitlines()
    assert lines[0] == "net: 2 steps"
    assert lines[1].startswith("1/2 steps  conv1") and "1,234 cycles" in lines[1] and lines[1].endswith(" s")
    assert lines[2].startswith("2/2 steps  dw1+pw1") and "56 cycles" in lines[2]
    silent = io.StringIO()
    quiet = Progress(2, stream=silent, enabled=False)
    quiet.note("x")
    quiet.update("conv1", "1 cycles")
    assert silent.getvalue() == ""


@pytest.mark.parametrize("padding", ["same", "symmetric"])
@pytest.mark.parametrize("pe", [4, 8, 16, 32])
def test_conv1_reads_the_compact_image(pe, padding, monkeypatch):
    """conv1 from the raw image (issue 12, item 3): the DDR input region is the image
    itself, 4 bytes a pixel (rows padded to whole pe-byte slices), not an im2col map;
    conv1's LOADs read it once plus the halo rows its bands share, as image LOADs (one
    pixel a word); its EXECs run ``Mode.CONV``; and the fast model, which computes conv1
    from the image as it stands in DDR, is bit-exact, with TF SAME and symmetric
    padding, at pe 4 .. 32."""
    from hw.command import Mode
    from model.layers import mobilenet_v1
    from model.tiling import channel_blocks

    import model.cost as cost
    from model.tiling import TilingError

    config = AcceleratorConfig(pe=pe, network=mobilenet_v1(0.25, 64, padding=padding),
                               sram_bytes=100_000)
    # At pe 32 the planner prefers the host's im2col map (a pixel of the image takes a
    # 32-byte word on chip; tests/test_residency.py checks that choice): the image only.
    real = cost._plan_steps

    def image_only(config, steps, bands=True, **kwargs):
        if steps[0].host_im2col:
            raise TilingError("this test plans conv1 from the image")
        return real(config, steps, bands, **kwargs)

    monkeypatch.setattr(cost, "_plan_steps", image_only)
    qnet = random_mobilenet(config.network, seed=4)
    image = random_input(config.network, seed=4)
    schedule = build_schedule(config, qnet, image)
    conv1 = schedule.steps[0]
    step, layer = conv1.step, conv1.step.first
    assert step.from_image and map_width(step, pe) == 64
    assert conv1.in_shape == (64, 64, IMAGE_PIXEL_BYTES)
    assert conv1.in_region.name == "input" and conv1.in_region.size == 64 * 64 * 4
    im2col = layer.out_h * layer.out_w * channel_blocks(27, pe) * pe
    assert conv1.in_region.size < im2col
    stored = np.frombuffer(bytes(schedule.image[conv1.in_region.addr:][:conv1.in_region.size]),
                           np.int8).reshape(64, 64, 4)
    np.testing.assert_array_equal(stored[:, :, :3], image)
    assert not stored[:, :, 3].any()
    program = decode_program(schedule.image, conv1.program.addr, len(conv1.instructions))
    bands = [i["load"] for i in program if i["op"] is Op.LOAD and i["load"]["image"]]
    assert len(bands) == len(conv1.tiling.tiles) > 1
    halo = sum(t.in_rows[1] - t.in_rows[0] for t in conv1.tiling.tiles) - layer.in_h
    assert sum(b["words"] for b in bands) * IMAGE_PIXEL_BYTES == \
        (layer.in_h + halo) * map_row_bytes(step, pe)
    assert all(b["blocks"] == 1 and b["cols"] == 64 for b in bands)
    assert {i["cmd"]["mode"] for i in program if i["op"] is Op.EXEC} == {Mode.CONV.value}
    result = run_model_schedule(schedule, qnet)  # no host image: conv1 from DDR
    golden = run_network(qnet, image)
    got = schedule.read_map(result.memory, 0)
    got = result.on_chip_maps[0] if got is None else got  # conv1's map may stay on chip
    np.testing.assert_array_equal(got.reshape(golden[0].shape), golden[0])
    last = len(schedule.steps) - 1  # and the network's output, from conv1's on
    np.testing.assert_array_equal(schedule.read_map(result.memory, last).reshape(golden[-1].shape),
                                  golden[-1])


def test_a_conv_of_other_channels_still_runs_as_host_im2col():
    """A first conv that is not 3 channels (a grayscale model) keeps the host's im2col map
    in pointwise mode; the fast model runs it bit-exactly from the host's image."""
    import dataclasses as dc

    from hw.command import Mode
    from model.layers import LayerKind, Network, mobilenet_v1

    base = mobilenet_v1(0.25, 32)
    conv1 = dc.replace(base.layers[0], in_c=1)
    network = Network("gray", None, None, (conv1, *base.layers[1:]))
    config = AcceleratorConfig(pe=8, network=network, sram_bytes=100_000)
    qnet = random_mobilenet(config.network, seed=2)
    image = random_input(config.network, seed=2)
    schedule = build_schedule(config, qnet, image)
    first = schedule.steps[0]
    assert first.step.first.kind is LayerKind.CONV and first.step.im2col
    assert first.in_shape == (16, 16, 16)  # the 9-channel im2col map in 2 blocks of 8
    program = decode_program(schedule.image, first.program.addr, len(first.instructions))
    assert {i["cmd"]["mode"] for i in program if i["op"] is Op.EXEC} == {Mode.POINTWISE.value}
    assert not any(i["load"]["image"] for i in program if i["op"] is Op.LOAD)
    result = run_model_schedule(schedule, qnet, image=image)
    golden = run_network(qnet, image)
    got = schedule.read_map(result.memory, 0)
    got = result.on_chip_maps[0] if got is None else got  # conv1's map may stay on chip
    np.testing.assert_array_equal(got.reshape(golden[0].shape), golden[0])


def test_sw_run_reports_conv1_from_the_host_im2col_map_when_planned(tmp_path, capsys):
    """0.5-160 at pe 16, 1 MB: the planner takes conv1 from the host's im2col map (it fits
    one band, so conv1's output stays on chip; ``model.cost.plan_network``); the fast
    model runs that plan bit-exactly and the report says which input conv1 had."""
    from sw.run import main

    out = tmp_path / "report"
    assert main(["--pe", "16", "--sram", "1MB", "--alpha", "0.5", "--resolution", "160",
                 "--sim", "model", "--report", str(out), "--quiet"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["bit_exact"] is True
    conv1 = report["layers"][0]
    assert (conv1["conv_input"], conv1["conv_input_choice"], conv1["kept_on_chip"]) == \
        ("im2col", True, True)
    assert "conv1: from the host's im2col map in DDR (the planner's choice" in capsys.readouterr().out
