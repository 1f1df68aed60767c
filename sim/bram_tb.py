"""cocotb testbench of hw.bram.BlockRam: random writes (slice enables) and reads under random
read-stage enables, every word read against a Python model of the memory.

Run through ``sim/test_bram.py`` (pytest builds the memory, portable or as ECP5 DP16KD
primitives with sim/hdl's model, and passes ``params``: ``width``, ``depth``,
``granularity``, ``read_groups``, ``write_latency`` and ``cycles``; every copy of the
read enables is driven with the same value, as a reader's copies are). The model follows BlockRam's
documented stages: a slice written with ``w_en`` at edge ``E`` is in the memory from
edge ``E + write_latency``; a read at an edge where ``r_en`` is high takes the memory's
word into the read stage, and ``r_data`` takes the read stage's word at the next edge
where ``r_oe`` is high, holding it otherwise. The testbench never reads an address at
the edge the memory writes it (undefined on a DP16KD, see hw/bram.py), and it writes
every address of the depth, so each DP16KD of a depth cascade and each block of a row is
written and read back.
"""

from __future__ import annotations

import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge

from sim.runner import record, test_params
from sim.streams import CLOCK_NS

PARAMS = test_params()


@cocotb.test()
async def random_access(dut):
    width, depth = PARAMS["width"], PARAMS["depth"]
    granularity = PARAMS["granularity"]
    slices = width // granularity
    latency = PARAMS["write_latency"]
    rng = random.Random(PARAMS.get("seed", 1))
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, units="ns").start())
    for name in ("w_en", "r_en", "r_oe", "w_addr", "w_data", "r_addr"):
        getattr(dut, name).value = 0
    dut.rst.value = 1
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst.value = 0

    memory = [0] * depth
    pending = []  # (edge at which the memory takes it, addr, data, enables)
    read_stage = None  # the word in the read stage (None: nothing read yet)
    expected = None  # r_data after the last edge
    slice_mask = (1 << granularity) - 1
    # every address written at least once, in a random order, then random traffic
    sweep = list(range(depth))
    rng.shuffle(sweep)
    checked = 0
    for edge in range(PARAMS["cycles"] + len(sweep)):
        await FallingEdge(dut.clk)
        if expected is not None:
            got = int(dut.r_data.value)
            assert got == expected, (f"edge {edge}: r_data {got:#x}, expected {expected:#x}")
            checked += 1
        # the inputs for the next rising edge
        writing = bool(sweep) or rng.random() < 0.5
        w_addr = sweep.pop() if sweep else rng.randrange(depth)
        w_en = ((1 << slices) - 1) if edge < depth else rng.randrange(1 << slices)
        w_data = rng.getrandbits(width)
        if not writing:
            w_en = 0
        # a read never meets the memory's write of the same address at one edge
        busy = {addr for at, addr, _, en in pending if at == edge + 1 and en}
        r_addr = rng.randrange(depth)
        while r_addr in busy:
            r_addr = rng.randrange(depth)
        r_en = rng.random() < 0.7
        r_oe = rng.random() < 0.7
        dut.w_addr.value, dut.w_data.value, dut.w_en.value = w_addr, w_data, w_en
        copies = (1 << PARAMS.get("read_groups", 1)) - 1
        dut.r_addr.value = r_addr
        dut.r_en.value, dut.r_oe.value = copies * r_en, copies * r_oe
        # the model at the rising edge: read stage, output register, then the memory
        if r_oe and read_stage is not None:
            expected = read_stage
        if r_en:
            read_stage = memory[r_addr]
        pending.append((edge + 1 + latency, w_addr, w_data, w_en))
        for at, addr, data, en in [p for p in pending if p[0] == edge + 1]:
            word = memory[addr]
            for s in range(slices):
                if en >> s & 1:
                    shift = s * granularity
                    word = (word & ~(slice_mask << shift)) | (data & (slice_mask << shift))
            memory[addr] = word
        pending = [p for p in pending if p[0] > edge + 1]
    assert checked > PARAMS["cycles"] // 3, checked
    record("random_access", cycles=PARAMS["cycles"] + depth, words_checked=checked)
