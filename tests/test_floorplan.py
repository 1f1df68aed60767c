"""hw.floorplan: the DSP floorplan hw.synth gives nextpnr-ecp5 from pe 8 (each tie group of
multipliers on neighbouring DSP sites, in data-flow order)."""

import collections
import json

import pytest

from hw import floorplan
from hw.floorplan import SITES_FILE, dsp_groups, dsp_sites, find_dsp_sites, pin_dsps, serpentine
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


def test_dsp_sites_come_from_the_file_for_the_nextpnr_that_reported_them(tmp_path, monkeypatch):
    """The kept list when its nextpnr version is the installed one; nextpnr itself when
    the version differs or the device is not in the file."""
    kept = tmp_path / "dsp_sites.json"
    sites = [f"X{x}/Y10/MULT18_0" for x in range(156)]
    kept.write_text(json.dumps({"nextpnr": "nextpnr-9.9", "devices": {"LFE5U-85F": sites}}))
    monkeypatch.setattr(floorplan, "SITES_FILE", kept)
    asked = []
    monkeypatch.setattr(floorplan, "find_dsp_sites",
                        lambda device, workdir, progress: asked.append(device.name) or ["asked"])
    monkeypatch.setattr(floorplan, "nextpnr_version", lambda: "nextpnr-9.9")
    assert dsp_sites(DEVICES["85k"], tmp_path, progress=lambda text: None) == sites
    assert dsp_sites(DEVICES["45k"], tmp_path, progress=lambda text: None) == ["asked"]
    monkeypatch.setattr(floorplan, "nextpnr_version", lambda: "nextpnr-9.10")
    assert dsp_sites(DEVICES["85k"], tmp_path, progress=lambda text: None) == ["asked"]
    assert asked == ["LFE5U-45F", "LFE5U-85F"]


def test_the_kept_sites_are_every_ecp5_devices_three_rows():
    """hw/dsp_sites.json: each ECP5 device's sites, as many as the device has DSPs, in
    rows of equal length (what the serpentine walks); the 85k's are three rows of 52."""
    kept = json.loads(SITES_FILE.read_text())
    ecp5 = {d.name: d for d in DEVICES.values() if d.target == "ecp5"}
    assert set(kept["devices"]) == set(ecp5)
    for name, sites in kept["devices"].items():
        rows = collections.Counter(site.split("/")[1] for site in sites)
        assert len(set(sites)) == ecp5[name].dsps == len(sites)
        assert len(set(rows.values())) == 1
        assert all(site.split("/")[2].startswith("MULT18_") for site in sites)
    rows = collections.Counter(site.split("/")[1] for site in kept["devices"]["LFE5U-85F"])
    assert sorted(rows.values()) == [52, 52, 52]


@pytest.mark.slow
def test_nextpnr_still_reports_the_kept_85k_sites(tmp_path):
    """The installed nextpnr is the one hw/dsp_sites.json names, and it places 156 lone
    multipliers on exactly the kept sites of the LFE5U-85F (``python -m hw.floorplan``
    writes the file again when this fails after a nextpnr update)."""
    kept = json.loads(SITES_FILE.read_text())
    assert kept["nextpnr"] == nextpnr_version()
    sites = find_dsp_sites(DEVICES["85k"], tmp_path, progress=lambda text: None)
    assert sites == kept["devices"]["LFE5U-85F"]
