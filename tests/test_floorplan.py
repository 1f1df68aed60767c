"""hw.floorplan: the floorplan hw.synth gives nextpnr-ecp5 from pe 8 (each tie group of
multipliers on neighbouring DSP sites, in data-flow order; the block RAMs that feed them on
the nearest block-RAM sites)."""

import collections
import json

import pytest

from hw import floorplan
from hw.floorplan import (BRAM, DSP, SITES_FILE, bram_targets, dsp_groups, find_sites, pin_brams,
                          pin_dsps, serpentine, sites)
from hw.synth import DEVICES, nextpnr_version


def _netlist(multipliers):
    """A Yosys-JSON-like netlist: ``multipliers`` is [(cell name, tie flip-flop name or
    None)]; each tie is a TRELLIS_FF whose Q drives the multipliers' RST0."""
    cells, bits = {}, {}
    for name, tie in multipliers:
        if tie is not None and tie not in bits:
            bits[tie] = len(bits) + 10
            cells[tie] = {"type": "TRELLIS_FF", "port_directions": {"Q": "output"},
                          "connections": {"Q": [bits[tie]]}}
        cells[name] = {"type": "MULT18X18D", "port_directions": {"RST0": "input", "P0": "output"},
                       "connections": {"RST0": [bits[tie]] if tie else ["0"], "P0": [1000 + len(cells)]},
                       "attributes": {}}
    return {"modules": {"top": {"cells": cells}}}


def _tie(path, kind, index):
    return f"{path}.{kind}{index}_tie_low_TRELLIS_FF_Q"


def test_groups_follow_the_data_flow():
    """Each depthwise lane's multipliers, then its requantiser lane's; then each pointwise
    column's, then its requantiser lane's; lanes in index order (10 after 2)."""
    dw, pw = "core.engine.depthwise", "core.engine.pointwise"
    multipliers = [
        (f"{pw}.requant.inner.s3_hh0_mult", _tie(f"{pw}.requant.inner", "lane", 0)),
        (f"{pw}.array.inner.product_1_0_mult", _tie(f"{pw}.array.inner", "col", 0)),
        (f"{pw}.array.inner.product_0_0_mult", _tie(f"{pw}.array.inner", "col", 0)),
        (f"{dw}.requant.inner.s3_ll10_mult", _tie(f"{dw}.requant.inner", "lane", 10)),
        (f"{dw}.lanes.inner.product_10_0_mult", _tie(f"{dw}.lanes.inner", "lane", 10)),
        (f"{dw}.requant.inner.s3_ll2_mult", _tie(f"{dw}.requant.inner", "lane", 2)),
        (f"{dw}.lanes.inner.product_2_8_mult", _tie(f"{dw}.lanes.inner", "lane", 2)),
    ]
    groups, untied = dsp_groups(_netlist(multipliers))
    assert untied == []
    assert groups == [
        [f"{dw}.lanes.inner.product_2_8_mult"], [f"{dw}.requant.inner.s3_ll2_mult"],
        [f"{dw}.lanes.inner.product_10_0_mult"], [f"{dw}.requant.inner.s3_ll10_mult"],
        [f"{pw}.array.inner.product_0_0_mult", f"{pw}.array.inner.product_1_0_mult"],
        [f"{pw}.requant.inner.s3_hh0_mult"],
    ]


def test_serpentine_walks_each_row_back_the_other_way():
    sites = [f"X{x}/Y{y}/MULT18_{z}" for y in (34, 10) for x, z in ((9, 1), (4, 0), (5, 1))]
    assert serpentine(sites) == ["X4/Y10/MULT18_0", "X5/Y10/MULT18_1", "X9/Y10/MULT18_1",
                                 "X9/Y34/MULT18_1", "X5/Y34/MULT18_1", "X4/Y34/MULT18_0"]


def test_pin_dsps_puts_groups_on_consecutive_sites_and_untied_ones_last():
    multipliers = [("b_mult", _tie("core.engine.pointwise.array.inner", "col", 1)),
                   ("a_mult", _tie("core.engine.pointwise.array.inner", "col", 0)),
                   ("c_mult", None)]
    netlist = _netlist(multipliers)
    groups, untied = dsp_groups(netlist)
    assert (groups, untied) == ([["a_mult"], ["b_mult"]], ["c_mult"])
    sites = ["X4/Y10/MULT18_0", "X5/Y10/MULT18_1", "X4/Y34/MULT18_0"]
    assert pin_dsps(netlist, sites) == 3
    cells = netlist["modules"]["top"]["cells"]
    assert [cells[name]["attributes"]["BEL"] for name in ("a_mult", "b_mult", "c_mult")] == sites
    with pytest.raises(ValueError, match="3 multipliers for 2 DSP sites"):
        pin_dsps(_netlist(multipliers), sites[:2])


def _bram_netlist():
    """Two weight-buffer block RAMs: ``a`` through a flip-flop into a multiplier pinned at
    X40/Y10, ``b`` straight into two multipliers at X10/Y34 and X20/Y34; an activation
    block RAM into the X40 multiplier (not a bank pinned); and a weight block RAM ``d``
    whose output only drives a flip-flop's enable and 100 more (too wide a net to
    follow)."""
    out = {"port_directions": {"DO0": "output"}}

    def ram(name, bit):
        return {"type": "DP16KD", **out, "connections": {"DO0": [bit]}, "attributes": {}}

    def mult(site, *bits):
        return {"type": "MULT18X18D", "port_directions": {f"A{i}": "input" for i in range(len(bits))},
                "connections": {f"A{i}": [bit] for i, bit in enumerate(bits)},
                "attributes": {"BEL": site}}
    cells = {
        "core.engine.weight_buffer.dw_weights$1.ram_0_0": ram("a", 10),
        "core.engine.weight_buffer.pw_weights$2.ram_0_0": ram("b", 11),
        "core.engine.act_buffer.act_b0.ram_0_0": ram("c", 12),
        "core.engine.weight_buffer.pw_params$3.ram_0_0": ram("d", 13),
        "ff": {"type": "TRELLIS_FF", "port_directions": {"DI": "input", "Q": "output"},
               "connections": {"DI": [10], "Q": [20]}},
        "m40": mult("X40/Y10/MULT18_0", 20, 12),
        "m10": mult("X10/Y34/MULT18_0", 11),
        "m20": mult("X20/Y34/MULT18_0", 11),
        "enable": {"type": "TRELLIS_FF", "port_directions": {"Q": "output", "CE": "input"},
                   "connections": {"Q": [30], "CE": [13]}},
    }
    cells.update({f"sink{k}": {"type": "TRELLIS_FF", "port_directions": {"CE": "input"},
                               "connections": {"CE": [13]}} for k in range(100)})
    return {"modules": {"top": {"cells": cells}}}


def test_bram_targets_are_the_first_pinned_multipliers_their_words_reach():
    targets = bram_targets(_bram_netlist())
    assert targets == {"core.engine.weight_buffer.dw_weights$1.ram_0_0": (40, 10),
                       "core.engine.weight_buffer.pw_weights$2.ram_0_0": (15, 34)}
    # A net wider than the fanout limit is not followed; one cell deep is not far enough.
    assert bram_targets(_bram_netlist(), fanout=1) == {
        "core.engine.weight_buffer.dw_weights$1.ram_0_0": (40, 10)}
    assert bram_targets(_bram_netlist(), depth=1) == {
        "core.engine.weight_buffer.pw_weights$2.ram_0_0": (15, 34)}


def test_pin_brams_takes_the_nearest_free_sites_closest_pairs_first():
    netlist = _bram_netlist()
    cells = netlist["modules"]["top"]["cells"]
    cells["m40"]["attributes"]["BEL"] = "X40/Y22/EBR0"  # a taken site is never reused
    sites = ["X40/Y22/EBR0", "X42/Y22/EBR0", "X16/Y46/EBR0", "X60/Y82/EBR0"]
    targets = {"a": (40, 10), "b": (15, 34), "late": (40, 8)}
    for name in targets:
        cells[name] = {"type": "DP16KD", "connections": {}, "attributes": {}}
    assert pin_brams(netlist, sites, targets) == 3
    # a (distance 14 to X42/Y22) before late (16); b to X16/Y46 (13); late gets what is left.
    assert [cells[name]["attributes"]["BEL"] for name in ("b", "a", "late")] == [
        "X16/Y46/EBR0", "X42/Y22/EBR0", "X60/Y82/EBR0"]
    assert pin_brams(_bram_netlist(), sites) == 2  # bram_targets' own


def test_sites_come_from_the_file_for_the_nextpnr_that_reported_them(tmp_path, monkeypatch):
    """The kept list when its nextpnr version is the installed one; nextpnr itself when
    the version differs, or the device or the kind is not in the file."""
    kept = tmp_path / "sites.json"
    dsps = [f"X{x}/Y10/MULT18_0" for x in range(156)]
    kept.write_text(json.dumps({"nextpnr": "nextpnr-9.9", "devices": {"LFE5U-85F": {DSP: dsps}}}))
    monkeypatch.setattr(floorplan, "SITES_FILE", kept)
    asked = []
    monkeypatch.setattr(floorplan, "find_sites", lambda device, kind, workdir, progress:
                        asked.append((device.name, kind)) or ["asked"])
    monkeypatch.setattr(floorplan, "nextpnr_version", lambda: "nextpnr-9.9")
    quiet = {"progress": lambda text: None}
    assert sites(DEVICES["85k"], DSP, tmp_path, **quiet) == dsps
    assert sites(DEVICES["85k"], BRAM, tmp_path, **quiet) == ["asked"]
    assert sites(DEVICES["45k"], DSP, tmp_path, **quiet) == ["asked"]
    monkeypatch.setattr(floorplan, "nextpnr_version", lambda: "nextpnr-9.10")
    assert sites(DEVICES["85k"], DSP, tmp_path, **quiet) == ["asked"]
    assert asked == [("LFE5U-85F", BRAM), ("LFE5U-45F", DSP), ("LFE5U-85F", DSP)]


def test_the_kept_sites_are_every_ecp5_devices_in_rows():
    """hw/sites.json: each ECP5 device's DSP and block-RAM sites, as many as the device
    has, in rows of equal length (what the serpentine walks); the 85k's DSPs are three
    rows of 52 and its block RAMs four."""
    kept = json.loads(SITES_FILE.read_text())
    ecp5 = {d.name: d for d in DEVICES.values() if d.target == "ecp5"}
    assert set(kept["devices"]) == set(ecp5)
    for name, kinds in kept["devices"].items():
        for kind, count, prefix in ((DSP, ecp5[name].dsps, "MULT18_"), (BRAM, ecp5[name].brams, "EBR")):
            listed = kinds[kind]
            rows = collections.Counter(site.split("/")[1] for site in listed)
            assert len(set(listed)) == count == len(listed), (name, kind)
            assert len(set(rows.values())) == 1, (name, kind)
            assert all(site.split("/")[2].startswith(prefix) for site in listed)
    for kind, rows in ((DSP, 3), (BRAM, 4)):
        counted = collections.Counter(site.split("/")[1] for site in kept["devices"]["LFE5U-85F"][kind])
        assert sorted(counted.values()) == [52] * rows


@pytest.mark.slow
@pytest.mark.parametrize("kind", [DSP, BRAM])
def test_nextpnr_still_reports_the_kept_85k_sites(kind, tmp_path):
    """The installed nextpnr is the one hw/sites.json names, and it places as many lone
    multipliers (block RAMs) as the LFE5U-85F has on exactly the kept sites
    (``python -m hw.floorplan`` writes the file again when this fails after a nextpnr
    update)."""
    kept = json.loads(SITES_FILE.read_text())
    assert kept["nextpnr"] == nextpnr_version()
    assert find_sites(DEVICES["85k"], kind, tmp_path, progress=lambda text: None) == \
        kept["devices"]["LFE5U-85F"][kind]
