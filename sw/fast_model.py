"""The fast model: a schedule executed in Python at tile granularity, in seconds.

It reads each step's program back from the DDR image and decodes every instruction
(the same bits the RTL fetches). A LOAD is checked against the DDR regions and the bank
it fills; an EXEC takes its tile's output words from the golden model's output of the
step (computed from the step's input as it stands in DDR, i.e. as the previous steps
wrote it) and writes them through its decoded store descriptor. A wrong instruction,
address or descriptor therefore shows as a mismatch, as on the RTL. Cycles are the
cost model's. conv1 is computed from the compact image as it stands in DDR (an im2col
map a conv other than conv1 may still read is computed from the host's image).
"""

from __future__ import annotations

import time

import numpy as np

from hw.act_buffer import sub_bank_address
from hw.command import Target
from hw.instruction import Op, slices_per_word
from model.golden import run_layer
from model.layers import LayerKind
from model.tiling import IMAGE_PIXEL_BYTES

from .driver import Progress, RunResult, StepResult
from .schedule import _BANK_OF, Schedule, ScheduleError, _band_load, decode_program, layer_range

__all__ = ["run_model_schedule"]

def run_model_schedule(schedule: Schedule, qnet, progress: Progress | None = None,
                       image: np.ndarray | None = None) -> RunResult:
    config = schedule.config
    pe, beat = config.pe, config.ddr_data_bits // 8
    depth = {bank.name: bank.depth for bank in config.banks}
    progress = progress or Progress(len(schedule.steps), enabled=False)
    memory = bytearray(schedule.image)
    start = time.perf_counter()
    qlayers = list(qnet)
    results = []
    # What each weight-side buffer half holds: the name of the DDR region last LOADed
    # into it ("<step>.<target>[<group>]"), across programs, as the SRAM keeps it.
    held: dict[tuple[Target, int], str] = {}
    by_addr = {region.addr: region.name for region in schedule.regions}
    # The activation buffer's halves as far as steps write them (maps kept on chip): nine
    # sub-banks of words, and which words were written, in the layout of hw.act_buffer.
    act = np.zeros((2, 9, depth["act"], pe), dtype=np.int8)
    act_written = np.zeros((2, 9, depth["act"]), dtype=bool)
    # The input band each activation half holds, as LOADed: (DDR address, words).
    act_band: dict[int, tuple[int, int]] = {}
    on_chip = {}
    banded = {}  # a band group's inner maps, band by band as its programs compute them
    for sched in schedule.steps:
        cost = sched.cost
        step = sched.step
        span = layer_range(config.network, step)
        q = qlayers[span.start:span.stop]
        program = decode_program(memory, sched.program.addr, len(sched.instructions))
        # The step's output, from its input as it is in DDR, or in the activation half
        # its tiles read when the step before kept it on chip (a band of it, in a band
        # group: the rows the band reads, from the half's row 0; the rest never read).
        h, w, c = sched.in_shape
        if sched.tiling.input_resident:
            half = next(i["cmd"]["act_half"] for i in program if i["op"] is Op.EXEC)
            r0, r1 = sched.tiling.tiles[0].in_rows
            x = np.zeros((h, w, c), dtype=np.int8)
            x[r0:r1] = _read_act_map(act[half], act_written[half], r1 - r0, w, c // pe, sched.name)
        else:
            x = np.frombuffer(bytes(memory[sched.in_region.addr:sched.in_region.addr + h * w * c]),
                              dtype=np.int8).reshape(h, w, c)
        if step.from_image:  # the compact image: its real columns and channels
            y = x[:, :step.first.in_w, :step.first.in_c]
        elif step.first.kind is LayerKind.CONV:
            if image is None:
                raise ScheduleError("the fast model needs the input image for an im2col conv")
            y = image
        else:
            y = x[:, :, :step.first.in_c]
        for layer_q in q:
            y = run_layer(layer_q, y.reshape(1, 1, -1) if layer_q.layer.kind is LayerKind.FC else y)
        out_h, out_w, out_c = sched.out_shape
        full = np.zeros((out_h, out_w, out_c), dtype=np.int8)
        full[:, :, :y.shape[-1]] = y.reshape(out_h, out_w, -1)
        words = full.reshape(out_h, out_w, out_c // pe, pe)

        tiles = iter(sched.tiling.tiles)
        execs = 0
        band0 = sched.tiling.rows[0] if sched.tiling.rows else 0  # on chip from row 0
        cleared = False
        for ins in program:
            if ins["op"] is Op.LOAD:
                load = ins["load"]
                target = Target(load["target"])
                nbytes = load["words"] * (IMAGE_PIXEL_BYTES if load["image"]
                                          else slices_per_word(target, pe) * pe)
                if not any(r.addr <= load["addr"] and load["addr"] + nbytes <= r.addr + r.size
                           for r in schedule.regions):
                    raise ScheduleError(f"{sched.name}: LOAD of {nbytes} B at {load['addr']:#x} "
                                        f"is outside every DDR region")
                if target is not Target.ACT and load["words"] > depth[_BANK_OF[target]]:
                    raise ScheduleError(f"{sched.name}: LOAD overflows {_BANK_OF[target]}")
                if target is not Target.ACT:
                    held[target, load["half"]] = by_addr.get(load["addr"], hex(load["addr"]))
                elif not load["base"]:  # a band over the half: no map kept there survives it
                    act_band[load["half"]] = (load["addr"], load["words"])
                    act_written[load["half"]] = False
                continue
            tile = next(tiles)
            execs += 1
            _check_weights(sched, tile, ins["cmd"]["weight_half"], held)
            if not (sched.tiling.input_resident or sched.tiling.split_input):
                want = _band_load(step, sched.in_region.addr, sched.in_shape, tile, pe)[:2]
                if act_band.get(ins["cmd"]["act_half"]) != want:
                    raise ScheduleError(f"{sched.name}: a tile of input rows {tile.in_rows} reads "
                                        f"activation half {ins['cmd']['act_half']}, which holds "
                                        f"no LOAD of that band")
            store = ins["store"]
            ob0, ob1 = tile.out_blocks
            if step.first.kind is LayerKind.AVGPOOL:
                rows, ob0, ob1 = (0, 1), 0, out_c // pe
            elif step.windowed:
                rows = tile.out_rows
            else:
                rows = tile.in_rows
            if store["to_act"]:
                if not cleared:  # a new map in that half: nothing older is read as its
                    act_written[store["act"]["half"]] = False
                    cleared = True
                _write_act_map(act, act_written, store["act"], words, rows, (ob0, ob1),
                               sched.name, band0)
                continue
            data = np.ascontiguousarray(words[rows[0]:rows[1], :, ob0:ob1]).reshape(-1).view(np.uint8)
            run_bytes = store["seg_beats"] * beat
            if store["segments"] * run_bytes != data.size:
                raise ScheduleError(f"{sched.name}: a store descriptor moves "
                                    f"{store['segments'] * run_bytes} B, the tile makes {data.size}")
            for s in range(store["segments"]):
                addr = store["addr"] + s * store["pitch"]
                memory[addr:addr + run_bytes] = data[s * run_bytes:(s + 1) * run_bytes].tobytes()
        if sched.tiling.output_resident and sched.tiling.part is None:  # as the next step reads it
            half = next(i["store"]["act"]["half"] for i in program if i["op"] is Op.EXEC)
            on_chip[len(results)] = _read_act_map(act[half], act_written[half], out_h, out_w,
                                                  out_c // pe, sched.name)[:, :, :step.last.out_c]
        elif sched.tiling.output_resident:  # a band: the map once every band has been made
            half = next(i["store"]["act"]["half"] for i in program if i["op"] is Op.EXEC)
            r0, r1 = sched.tiling.rows
            full, made = banded.setdefault(step.name, (np.zeros((out_h, out_w, out_c), np.int8),
                                                       np.zeros(out_h, bool)))
            full[r0:r1] = _read_act_map(act[half], act_written[half], r1 - r0, out_w,
                                        out_c // pe, sched.name)
            made[r0:r1] = True
            if sched.tiling.part[0] + 1 == sched.tiling.part[1] and made.all():
                on_chip[len(results)] = full[:, :, :step.last.out_c]
        results.append(StepResult(sched.name, cost.cycles, execs))
        progress.update(sched.name, f"{cost.cycles:>10,} cycles (predicted)")
    seconds = {"run": time.perf_counter() - start}
    return RunResult(results, bytes(memory), seconds, sim_cycles=0, on_chip_maps=on_chip)


def _act_places(rows: int, cols: int, blocks: int, first_block: int, group: int,
                row_pitch: int):
    """(sub-bank, address) arrays, ``rows x cols x group``, of a map's words in the layout
    of ``hw.act_buffer`` (``sub_bank_address``, with the given row pitch)."""
    r = np.arange(rows)[:, None, None]
    c = np.arange(cols)[None, :, None]
    b = first_block + np.arange(group)[None, None, :]
    bank = np.broadcast_to(3 * (r % 3) + c % 3, (rows, cols, group))
    return bank, (r // 3) * row_pitch + (c // 3) * blocks + b


def _write_act_map(act, written, desc: dict, words, rows, blocks, name: str,
                   band0: int = 0) -> None:
    """An EXEC whose output stays on chip: its words into activation half ``half`` where
    the store descriptor's fields put them; the tile's rows from the half's row 0, the
    map's row ``band0`` (a band of a band group; else the map's first row)."""
    cols, pixels = desc["cols"], desc["pixels"]
    out_h, out_w = words.shape[:2]
    # a tile of a multi-band step kept on chip: its rows from the sub-bank row its base says
    offset = rows[0] - band0
    if desc["base"] != offset // 3 * desc["row_pitch"] or offset % 3:
        raise ScheduleError(f"{name}: an on-chip store's base {desc['base']} does not put its "
                            f"tile's rows {rows} where the map has them")
    if (desc["block0"], desc["block0"] + desc["group"], cols) != (*blocks, out_w) \
            or pixels != (rows[1] - rows[0]) * out_w or desc["blocks"] != words.shape[2]:
        raise ScheduleError(f"{name}: an on-chip store descriptor ({desc}) does not describe "
                            f"its tile's rows {rows}, blocks {blocks} of a {out_h}x{out_w} map")
    bank, addr = _act_places(rows[1] - rows[0], cols, desc["blocks"], desc["block0"],
                             desc["group"], desc["row_pitch"])
    addr = addr + desc["base"]
    if addr.max() >= act.shape[2]:
        raise ScheduleError(f"{name}: an on-chip store reaches word {addr.max()} of an "
                            f"activation sub-bank of {act.shape[2]}")
    act[desc["half"], bank, addr] = words[rows[0]:rows[1], :, blocks[0]:blocks[1]]
    written[desc["half"], bank, addr] = True


def _read_act_map(act, written, rows: int, cols: int, blocks: int, name: str) -> np.ndarray:
    """A step's whole input map from an activation half, where its tiles' commands read
    it (``hw.act_buffer.sub_bank_address``); every word must have been written."""
    bank, addr = sub_bank_address(np.arange(rows)[:, None, None], np.arange(cols)[None, :, None],
                                  np.arange(blocks)[None, None, :], cols, blocks)
    bank = np.broadcast_to(bank, addr.shape)
    if addr.max() >= act.shape[1] or not written[bank, addr].all():
        raise ScheduleError(f"{name}: reads its input map on chip, but the step before did "
                            f"not write all of it into that activation half")
    return act[bank, addr].reshape(rows, cols, blocks * act.shape[-1])


def _check_weights(sched, tile, half: int, held: dict) -> None:
    """An EXEC's weight half must hold its tile's weight group in every buffer the step
    reads (loaded by this program or, prefetched, by the previous one)."""
    g0, g1 = tile.out_blocks
    targets = [Target.PW_WEIGHTS, Target.PW_PARAMS]
    if sched.step.fused:
        targets += [Target.DW_WEIGHTS, Target.DW_PARAMS]
    for target in targets:
        if sched.step.weight_layer is None:  # pooling: one group of every block
            want = f"{sched.step.name}.{target.name.lower()}["
            ok = held.get((target, half), "").startswith(want)
        else:
            want = f"{sched.step.name}.{target.name.lower()}[{g0}:{g1}]"
            ok = held.get((target, half)) == want
        if not ok:
            raise ScheduleError(f"{sched.name}: a tile of output blocks [{g0}:{g1}] reads "
                                f"{target.name.lower()} half {half}, which holds "
                                f"{held.get((target, half), 'nothing')}, not {want}")
