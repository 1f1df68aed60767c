"""The accelerator's top level: the engine, its DMA and sequencer, and the AXI ports.
Wiring only.

::

               s_axil_* ──> Registers ── start/status ──> Sequencer ──> cmd ──> Engine
                                                           ^  │  │                │ │ │
   m_axi_ar/r <──> ReadPort <── InstructionFetch ──────────┘  │  └─> store desc   │ │ │
                      ^  └────> LoadDma <──── load desc ──────┘           │       │ │ │
                      └─────────────┘ └────────── load beats ─────────────┼─────> ┘ │ │
                                        ActWriter ── act_write ───────────┼───────> ┘ │
                                              ^ (to_act)                  v           │
                                              └───────────────────── StoreRouter <────┘ store
   m_axi_aw/w/b <──────────────────────────── StoreDma <─── (to DDR) ───────┘
"""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import Out

from .act_writer import ActWriter
from .axi import axi4_lite_slave_signature, axi4_master_signature, connect_flat, flat_members
from .config import AcceleratorConfig
from .engine import Engine
from .fetch import InstructionFetch
from .load_dma import LoadDma
from .read_port import ReadPort
from .regs import REG_ADDR_BITS, Registers, info_word
from .sequencer import Sequencer
from .store_dma import StoreDma
from .store_router import StoreRouter

__all__ = ["Accelerator"]


class Accelerator(wiring.Component):
    """One mnaccel accelerator for ``config``.

    Members
    -------
    m_axi_* : the AXI4 master to DDR (``config.ddr_data_bits`` data, 32-bit addresses,
        ``config.axi_id_bits`` ID bits)
    s_axil_* : the AXI4-Lite control registers (``hw.regs``)
    irq : Out(1)
        High when the last program has finished (STATUS.done).
    """

    def __init__(self, config: AcceleratorConfig):
        self._config = config
        super().__init__({
            **flat_members("m_axi", axi4_master_signature(config.ddr_data_bits,
                                                          id_bits=config.axi_id_bits)),
            **flat_members("s_axil", axi4_lite_slave_signature(REG_ADDR_BITS)),
            "irq": Out(1),
        })

    @property
    def config(self):
        return self._config

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        bits = cfg.ddr_data_bits

        engine = m.submodules.engine = Engine(cfg, act_write=True)
        regs = m.submodules.regs = Registers(info_word(cfg.pe, bits // 8))
        seq = m.submodules.sequencer = Sequencer()
        fetch = m.submodules.fetch = InstructionFetch(bits)
        port = m.submodules.read_port = ReadPort(bits, id_bits=cfg.axi_id_bits)
        load = m.submodules.load_dma = LoadDma(cfg.pe, bits, cfg.load_addr_bits)
        store = m.submodules.store_dma = StoreDma(cfg.pe, bits, id_bits=cfg.axi_id_bits)
        router = m.submodules.store_router = StoreRouter(cfg.pe)
        writer = m.submodules.act_writer = ActWriter(cfg.pe, cfg.load_addr_bits)

        hold = writer.writing.bit_select(seq.cmd.payload.act_half, 1)

        connect_flat(m, self, "s_axil", regs.axil)
        connect_flat(m, self, "m_axi", port.axi)
        connect_flat(m, self, "m_axi", store.axi)
        m.d.comb += [
            fetch.start.eq(regs.start), fetch.addr.eq(regs.prog_addr),
            fetch.count.eq(regs.prog_count),
            seq.start.eq(regs.start), seq.count.eq(regs.prog_count),
            regs.busy.eq(seq.busy), regs.done.eq(seq.done),
            port.clear.eq(regs.start), store.clear.eq(regs.start),
            regs.error.eq(port.error | store.error),
            regs.cycles.eq(seq.cycles), regs.execs.eq(seq.execs),
            self.irq.eq(seq.done),
            seq.load_done.eq(load.done), seq.load_idle.eq(load.idle),
            seq.tile_done.eq(engine.store.valid & engine.store.ready & engine.store.payload.last),
            # every tile's words in DDR (acknowledged) or in the activation buffer
            seq.store_idle.eq(store.idle & router.idle & writer.idle),
            # A tile does not start while an earlier tile's words for the half it reads
            # are still on their way into it (only a program whose tile reads the map a
            # tile before it wrote on chip ever waits here).
            engine.cmd.payload.eq(seq.cmd.payload),
            engine.cmd.valid.eq(seq.cmd.valid & ~hold),
            seq.cmd.ready.eq(engine.cmd.ready & ~hold),
        ]
        wiring.connect(m, fetch.req, port.fetch_req)
        wiring.connect(m, port.fetch_r, fetch.r)
        wiring.connect(m, load.req, port.load_req)
        wiring.connect(m, port.load_r, load.r)
        wiring.connect(m, fetch.instr, seq.instr)
        wiring.connect(m, seq.load_desc, load.desc)
        wiring.connect(m, load.load, engine.load)
        wiring.connect(m, writer.act_out, engine.act_write)
        wiring.connect(m, seq.store_desc, router.desc)
        wiring.connect(m, engine.store, router.store)
        wiring.connect(m, router.dma_desc, store.desc)
        wiring.connect(m, router.dma_store, store.store)
        wiring.connect(m, router.act_desc, writer.desc)
        wiring.connect(m, router.act_store, writer.words)
        return m
