"""cocotb testbench of the whole engine (hw.engine.Engine): tiles of real layers.

Run through ``sim/test_engine_rtl.py``, which prepares the stimulus on the host side
with the driver's own encoders (``sw.program``): per tile the packed load beats, the
packed command, the golden model's values of every output word and the cost model's
predicted cycles, in a JSON file named by ``params["stimulus"]``.

Each tile's loads go into the buffer halves the previous tile is not using, and are
sent while that tile computes (double buffering); the command follows once its loads
are in. Under a pause pattern the load and command streams leave random idle cycles
and the store stream withholds ready at random. Every output word is compared with the
golden model, its ``last`` flag with the tile's end, and without pauses the engine's
``cycles`` register with the cost model's prediction.
"""

from __future__ import annotations

import json

import cocotb
from cocotb.triggers import FallingEdge, RisingEdge

from sim.runner import record, test_params, unpack
from sim.streams import CLOCK_NS, Pause, StreamTB

PARAMS = test_params()


def _load_stimulus():
    with open(PARAMS["stimulus"]) as file:
        return json.load(file)


def _timeout_ns() -> int:
    return (PARAMS.get("budget_cycles", 10**6) * 4 + 10_000) * CLOCK_NS


@cocotb.test(timeout_time=_timeout_ns(), timeout_unit="ns")
@cocotb.parametrize(pause=list(Pause))
async def tiles(dut, pause):
    """Every tile of every step, bit-exact, with the cycle count checked or bounded."""
    stimulus = _load_stimulus()
    tb = StreamTB(dut, pause)
    await tb.reset()
    load, cmd = tb.add_source("load"), tb.add_source("cmd")
    store = tb.add_sink("store")
    store_layout = PARAMS["store_layout"]
    total_words = 0
    for index, tile in enumerate(stimulus["tiles"]):
        if index == 0:
            for beat in tile["loads"]:
                load.send(beat)
        await load.drained()
        cmd.send(tile["command"])
        # The next tile's operands load into the other halves while this one computes.
        if index + 1 < len(stimulus["tiles"]):
            for beat in stimulus["tiles"][index + 1]["loads"]:
                load.send(beat)
        total_words += len(tile["expected"])
        await tb.expect(store, total_words, extra_cycles=0,
                        timeout_cycles=8 * tile["predicted"] + 50 * len(tile["expected"]) + 2000)
        words = store.beats[total_words - len(tile["expected"]):total_words]
        for k, (bits, want) in enumerate(zip(words, tile["expected"])):
            got = unpack(store_layout, bits)
            assert got["data"][:len(want)] == want, \
                f"{tile['name']} word {k}: got {got['data'][:len(want)]}, want {want}"
            assert got["last"] == (k == len(tile["expected"]) - 1), \
                f"{tile['name']} word {k}: last={got['last']}"
        await RisingEdge(dut.clk)
        await FallingEdge(dut.clk)
        cycles = int(dut.cycles.value)
        if pause is Pause.none:
            assert cycles == tile["predicted"], \
                f"{tile['name']}: {cycles} cycles, the cost model predicts {tile['predicted']}"
        else:
            assert cycles >= tile["predicted"], f"{tile['name']}: {cycles} < {tile['predicted']}"
        record(f"{tile['name']}/pause={pause.name}", cycles=cycles,
               predicted=tile["predicted"], words=len(tile["expected"]))
    # The whole run, loads included: the simulated clock cycles behind the wall time.
    record(f"run/pause={pause.name}", cycles=tb.cycle(), tiles=len(stimulus["tiles"]))
