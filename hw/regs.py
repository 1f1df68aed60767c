"""The host's control port: AXI4-Lite registers (32-bit, byte addresses).

======  ==========  =====  ==========================================================
offset  name        host   meaning
======  ==========  =====  ==========================================================
0x00    CONTROL     W      bit 0: start the program at PROG_ADDR (ignored while busy)
0x04    STATUS      R      bit 0: busy; bit 1: done (the last program finished; also
                           the ``irq`` output); bit 2: error (a DDR read or write
                           response was not OKAY, or had an ID other than 0, since
                           the last start); done and error are cleared by the next
                           start
0x08    PROG_ADDR   R/W    DDR byte address of the first instruction (64-byte aligned)
0x0C    PROG_COUNT  R/W    instructions in the program
0x10    CYCLES      R      cycles of the last (or running) program, start to done
0x14    EXECS       R      tiles completed by the last (or running) program
0x18    INFO        R      pe (bits 0-7), DDR data bits / 8 (bits 8-15), 0x4D4E ("MN")
                           in bits 16-31
======  ==========  =====  ==========================================================
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .axi import AXI_ADDR_BITS, RESP_OKAY, axi4_lite_slave_signature

__all__ = ["Registers", "REGISTERS", "REG_ADDR_BITS", "INFO_MAGIC", "info_word", "STATUS_BUSY",
           "STATUS_DONE", "STATUS_ERROR"]

REG_ADDR_BITS = 8
REGISTERS = {"CONTROL": 0x00, "STATUS": 0x04, "PROG_ADDR": 0x08, "PROG_COUNT": 0x0C,
             "CYCLES": 0x10, "EXECS": 0x14, "INFO": 0x18}
INFO_MAGIC = 0x4D4E
#: STATUS bits.
STATUS_BUSY, STATUS_DONE, STATUS_ERROR = 1, 2, 4


def info_word(pe: int, beat_bytes: int) -> int:
    """The INFO register's value for an accelerator of ``pe`` lanes and a DDR beat of
    ``beat_bytes`` bytes."""
    return pe | beat_bytes << 8 | INFO_MAGIC << 16


class Registers(wiring.Component):
    """AXI4-Lite slave holding the program address and count, and showing the status.

    Members
    -------
    axil : Out(axi4_lite_slave_signature())  (the signature is the slave's view)
    start : Out(1)
        One-cycle pulse when CONTROL bit 0 is written while not busy.
    prog_addr : Out(32)
    prog_count : Out(32)
    busy, done : In(1)
    error : In(1)
        STATUS.error (held by its sources until the next start).
    cycles, execs : In(32)
    """

    def __init__(self, info: int):
        self._info = info
        super().__init__({
            "axil": Out(axi4_lite_slave_signature(REG_ADDR_BITS)),
            "start": Out(1),
            "prog_addr": Out(AXI_ADDR_BITS),
            "prog_count": Out(32),
            "busy": In(1), "done": In(1), "error": In(1),
            "cycles": In(32), "execs": In(32),
        })

    def elaborate(self, platform):
        m = Module()
        bus = self.axil

        # Writes: address and data are taken together, then one response.
        write = Signal()
        m.d.comb += [
            write.eq(bus.awvalid & bus.wvalid & ~bus.bvalid),
            bus.awready.eq(write), bus.wready.eq(write), bus.bresp.eq(RESP_OKAY),
        ]
        m.d.sync += self.start.eq(0)
        with m.If(write):
            m.d.sync += bus.bvalid.eq(1)
            with m.Switch(bus.awaddr[2:]):
                with m.Case(REGISTERS["CONTROL"] >> 2):
                    m.d.sync += self.start.eq(bus.wdata[0] & ~self.busy)
                with m.Case(REGISTERS["PROG_ADDR"] >> 2):
                    m.d.sync += self.prog_addr.eq(bus.wdata)
                with m.Case(REGISTERS["PROG_COUNT"] >> 2):
                    m.d.sync += self.prog_count.eq(bus.wdata)
        with m.Elif(bus.bvalid & bus.bready):
            m.d.sync += bus.bvalid.eq(0)

        # Reads: one at a time, data registered.
        m.d.comb += [bus.arready.eq(~bus.rvalid), bus.rresp.eq(RESP_OKAY)]
        with m.If(bus.arvalid & ~bus.rvalid):
            m.d.sync += bus.rvalid.eq(1)
            with m.Switch(bus.araddr[2:]):
                with m.Case(REGISTERS["STATUS"] >> 2):
                    m.d.sync += bus.rdata.eq(self.busy | self.done << 1 | self.error << 2)
                with m.Case(REGISTERS["PROG_ADDR"] >> 2):
                    m.d.sync += bus.rdata.eq(self.prog_addr)
                with m.Case(REGISTERS["PROG_COUNT"] >> 2):
                    m.d.sync += bus.rdata.eq(self.prog_count)
                with m.Case(REGISTERS["CYCLES"] >> 2):
                    m.d.sync += bus.rdata.eq(self.cycles)
                with m.Case(REGISTERS["EXECS"] >> 2):
                    m.d.sync += bus.rdata.eq(self.execs)
                with m.Case(REGISTERS["INFO"] >> 2):
                    m.d.sync += bus.rdata.eq(self._info)
                with m.Default():
                    m.d.sync += bus.rdata.eq(0)
        with m.Elif(bus.rvalid & bus.rready):
            m.d.sync += bus.rvalid.eq(0)
        return m
