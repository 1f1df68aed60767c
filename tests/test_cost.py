"""The cost model's burst-level prologue (``model.cost.first_exec``): the read port's 8
bursts in flight, LOADs cut into bursts where their DDR addresses say
(``hw.bursts.cut_run``), and the fetch stopping when the queues are full
(``model.cost.prologue_horizon``). The expected cycles are derived by hand in each test.
"""

from __future__ import annotations

import pytest

from hw.bursts import block_beats, cut_run
from hw.read_port import OUTSTANDING_READS
from model.cost import (AR_TO_DATA, FETCH_OVERHEAD, FETCH_REISSUE, LOAD_TO_EXEC, DdrTiming,
                        fetch_gain, fetch_horizons, idle_fetches,
                        first_exec, prologue_horizon, read_bursts, store_slack, tile_period)


def test_cut_run_cuts_at_blocks():
    # 32-bit beats: blocks of 256 beats (1 KiB); a run from byte 0x3c0 is 16 beats short of
    # its block's end, then a whole block, then the 28 beats left of 300
    assert block_beats(4) == 256
    assert cut_run(0x3C0, 300, 4) == [(0x3C0, 16), (0x400, 256), (0x800, 28)]
    assert cut_run(0, 512, 4) == [(0, 256), (0x400, 256)]
    # 512-bit beats: blocks of 64 beats (4 KiB, fewer than 256)
    assert block_beats(64) == 64
    assert cut_run(0x1FC0, 3, 64) == [(0x1FC0, 1), (0x2000, 2)]
    assert cut_run(0x2000, 64, 64) == [(0x2000, 64)]


def test_read_bursts_in_bytes():
    # 8 KiB from a block boundary: 8 bursts of 1 KiB; from 0x200: 512 bytes to the
    # boundary, 7 blocks, the 512 bytes left
    assert read_bursts([8192], 4) == [[1024] * 8]
    assert read_bursts([8192], 4, [0x200]) == [[512] + [1024] * 7 + [512]]


def test_prologue_horizon_stops_at_the_third_exec():
    # tiles of one LOAD each: L0 E0 L1 E1 L2 E2 ...; E0 and E1 fill the EXEC queue (E0
    # waits for its LOAD), so dispatch stops at E2 (index 5) and the fetch queue holds the
    # 8 instructions from there, in bursts of 4: (5 + 8) // 4 * 4 = 12
    loads = [[64]] * 12
    assert prologue_horizon(loads, 0) == 12
    # a short program is fetched whole
    assert prologue_horizon([[64]] * 2, 0) == 4


def test_prologue_horizon_stops_at_the_fifth_waiting_load():
    # L0 E0 L1 E1 then tile 2's five LOADs (indices 4..8; they wait for tile 0): the fifth
    # finds the LOAD queue (4) full, before E2 at 9: (8 + 8) // 4 * 4 = 16
    loads = [[64], [64], [64] * 5, [64] * 5, [64]]
    assert prologue_horizon(loads, 0) == 16
    # once tile 0 has started (fetch_horizons) dispatch goes on from E0's successor with the
    # same LOADs waiting: 16 again; once tile 1 has, tile 2's LOADs have gone and E1, E2
    # and E3 (index 15) are queued behind it: E3 is the third, blocked at 15, all 18 fetched
    assert fetch_horizons(loads, 0)[:2] == [16, 18]


# At the port's peak rate (4 bytes a cycle on a 32-bit port: one beat a cycle, no banked
# credit) and latency 10, the first fetch burst's AR is accepted at FETCH_OVERHEAD = 1,
# its first beat comes at 1 + 10 + AR_TO_DATA = 12 and its 64 beats end at 76 (the
# model's end of a transfer: its last beat's cycle + 1). The band's LOAD (the first
# instruction, in by 28) requests its bursts from 35, one a cycle; they follow the fetch
# burst back to back from 76. The fetch burst holds one of the read port's 8 places until
# its last beat, so 7 of the band's bursts go in at once. The second fetch burst is
# requested at 76 + FETCH_REISSUE = 77, the cycle the first one's place is free.
DDR = DdrTiming(4.0, 10, 4)
FIRST_BEAT = FETCH_OVERHEAD + DDR.latency + AR_TO_DATA  # 12
PROGRAM = [[7168], [64], [64], [64]]  # L E L E L E L E: two fetch bursts


def test_constants_of_the_hand_derivations():
    assert (FIRST_BEAT, OUTSTANDING_READS, DDR.banked(), LOAD_TO_EXEC, FETCH_REISSUE) == \
        (12, 8, 0.0, 2, 1)


def test_seven_bursts_leave_the_second_fetch_burst_behind_the_band():
    # 7 KiB from a block boundary: 7 bursts, all in flight beside the first fetch burst;
    # the second fetch burst's AR (77) comes after them, its beats after the band's: the
    # band ends at 12 + 64 + 1792 = 1868, the tile starts LOAD_TO_EXEC later
    start, _, _ = first_exec(PROGRAM, DDR)
    assert start == FIRST_BEAT + 64 + 1792 + LOAD_TO_EXEC


def test_an_eighth_burst_waits_behind_the_second_fetch_burst():
    # The same 7 KiB from 0x200: 8 bursts (512 bytes, 6 blocks, 512 bytes). The eighth
    # finds the port full (the first fetch burst and 7 of the band's) and may go only
    # IN_FLIGHT_REISSUE after the fetch burst's last beat (78); the second fetch burst's AR
    # at 77 takes that place first, so its 64 beats come before the band's last 128: the
    # tile starts 64 cycles later than from a block boundary
    start, fetched, _ = first_exec(PROGRAM, DDR, addrs=[0x200, 0, 0, 0])
    assert (start, fetched) == (FIRST_BEAT + 64 + 1792 + 64 + LOAD_TO_EXEC, 8)
    # 8 KiB from a block boundary: 8 bursts as well, overtaken alike, 256 beats more band
    assert start == first_exec([[7168 + 1024]] + PROGRAM[1:], DDR)[0] - 1024 // 4
    # at the fetch's place the read port's limit is lifted: the band is not overtaken
    import model.cost
    limit, model.cost.OUTSTANDING_READS = model.cost.OUTSTANDING_READS, 1 << 30
    try:
        assert first_exec(PROGRAM, DDR, addrs=[0x200, 0, 0, 0])[0] == \
            FIRST_BEAT + 64 + 1792 + LOAD_TO_EXEC
    finally:
        model.cost.OUTSTANDING_READS = limit


def test_addresses_must_match_the_loads():
    with pytest.raises(ValueError):
        first_exec(PROGRAM, DDR, addrs=[0, 0])


def test_fetch_gain_is_a_burst_per_seven_of_the_periods_bursts():
    # the read port holds 8 bursts: a fetch burst requested with the port full lands
    # behind the 7 others; at least one a period
    assert [fetch_gain(b) for b in (0, 1, 6, 7, 13, 14, 20, 21, 40)] == [1, 1, 1, 1, 1, 2, 2, 3, 5]


def test_idle_fetches_a_burst_per_latency_and_transfer():
    # at 4 bytes a cycle and latency 10 a fetch burst alone takes FETCH_REISSUE (1) + 10 +
    # AR_TO_DATA (1) + 256 / 4 = 76 cycles
    assert [idle_fetches(x, DDR) for x in (-5, 0, 75, 76, 151, 152)] == [0, 0, 0, 1, 1, 2]


# -- the store path's slack (model.cost.tile_period, store_slack) -----------------------
# A tile of 1,604 cycles, 1,568 beats, writing 896 bytes (0.571 B/cycle from cycle 35)
# while the next tile's 768 bytes are read from cycle 0 on a 1.11 B/cycle DDR: beside
# the reads the writes get half (0.555 B/cycle), so the engine falls behind by 0.016 B
# a cycle; the reads move 1.11 B/cycle alone until cycle 35, then 0.555: they end at
# 35 + (768 - 35 x 1.11) / 0.555 = 1,348.8.
SLOW = DdrTiming(1.11, 16, 4)
READS_END = 35 + (768 - 35 * 1.11) / 0.555


def test_without_slack_a_lag_stalls_the_engine_for_good():
    out, reads = tile_period(1604, 1568, 896, 768, SLOW)
    assert reads == pytest.approx(READS_END)
    # until the reads end the writes move 0.555 B/cycle, then the engine's 896/1568: the
    # bytes behind are never made up
    rate = 896 / 1568
    written = (reads - 35) * 0.555
    assert out == pytest.approx(reads + (896 - written) / rate)
    assert out > 1603 + 30


def test_slack_absorbs_a_lag_that_the_ddr_makes_up_after_the_reads():
    # lag at the reads' end: (0.5714 - 0.555) x 1,313.8 = 21.6 bytes, under 24: no
    # stall; after it the writes move at the whole 1.11 B/cycle and catch up
    out, reads = tile_period(1604, 1568, 896, 768, SLOW, slack=24)
    assert reads == pytest.approx(READS_END)
    assert out == pytest.approx(1603)


def test_a_full_slack_stalls_the_engine_at_the_write_share():
    # 12 bytes of slack: full at 35 + 12 / (0.5714 - 0.555) cycles; from there to the
    # reads' end the engine moves at 0.555, then it runs at its own rate again with the
    # 12 bytes made up
    rate = 896 / 1568
    reads = READS_END
    full = 35 + 12 / (rate - 0.555)
    emitted = rate * (full - 35) + 0.555 * (reads - full)  # by the reads' end
    out, _ = tile_period(1604, 1568, 896, 768, SLOW, slack=12)
    assert out == pytest.approx(reads + (896 - emitted) / rate)
    assert 1603 < out < tile_period(1604, 1568, 896, 768, SLOW)[0]


def test_slack_changes_nothing_when_the_writes_keep_up_or_never_catch_up():
    fast_enough = DdrTiming(2.0, 16, 4)  # half is 1.0 > 0.571: no lag
    assert tile_period(1604, 1568, 896, 768, fast_enough, slack=24) == \
        tile_period(1604, 1568, 896, 768, fast_enough)
    # reads the whole tile: the writes move at half the bandwidth throughout, the slack
    # only lets the last word leave once they are done, as without it
    assert tile_period(1604, 1568, 896, 5000, SLOW, slack=24) == \
        pytest.approx(tile_period(1604, 1568, 896, 5000, SLOW))


def test_store_slack_counts_the_words_held_behind_the_array():
    from hw.command import Mode
    from hw.dw_stage import DepthwiseStage
    from hw.pw_stage import PointwiseStage
    from hw.store_dma import StoreDma
    from hw.store_router import StoreRouter
    store = StoreRouter.HELD + StoreDma.HELD
    assert store == 3  # router: output and skid registers; DMA: its skid register
    # pe 4 with an unshared requantiser: the array's output register, the accumulator
    # skid, the requantiser's output register, then the store path's 3: 6 words, as the
    # Verilator trace of soak configuration 3's conv1 showed
    assert store_slack(Mode.CONV, 4, 1) == 4 * 6
    assert store_slack(Mode.FUSED, 4, 2) == 4 * (store + PointwiseStage.output_held(4, 2))
    assert PointwiseStage.output_held(4, 2) == PointwiseStage.output_held(4, 1) + 1
    # from CHIP_WIDE_PE lanes the stage runs free under credits (hw.credits): it holds
    # its output queue, a credit's round trip deep
    from hw.credits import RETURN
    for pe, share in ((8, 1), (16, 2)):
        held = PointwiseStage.latency(pe, share) + RETURN + 1
        assert PointwiseStage.output_held(pe, share) == PointwiseStage.credits(pe, share) == held
        assert store_slack(Mode.FUSED, pe, share) == pe * (store + held)
    assert PointwiseStage.output_held(8, 1) == 24
    assert store_slack(Mode.POOL, 8) == 8 * (store + DepthwiseStage.OUTPUT_HELD)


def test_runs_shorter_than_a_shared_requantiser_take_its_spacing():
    """From CHIP_WIDE_PE lanes the sequencer issues runs' last words ``pw_share`` cycles
    apart (``hw.credits.credit_counter``): a run shorter than that takes ``pw_share``
    cycles, every run after the first. Below CHIP_WIDE_PE, and for runs as long as the
    sharing, nothing is added (the RTL's cycles: tests/test_engine.py)."""
    from hw.command import Mode
    from hw.pw_stage import PointwiseStage
    from hw.skid import CHIP_WIDE_PE
    from model.cost import tile_cycles

    def unspaced(pe, beats, run_len, share):  # the module docstring's terms alone
        return (tile_cycles(Mode.FUSED, 1, 1, pe, 1) - 1 - PointwiseStage.latency(pe, 1)
                + run_len - 1 + beats + PointwiseStage.latency(pe, share))

    pe, beats = CHIP_WIDE_PE, 2048
    # one-word runs, shared by 2: 2,048 runs, the 2,047 after the first a cycle longer
    assert tile_cycles(Mode.FUSED, beats, 1, pe, 2) == unspaced(pe, beats, 1, 2) + 2047
    # two-word runs, shared by 4: 1,024 runs, the 1,023 after the first 2 cycles longer
    assert tile_cycles(Mode.FUSED, beats, 2, pe, 4) == unspaced(pe, beats, 2, 4) + 1023 * 2
    for run_len, share in ((1, 1), (2, 2), (4, 2), (3, 1)):
        assert tile_cycles(Mode.FUSED, beats, run_len, pe, share) == unspaced(pe, beats, run_len, share)
    # below CHIP_WIDE_PE the stages stall by handshake; the sequencer spaces nothing
    assert tile_cycles(Mode.FUSED, beats, 1, 4, 2) == unspaced(4, beats, 1, 2)
