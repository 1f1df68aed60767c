"""What a host CPU does for one step, shared by the testbenches of the whole accelerator
(``sim.system_tb`` on the project's DDR model, ``sim.vip_tb`` on cocotbext-axi's IP):
write PROG_ADDR, PROG_COUNT and CONTROL.start, wait for ``irq``, then check STATUS (done,
no DDR response error) and EXECS (every tile of the program ran) and return CYCLES."""

from __future__ import annotations

import cocotb
from cocotb.triggers import RisingEdge, with_timeout

from hw.regs import REGISTERS, STATUS_DONE, STATUS_ERROR

__all__ = ["run_step"]


async def run_step(irq, read, write, step: dict, budget: int, clock_ns: int) -> tuple[int, int]:
    """Run ``step`` (``name``, ``addr``, ``count``, ``tiles``) with register accessors
    ``read(addr)`` and ``write(addr, value)``; fail after ``budget`` cycles without
    ``irq``. Returns (CYCLES, EXECS)."""
    await write(REGISTERS["PROG_ADDR"], step["addr"])
    await write(REGISTERS["PROG_COUNT"], step["count"])
    await write(REGISTERS["CONTROL"], 1)
    try:
        await with_timeout(RisingEdge(irq), budget * clock_ns, "ns")
    except cocotb.triggers.SimTimeoutError:
        status = await read(REGISTERS["STATUS"])
        execs = await read(REGISTERS["EXECS"])
        raise AssertionError(f"{step['name']}: not done after {budget} cycles (STATUS "
                             f"{status:#x}, {execs} of {step['tiles']} tiles complete)") from None
    status = await read(REGISTERS["STATUS"])
    assert status & STATUS_DONE and not status & STATUS_ERROR, \
        f"{step['name']}: STATUS {status:#x} after irq (done and no DDR response error expected)"
    cycles = await read(REGISTERS["CYCLES"])
    execs = await read(REGISTERS["EXECS"])
    assert execs == step["tiles"], f"{step['name']}: {execs} tiles ran, the program has {step['tiles']}"
    return cycles, execs
