"""cocotb testbench: the generated accelerator (``mnaccel``, no wrapper) between standard
verification IP, cocotbext-axi's ``AxiRam`` on ``m_axi_*`` and ``AxiLiteMaster`` on
``s_axil_*``, with random pauses on every channel of both and a bus monitor
(``sim.axi_monitor``) on both ports.

The RAM starts with the DDR image the scheduler wrote; the host does what the driver
(``sim.system_tb``) does: per step it writes PROG_ADDR, PROG_COUNT and CONTROL.start,
waits for ``irq``, then reads STATUS (done, no error), CYCLES and EXECS. At the end the
RAM's whole contents go to a file for the pytest side (``sim/test_axi_vip.py``) to check.

``params``: ``image`` (file of the DDR image's bytes), ``ram_bytes``, ``dump`` (file the
RAM's contents are written to), ``writes`` (file that gets the address and length of
every write burst, as JSON), ``steps`` (name, program address and length, tiles,
predicted cycles), ``info`` (INFO's expected value), ``pause`` (probability of a paused
cycle on each channel), ``pause_seed``.
"""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles

from hw.regs import REGISTERS
from sim.axi_monitor import AxiChecker, watch
from sim.host import run_step
from sim.runner import record, test_params

PARAMS = test_params()
CLOCK_NS = 10


def _pauses(rng: random.Random, probability: float):
    while True:
        yield rng.random() < probability


@cocotb.test()
async def network_on_axi_vip(dut):
    """Every step from AxiRam, registers through AxiLiteMaster, all channels paused at random."""
    from cocotbext.axi import AxiBus, AxiLiteBus, AxiLiteMaster, AxiRam

    Clock(dut.clk, CLOCK_NS, unit="ns").start()
    dut.rst.value = 1
    ram = AxiRam(AxiBus.from_prefix(dut, "m_axi"), dut.clk, dut.rst, size=PARAMS["ram_bytes"])
    ram.write(0, Path(PARAMS["image"]).read_bytes())
    host = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst)
    for interface in (ram.write_if, ram.read_if, host.write_if, host.read_if):
        interface.log.setLevel(logging.WARNING)  # not a line per burst
    master = AxiChecker("m_axi", "axi4")
    lite = AxiChecker("s_axil", "axi4-lite")
    cocotb.start_soon(watch(dut, "m_axi", master))
    cocotb.start_soon(watch(dut, "s_axil", lite))

    rng = random.Random(PARAMS["pause_seed"])
    channels = [ram.write_if.aw_channel, ram.write_if.w_channel, ram.write_if.b_channel,
                ram.read_if.ar_channel, ram.read_if.r_channel,
                host.write_if.aw_channel, host.write_if.w_channel, host.write_if.b_channel,
                host.read_if.ar_channel, host.read_if.r_channel]
    for channel in channels:
        channel.set_pause_generator(_pauses(random.Random(rng.getrandbits(32)), PARAMS["pause"]))

    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 2)
    info = await host.read_dword(REGISTERS["INFO"])
    assert info == PARAMS["info"], f"INFO register reads {info:#x}, expected {PARAMS['info']:#x}"
    for step in PARAMS["steps"]:
        cycles, execs = await run_step(dut.irq, host.read_dword, host.write_dword, step,
                                       20 * step["predicted"] + 20_000, CLOCK_NS)
        record(step["name"], cycles=cycles, tiles=execs)
    await ClockCycles(dut.clk, 4)
    Path(PARAMS["dump"]).write_bytes(bytes(ram.read(0, PARAMS["ram_bytes"])))
    Path(PARAMS["writes"]).write_text(json.dumps(master.writes))
    now = int(cocotb.utils.get_sim_time(unit="ns")) // CLOCK_NS
    counts = {kind: {f"{checker.name}.{channel}": n for checker in (master, lite)
                     for channel, n in getattr(checker, kind).items()}
              for kind in ("transfers", "stalls")}
    record("run", cycles=now, **counts)
    assert not master.errors and not lite.errors, master.errors + lite.errors
