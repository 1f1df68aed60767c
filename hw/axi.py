"""AXI4 and AXI4-Lite interface signatures, and the flat port names vendor tools expect.

Components use the nested signatures (``axi.ar.valid`` is ``arvalid`` below); the top
level exposes them as flat ``m_axi_arvalid`` / ``s_axil_awaddr`` ports, the names
Vivado and Quartus infer interfaces from, with :func:`flat_members` and
:func:`connect_flat`.

Only what the core uses is present: INCR bursts, full-width beats, ``*cache``/``*prot``
driven to their usual defaults, and the ID signals (``awid``, ``bid``, ``arid``, ``rid``;
``id_bits`` wide, default 1), which interconnects and verification IP expect. The core
uses one ID (all transactions in order): it drives ``awid`` and ``arid`` to 0 and treats a
``bid`` or ``rid`` other than 0, like a response other than OKAY, as an error
(``hw.regs`` STATUS.error).
"""

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .config import AXI_ID_BITS, MAX_ID_BITS

__all__ = ["AXI_ADDR_BITS", "MAX_BURST_BEATS", "BOUNDARY_BYTES", "axi4_master_signature",
           "axi4_read_signature", "axi4_write_signature", "BURST_INCR", "CACHE_MODIFIABLE",
           "axi4_lite_slave_signature", "flat_members", "connect_flat", "RESP_OKAY",
           "AXI_ID_BITS", "MAX_ID_BITS"]

#: Byte address width of the DDR port.
AXI_ADDR_BITS = 32
#: AXI4 INCR bursts: at most 256 beats, and never across a 4 KiB boundary.
MAX_BURST_BEATS = 256
BOUNDARY_BYTES = 4096
RESP_OKAY = 0
BURST_INCR = 1
CACHE_MODIFIABLE = 0b0011  # normal non-cacheable bufferable (the usual DMA default)


def axi4_read_signature(data_bits: int, addr_bits: int = AXI_ADDR_BITS,
                        id_bits: int = AXI_ID_BITS) -> wiring.Signature:
    """AR and R of an AXI4 master (seen from the master)."""
    return wiring.Signature({
        "arid": Out(id_bits), "araddr": Out(addr_bits), "arlen": Out(8), "arsize": Out(3),
        "arburst": Out(2), "arcache": Out(4), "arprot": Out(3), "arvalid": Out(1), "arready": In(1),
        "rid": In(id_bits), "rdata": In(data_bits), "rresp": In(2), "rlast": In(1),
        "rvalid": In(1), "rready": Out(1),
    })


def axi4_write_signature(data_bits: int, addr_bits: int = AXI_ADDR_BITS,
                         id_bits: int = AXI_ID_BITS) -> wiring.Signature:
    """AW, W and B of an AXI4 master (seen from the master)."""
    return wiring.Signature({
        "awid": Out(id_bits), "awaddr": Out(addr_bits), "awlen": Out(8), "awsize": Out(3),
        "awburst": Out(2), "awcache": Out(4), "awprot": Out(3), "awvalid": Out(1), "awready": In(1),
        "wdata": Out(data_bits), "wstrb": Out(data_bits // 8), "wlast": Out(1),
        "wvalid": Out(1), "wready": In(1),
        "bid": In(id_bits), "bresp": In(2), "bvalid": In(1), "bready": Out(1),
    })


def axi4_master_signature(data_bits: int, addr_bits: int = AXI_ADDR_BITS,
                          id_bits: int = AXI_ID_BITS) -> wiring.Signature:
    """A whole AXI4 master: the write channels, then the read channels."""
    return wiring.Signature({**axi4_write_signature(data_bits, addr_bits, id_bits).members,
                             **axi4_read_signature(data_bits, addr_bits, id_bits).members})


def axi4_lite_slave_signature(addr_bits: int = 8) -> wiring.Signature:
    """An AXI4-Lite slave with 32-bit data (seen from the slave)."""
    return wiring.Signature({
        "awaddr": In(addr_bits), "awprot": In(3), "awvalid": In(1), "awready": Out(1),
        "wdata": In(32), "wstrb": In(4), "wvalid": In(1), "wready": Out(1),
        "bresp": Out(2), "bvalid": Out(1), "bready": In(1),
        "araddr": In(addr_bits), "arprot": In(3), "arvalid": In(1), "arready": Out(1),
        "rdata": Out(32), "rresp": Out(2), "rvalid": Out(1), "rready": In(1),
    })


def flat_members(prefix: str, signature: wiring.Signature) -> dict:
    """``{"m_axi_arvalid": Out(1), ...}``: ``signature``'s members as top-level ports."""
    return {f"{prefix}_{name}": member for name, member in signature.members.items()}


def connect_flat(m, component, prefix: str, interface) -> None:
    """Connect ``interface`` (a component's nested port) to ``component``'s flat ports
    ``prefix_*`` (made with :func:`flat_members`), each in its own direction."""
    for name, member in interface.signature.members.items():
        inner = getattr(interface, name)
        outer = getattr(component, f"{prefix}_{name}")
        if member.flow == Out:
            m.d.comb += outer.eq(inner)
        else:
            m.d.comb += inner.eq(outer)
