"""hw.floorplan: the DSP floorplan hw.synth gives nextpnr-ecp5 from pe 8 (each tie group of
multipliers on neighbouring DSP sites, in data-flow order)."""

import collections

import pytest

from hw.floorplan import dsp_groups, dsp_sites, pin_dsps, serpentine
from hw.synth import DEVICES


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


@pytest.mark.slow
def test_the_85k_has_three_rows_of_52_dsp_sites(tmp_path):
    """What nextpnr reports of the LFE5U-85F: 156 MULT18X18D sites, 52 in each of three
    rows (the floorplan walks them as a serpentine)."""
    sites = dsp_sites(DEVICES["85k"], tmp_path, progress=lambda text: None)
    rows = collections.Counter(site.split("/")[1] for site in sites)
    assert len(set(sites)) == 156 and sorted(rows.values()) == [52, 52, 52]
    assert all(site.split("/")[2].startswith("MULT18_") for site in sites)
