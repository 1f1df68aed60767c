"""AcceleratorConfig: validation messages, size parsing, the SRAM plan and its JSON."""

import json
from pathlib import Path

import pytest

from hw.config import AcceleratorConfig, format_size, parse_size


@pytest.mark.parametrize("text, value", [
    ("1MB", 1_000_000), ("1 MB", 1_000_000), ("512KiB", 524_288), ("1048576", 1_048_576),
    ("1.5MB", 1_500_000), ("64kB", 64_000), ("2MiB", 2_097_152), (4096, 4096),
])
def test_parse_size(text, value):
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["lots", "1XB", "", "-1MB", "0", "1.0000001kB"])
def test_parse_size_rejects(text):
    with pytest.raises(ValueError):
        parse_size(text)


def test_parse_size_message():
    with pytest.raises(ValueError) as info:
        parse_size("lots")
    assert str(info.value) == ("size must be bytes with an optional unit (kB, MB, KiB, MiB; "
                               "e.g. 1MB, 512KiB, 1048576), not 'lots'")


def test_format_size():
    assert format_size(1_000_000) == "1 MB" and format_size(1500) == "1.5 kB" and format_size(12) == "12 B"


@pytest.mark.parametrize("kwargs, message", [
    ({"pe": 0}, "pe must be a positive integer, not 0"),
    ({"pe": -3}, "pe must be a positive integer, not -3"),
    ({"pe": 2.0}, "pe must be a positive integer, not 2.0"),
    ({"pe": 65}, "pe must be at most 64, not 65"),
    ({"ddr_data_bits": 48}, "ddr_data_bits must be one of 32, 64, 128, 256, 512, not 48"),
    ({"ddr_bytes_per_cycle": 9.0}, "ddr_bytes_per_cycle must be in (0, 8] (the 64-bit port's peak), not 9.0"),
    ({"ddr_latency_cycles": -1}, "ddr_latency_cycles must be a non-negative integer, not -1"),
    ({"alpha": 0}, "alpha must be in (0, 1], not 0"),
    ({"pe": 6}, "pe must be a multiple of 4, not 6: a pe-byte word is a whole number of DDR "
                "beats of at least 32 bits"),
    ({"pe": 12, "ddr_data_bits": 64}, "ddr_data_bits (64) must divide 8 x pe = 96: a 12-byte "
                                      "word is a whole number of DDR beats"),
])
def test_validation_messages(kwargs, message):
    with pytest.raises(ValueError) as info:
        AcceleratorConfig(**kwargs)
    assert str(info.value) == message


@pytest.mark.parametrize("pe, bits", [(4, 32), (8, 64), (12, 32), (20, 32), (24, 64), (64, 64)])
def test_default_ddr_width_divides_the_pe_word(pe, bits):
    # pe 12 once defaulted to 64 bits: accepted, then the store descriptors lost bytes.
    assert AcceleratorConfig(pe=pe, alpha=0.25, resolution=32).ddr_data_bits == bits


def test_sram_too_small_names_the_layer_and_bytes():
    need = AcceleratorConfig(pe=16).sram_min_bytes
    with pytest.raises(ValueError) as info:
        AcceleratorConfig(pe=16, sram_bytes=need - 1)
    text = str(info.value)
    assert f"it needs at least {need} bytes" in text
    assert "layer avgpool (7x7x1024)" in text and "layer dw13+pw13 (1024x1024)" in text
    AcceleratorConfig(pe=16, sram_bytes=need)  # exactly the minimum is legal


@pytest.mark.parametrize("pe", [4, 8, 16, 32])
def test_bank_plan_fits_budget_and_holds_every_minimal_tile(pe):
    config = AcceleratorConfig(pe=pe, sram_bytes=1_000_000)
    used = sum(bank.bytes for bank in config.banks)
    assert config.sram_min_bytes <= used <= config.sram_bytes
    act, weights = config.bank["act"], config.bank["pw_weights"]
    assert act.width == 8 * pe and weights.width == 8 * pe * pe
    for step in config.steps:
        act_words, weight_words = config.min_tile_words(step)
        assert act_words <= act.depth and weight_words <= weights.depth
    assert config.bank["dw_weights"].depth == config.blocks(1024)
    assert all(bank.depth <= 1 << bank.addr_width for bank in config.banks)


def test_json_round_trip_and_derived_sizes(tmp_path):
    config = AcceleratorConfig(pe=8, sram_bytes=parse_size("512KiB"), alpha=0.5, resolution=128)
    path = tmp_path / "config.json"
    path.write_text(config.to_json())
    again = AcceleratorConfig.from_json(path)
    assert again == config
    derived = config.to_dict()["derived"]
    assert derived["pointwise_macs_per_cycle"] == 64 and derived["depthwise_macs_per_cycle"] == 72
    assert derived["acc_bits"] == 32 and derived["mult_bits"] == 31


def test_stale_json_is_refused():
    data = AcceleratorConfig(pe=4, sram_bytes=400_000).to_dict()
    data["derived"]["banks"][0]["depth"] += 1
    with pytest.raises(ValueError, match="derived sizes disagree"):
        AcceleratorConfig.from_dict(data)


def test_the_network_is_the_input_and_alpha_resolution_cannot_contradict_it():
    import dataclasses

    from model.tflite import load_tflite

    built_in = AcceleratorConfig(pe=4, alpha=0.25, resolution=64, sram_bytes=200_000)
    assert built_in.network.name == "MobileNet-v1 0.25-64"
    assert dataclasses.replace(built_in, sram_bytes=300_000).network == built_in.network
    with pytest.raises(ValueError, match=r"^alpha 0.5 and resolution 64 disagree with the network "
                                         r"'MobileNet-v1 0.25-64'; give one or the other"):
        dataclasses.replace(built_in, alpha=0.5)
    imported = load_tflite(Path(__file__).parent / "models" / "mnv1_a025_96.tflite").network
    config = AcceleratorConfig(pe=4, sram_bytes=200_000, network=imported)
    assert (config.alpha, config.resolution) == (None, None)
    assert config.bank["act"].sized_by.startswith(("conv1", "dw", "pw"))
    assert AcceleratorConfig.from_dict(json.loads(config.to_json())) == config
    with pytest.raises(ValueError, match=r"^alpha and resolution describe the built-in MobileNet-v1"):
        dataclasses.replace(config, resolution=96)
