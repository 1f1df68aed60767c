"""Analytical cost model: cycles per tile and per step of the engine, without simulation.

Pure functions of the configuration, the tiling (``model.tiling``, the same one the
driver runs) and the pipeline latencies the hardware components declare. A tile runs
from the accepted command to its last output word with its operands already on chip:

    cycles = START + WINDOW + DW(mode) + (run_len - 1) + HANDOVER   first run complete
           + beats                                                  one array beat a cycle
           + PW + COUNT                                             last word leaves

``beats`` is the number of ``pe x pe`` array beats (pixels x input blocks x output
blocks, or channel blocks x pixels when pooling). Nothing stalls in between: the pixel
buffer holds two runs plus the depthwise pipeline, so the depthwise stage (one word a
cycle) stays ahead of the array (see ``hw.pixel_buffer``), and the stages start only
after the previous tile has drained (``hw.controller``), which the fill and drain terms
count for every tile.
"""

from __future__ import annotations

import collections
import heapq
import functools
import math
from dataclasses import dataclass, replace

from hw.act_writer import ActWriter
from hw.bursts import cut_run
from hw.command import Mode
from hw.config import PARAM_LANE_BITS
from hw.controller import Controller
from hw.fetch import BURST_INSTRUCTIONS, QUEUE_DEPTH as FETCH_QUEUE_DEPTH
from hw.instruction import INSTRUCTION_BYTES
from hw.load_dma import LoadDma
from hw.dw_stage import DepthwiseStage
from hw.pixel_buffer import PixelBuffer
from hw.pw_stage import PointwiseStage
from hw.read_port import OUTSTANDING_READS
from hw.sequencer import EXEC_QUEUE_DEPTH, LOAD_QUEUE_DEPTH, TILE_DONE_LATENCY
from hw.skid import chip_wide
from hw.store_dma import StoreDma
from hw.store_router import StoreRouter
from hw.window import WindowGenerator

from .layers import LayerKind
from .tiling import (IMAGE_PIXEL_BYTES, Step, StepTiling, Tile, act_words, band_input_rows,
                     channel_blocks, network_steps, TilingError, run_length, tile_step)

__all__ = ["step_mode", "tile_beats", "tile_cycles", "TileCost", "StepCost", "step_cost",
           "network_cost", "step_costs", "DdrTiming", "first_exec", "tile_period", "program_cycles",
           "load_bytes", "tile_loads", "prefetch_loads", "prefetch_target", "prefetch_over_allowed",
           "prefetch_image", "prefetch_of", "input_prefetch_allowed", "plan_step", "plan_network",
           "PLAN_VARIANTS",
           "plan_prefetch", "plan_residency", "split_tilings", "split_allowed", "plan_bands", "band_group", "band_chain", "fetch_horizons", "prologue_horizon", "read_bursts",
           "fetch_gain", "idle_fetches", "saturated_start", "load_switch_cost"]


def step_mode(step: Step) -> Mode:
    if step.fused:
        return Mode.FUSED
    if step.from_image:
        return Mode.CONV
    return Mode.POOL if step.first.kind is LayerKind.AVGPOOL else Mode.POINTWISE


def tile_beats(step: Step, tile: Tile, pe: int) -> tuple[int, int]:
    """(array beats, run length) of ``tile``."""
    blocks_in = channel_blocks(step.in_channels, pe)
    mode = step_mode(step)
    if mode is Mode.POOL:
        pixels = step.first.in_h * step.first.in_w
        return blocks_in * pixels, run_length(step, pe)
    if mode in (Mode.FUSED, Mode.CONV):
        pixels = (tile.out_rows[1] - tile.out_rows[0]) * step.first.out_w
    else:
        pixels = (tile.in_rows[1] - tile.in_rows[0]) * step.in_width
    return pixels * blocks_in * (tile.out_blocks[1] - tile.out_blocks[0]), run_length(step, pe)


def tile_cycles(mode: Mode, beats: int, run_len: int, pe: int, pw_share: int = 1) -> int:
    """Cycles from command to last output word (see the module docstring); ``pw_share``
    is the pointwise requantiser's sharing (``AcceleratorConfig.pw_requant_share``).

    A shared requantiser takes a word every ``pw_share`` cycles; from ``CHIP_WIDE_PE``
    lanes nothing in front of it stalls, so the sequencer issues the runs' last words
    that many cycles apart (``hw.credits.credit_counter``'s ``spacing``): a run shorter
    than that takes ``pw_share`` cycles instead of ``run_len``, every run after the
    first."""
    fill = (Controller.START_LATENCY + WindowGenerator.LATENCY + DepthwiseStage.latency(mode)
            + run_len - 1 + PixelBuffer.HANDOVER_LATENCY)
    spacing = (beats // run_len - 1) * (pw_share - run_len) if run_len < pw_share and chip_wide(pe) else 0
    return fill + beats + spacing + PointwiseStage.latency(pe, pw_share) + Controller.COUNT_INCLUSIVE


@dataclass(frozen=True)
class TileCost:
    beats: int
    cycles: int


@dataclass(frozen=True)
class DdrTiming:
    """The DDR as the cost model sees it: sustained bytes per cycle (reads and writes
    share them), read latency, and the AXI beat size."""

    bytes_per_cycle: float
    latency: int
    beat_bytes: int

    @classmethod
    def of(cls, config) -> "DdrTiming":
        return cls(min(config.ddr_bytes_per_cycle, config.ddr_data_bits / 8),
                   config.ddr_latency_cycles, config.ddr_data_bits // 8)

    def transfer(self, nbytes: int) -> float:
        return nbytes / self.bytes_per_cycle

    def banked(self) -> float:
        """Cycles a burst after an idle gap gains over the sustained rate: the DDR model's
        credit covers one beat (``sim/hdl/axi_ddr.v``), so its first beat moves at once
        rather than one beat's time in; nothing at the port's peak rate."""
        return self.transfer(self.beat_bytes) - 1


#: Cycles from the program's start (BUSY rising) to its first fetch burst's AR being
#: accepted (``hw.fetch`` requests, ``hw.read_port``'s AR register).
FETCH_OVERHEAD = 1
#: Cycles from a fetch burst's last beat to the next fetch burst's AR (``hw.fetch``'s
#: ``in_flight`` clears, then the read port's AR register).
FETCH_REISSUE = 1
#: Cycles from the cycle after an instruction's last beat to its LOAD's AR being accepted:
#: the fetch queue (readable 2 cycles after its write, one of them the cycle after the
#: beat), the sequencer's load queue (2), the sequencer's registered descriptor valid (1),
#: the load DMA from the descriptor's acceptance to its first burst request
#: (``LoadDma.REQUEST_LATENCY``: the burst cutter's two stages), the read port's AR
#: register (1).
READ_OVERHEAD = 1 + 2 + 1 + LoadDma.REQUEST_LATENCY + 1
#: Cycles from an AR being accepted to its first beat (``sim/hdl/axi_ddr.v``: the burst
#: becomes eligible ``latency`` cycles after its AR and active the cycle after).
AR_TO_DATA = 1
#: Cycles from the last beat of a program's first instruction, an EXEC (a tile with its
#: operands on chip already), to the engine accepting it: the fetch queue (2), the
#: sequencer's tile queue (2), its registered command valid (1).
FETCH_TO_EXEC = 2 + 2 + 1
#: Idle R cycles between the last beat of one LOAD and the first of the next: the load
#: DMA's data side takes the next descriptor from its queue only the cycle after the
#: previous one ends (``hw.load_dma``: ``active`` clears on the last slice).
LOAD_SWITCH = 1
#: Cycles from a tile's last LOAD beat to the engine accepting its command (``done``
#: pulse, sequencer's ``loads_done``, the sequencer's registered command valid).
LOAD_TO_EXEC = 2
#: Cycles from a tile's last output word to the engine accepting the next command whose
#: loads are done (``hw.controller``'s ``busy`` clears; the sequencer's command valid is
#: up already).
TILE_TO_EXEC = 1
#: Cycles from a tile's last output word to DONE: the store router's output register,
#: the write response of its last burst, then the sequencer's ``finished``.
WRITE_TAIL = StoreRouter.LATENCY + 3
#: Cycles from a tile's last output word to DONE when its words go into the activation
#: buffer: the store router, the activation writer's input and beat registers
#: (``ActWriter.LATENCY``), the sequencer's ``finished`` the cycle after.
ACT_WRITE_TAIL = StoreRouter.LATENCY + ActWriter.LATENCY + 1
#: Cycles from a tile's last output word to the AR of a LOAD that waited for that tile
#: (the next step's prefetched weights): the sequencer's register on ``tile_done``
#: (``TILE_DONE_LATENCY``), its tile counter, its registered descriptor valid, the load
#: DMA's burst request (``LoadDma.REQUEST_LATENCY``), the read port's AR register.
WAIT_TO_READ = TILE_DONE_LATENCY + 1 + 1 + LoadDma.REQUEST_LATENCY + 1
#: Cycles from a program's last LOAD beat to DONE when the loads end after the last
#: tile's writes: the DMA's done pulse, the sequencer's pending count, ``finished``.
LOAD_TAIL = 3
#: Cycles from the last beat of the oldest burst in flight to the AR of a burst request
#: that found the read port full (``hw.read_port``: OUTSTANDING_READS bursts in flight):
#: the route FIFO's level falls the cycle after that beat, then the AR register.
IN_FLIGHT_REISSUE = 2
#: Bytes a cycle an image band (conv1's input, ``hw.load_dma``) moves at most: one pixel
#: word a cycle into the activation buffer's write port; its last word comes
#: ``LoadDma.UNPACK_LATENCY`` after its beat.
IMAGE_BYTES_PER_CYCLE = IMAGE_PIXEL_BYTES


def store_slack(mode: Mode, pe: int, pw_share: int = 1) -> int:
    """Bytes of output the engine can run ahead of the W channel before a stalled DDR
    stops its array: the words the store router and the store DMA hold
    (``StoreRouter.HELD``, ``StoreDma.HELD``) and those the engine's last stage holds
    under a stalled output (``PointwiseStage.output_held``, or a pool's
    ``DepthwiseStage.OUTPUT_HELD``), ``pe`` bytes each. A Verilator trace of soak
    configuration 3's conv1 (pe 4, 1.11 B/cycle, unshared requantiser) showed the array's
    issue stall when it ran 6 words ahead of W, as this counts."""
    engine = (DepthwiseStage.OUTPUT_HELD if mode is Mode.POOL
              else PointwiseStage.output_held(pe, pw_share))
    return pe * (StoreRouter.HELD + StoreDma.HELD + engine)


def load_switch_cost(ddr: "DdrTiming") -> int:
    """DDR cycles a LOAD_SWITCH idle cycle between two LOADs costs a stream of reads: none
    below the port's peak rate, where the DDR model's credit banks the idle cycle (the
    next beat moves when the credit covers it, as it would have without the gap: a
    Verilator trace of soak configuration 9, four LOADs of a prefetch at 3.36 B/cycle on
    a 32-bit port, moved 1,952 bytes in 581 cycles); the whole cycle at the peak."""
    return LOAD_SWITCH if ddr.banked() <= 0 else 0


def image_transfer(nbytes: int, ddr: "DdrTiming", last: bool = True) -> float:
    """Cycles of ``nbytes`` of an image band's LOAD from their first beat (as
    ``ddr.transfer`` for other LOADs): beats at ``min(bandwidth, 4)`` bytes a cycle, and
    for the band's ``last`` burst the beat register's cycle behind its last word."""
    return (nbytes / min(ddr.bytes_per_cycle, IMAGE_BYTES_PER_CYCLE)
            + (LoadDma.UNPACK_LATENCY if last else 0))


def first_exec(loads: list[list[int]], ddr: DdrTiming,
               prefetch: list[int] = (), image=(),
               addrs: list[int] | None = None) -> tuple[float, int, float | None]:
    """(cycle the engine accepts the first tile, instructions fetched by then, cycle of
    the first beat of the first LOAD after the first EXEC when the program has one tile
    and a prefetch, or its first tile has no LOADs) of a program whose tiles
    LOAD ``loads[i]`` (bytes per LOAD instruction, in program order; each tile's LOADs
    are followed by its EXEC) and which ends with the LOADs of ``prefetch``; ``addrs``:
    each LOAD's DDR address, in program order (the prefetch's last), or None for LOADs
    that each start on a burst block (:func:`hw.bursts.block_beats`).

    The read side is simulated burst by burst (no writes happen before the first tile):
    R beats return in AR order (one ID), a burst starting ``latency + AR_TO_DATA``
    cycles after its AR, or when the previous burst's last beat is done (plus
    LOAD_SWITCH between two LOADs; an image band, the first LOAD of a tile in
    ``image``, as :func:`image_transfer` says). Instructions come in fetch bursts of
    BURST_INSTRUCTIONS, the next burst requested FETCH_REISSUE after the previous one's
    last beat, so it gets ahead of that burst's last LOADs; a LOAD's first AR follows
    its instruction's last beat by READ_OVERHEAD. The load DMA cuts a LOAD into the
    bursts of :func:`hw.bursts.cut_run` and requests them one a cycle, a LOAD's after the
    previous LOAD's (:func:`read_bursts`); the read port has at most OUTSTANDING_READS
    bursts in flight, and a request that finds it full (the fetch's first) goes
    IN_FLIGHT_REISSUE after the oldest one's last beat. The first tile starts
    LOAD_TO_EXEC after its last LOAD's last beat, or, without LOADs, FETCH_TO_EXEC after
    its EXEC's."""
    kinds = []  # program order: bytes of a LOAD, or None for an EXEC
    images = set()  # indices in kinds of image bands
    for number, tile in enumerate(loads):
        if number in image and tile:
            images.add(len(kinds))
        kinds += list(tile) + [None]
    if len(loads) in image and prefetch:  # the prefetch starts with an image band
        images.add(len(kinds))
    kinds += list(prefetch)
    total = len(kinds)
    first_loads = len(loads[0])
    # each LOAD's bursts (bytes each), in kinds' indices
    sizes = [k for k in kinds if k is not None]
    cut = iter(read_bursts(sizes, ddr.beat_bytes, addrs))
    bursts = {index: next(cut) for index, k in enumerate(kinds) if k is not None}
    # Follow the first LOAD after the first EXEC to its first beat when nothing else
    # says when it starts: the prefetch of a one-tile program, or the second tile's
    # loads after a first tile without any (its operands on chip: they are fetched and
    # issued only after the EXEC, so they begin well after the tile).
    follow = (len(loads) == 1 and len(prefetch) > 0
              or first_loads == 0 and len(loads) > 1 and len(loads[1]) > 0)
    follow_index = first_loads + 1 if follow else None
    # the fetch stops when the sequencer's queues and its own are full
    cap = prologue_horizon(loads, len(prefetch))
    heap = [(FETCH_OVERHEAD, -1, "fetch", 0, 0)]  # (AR time, order, kind, index, burst)
    order = 0
    r_end, last_load = 0.0, False
    in_flight = collections.deque()  # the last beats of the bursts issued, in AR order
    dma = collections.deque()  # (AR at the earliest, index): LOADs the DMA has not begun
    dma_busy = False  # a LOAD's bursts are being requested
    loads_done = fetched = 0
    finish = follow_begin = None

    def next_load(at: float) -> None:
        """The load DMA begins its next LOAD's bursts, at ``at`` at the earliest."""
        nonlocal order, dma_busy
        dma_busy = bool(dma)
        if dma:
            ready, index = dma.popleft()
            heapq.heappush(heap, (max(ready, at), order, "load", index, 0))
            order += 1

    while heap:
        ar, key, kind, index, part = heapq.heappop(heap)
        while in_flight and in_flight[0] < ar:
            in_flight.popleft()
        if len(in_flight) >= OUTSTANDING_READS:  # the read port is full: wait for room
            heapq.heappush(heap, (in_flight[0] + IN_FLIGHT_REISSUE, key, kind, index, part))
            continue
        nbytes = (min(BURST_INSTRUCTIONS, total - index) * INSTRUCTION_BYTES if kind == "fetch"
                  else bursts[index][part])
        switch = LOAD_SWITCH if kind == "load" and part == 0 and last_load else 0
        begin = max(r_end + switch, ar + ddr.latency + AR_TO_DATA)
        # the DDR banks up to one beat of credit while idle: after a gap the first beat
        # moves at once and the rest at the sustained rate
        start = max(begin - ddr.banked(), r_end)
        last_part = kind == "load" and part + 1 == len(bursts[index])
        r_end = start + (image_transfer(nbytes, ddr, last_part)
                         if kind == "load" and index in images else ddr.transfer(nbytes))
        in_flight.append(r_end)
        last_load = kind == "load"
        if kind == "fetch":
            count = min(BURST_INSTRUCTIONS, total - index)
            fetched = index + count
            if first_loads == 0 and index == 0:  # the first EXEC is the first instruction
                finish = start + ddr.transfer(INSTRUCTION_BYTES) + FETCH_TO_EXEC - LOAD_TO_EXEC
            for j in range(count):
                if kinds[index + j] is not None:
                    arrive = start + ddr.transfer((j + 1) * INSTRUCTION_BYTES)
                    dma.append((arrive + READ_OVERHEAD, index + j))
            if not dma_busy:
                next_load(0.0)
            if fetched < cap:
                heapq.heappush(heap, (r_end + FETCH_REISSUE, -1, "fetch", fetched, 0))
        else:
            if part == 0 and index == follow_index:
                follow_begin = begin
            if not last_part:  # the DMA's next burst, a cycle later
                heapq.heappush(heap, (ar + 1, key, "load", index, part + 1))
            else:
                next_load(ar + 1)
                if index < first_loads:
                    loads_done += 1
                    if loads_done == first_loads:
                        finish = r_end
        if finish is not None and fetched > first_loads and \
                (follow_index is None or follow_begin is not None):
            break
    return finish + LOAD_TO_EXEC, fetched, follow_begin


def read_bursts(sizes: list[int], beat_bytes: int, addrs: list[int] | None = None) -> list[list[int]]:
    """The bytes of each burst the load DMA reads each LOAD of ``sizes`` bytes in
    (:func:`hw.bursts.cut_run`), from DDR addresses ``addrs``; None: every LOAD from the
    start of a burst block."""
    if addrs is None:
        addrs = [0] * len(sizes)
    return [[beats * beat_bytes for _, beats in cut_run(addr, nbytes // beat_bytes, beat_bytes)]
            or [0] for addr, nbytes in zip(addrs, sizes, strict=True)]


def tile_period(compute: int, beats: int, out_bytes: int, next_reads: int,
                ddr: DdrTiming, read_start: float = 0.0,
                image_bytes: float = 0.0, slack: float = 0.0) -> tuple[float, float]:
    """(cycle of the tile's last output word, cycle the next tile's reads are done), from
    the tile's start, for a tile of ``compute`` cycles (``beats`` array beats) writing
    ``out_bytes`` while the next tile's ``next_reads`` bytes are read (from its start: they
    were queued behind this tile's own loads; from ``read_start`` for loads that wait for
    the previous tile, which is negative when they began before this tile: behind its own
    last loads).

    The engine emits its output evenly over its beats, at ``E = out_bytes / beats``
    bytes a cycle, from ``compute - 1 - beats``; the first ``image_bytes`` of the reads
    are an image band (the next tile's, or a prefetch of the next band's image followed
    by weights), which moves at most IMAGE_BYTES_PER_CYCLE and ends
    ``LoadDma.UNPACK_LATENCY`` after its last beat. The store DMA passes a word on only
    when the DDR takes its beat (``hw.store_dma``); the words between the engine's array
    and the W channel (``slack`` bytes: :func:`store_slack`) let the engine run that far
    ahead of the DDR before a slower DDR stalls it. While both reads and writes have
    beats ready, the DDR alternates them (``sim/hdl/axi_ddr.v``): writes move
    ``min(E, bw / 2)`` and reads the rest of the bandwidth; alone, reads move ``bw`` and
    writes ``min(E, bw)``; words waiting in the slack move at the whole share (``bw / 2``
    beside reads, ``bw`` alone), so a lag built up beside the next tile's reads is made
    up once they are done. Bandwidth not used (the engine slower than its share, reads
    waiting for their latency) is lost: the DDR does not bank credit."""
    bw = ddr.bytes_per_cycle
    rate = out_bytes / beats if beats else float("inf")
    write_start = compute - 1 - beats
    emitted = drained = 0.0  # bytes out of the array / taken by the DDR
    left_r = float(next_reads)
    done_w = compute - 1 if out_bytes == 0 else None
    done_r = 0.0 if next_reads == 0 else None
    t = min(0.0, read_start)  # loads queued behind the previous tile's start before it
    image_left = min(float(image_bytes), left_r)
    image_done = None
    eps = 1e-9
    while done_w is None or done_r is None:
        writing = done_w is None and t >= write_start
        reading = done_r is None and t >= read_start
        p = w = 0.0  # bytes a cycle the array emits, the DDR writes
        if writing:
            share = bw / 2 if reading else bw
            lag = emitted - drained
            producing = emitted < out_bytes - eps
            p = rate if producing else 0.0
            w = share if lag > eps else min(p, share)
            if lag >= slack - eps:  # the slack is full: the engine waits for the DDR
                p = min(p, w)
        r = bw - w if reading else 0.0
        if image_left > eps:
            r = min(r, IMAGE_BYTES_PER_CYCLE)
        # the next event: a start, one side running out, the lag reaching 0 or the slack
        horizon = [x for x in (write_start, read_start) if x > t]
        if writing:
            if p > 0:
                horizon.append(t + (out_bytes - emitted) / p)
            if w > 0:
                horizon.append(t + (out_bytes - drained) / w)
            if p > w and lag < slack - eps:
                horizon.append(t + (slack - lag) / (p - w))
            if w > p and lag > eps:
                horizon.append(t + lag / (w - p))
        if reading:
            horizon.append(t + left_r / r)
            if image_left > eps:
                horizon.append(t + image_left / r)
        step = min(horizon) - t
        t += step
        if writing:
            emitted = min(float(out_bytes), emitted + p * step)
            drained = min(emitted, drained + w * step)
            if drained >= out_bytes - eps:
                done_w = t
        if reading:
            left_r -= r * step
            if image_left > eps:
                image_left -= r * step
                if image_left <= eps:
                    image_done = t
            if left_r <= eps:
                done_r = t
    if image_done is not None:  # the image band's last word, a beat register behind
        done_r = max(done_r, image_done + LoadDma.UNPACK_LATENCY)
    # unstalled, the last word leaves at compute - 1
    return max(done_w, compute - 1), done_r


def fetch_horizons(loads: list[list[int]], prefetch_count: int) -> list[int]:
    """Per tile, the instructions fetched once the tile has started and the queues have
    settled, in a program whose tiles LOAD ``loads[i]`` then EXEC, followed by
    ``prefetch_count`` LOADs. By then every LOAD of the tile after it has gone to the
    load DMA (it waited for the tile before), and the sequencer has dispatched in program
    order until an instruction finds its queue full (``LOAD_QUEUE_DEPTH`` LOADs that wait
    for later tiles, ``EXEC_QUEUE_DEPTH`` EXECs); the fetch queue holds the
    ``FETCH_QUEUE_DEPTH`` instructions from there, requested a burst of
    ``BURST_INSTRUCTIONS`` at a time when a burst's room is free (``hw/fetch.py``)."""
    kinds = _program_kinds(loads, prefetch_count)
    horizons, start = [], 0
    for tile, sizes in enumerate(loads):
        start += len(sizes) + 1  # after the tile's EXEC
        horizons.append(_dispatch_horizon(kinds, start, tile))
    return horizons


def fetch_gain(period_bursts: int) -> int:
    """Fetch bursts that land during a period whose LOADs read ``period_bursts`` bursts
    (:func:`read_bursts`). One fetch burst is in flight at a time, requested the cycle
    after the previous one's last beat, its beats behind the bursts requested before it:
    with the read port full (OUTSTANDING_READS - 1 of the period's bursts beside it) one
    lands after every OUTSTANDING_READS - 1 of them, and at least one a period (behind
    the period's loads)."""
    return max(1, period_bursts // (OUTSTANDING_READS - 1))


def idle_fetches(spare: float, ddr: DdrTiming) -> int:
    """Fetch bursts that fit in ``spare`` cycles of idle DDR at the end of a period (its
    reads and its tile's writes done): each requested FETCH_REISSUE after the previous
    one's last beat, its first beat ``latency + AR_TO_DATA`` after its AR, its transfer at
    the full bandwidth."""
    alone = (FETCH_REISSUE + ddr.latency + AR_TO_DATA
             + ddr.transfer(BURST_INSTRUCTIONS * INSTRUCTION_BYTES))
    return int(max(0.0, spare) // alone)


def prologue_horizon(loads: list[list[int]], prefetch_count: int) -> int:
    """The instructions the fetch gets at most before the first tile starts (as
    :func:`fetch_horizons` says for a tile, with the first EXEC still in the EXEC queue:
    it waits for its LOADs). The LOADs of the first two tiles go to the load DMA (each
    fills a half no tile has read yet); the sequencer stops at the third EXEC or at the
    fifth LOAD of a later tile, whichever comes first, and the fetch queue holds the
    ``FETCH_QUEUE_DEPTH`` instructions from there."""
    return _dispatch_horizon(_program_kinds(loads, prefetch_count), 0, 0)


def _program_kinds(loads: list[list[int]], prefetch_count: int) -> list[tuple[int, bool]]:
    """(tile, is EXEC) of each instruction, in program order; the prefetch's LOADs count as
    a tile after the last."""
    kinds = []
    for k, sizes in enumerate(loads):
        kinds += [(k, False)] * len(sizes) + [(k, True)]
    return kinds + [(len(loads), False)] * prefetch_count


def _dispatch_horizon(kinds: list[tuple[int, bool]], start: int, tile: int) -> int:
    """Instructions fetched once the sequencer, dispatching from ``start`` while tile
    ``tile``'s successor's LOADs have gone to the DMA, has stopped at a full queue."""
    total = len(kinds)
    queued_loads = queued_execs = 0
    blocked = total
    for index in range(start, total):
        k, is_exec = kinds[index]
        if is_exec:
            queued_execs += 1
            if queued_execs > EXEC_QUEUE_DEPTH:
                blocked = index
                break
        elif k > tile + 1:  # the next tile's LOADs have gone to the DMA
            queued_loads += 1
            if queued_loads > LOAD_QUEUE_DEPTH:
                blocked = index
                break
    fetched = (blocked + FETCH_QUEUE_DEPTH) // BURST_INSTRUCTIONS * BURST_INSTRUCTIONS
    return min(total, fetched)


def program_cycles(compute: list[int], beats: list[int], writes: list[int],
                   loads: list[list[int]], ddr: DdrTiming, prefetch: list[int] = (),
                   on_chip: bool = False, image=(), addrs: list[int] | None = None,
                   slack: float = 0.0) -> float:
    """Cycles of one step's program, start to done, from each tile's compute cycles and
    array beats, DDR bytes written (its output) and the bytes of each of its LOADs (each
    tile's instructions, its LOADs and its EXEC, are read from DDR too); ``prefetch``:
    the bytes of the LOADs of the next step's first weight group, which the program runs
    during its last tile.

    The first tile starts at :func:`first_exec` (the program's first fetch bursts and
    the first tile's loads, simulated burst by burst); the instructions fetched by then
    beyond the first tile's are not read again later. While tile ``i`` computes, the
    DDR moves its output, tile ``i + 1``'s loads (the other buffer halves) and the
    instructions the fetch gets in that period, as far as the queues allow
    (:func:`fetch_horizons`): a fetch burst lands behind the read port's other
    OUTSTANDING_READS - 1 bursts, so one a period and one more for every further
    OUTSTANDING_READS - 1 bursts of the period's LOADs (cut where ``addrs``, each LOAD's
    DDR address, says: :func:`read_bursts`), and once the period's reads and the tile's
    writes are done, one every FETCH_REISSUE + latency + AR_TO_DATA + its transfer
    (:func:`idle_fetches`). All of it moves
    as :func:`tile_period` says: writes throttled to their share of the
    bandwidth stall the engine once it is ``slack`` bytes ahead (:func:`store_slack`), and
    a share the engine cannot use is lost. Tile
    ``i + 1`` starts TILE_TO_EXEC after tile ``i``'s last word or LOAD_TO_EXEC after its
    own last read beat, whichever is later, and not before :func:`saturated_start` (the
    DDR moving every byte before it back to back). Tile ``i + 1``'s loads (into the
    halves tile ``i - 1`` read) wait for tile ``i - 1``: they begin WAIT_TO_READ +
    latency + AR_TO_DATA after its last word, or LOAD_SWITCH after tile ``i``'s own
    loads, whichever is later, when that is before tile ``i``'s start (its loads made it
    wait); else from tile ``i``'s start. The prefetch waits for the last tile's own
    loads and for the tile before it (it fills the weight half that tile read), so its
    reads share the last tile's period with the last tile's writes. The program is done
    WRITE_TAIL after the last tile's last word, or LOAD_TAIL after the prefetch's last
    beat (not before every byte of the program has moved back to back), whichever is
    later. ``image``: the tiles whose first LOAD is an image band
    (conv1's input, :func:`image_transfer`)."""
    t, fetched, follow_begin = first_exec(loads, ddr, prefetch, image, addrs)
    # The fetch runs ahead of dispatch, as far as the queues allow: during tile i the DDR
    # reads tile i + 1's operands and the instructions fetched between tile i's start and
    # tile i + 1's (fetch_horizons; the prefetch's operands come with the last tile's).
    ahead = sum(prefetch)
    bursts = read_bursts([n for sizes in loads for n in sizes] + list(prefetch),
                         ddr.beat_bytes, addrs)
    period_bursts, k = [], len(loads[0])  # the bursts of each period's reads
    for sizes in loads[1:] + [list(prefetch)]:
        period_bursts.append(sum(len(b) for b in bursts[k:k + len(sizes)]))
        k += len(sizes)
    horizons = fetch_horizons(loads, len(prefetch))
    before = fetched
    # the prefetch's first beat, from the last tile's start (a one-tile program), or the
    # second tile's loads' from the first tile's start (a first tile without loads)
    follow_start = 0.0 if follow_begin is None else follow_begin - t
    prefetch_start = follow_start if len(compute) == 1 else 0.0
    for i, cycles in enumerate(compute):
        last = i + 1 == len(compute)
        gain = fetch_gain(period_bursts[i])
        horizon = max(before, min(horizons[i], before + gain * BURST_INSTRUCTIONS))
        operands = sum(loads[i + 1]) if i + 1 < len(loads) else ahead
        reads = operands + (horizon - before) * INSTRUCTION_BYTES
        out, reads_done = tile_period(cycles, beats[i], writes[i], reads, ddr,
                                      prefetch_start if last else follow_start if i == 0
                                      else min(0.0, next_start),
                                      # the next tile's band, or the prefetch's first LOAD
                                      image_bytes=0 if i + 1 not in image
                                      else prefetch[0] if last else reads,
                                      slack=slack)
        if last:
            end = out + (ACT_WRITE_TAIL if on_chip else WRITE_TAIL)
            if ahead:
                end = max(end, reads_done + (len(prefetch) - 1) * load_switch_cost(ddr)
                          - ddr.banked() + LOAD_TAIL)
            # nor before the DDR has moved every byte of the program back to back
            # (saturated_start) and LOAD_TAIL has passed: after a LOAD's last beat, or
            # after a write's (its word left the engine StoreRouter.LATENCY before it,
            # WRITE_TAIL before DONE)
            total = sum(len(sizes) + 1 for sizes in loads) + len(prefetch)
            last_beat = _saturated_moved(loads + [list(prefetch)], total, sum(writes), ddr, image)
            return max(t + end, last_beat + min(LOAD_TAIL, WRITE_TAIL - StoreRouter.LATENCY))
        period = max(out + TILE_TO_EXEC, reads_done + LOAD_TO_EXEC)
        # once the period's reads and the tile's writes are done the fetch goes on alone,
        # a burst at a time, as far as the queues allow (in DDR time the period leaves idle)
        more = idle_fetches(period - max(reads_done, out if writes[i] else 0.0), ddr)
        before = min(horizons[i], horizon + more * BURST_INSTRUCTIONS) if more else horizon
        # no tile starts before the DDR has moved every byte it needs (saturated_start):
        # when the reads never pause, the fetch's bursts and the loads queue back to back
        # and the periods above, which count a fetch burst's bytes only where it lands,
        # would run ahead of the DDR
        bound, fetched = saturated_start(i + 1, loads, writes, ddr, len(prefetch), image)
        late = max(0.0, bound - (t + period))
        if late:  # the instructions the DDR moved by then are not read again later
            before = max(before, fetched)
        next_start = max(out + WAIT_TO_READ + ddr.latency + AR_TO_DATA,
                         reads_done + LOAD_SWITCH) - period - late
        if i + 2 == len(compute):
            prefetch_start = next_start
        t += period + late
    raise ValueError("a program has at least one tile")


def saturated_start(tile: int, loads: list[list[int]], writes: list[int], ddr: DdrTiming,
                    prefetch_count: int = 0, image=()) -> tuple[float, int]:
    """The earliest cycle tile ``tile`` of a program (tiles loading ``loads[i]``, writing
    ``writes[i]`` bytes, then ``prefetch_count`` LOADs) can start, from the DDR's side:
    before it, the DDR has moved every tile's loads up to its own, the fetch bursts up to
    the one holding its EXEC (BURST_INSTRUCTIONS from the program's start) and the
    outputs of the tiles two or more before it, at most ``ddr.bytes_per_cycle`` a
    cycle (an image band's at most IMAGE_BYTES_PER_CYCLE), from the program's first
    fetch burst's first beat (FETCH_OVERHEAD, then ``latency + AR_TO_DATA``, the first
    beat moving at once: :meth:`DdrTiming.banked`); it starts LOAD_TO_EXEC after the
    last of them. A bound that the program meets when its reads never pause (a step
    whose reads take longer than its compute). Returns (that cycle, the instructions
    fetched by then)."""
    exec_index = sum(len(sizes) + 1 for sizes in loads[:tile + 1]) - 1
    total = sum(len(sizes) + 1 for sizes in loads) + prefetch_count
    fetched = min(total, -(-(exec_index + 1) // BURST_INSTRUCTIONS) * BURST_INSTRUCTIONS)
    last_beat = _saturated_moved(loads[:tile + 1], fetched, sum(writes[:max(0, tile - 1)]),
                                 ddr, image)
    # (as first_exec counts it: LOAD_TO_EXEC from the cycle after the last beat)
    return last_beat + 1 + LOAD_TO_EXEC, fetched


def _saturated_moved(loads: list[list[int]], instructions: int, written: int, ddr: DdrTiming,
                     image=()) -> float:
    """The cycle, from a program's start, of the last beat of the LOADs of ``loads``
    (per tile, an image band first for the tiles in ``image``), the first
    ``instructions`` instructions and ``written`` bytes of output moved back to back:
    the first fetch burst's first beat ``latency + AR_TO_DATA`` after its AR (at
    FETCH_OVERHEAD), at once (the idle DDR's banked beat), each further beat a beat's
    transfer later (:func:`saturated_start`)."""
    # the DDR moves every byte at its bandwidth; the reads go one LOAD after another, an
    # image band at most IMAGE_BYTES_PER_CYCLE (the load DMA's unpacking, not the DDR:
    # writes use the DDR time it leaves)
    cycles = ddr.transfer(instructions * INSTRUCTION_BYTES + written)
    reads = ddr.transfer(instructions * INSTRUCTION_BYTES)
    for k, sizes in enumerate(loads):
        for n, nbytes in enumerate(sizes):
            cycles += ddr.transfer(nbytes)
            reads += (image_transfer(nbytes, ddr, last=False) if n == 0 and k in image
                      else ddr.transfer(nbytes))
    return (FETCH_OVERHEAD + ddr.latency + AR_TO_DATA + max(cycles, reads)
            - ddr.transfer(ddr.beat_bytes))


def load_bytes(step: Step, tile: Tile, pe: int) -> list[int]:
    """DDR bytes of each LOAD of ``tile``, in program order (``sw.schedule``): the input
    band, then the weight buffers in ``sw.program.weight_words``' order (pointwise
    weights, their parameters, and for a fused step the depthwise weights and
    parameters)."""
    sizes = [tile.act_bytes] if tile.load_act else []
    if tile.load_weights:
        blocks_in = channel_blocks(step.in_channels, pe)
        param = PARAM_LANE_BITS // 8
        if step.weight_layer is None:
            sizes += [pe * pe, blocks_in * param * pe]
        else:
            blocks_out = tile.out_blocks[1] - tile.out_blocks[0]
            sizes += [blocks_out * blocks_in * pe * pe, blocks_out * param * pe]
            if step.fused:
                sizes += [blocks_in * 9 * pe, blocks_in * param * pe]
    assert sum(sizes) == tile.act_bytes + tile.weight_bytes and len(sizes) == tile.loads
    return sizes


def tile_loads(tiling: StepTiling, index: int, pe: int) -> list[int]:
    """DDR bytes of each LOAD the program of ``tiling``'s step issues for tile ``index``:
    :func:`load_bytes`, without the band when the map is on chip already or the previous
    program prefetched it, and without the first tile's weight group when the previous
    step prefetched it."""
    tile = tiling.tiles[index]
    sizes = load_bytes(tiling.step, tile, pe)
    band, weights = sizes[:int(tile.load_act)], sizes[int(tile.load_act):]
    if tiling.input_resident or (index == 0 and tiling.input_prefetched):
        band = []
    if index == 0 and tiling.prefetched:  # only the band, if it loads one
        weights = []
    return band + weights


def prefetch_loads(tiling: StepTiling, pe: int) -> list[int]:
    """DDR bytes of each LOAD a program before issues for ``tiling``'s step, in program
    order: its first tile's input band when it is prefetched (``input_prefetched``), then
    its first tile's weight group when that is (``prefetched``); else none."""
    tile = tiling.tiles[0]
    sizes = load_bytes(tiling.step, tile, pe)
    band, weights = sizes[:int(tile.load_act)], sizes[int(tile.load_act):]
    return (band if tiling.input_prefetched else []) + (weights if tiling.prefetched else [])


def prefetch_image(tiling: StepTiling | None) -> bool:
    """Whether the first LOAD a program before issues for ``tiling`` is an image band
    (conv1's input, moved as :func:`image_transfer` says)."""
    return tiling is not None and tiling.input_prefetched and tiling.step.from_image


def prefetch_target(tilings: list[StepTiling], k: int) -> StepTiling | None:
    """The program whose first operands program ``k`` loads during its last tile: the
    next one when its weights or input band are prefetched, or the one after it when its
    weights are prefetched over the next (``StepTiling.prefetch_over``); None."""
    if k + 1 < len(tilings):
        target = tilings[k + 1]
        if (target.prefetched and not target.prefetch_over) or target.input_prefetched:
            return target
    if k + 2 < len(tilings) and tilings[k + 2].prefetch_over:
        return tilings[k + 2]
    return None


def input_prefetch_allowed(before: StepTiling, after: StepTiling) -> bool:
    """Whether ``before``'s last tile can load ``after``'s first input band into the
    activation half ``before`` does not read: ``before`` is the last program of a band
    of a band group (:func:`band_group`), reads its input on chip (one band, in one
    half) and writes its output to DDR, so the other half is free, and ``after`` is
    either the group's first program of the next band, whose input (the group's)
    ``before`` does not write, or, after the group's last band, the step that reads the
    group's output from DDR: one band, or bands in turns in the two halves of one half
    (``StepTiling.split_input``: the first at the half's word 0, where the prefetch puts
    it)."""
    if before.part is None or not before.input_resident or before.output_resident \
            or before.split_input or after.input_resident or not after.tiles[0].load_act:
        return False
    if after.part is not None:  # the next band of the same group
        return (after.part[0] == before.part[0] + 1 and not after.split_input
                and after.single_band)
    # the step after the group, from its last band's last program
    return before.part[0] + 1 == before.part[1] and (after.single_band or after.split_input)


def prefetch_over_allowed(before: StepTiling, middle: StepTiling) -> bool:
    """Whether ``before``'s last tile can load the first weight group of the program
    after ``middle`` into the weight half it does not read: ``middle`` is one tile whose
    own weights it loads itself (into the half ``before``'s last tile read, free once
    ``before`` is done), and ``before`` prefetches nothing else."""
    return (len(middle.tiles) == 1 and middle.tiles[0].load_weights and not middle.prefetched
            and not middle.input_prefetched and not before.prefetch_over)


@dataclass(frozen=True)
class StepCost:
    """Predicted figures of one step (a layer, or a fused depthwise + pointwise pair)."""

    name: str
    mode: Mode
    tiles: tuple[TileCost, ...]
    macs: int  # useful multiply-accumulates (the paper's Mult-Adds of the step)
    pointwise_macs: int  # of them, on the pe x pe array
    ddr_read_bytes: int  # operands and instructions
    ddr_write_bytes: int
    pe: int
    cycles: int  # start to done: compute and DDR (compute only when no DDR was given)
    ddr_cycles: float = 0.0  # DDR bytes / bandwidth: the step's DDR floor
    prefetch_bytes: int = 0  # of ddr_read_bytes, the next step's weights read during the last tile

    @property
    def compute_cycles(self) -> int:
        """The engine's cycles with every operand on chip: the step's compute floor."""
        return sum(tile.cycles for tile in self.tiles)

    @property
    def beats(self) -> int:
        return sum(tile.beats for tile in self.tiles)

    @property
    def ddr_bytes(self) -> int:
        return self.ddr_read_bytes + self.ddr_write_bytes

    @property
    def bound(self) -> str:
        """``"ddr"`` when moving the step's bytes takes longer than computing it."""
        return "ddr" if self.ddr_cycles > self.compute_cycles else "compute"

    @property
    def roofline_cycles(self) -> float:
        return max(self.compute_cycles, self.ddr_cycles)

    @property
    def array_utilisation(self) -> float:
        """Pointwise-array utilisation: useful array MACs / (cycles x pe^2)."""
        return self.pointwise_macs / (self.cycles * self.pe * self.pe)


def step_cost(tiling: StepTiling, pe: int, ddr: DdrTiming | None = None, pw_share: int = 1,
              prefetch: list[int] = (), addrs: list[int] | None = None,
              prefetch_image: bool = False) -> StepCost:
    """Predicted cycles of ``tiling``'s step; with ``ddr``, of its program (loads, compute
    and stores overlapped, and ``prefetch``: the bytes of each LOAD of a later step's
    first operands, :func:`prefetch_loads`, the first an image band when
    ``prefetch_image``), else of its tiles back to back with operands on chip.
    ``pw_share``: the pointwise requantiser's sharing
    (``AcceleratorConfig.pw_requant_share``)."""
    step = tiling.step
    mode = step_mode(step)
    tiles = []
    for tile in tiling.tiles:
        beats, run_len = tile_beats(step, tile, pe)
        tiles.append(TileCost(beats, tile_cycles(mode, beats, run_len, pe, pw_share)))
    compute = [tile.cycles for tile in tiles]
    loads = [tile_loads(tiling, k, pe) for k in range(len(tiling.tiles))]
    # DDR reads: the operands and the instructions (each tile's LOADs and its EXEC, and
    # the prefetch's LOADs), fetched from DDR too
    instructions = sum(len(sizes) + 1 for sizes in loads) + len(prefetch)
    read_bytes = (sum(map(sum, loads)) + sum(prefetch)
                  + instructions * INSTRUCTION_BYTES)
    if ddr is None:
        cycles, ddr_cycles = sum(compute), 0.0
    else:
        writes = [0 if tiling.output_resident else t.out_bytes for t in tiling.tiles]
        image = {k for k in range(len(loads))
                 if step.from_image and tiling.tiles[k].load_act and not tiling.input_resident
                 and not (k == 0 and tiling.input_prefetched)}
        if prefetch_image and prefetch:
            image.add(len(loads))  # the prefetch's first LOAD, after the last tile's
        cycles = round(program_cycles(compute, [t.beats for t in tiles], writes, loads,
                                      ddr, list(prefetch), on_chip=tiling.output_resident,
                                      image=image, addrs=addrs,
                                      slack=store_slack(mode, pe, pw_share)))
        ddr_cycles = ddr.transfer(read_bytes + tiling.ddr_write_bytes)
        # the burst-level prologue and the per-tile shares can round below the floor of
        # moving every byte at the full bandwidth, which no program beats
        cycles = max(cycles, math.ceil(ddr_cycles))
    array_layer = step.last
    pointwise_macs = 0 if mode is Mode.POOL else array_layer.mult_adds
    macs = sum(l.mult_adds for l in step.layers)
    if tiling.new_rows is not None:  # a band: its share of the step's useful Mult-Adds
        out_h = step.last.out_h
        pointwise_macs, macs = (pointwise_macs * tiling.new_rows // out_h,
                                macs * tiling.new_rows // out_h)
    return StepCost(step.name, mode, tuple(tiles), macs,
                    pointwise_macs, read_bytes, tiling.ddr_write_bytes, pe,
                    cycles, ddr_cycles, sum(prefetch))


def step_costs(tilings: list[StepTiling], pe: int, ddr: DdrTiming | None = None,
               pw_share: int = 1) -> list[StepCost]:
    """:func:`step_cost` of every step of a network's tilings, each program with the
    prefetch of a later program's first operands where the plan has one
    (:func:`prefetch_target`)."""
    costs = []
    for k, tiling in enumerate(tilings):
        prefetch, image = prefetch_of(tilings, k, pe)
        costs.append(_step_cost_of(tiling, pe, ddr, pw_share, tuple(prefetch), image))
    return costs


@functools.lru_cache(maxsize=1 << 14)
def _step_cost_of(tiling: StepTiling, pe: int, ddr: DdrTiming | None, pw_share: int,
                  prefetch: tuple[int, ...], prefetch_image: bool) -> StepCost:
    """:func:`step_cost` remembered: the planners (:func:`plan_bands`,
    :func:`plan_prefetch`) predict the same program with the same prefetch many times
    over (a pure function of frozen arguments)."""
    return step_cost(tiling, pe, ddr, pw_share, list(prefetch), prefetch_image=prefetch_image)


def prefetch_of(tilings: list[StepTiling], k: int, pe: int) -> tuple[list[int], bool]:
    """:func:`step_cost`'s ``prefetch`` and ``prefetch_image`` for program ``k`` of
    ``tilings``: the LOADs it issues for :func:`prefetch_target`."""
    target = prefetch_target(tilings, k)
    return ([] if target is None else prefetch_loads(target, pe)), prefetch_image(target)


#: Band heights the planner tries per step: the tallest that fits, divided by 1 .. this.
BAND_CANDIDATES = 8
#: The planner accepts at most this much more DDR traffic than the tallest bands move
#: (halo rows read twice) for a faster step.
TRAFFIC_SLACK = 1.2


def plan_step(step: Step, pe: int, act_depth: int, weight_depth: int,
              ddr: DdrTiming, pw_share: int = 1) -> StepTiling:
    """The tiling of ``step`` the accelerator runs: of the band heights ``tallest / k``
    (k = 1 .. BAND_CANDIDATES) that move at most TRAFFIC_SLACK times the DDR bytes of the
    tallest, the one with the fewest predicted cycles. Taller bands
    read fewer halo rows; shorter ones start computing sooner and overlap more of the
    DDR traffic with compute (the first tile's loads and the last tile's stores run
    alone)."""
    tallest = tile_step(step, pe, act_depth, weight_depth)
    bands = sorted({max(1, -(-tallest.band_rows // k)) for k in range(1, BAND_CANDIDATES + 1)},
                   reverse=True)
    tilings = [tallest] + [tile_step(step, pe, act_depth, weight_depth, max_band=b) for b in bands[1:]]
    budget = TRAFFIC_SLACK * _traffic(tallest)
    return min((t for t in tilings if _traffic(t) <= budget),
               key=lambda tiling: step_cost(tiling, pe, ddr, pw_share).cycles)


def _traffic(tiling: StepTiling) -> int:
    return tiling.ddr_read_bytes + tiling.ddr_write_bytes


def plan_prefetch(tilings: list[StepTiling], pe: int, ddr: DdrTiming,
                  pw_share: int = 1) -> list[StepTiling]:
    """Which steps' first weight group a program before loads during its last tile (into
    the weight half that tile does not read), and which band group programs' input band
    (:func:`input_prefetch_allowed`: the next band's image for conv1, into the free
    activation half): left to right, wherever the cost model predicts the programs to
    take fewer cycles together with it than without. It pays when the next step would
    otherwise wait for those loads alone (its band and weights before its first tile)
    and the last tile leaves DDR time to spare. Over a one-tile
    program (:func:`prefetch_over_allowed`, ``StepTiling.prefetch_over``: avgpool between
    dw13+pw13 and fc) the program two before loads it, when that beats both the
    ordinary prefetch of the program between and none."""
    planned = list(tilings)

    def cycles(programs):
        return sum(cost.cycles for cost in step_costs(programs, pe, ddr, pw_share))

    for k in range(1, len(planned)):
        window = max(0, k - 2)
        variants = []
        weights = replace(planned[k], prefetched=True)
        if prefetch_loads(weights, pe):
            variants.append(weights)
        if input_prefetch_allowed(planned[k - 1], planned[k]):
            band = replace(planned[k], input_prefetched=True)
            variants.append(band)
            if prefetch_loads(weights, pe):
                variants.append(replace(weights, input_prefetched=True))
        options = [planned[window:k + 1]] + [[*planned[window:k], v] for v in variants]
        if k >= 2 and not planned[k - 1].prefetch_over and prefetch_loads(weights, pe):
            middle = replace(planned[k - 1], prefetched=False)
            if prefetch_over_allowed(planned[k - 2], middle):
                options.append([planned[k - 2], middle, replace(weights, prefetch_over=True)])
        best = min(options, key=cycles)
        if best is not options[0]:
            planned[window:k + 1] = best
    return planned


def plan_residency(tilings: list[StepTiling], pe: int, act_depth: int, weight_depth: int,
                   ddr: DdrTiming, pw_share: int = 1, outputs=()) -> list[StepTiling]:
    """Which steps' output maps stay on chip (issue "Past the per-layer roofline", item 1):
    step ``k``'s output goes into the activation half it does not read, as step
    ``k + 1``'s whole input map, when step ``k + 1``'s whole input fits a half and step
    ``k``'s map is not one of the network's ``outputs``. Step ``k`` then reads one band
    (every tile the same half), or several in turns in the two halves of the other
    half (``StepTiling.split_input``: bands of half the depth, a multiple of 3 output
    rows). Left to right, where the cost model predicts the two steps faster so (one
    band can start later than several: its whole input loads before its first tile;
    half-depth bands read more halo rows)."""
    planned = list(tilings)
    for k in range(len(planned) - 1):
        current, following = planned[k], planned[k + 1]
        if current.step.last.name in outputs or current.part or following.part:
            continue  # a band group's programs (plan_bands) hand their bands over already
        whole = tile_step(following.step, pe, act_depth, weight_depth)
        if not whole.single_band:
            continue
        if current.single_band:
            candidates = [current]
        else:
            single = tile_step(current.step, pe, act_depth, weight_depth)
            candidates = [single] if single.single_band else []
            candidates += split_tilings(current.step, pe, act_depth, weight_depth, ddr)
        if not candidates:
            continue
        reads = replace(whole, input_resident=True)
        apart = (step_cost(current, pe, ddr, pw_share).cycles
                 + step_cost(following, pe, ddr, pw_share).cycles)
        following_cycles = step_cost(reads, pe, ddr, pw_share).cycles
        kept = min((replace(c, input_resident=current.input_resident, output_resident=True)
                    for c in candidates),
                   key=lambda t: step_cost(t, pe, ddr, pw_share).cycles)
        if step_cost(kept, pe, ddr, pw_share).cycles + following_cycles < apart:
            planned[k], planned[k + 1] = kept, reads
    return planned


#: A step may keep its output on chip while its next input band loads
#: (:func:`split_tilings`) when its output words come at least this many cycles apart
#: (its run length) ...
SPLIT_MIN_RUN = 2
#: ... and the band's words at most this many a cycle: the activation buffer has one
#: write port, the load DMA's words take it first (``hw.engine``: it cannot wait) and
#: the activation writer's skid absorbs a lost cycle only if the next one is free.
SPLIT_MAX_LOAD_WORDS = 0.5


def split_allowed(step: Step, pe: int, ddr: DdrTiming) -> bool:
    """Whether ``step``'s output can fill an activation half while its input bands load
    into the other without the two streams of writes slowing the engine: not conv1 from
    the image (a pixel a word, a word a cycle), words of the output runs at least
    SPLIT_MIN_RUN cycles apart, and band words at most SPLIT_MAX_LOAD_WORDS a cycle."""
    load_words = min(ddr.bytes_per_cycle, ddr.beat_bytes) / pe
    return (not step.from_image and run_length(step, pe) >= SPLIT_MIN_RUN
            and load_words <= SPLIT_MAX_LOAD_WORDS)


def split_tilings(step: Step, pe: int, act_depth: int, weight_depth: int,
                  ddr: DdrTiming) -> list[StepTiling]:
    """Multi-band tilings of ``step`` whose input bands take turns in the two halves of
    one activation half (``StepTiling.split_input``): bands that fit ``act_depth // 2``
    words, a multiple of 3 output rows, of the tallest height and that divided by 2 .. 4;
    none where :func:`split_allowed` says no."""
    if not split_allowed(step, pe, ddr):
        return []
    try:
        tallest = tile_step(step, pe, act_depth // 2, weight_depth, band_step=3)
    except TilingError:
        return []
    if tallest.single_band:
        return []  # one band: the whole map, plan_residency's first case
    heights = sorted({max(3, tallest.band_rows // d // 3 * 3) for d in range(1, 5)}, reverse=True)
    return [replace(tile_step(step, pe, act_depth // 2, weight_depth, max_band=h, band_step=3),
                    split_input=True) for h in heights]


#: Steps a band group chains at most (:func:`plan_bands`).
GROUP_STEPS = 4
#: Band heights :func:`plan_bands` tries per chain: the tallest that fits, divided by
#: 1 .. this.
GROUP_BAND_CANDIDATES = 4


def _chainable(step: Step) -> bool:
    """A step that can be a link of a band group: it maps rows of an input map to rows of
    an output map (conv1, a fused or a pointwise step; not pooling or FC)."""
    return step.first.kind not in (LayerKind.AVGPOOL, LayerKind.FC)


def band_chain(steps: list[Step], rows: tuple[int, int]) -> list[tuple[int, int]]:
    """The output rows each step of the chain ``steps`` computes so that the last one
    computes its output rows ``rows``: each step's are the input rows the next reads
    (:func:`model.tiling.band_input_rows`, the 3x3 halo included)."""
    chain = [rows]
    for step in reversed(steps[1:]):
        chain.append(band_input_rows(step, *chain[-1]))
    return chain[::-1]


def _chain_fits(steps: list[Step], rows: tuple[int, int], pe: int, act_depth: int) -> bool:
    """Whether the band of ``steps`` ending in output rows ``rows`` fits the activation
    halves: every step's input band in one half, its output band (but the last's) in the
    other."""
    from .tiling import map_blocks, map_width
    for k, (step, out) in enumerate(zip(steps, band_chain(steps, rows))):
        start, stop = band_input_rows(step, *out)
        if act_words(stop - start, map_width(step, pe), map_blocks(step, pe) * pe, pe) > act_depth:
            return False
        layer = step.last
        if k + 1 < len(steps) and act_words(out[1] - out[0], layer.out_w, layer.out_c, pe) > act_depth:
            return False
    return True


def band_group(steps: list[Step], pe: int, act_depth: int, weight_depth: int,
               band: int) -> list[StepTiling]:
    """The programs of a band group (issue "Past the per-layer roofline": fusion across
    steps), in the order they run: the last step's output cut into bands of ``band``
    rows, and per band every step of the chain in turn on just the rows the next one
    needs (:func:`band_chain`: halo rows are computed again for the next band). A step
    but the first reads its input band in the activation half where the step before
    wrote it; a step but the last writes its output band into the other half; only the
    first step's input and the last step's output go through DDR. Each program is one
    band (``StepTiling.rows``); its weights are loaded again for every band."""
    out_h = steps[-1].last.out_h
    bands = [(r, min(r + band, out_h)) for r in range(0, out_h, band)]
    programs = []
    made = [0] * len(steps)  # per step, the output rows the bands so far computed
    for j, rows in enumerate(bands):
        for k, (step, out) in enumerate(zip(steps, band_chain(steps, rows))):
            tiling = tile_step(step, pe, act_depth, weight_depth, out_range=out)
            if k + 1 < len(steps):
                layer = step.last
                need = act_words(out[1] - out[0], layer.out_w, layer.out_c, pe)
                if need > act_depth:
                    raise TilingError(f"step {step.name}: output rows {out} need {need} words "
                                      f"per activation sub-bank, the buffer has {act_depth}")
            programs.append(replace(tiling, input_resident=k > 0, output_resident=k + 1 < len(steps),
                                    part=(j, len(bands)), new_rows=max(0, out[1] - max(out[0], made[k]))))
            made[k] = max(made[k], out[1])
    return programs


#: Steps after a candidate band group that :func:`plan_bands` plans and predicts with it:
#: the group's output goes to DDR, so the step after reads it from there (its first band
#: prefetched by the group's last program, :func:`input_prefetch_allowed`), and that
#: step's output may stay on chip for the next (:func:`plan_residency`).
GROUP_CONTEXT = 2


def plan_bands(tilings: list[StepTiling], pe: int, act_depth: int, weight_depth: int,
               ddr: DdrTiming, pw_share: int = 1, outputs=(),
               context: bool = True) -> list[StepTiling]:
    """Which runs of steps go as band groups (:func:`band_group`), left to right: from a
    step whose output map does not fit an activation half (else :func:`plan_residency`
    keeps it on chip whole), chains of 2 .. GROUP_STEPS steps with bands of the tallest
    height that fits divided by 1 .. GROUP_BAND_CANDIDATES (bands of even height: as
    many as that height needs), the one the cost model predicts fastest, or none. Per
    chain length, the band height whose programs alone are predicted fastest is then
    predicted as it would run: with the GROUP_CONTEXT steps after the longest chain, the
    maps kept on chip and the prefetches across programs planned over them
    (:func:`plan_residency`, :func:`plan_prefetch`), against no chain over the same
    steps, so a chain that hands the step after it a band through the free activation
    half, or that ends where the DDR has time to spare, is seen to pay. Without
    ``context``, every program and step is predicted alone (no map kept on chip, no
    prefetch): the greedy choice left to right can go either way, so
    :func:`plan_network` plans both and keeps the faster frame. A chain's inner maps
    never reach DDR; the price is the halo rows computed again and the weights loaded
    again for every band. ``outputs``: maps the network returns, which must reach DDR
    (no chain passes through them)."""
    planned, k = [], 0

    def predicted(programs: list[StepTiling]) -> int:
        if context:
            programs = plan_residency(programs, pe, act_depth, weight_depth, ddr, pw_share,
                                      outputs)
            programs = plan_prefetch(programs, pe, ddr, pw_share)
            return sum(cost.cycles for cost in step_costs(programs, pe, ddr, pw_share))
        return sum(_step_cost_of(p, pe, ddr, pw_share, (), False).cycles for p in programs)

    while k < len(tilings):
        first = tilings[k].step
        layer = first.last
        best, best_cycles = None, None
        if _chainable(first) and layer.name not in outputs \
                and act_words(layer.out_h, layer.out_w, layer.out_c, pe) > act_depth:
            end = min(len(tilings), k + GROUP_STEPS + GROUP_CONTEXT)  # every candidate's span
            best_cycles = predicted(tilings[k:end])
            for length in range(2, GROUP_STEPS + 1):
                if k + length > len(tilings):
                    break
                steps = [t.step for t in tilings[k:k + length]]
                if not _chainable(steps[-1]) or any(s.last.name in outputs for s in steps[:-1]):
                    break
                out_h = steps[-1].last.out_h
                tallest = 0
                while tallest < out_h and _chain_fits(steps, (0, tallest + 1), pe, act_depth) \
                        and _chain_fits(steps, (out_h // 2, min(out_h, out_h // 2 + tallest + 1)),
                                        pe, act_depth):
                    tallest += 1
                if tallest == 0:
                    break  # a longer chain needs more rows still
                # of this chain's band heights, the one whose programs alone are
                # predicted fastest is predicted in its context
                groups = []
                for height in sorted({_even(out_h, -(-tallest // d))
                                      for d in range(1, GROUP_BAND_CANDIDATES + 1)}):
                    if height >= out_h:
                        continue  # one band: the whole maps, plan_residency's case
                    try:
                        programs = band_group(steps, pe, act_depth, weight_depth, height)
                    except TilingError:
                        continue
                    alone = sum(_step_cost_of(p, pe, ddr, pw_share, (), False).cycles
                                for p in programs)
                    groups.append((alone, len(groups), programs))
                if not groups:
                    continue
                programs = min(groups)[2]
                cycles = predicted(programs + tilings[k + length:end])
                if cycles < best_cycles:
                    best, best_cycles = programs, cycles
        if best is None:
            planned.append(tilings[k])
            k += 1
        else:
            planned += best
            k += len({p.step.name for p in best})
    return planned


#: The plans :func:`plan_network` compares for each cut of the network, as
#: :func:`_plan_steps`' ``(bands, context)``: band groups chosen in their context,
#: band groups chosen by their programs alone (:func:`plan_bands`), no band groups.
PLAN_VARIANTS = ((True, True), (True, False), (False, False))


def plan_network(config) -> list[StepTiling]:
    """The programs of ``config.network`` for ``config``'s buffers and DDR, in the order
    they run: every step's tiling, or the bands of a band group (:func:`plan_bands`),
    with the maps kept on chip (:func:`plan_residency`) and the weights prefetched
    across programs (:func:`plan_prefetch`): what the scheduler programs and what the
    cost model predicts. A step is one program unless it is in a band group."""
    steps = network_steps(config.network)
    cuts = [steps]
    if steps[0].image_capable:
        # conv1 from the raw image moves 3 bytes a pixel instead of its 27-byte im2col
        # vector, but holds a pixel in a pe-byte word on chip: where the im2col map fits
        # one band and the image does not, conv1's output can stay on chip only from
        # the im2col map.
        cuts.append([replace(steps[0], host_im2col=True), *steps[1:]])
    plans = []
    for cut in cuts:
        for bands, context in PLAN_VARIANTS:
            try:
                plans.append(_plan_steps(config, cut, bands, context=context))
            except TilingError:
                if cut is steps:
                    raise
                break
    if len(plans) == 1:
        return plans[0]
    # The plan with the fewest predicted cycles; on a tie the first (the image, bands).
    ddr = DdrTiming.of(config)
    return min(plans, key=lambda tilings: sum(
        cost.cycles for cost in step_costs(tilings, config.pe, ddr, config.pw_requant_share)))


def _plan_steps(config, steps: list[Step], bands: bool = True,
                context: bool = True) -> list[StepTiling]:
    """:func:`plan_network` for the given cut of the network into steps, with band groups
    where they pay (``bands``; chosen with or without their ``context``,
    :func:`plan_bands`) or without."""
    ddr = DdrTiming.of(config)
    act_depth, weight_depth = config.bank["act"].depth, config.bank["pw_weights"].depth
    outputs = set(config.network.output_layers)
    tilings = [plan_step(step, config.pe, act_depth, weight_depth, ddr, config.pw_requant_share)
               for step in steps]
    if bands:
        tilings = plan_bands(tilings, config.pe, act_depth, weight_depth, ddr,
                             config.pw_requant_share, outputs, context)
    tilings = plan_residency(tilings, config.pe, act_depth, weight_depth, ddr,
                             config.pw_requant_share, outputs)
    return plan_prefetch(tilings, config.pe, ddr, config.pw_requant_share)


def network_cost(config) -> list[StepCost]:
    """Every step of ``config.network`` as planned (:func:`plan_network`), run from DDR at
    ``config``'s bandwidth and latency."""
    return step_costs(plan_network(config), config.pe, DdrTiming.of(config), config.pw_requant_share)


def _even(rows: int, height: int) -> int:
    """The height of as many bands of at most ``height`` rows as ``rows`` needs, of even
    size: the last band no shorter than the others need be."""
    return -(-rows // -(-rows // height))
