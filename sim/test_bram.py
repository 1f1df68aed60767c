"""RTL test of hw.bram.BlockRam against a model of its stages (sim/bram_tb.py), portable and
as ECP5 DP16KD primitives (sim/hdl/ecp5_dp16kd.v), in the two tilings the buffers of the
engine tests do not reach: a depth cascade (rows of DP16KDs selected by the address's
high bits through both read stages), the 36-bit pseudo dual port mode with byte
enables (the word split over DIA/DIB and DOA/DOB), and read enables in copies (the
columns in groups, as the weight buffer's at pe 8)."""

import pytest

from hw.bram import BlockRam, dp16kd_tiling
from hw.products import ECP5
from sim.runner import ECP5_MODELS

CYCLES = 1500  # random traffic after every address is written once

#: (width, depth, granularity, read groups, DP16KD words, port bits, cascade rows) of each
#: case
CASES = {
    "cascade": (16, 4100, 8, 1, 2048, 9, 3),
    "pdp36": (72, 450, 9, 1, 512, 36, 1),
    "groups": (64, 1500, 8, 3, 2048, 9, 1),  # 8 columns on 3 copies of each enable
}


@pytest.mark.quick_case(sim="verilator", case="pdp36", ecp5=True)
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("ecp5", [False, True], ids=["portable", "ecp5"])
def test_block_ram(rtl, sim, case, ecp5):
    width, depth, granularity, groups, words, port_bits, rows = CASES[case]
    tiling = dp16kd_tiling(width, depth, granularity)
    assert (tiling.words, tiling.port_bits, tiling.rows) == (words, port_bits, rows)
    ram = BlockRam(width, depth, granularity, read_groups=groups)
    target = {"platform": ECP5, "extra_sources": ECP5_MODELS} if ecp5 else {}
    run = rtl(ram, toplevel="block_ram", test_module="sim.bram_tb", **target, params={
        "width": width, "depth": depth, "granularity": granularity, "read_groups": groups,
        "write_latency": ram.write_latency, "cycles": CYCLES,
    })
    assert run.tests == {"random_access": "passed"}
    (result,) = [r for r in run.records if r["name"] == "random_access"]
    assert result["words_checked"] > CYCLES // 3
