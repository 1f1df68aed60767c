"""cocotb testbench of the whole system (``sim.system``): the host's side of a run.

The DDR model starts with the image the scheduler wrote (weights, the input, the
programs). For each step the testbench does what a host CPU does: it writes PROG_ADDR
and PROG_COUNT and sets CONTROL.start through AXI4-Lite, waits for ``irq``, and reads
STATUS (done, no DDR response error), CYCLES and EXECS (``sim.host``). Between those few register accesses Python does not touch the clock:
the accelerator and the DDR model run on their own. At the end it has the DDR model
dump its memory for the host to check against the golden model.

``params``: ``steps`` (name, program address and length, predicted cycles, tiles),
``progress`` (a file that gets one JSON line per finished step), ``info`` (the INFO
register's expected value).
"""

from __future__ import annotations

import json

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly, RisingEdge

from hw.regs import REGISTERS
from sim.host import run_step
from sim.runner import record, test_params

PARAMS = test_params()
CLOCK_NS = 10


class AxiLiteHost:
    """Register reads and writes on the ``s_axil_*`` port."""

    def __init__(self, dut):
        self.dut = dut
        for name in ("awvalid", "wvalid", "bready", "arvalid", "rready", "awaddr", "wdata",
                     "araddr", "awprot", "arprot"):
            getattr(dut, f"s_axil_{name}").value = 0
        dut.s_axil_wstrb.value = 0xF

    async def _until(self, signal):
        while True:
            await ReadOnly()
            if int(signal.value):
                break
            await RisingEdge(self.dut.clk)
        await RisingEdge(self.dut.clk)

    async def write(self, addr: int, value: int) -> None:
        dut = self.dut
        await FallingEdge(dut.clk)
        dut.s_axil_awaddr.value, dut.s_axil_wdata.value = addr, value
        dut.s_axil_awvalid.value = dut.s_axil_wvalid.value = 1
        await self._until(dut.s_axil_awready)
        await FallingEdge(dut.clk)
        dut.s_axil_awvalid.value = dut.s_axil_wvalid.value = 0
        dut.s_axil_bready.value = 1
        await self._until(dut.s_axil_bvalid)
        await FallingEdge(dut.clk)
        dut.s_axil_bready.value = 0

    async def read(self, addr: int) -> int:
        dut = self.dut
        await FallingEdge(dut.clk)
        dut.s_axil_araddr.value, dut.s_axil_arvalid.value = addr, 1
        await self._until(dut.s_axil_arready)
        await FallingEdge(dut.clk)
        dut.s_axil_arvalid.value, dut.s_axil_rready.value = 0, 1
        while True:
            await ReadOnly()
            if int(dut.s_axil_rvalid.value):
                value = int(dut.s_axil_rdata.value)
                break
            await RisingEdge(dut.clk)
        await RisingEdge(dut.clk)
        await FallingEdge(dut.clk)
        dut.s_axil_rready.value = 0
        return value


@cocotb.test()
async def network(dut):
    """Run every step's program; record measured cycles; dump DDR."""
    Clock(dut.clk, CLOCK_NS, unit="ns").start()
    dut.rst.value, dut.dump.value = 1, 0
    host = AxiLiteHost(dut)
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 2)
    info = await host.read(REGISTERS["INFO"])
    assert info == PARAMS["info"], f"INFO register reads {info:#x}, expected {PARAMS['info']:#x}"
    for step in PARAMS["steps"]:
        cycles, execs = await run_step(dut.irq, host.read, host.write, step,
                                       20 * step["predicted"] + 200_000, CLOCK_NS)
        now = int(cocotb.utils.get_sim_time(unit="ns")) // CLOCK_NS
        record(step["name"], cycles=cycles, tiles=execs, sim_cycle=now)
        with open(PARAMS["progress"], "a") as file:
            file.write(json.dumps({"name": step["name"], "cycles": cycles}) + "\n")
    await FallingEdge(dut.clk)
    dut.dump.value = 1
    await FallingEdge(dut.clk)
    dut.dump.value = 0
    await ClockCycles(dut.clk, 2)
    now = int(cocotb.utils.get_sim_time(unit="ns")) // CLOCK_NS
    record("run", cycles=now)
