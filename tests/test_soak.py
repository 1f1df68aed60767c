"""``python -m sw.soak`` on the fast model: a few random configurations pass, a broken
fast model is reported as a failure with exit code 1, the draw is reproducible and each
configuration's command replays it."""

import json

import pytest

from sw import soak


def _small_seed_configs(count):
    # All drawn small (the RTL's space) so the test takes seconds.
    configs, refusals = soak.draw_configurations(7, count, count)
    return configs


def test_draw_is_reproducible_and_broad():
    first, _ = soak.draw_configurations(3, 24, 0)
    again, _ = soak.draw_configurations(3, 12, 0)
    assert [c["args"] for c in first[:12]] == [c["args"] for c in again]
    flags = [" ".join(c["args"]) for c in first]
    assert len(set(flags)) == 24
    assert any("--padding symmetric" in f for f in flags)
    assert any("--dsp-packing" in f for f in flags) and any("--dsp-limit" in f for f in flags)
    assert len({c["args"][c["args"].index("--pe") + 1] for c in first}) >= 4
    assert len({c["args"][c["args"].index("--ddr-width") + 1] for c in first}) >= 3


def test_the_command_builds_the_drawn_configuration():
    config = _small_seed_configs(2)[1]
    built, seed = soak.config_of(config["args"])
    args = config["args"]
    assert built.pe == int(args[args.index("--pe") + 1])
    assert built.sram_bytes == int(args[args.index("--sram") + 1])
    assert built.ddr_latency_cycles == int(args[args.index("--ddr-latency") + 1])
    assert seed == int(args[args.index("--seed") + 1])
    assert built.sram_bytes >= built.sram_min_bytes


def test_symmetric_padding_reaches_the_network():
    built, _ = soak.config_of(["--pe", "4", "--sram", "1MB", "--alpha", "0.25",
                               "--resolution", "32", "--padding", "symmetric"])
    assert built.network.layers[0].padding.as_tuple() == (1, 1, 1, 1)
    same, _ = soak.config_of(["--pe", "4", "--sram", "1MB", "--alpha", "0.25", "--resolution", "32"])
    assert same.network.layers[0].padding.as_tuple() == (0, 0, 1, 1)


def test_soak_passes_on_the_fast_model(tmp_path, capsys):
    assert soak.main(["--count", "3", "--seed", "5", "--small", "--out", str(tmp_path),
                      "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "fast model: bit-exact 3/3" in out and "PASS" in out
    data = json.loads((tmp_path / "soak.json").read_text())
    assert data["pass"] and len(data["configurations"]) == 3
    assert all(c["model"]["outcome"] == "pass" for c in data["configurations"])
    assert (tmp_path / "soak.csv").read_text().count("\n") == 4
    assert "python -m sw.run --pe" in (tmp_path / "summary.txt").read_text() or \
        "python -m sw.run --pe" in (tmp_path / "soak.csv").read_text()


def test_a_flipped_output_byte_fails_the_soak(monkeypatch, capsys):
    import sw.fast_model

    real = sw.fast_model.run_model_schedule

    def broken(schedule, qnet, progress=None, image=None):
        result = real(schedule, qnet, progress, image=image)
        memory = bytearray(result.memory)
        last = schedule.steps[-1].out_region.addr
        memory[last] ^= 0x01  # one byte of the logits
        result.memory = bytes(memory)
        return result

    monkeypatch.setattr(sw.fast_model, "run_model_schedule", broken)
    assert soak.main(["--count", "1", "--seed", "5", "--small", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "fast model: bit-exact 0/1, NOT bit-exact 1" in out
    assert "FAILED configuration 0 (model): ['fc']" in out and "FAIL:" in out


def test_an_exception_is_a_failure_not_a_refusal(monkeypatch, capsys):
    import sw.fast_model

    def crash(*args, **kwargs):
        raise RuntimeError("the model fell over")

    monkeypatch.setattr(sw.fast_model, "run_model_schedule", crash)
    assert soak.main(["--count", "1", "--small", "--quiet"]) == 1
    assert "errors 1" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--count", "0"], "--count must be at least 1"),
    (["--count", "2", "--rtl", "3"], "--rtl (3) must be at most --count (2)"),
    (["--jobs", "x"], "--jobs must be an integer"),
])
def test_bad_options_are_one_line(argv, message, capsys):
    from model.cli import run_main
    assert run_main("python -m sw.soak", soak.main, argv) == 2
    assert message in capsys.readouterr().err
