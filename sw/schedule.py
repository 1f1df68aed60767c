"""The scheduler: the network laid out in DDR and one program of instructions per step.

For each step it takes the tiling ``model.cost.plan_network`` chooses (``model.tiling``'s
algorithm, with the band height that the cost model predicts to be fastest) and emits, per tile, the LOADs of what
the tile does not share with the previous one and an EXEC with the tile's store
descriptor (``hw.instruction``). Buffer halves alternate per operand: a new input band
goes into the activation half the previous band is not in, a new weight group into the
other weight half, so the loads of tile ``i + 1`` run while tile ``i`` computes; a
LOAD waits for the tile that last read the half it overwrites, an EXEC for its LOADs.

DDR layout (every region 64-byte aligned):

- activations: each step's input and output maps as ``H x W x (CB * pe)`` int8 bytes
  (channels padded to whole blocks), so a tile's input band is one contiguous range and
  a tile's output rows are one range (all output blocks) or one run per pixel (a group);
  conv1's input is the image itself, compact: ``H x W' x 4`` bytes (``sw.program.image_map``:
  the 3 channels and a zero byte a pixel, ``W'`` the width rounded up to ``pe / 4``
  pixels), which the load DMA spreads one pixel a word (``hw.load_dma``);
- weights: per weight group and buffer, the words in load order (``sw.program.weight_words``);
- programs: 64-byte instructions, one program per step.

Every LOAD is checked against the bank it fills, so a schedule that overflows SRAM
cannot be built.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hw.command import Mode, Target
from hw.config import AcceleratorConfig
from hw.fetch import PROGRAM_ALIGN
from hw.instruction import (INSTRUCTION_BYTES, WAIT_BITS, Op, instruction_layout,
                            load_desc_layout, slices_per_word)
from hw.packing import describe_layout, pack, unpack
from model.cost import (DdrTiming, StepCost, plan_network, prefetch_of, prefetch_target,
                        step_cost, step_costs, step_mode)
from model.tiling import IMAGE_PIXEL_BYTES, Step, StepTiling, act_words, channel_blocks

from .program import step_input, tile_command, weight_words

__all__ = ["Schedule", "StepSchedule", "Region", "ScheduleError", "build_schedule", "layer_range",
           "encode_instruction", "decode_instruction", "decode_program"]

#: Every region starts on a 64-byte line, a whole number of beats of any port width (the
#: DMA cuts bursts at 4 KiB boundaries itself).
REGION_ALIGN = 64

_BANK_OF = {Target.ACT: "act", Target.PW_WEIGHTS: "pw_weights", Target.DW_WEIGHTS: "dw_weights",
            Target.DW_PARAMS: "dw_params", Target.PW_PARAMS: "pw_params"}


class ScheduleError(ValueError):
    """The schedule would break a hardware limit (e.g. overflow a buffer)."""


@dataclass(frozen=True)
class Region:
    name: str
    addr: int
    size: int


@dataclass
class StepSchedule:
    step: Step
    tiling: StepTiling
    in_region: Region
    in_shape: tuple[int, int, int]  # H x W x (CB * pe) of the input map in DDR
    out_region: Region
    out_shape: tuple[int, int, int]  # H x W x (CB * pe) of the output map in DDR
    program: Region
    cost: StepCost  # the cost model's prediction for this very tiling
    instructions: list[dict] = field(default_factory=list)
    read_bytes: int = 0  # operands and the program
    write_bytes: int = 0

    @property
    def name(self) -> str:
        """The step's name; a band of a band group's with its place, ``conv1 b2/4``."""
        part = self.tiling.part
        return self.step.name if part is None else f"{self.step.name} b{part[0] + 1}/{part[1]}"


@dataclass
class Schedule:
    config: AcceleratorConfig
    steps: list[StepSchedule]
    image: bytearray  # the DDR contents before the run
    regions: list[Region]

    @property
    def size(self) -> int:
        return len(self.image)

    def read_map(self, memory, index: int) -> np.ndarray | None:
        """Step ``index``'s output map (real channels only) from a DDR image ``memory``;
        None for a map kept on chip (it never reaches DDR)."""
        s = self.steps[index]
        if s.tiling.output_resident:
            return None
        h, w, c = s.out_shape
        raw = np.frombuffer(bytes(memory[s.out_region.addr:s.out_region.addr + h * w * c]),
                            dtype=np.int8).reshape(h, w, c)
        return raw[:, :, :s.step.last.out_c]


def _align(value: int, to: int) -> int:
    return -(-value // to) * to


class _Allocator:
    def __init__(self):
        self.image = bytearray()
        self.regions: list[Region] = []

    def add(self, name: str, size: int, data: bytes | None = None, align: int = REGION_ALIGN):
        addr = _align(len(self.image), align)
        self.image.extend(bytes(addr + size - len(self.image)))
        if data is not None:
            self.image[addr:addr + len(data)] = data
        region = Region(name, addr, size)
        self.regions.append(region)
        return region


_INSTR = instruction_layout()
_NO_ACT_STORE = {"half": 0, "cols": 0, "blocks": 0, "row_pitch": 0, "block0": 0, "base": 0, "group": 0,
                 "pixels": 0}
_OFFSETS = {name: f.offset for name, f in _INSTR}
_LOAD_DESC = describe_layout(load_desc_layout())
_EXEC_DESC = describe_layout(_INSTR["body"].shape["exec"].shape)


def encode_instruction(instruction: dict) -> bytes:
    """64 little-endian bytes of ``{"op", "wait", "load" | "cmd" + "store"}``."""
    op = instruction["op"]
    if not 0 <= instruction["wait"] < 1 << WAIT_BITS:
        raise ScheduleError(f"wait count {instruction['wait']} does not fit {WAIT_BITS} bits")
    if op is Op.LOAD:
        body = pack(_LOAD_DESC, instruction["load"])
    else:
        body = pack(_EXEC_DESC, {"cmd": instruction["cmd"], "store": instruction["store"]})
    bits = (op.value << _OFFSETS["op"] | instruction["wait"] << _OFFSETS["wait"]
            | body << _OFFSETS["body"])
    return bits.to_bytes(INSTRUCTION_BYTES, "little")


def decode_instruction(raw: bytes) -> dict:
    """Inverse of :func:`encode_instruction`: the fields of a 64-byte instruction."""
    bits = int.from_bytes(raw, "little")
    op = Op((bits >> _OFFSETS["op"]) & 1)
    wait = (bits >> _OFFSETS["wait"]) & ((1 << WAIT_BITS) - 1)
    body = bits >> _OFFSETS["body"]
    return {"op": op, "wait": wait,
            **({"load": unpack(_LOAD_DESC, body)} if op is Op.LOAD else unpack(_EXEC_DESC, body))}


def decode_program(memory, addr: int, count: int) -> list[dict]:
    """The ``count`` instructions of the program at ``addr`` in ``memory``, decoded."""
    return [decode_instruction(bytes(memory[addr + k * INSTRUCTION_BYTES:addr + (k + 1) * INSTRUCTION_BYTES]))
            for k in range(count)]


def build_schedule(config: AcceleratorConfig, qnet, image: np.ndarray) -> Schedule:
    """Lay out ``qnet`` (quantised layers of ``config.network``) and ``image`` (the input,
    ``H x W x 3`` int8) in DDR and program every step."""
    pe, beat = config.pe, config.ddr_data_bits // 8
    tilings = plan_network(config)
    ddr = DdrTiming.of(config)
    qlayers = list(qnet)
    alloc = _Allocator()

    # The first step's input: the compact image (conv1 from the image), or the map it
    # reads with channels padded to whole blocks.
    first = tilings[0].step
    x0 = step_input(first, qlayers[0], image, pe)
    if not first.from_image:
        x0 = _padded(x0, pe)
    source = alloc.add("input", x0.nbytes, x0.tobytes()), x0.shape

    steps: list[StepSchedule] = []
    costs = step_costs(tilings, pe, ddr, config.pw_requant_share)
    # A step is one program, or one program a band in a band group (model.cost.plan_bands):
    # its layers, input and output regions are the step's, whichever band a program runs.
    order = sorted({t.step.name: t.step for t in tilings}.values(),
                   key=lambda step: layer_range(config.network, step).start)
    previous = {after.name: before.name for before, after in zip(order, order[1:])}
    outputs: dict[str, tuple[Region, tuple[int, int, int]]] = {}  # by step, as laid out
    regions: dict[tuple[str, tuple[int, int]], dict] = {}

    def weight_regions(step: Step, q, group: tuple[int, int]) -> dict:
        """The DDR regions of ``step``'s weight group ``group``, one per buffer (shared by
        the programs of every band of the step)."""
        if (step.name, group) not in regions:
            regions[step.name, group] = {
                target: alloc.add(f"{step.name}.{target.name.lower()}[{group[0]}:{group[1]}]",
                                  words.nbytes, words.tobytes())
                for target, words in weight_words(step, q, group, pe).items()}
        return regions[step.name, group]

    def input_of(step: Step) -> tuple[Region, tuple[int, int, int]]:
        """The DDR region and shape of ``step``'s input map: the step before's output,
        or the network's input."""
        return outputs[previous[step.name]] if step.name in previous else source

    def layers_of(step: Step):
        span = layer_range(config.network, step)
        return qlayers[span.start:span.stop]

    weight_half = 1  # the weight half the last tile read; the first group goes to the other
    resident = None  # the activation half holding the previous program's output, if on chip
    for index, (tiling, cost) in enumerate(zip(tilings, costs)):
        step = tiling.step
        in_region, in_shape = input_of(step)
        if step.name not in outputs:
            out = step.last
            shape = (out.out_h, out.out_w, channel_blocks(out.out_c, pe) * pe)
            outputs[step.name] = alloc.add(f"{step.name}.out", int(np.prod(shape))), shape
        out_region, out_shape = outputs[step.name]
        sched = StepSchedule(step, tiling, in_region, in_shape, out_region, out_shape,
                             program=Region("", 0, 0), cost=cost)
        ahead, ahead_band, after = None, None, prefetch_target(tilings, index)
        if after is not None and after.prefetched:
            ahead = weight_regions(after.step, layers_of(after.step), after.tiles[0].out_blocks)
        if after is not None and after.input_prefetched:
            after_region, after_shape = input_of(after.step)
            ahead_band = _band_load(after.step, after_region.addr, after_shape,
                                    after.tiles[0], pe)
        if index + 1 < len(tilings) and tilings[index + 1].prefetch_over:
            # this one tile loads its weights into the half the previous program's last
            # tile read: the other holds the next program's first group, prefetched
            weight_half ^= 1
        weight_half, resident = _program_step(
            config, sched, layers_of(step), in_shape, weight_half,
            lambda group, step=step: weight_regions(step, layers_of(step), group), ahead, resident,
            ahead_band)
        steps.append(sched)

    for sched in steps:
        code = b"".join(encode_instruction(i) for i in sched.instructions)
        sched.program = alloc.add(f"{sched.name}.program", len(code), code, align=PROGRAM_ALIGN)
        sched.read_bytes += len(code)  # the accelerator fetches its program from DDR
    # The costs again with every LOAD's DDR address, now laid out: where its bursts are
    # cut (model.cost.first_exec)
    for index, (tiling, sched) in enumerate(zip(tilings, steps)):
        prefetch, image = prefetch_of(tilings, index, pe)
        addrs = [i["load"]["addr"] for i in sched.instructions if i["op"] is Op.LOAD]
        sched.cost = step_cost(tiling, pe, ddr, config.pw_requant_share, prefetch, addrs,
                               prefetch_image=image)
    return Schedule(config, steps, alloc.image, alloc.regions)


def layer_range(network, step: Step) -> range:
    """The positions of ``step``'s layers in ``network`` (a step is a run of consecutive
    layers): what slices a quantised network's layers, or finds a step's output among
    the golden model's maps."""
    first = next(k for k, layer in enumerate(network) if layer.name == step.first.name)
    return range(first, first + len(step.layers))


def _padded(x: np.ndarray, pe: int) -> np.ndarray:
    extra = channel_blocks(x.shape[-1], pe) * pe - x.shape[-1]
    return np.pad(x, ((0, 0), (0, 0), (0, extra))) if extra else x


def _band_load(step: Step, in_addr: int, in_shape, tile, pe: int) -> tuple[int, int, dict]:
    """(DDR address, words, activation fields) of the LOAD of ``tile``'s input band of
    ``step``, whose input map of ``in_shape`` starts at ``in_addr`` in DDR (the compact
    image, one pixel a word on chip, for conv1 from the image)."""
    rows, cols, channels = in_shape
    image = step.from_image
    blocks_in = 1 if image else channel_blocks(channels, pe)
    row_bytes = cols * (IMAGE_PIXEL_BYTES if image else blocks_in * pe)
    r0, r1 = tile.in_rows
    return (in_addr + r0 * row_bytes, (r1 - r0) * cols * blocks_in,
            {"cols": cols, "blocks": blocks_in, "row_pitch": -(-cols // 3) * blocks_in,
             "image": image})


def _program_step(config, sched: StepSchedule, q, in_shape, weight_half: int, weight_regions,
                  ahead: dict | None, resident: int | None,
                  ahead_band: tuple | None = None) -> tuple[int, int | None]:
    """Program ``sched``'s step: per tile its LOADs and its EXEC. ``weight_half``: the
    weight half the previous step's last tile read (a step whose first weight group was
    prefetched finds it in the other half); ``weight_regions(group)``: the DDR regions of
    one of its weight groups; ``ahead``: the regions of the next step's first weight
    group when this program prefetches it, LOADed into the half the last tile does not
    read once the tile before it is done, after the last tile's own LOADs; ``resident``:
    the activation half that holds the step's input map when the previous step kept it
    on chip (``tiling.input_resident``: no activation LOAD) or LOADed its band
    (``tiling.input_prefetched``: the first tile's band, not LOADed here);
    ``ahead_band``: the next program's input band (:func:`_band_load`) when this program
    prefetches it, LOADed into the activation half it does not read, before the weights
    of ``ahead``. A step that keeps its output on chip writes it into the other
    activation half. Returns the weight half the last tile reads and the activation half
    holding this step's output or the next program's prefetched band (None: neither)."""
    pe, beat = config.pe, config.ddr_data_bits // 8
    step, tiling = sched.step, sched.tiling
    depth = {name: bank.depth for name, bank in ((b.name, b) for b in config.banks)}
    out_h, out_w, out_c = sched.out_shape
    cb_out = out_c // pe
    mode = step_mode(step)

    instructions: list[dict] = []
    loads_issued = execs_issued = 0
    half = {"act": 1, "weights": weight_half}  # flipped before a tile's loads
    # A multi-band step whose output stays on chip (tiling.split_input): its bands take
    # turns in the two halves of one activation half, split_half (half["act"] says which
    # of its halves), its output fills the other half: half 0, or the half the program
    # before LOADed the first band into (at word 0).
    split = tiling.split_input
    split_half = 0
    region = depth["act"] // 2
    if tiling.input_resident or tiling.input_prefetched:
        if resident is None:
            raise ScheduleError(f"{sched.name}: its input is planned on chip, but the program "
                                f"before did not keep its output or load its band there")
        if split:
            split_half, half["act"] = resident, 0
        else:
            half["act"] = resident
    last_user = {("act", 0): None, ("act", 1): None, ("weights", 0): None, ("weights", 1): None}

    def act_half() -> int:
        return split_half if split else half["act"]

    def load(kind, target, addr, words, wait=None, **act):
        nonlocal loads_issued
        bank = _BANK_OF[target]
        limit = region if split and target is Target.ACT else depth[bank]
        if target is Target.ACT:
            band_rows = words // (act["cols"] * act["blocks"])
            per_bank = act_words(band_rows, act["cols"], act["blocks"] * pe, pe)
            if per_bank > limit:
                raise ScheduleError(f"{sched.name}: an input band of {words} words needs {per_bank} "
                                    f"words per activation sub-bank, the bank has {limit}")
        elif words > limit:
            raise ScheduleError(f"{sched.name}: {words} words of {bank} exceed its {limit} words")
        if wait is None:
            user = last_user[(kind, half[kind])]
            wait = 0 if user is None else user + 1
        nbytes = words * (IMAGE_PIXEL_BYTES if act.get("image") else slices_per_word(target, pe) * pe)
        base = half["act"] * region if split and target is Target.ACT else 0
        instructions.append({"op": Op.LOAD, "wait": wait, "load": {
            "target": target, "half": act_half() if target is Target.ACT else half[kind],
            "addr": addr, "words": words,
            "cols": act.get("cols", 0), "blocks": act.get("blocks", 0),
            "row_pitch": act.get("row_pitch", 0), "image": int(act.get("image", 0)),
            "base": base}})
        sched.read_bytes += nbytes
        loads_issued += 1

    def load_weights(group_regions, wait=None):
        for target, region in group_regions.items():
            load("weights", target, region.addr, region.size // (slices_per_word(target, pe) * pe),
                 wait=wait)

    for number, tile in enumerate(tiling.tiles):
        if tile.load_act and not tiling.input_resident \
                and not (number == 0 and tiling.input_prefetched):
            half["act"] ^= 1
            addr, words, fields = _band_load(step, sched.in_region.addr, in_shape, tile, pe)
            load("act", Target.ACT, addr, words, **fields)
        if tile.load_weights:
            half["weights"] ^= 1
            if not (number == 0 and tiling.prefetched):  # else the previous program loaded it
                load_weights(weight_regions(tile.out_blocks))

        cmd = tile_command(step, q, in_shape, tile, pe, act_half=act_half(),
                           weight_half=half["weights"])
        if split:  # the band's words start half the depth in, in every sub-bank
            cmd["base0"] += half["act"] * region
        ob0, ob1 = tile.out_blocks
        if mode is Mode.POOL:
            first_row, pixels = 0, 1
            ob0, ob1 = 0, cb_out
        elif mode in (Mode.FUSED, Mode.CONV):
            first_row, pixels = tile.out_rows[0], (tile.out_rows[1] - tile.out_rows[0]) * out_w
        else:
            first_row, pixels = tile.in_rows[0], (tile.in_rows[1] - tile.in_rows[0]) * out_w
        start = sched.out_region.addr + (first_row * out_w * cb_out + ob0) * pe
        run_bytes = (ob1 - ob0) * pe
        if ob1 - ob0 == cb_out:  # whole pixels: the tile's rows are one run
            store = {"addr": start, "segments": 1, "seg_beats": pixels * run_bytes // beat,
                     "pitch": 0}
        else:
            store = {"addr": start, "segments": pixels, "seg_beats": run_bytes // beat,
                     "pitch": cb_out * pe}
        if tiling.output_resident:  # into the other activation half, as the next input
            if not (tiling.single_band or split):
                raise ScheduleError(f"{sched.name}: an output kept on chip needs one band, or "
                                    f"its bands in turns in the other half")
            out_pitch = -(-out_w // 3) * cb_out
            row_base = 0
            if split:  # the tile's rows from their place in the whole map
                if first_row % 3:
                    raise ScheduleError(f"{sched.name}: a band kept on chip starts at row "
                                        f"{first_row}, not a multiple of 3")
                row_base = first_row // 3 * out_pitch
            store = {"addr": 0, "segments": 0, "seg_beats": 0, "pitch": 0, "to_act": 1, "act": {
                "half": act_half() ^ 1, "cols": out_w, "blocks": cb_out,
                "row_pitch": out_pitch, "block0": ob0, "base": row_base, "group": ob1 - ob0,
                "pixels": pixels}}
            band_h = out_h if tiling.rows is None else tiling.rows[1] - tiling.rows[0]
            footprint = act_words(band_h, out_w, cb_out * pe, pe)
            if footprint > depth["act"]:
                raise ScheduleError(f"{sched.name}: its output needs {footprint} words per "
                                    f"activation sub-bank, the bank has {depth['act']}")
        else:
            store.update(to_act=0, act=_NO_ACT_STORE)
            sched.write_bytes += pixels * run_bytes
        instructions.append({"op": Op.EXEC, "wait": loads_issued, "cmd": cmd, "store": store})
        last_user[("act", half["act"])] = execs_issued  # (split: the half of the half)
        last_user[("weights", half["weights"])] = execs_issued
        execs_issued += 1
    band_half = None
    if ahead_band is not None:
        # The next program's input band, into the activation half this one does not read
        # (its input is on chip in the other; its output goes to DDR), once the tile
        # before the last is done, as the weights below.
        if split or tiling.output_resident or not tiling.input_resident:
            raise ScheduleError(f"{sched.name}: prefetches the next program's input band, "
                                f"but does not read its own from one activation half")
        half["act"] ^= 1
        addr, words, fields = ahead_band
        load("act", Target.ACT, addr, words, wait=execs_issued - 1, **fields)
        band_half = half["act"]
        half["act"] ^= 1
    if ahead is not None:
        # The next step's first weight group, into the half the last tile does not read,
        # once the tile before it (which read that half last, if any) is done. After the
        # last EXEC, so that EXEC's dispatch never queues behind loads that wait.
        half["weights"] ^= 1
        load_weights(ahead, wait=execs_issued - 1)
        half["weights"] ^= 1
    sched.instructions = instructions
    return half["weights"], (act_half() ^ 1 if tiling.output_resident else band_half)
