"""The simulated system: the generated accelerator with its AXI4 master on a DDR model.

``system_verilog`` returns the accelerator's Verilog plus a wrapper ``mnaccel_system``
that connects every ``m_axi_*`` port to ``sim/hdl/axi_ddr.v`` and leaves the AXI4-Lite
port, ``irq`` and the DDR's ``dump`` input to the testbench. The wrapper is written from
the accelerator's own port list, so it cannot disagree with it. The DDR's bandwidth,
latency and contents are plusargs (:func:`ddr_plusargs`), so one build serves every DDR
setting.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from amaranth.hdl import Shape

from hw.axi import axi4_lite_slave_signature, axi4_master_signature
from hw.config import AcceleratorConfig
from hw.regs import REG_ADDR_BITS

__all__ = ["SYSTEM_TOP", "DDR_MODEL", "system_verilog", "ddr_words_log2", "ddr_plusargs",
           "write_image", "read_dump", "bandwidth_fraction"]

SYSTEM_TOP = "mnaccel_system"
ACCEL_TOP = "mnaccel"
DDR_MODEL = Path(__file__).resolve().parent / "hdl" / "axi_ddr.v"


def ddr_words_log2(config: AcceleratorConfig, nbytes: int) -> int:
    """Address bits of the DDR model's word array for an image of ``nbytes``."""
    words = -(-nbytes // (config.ddr_data_bits // 8))
    return max(4, (words - 1).bit_length())


def system_verilog(config: AcceleratorConfig, words_log2: int, accelerator_verilog: str | None = None) -> str:
    """The accelerator (``hw.top``) and the ``mnaccel_system`` wrapper, as one Verilog text."""
    if accelerator_verilog is None:
        from hw.generate import emit_verilog

        accelerator_verilog = emit_verilog(config)
    members = axi4_master_signature(config.ddr_data_bits, id_bits=config.axi_id_bits).members
    wires = "\n".join(f"    wire [{Shape.cast(m.shape).width - 1}:0] m_axi_{name};" for name, m in members.items())
    accel_ports = ",\n".join(f"        .m_axi_{name}(m_axi_{name})" for name in members)
    ddr_ports = ",\n".join(f"        .s_axi_{name}(m_axi_{name})" for name in members)
    from amaranth.lib.wiring import In

    lite_members = axi4_lite_slave_signature(REG_ADDR_BITS).members
    lite = {n: Shape.cast(m.shape).width for n, m in lite_members.items() if m.flow == In}
    lite_out = {n: Shape.cast(m.shape).width for n, m in lite_members.items() if m.flow != In}
    port_decls = "\n".join(
        [f"    input [{w - 1}:0] s_axil_{n}," for n, w in lite.items()]
        + [f"    output [{w - 1}:0] s_axil_{n}," for n, w in lite_out.items()])
    lite_conn = ",\n".join(f"        .s_axil_{n}(s_axil_{n})" for n in [*lite, *lite_out])
    wrapper = f"""
// Simulation only: the accelerator on a DDR model (sim/system.py writes this).
module {SYSTEM_TOP} (
    input clk,
    input rst,
    input dump,
{port_decls}
    output irq
);
{wires}
    {ACCEL_TOP} accel (
        .clk(clk), .rst(rst), .irq(irq),
{accel_ports},
{lite_conn}
    );
    axi_ddr #(.DATA_BITS({config.ddr_data_bits}), .ID_BITS({config.axi_id_bits}),
              .WORDS_LOG2({words_log2})) ddr (
        .clk(clk), .rst(rst), .dump(dump),
{ddr_ports}
    );
endmodule
"""
    return accelerator_verilog + wrapper


def bandwidth_fraction(bytes_per_cycle: float) -> Fraction:
    """The DDR model's bandwidth as a ratio of small integers."""
    return Fraction(bytes_per_cycle).limit_denominator(1000)


def ddr_plusargs(config: AcceleratorConfig, image_path, dump_path, dump_words: int) -> list[str]:
    bw = bandwidth_fraction(config.ddr_bytes_per_cycle)
    return [f"+ddr_bw_num={bw.numerator}", f"+ddr_bw_den={bw.denominator}",
            f"+ddr_latency={config.ddr_latency_cycles}", f"+ddr_image={image_path}",
            f"+ddr_dump={dump_path}", f"+ddr_dump_words={dump_words}"]


def write_image(path, image: bytes, beat_bytes: int) -> int:
    """Write ``image`` as a ``$readmemh`` file of ``beat_bytes``-byte words; return words."""
    data = bytes(image) + bytes(-len(image) % beat_bytes)
    words = np.frombuffer(data, dtype=np.uint8).reshape(-1, beat_bytes)[:, ::-1]  # big-endian text
    hexed = words.tobytes().hex()
    width = 2 * beat_bytes
    lines = [hexed[i:i + width] for i in range(0, len(hexed), width)]
    Path(path).write_text("\n".join(lines) + "\n")
    return len(lines)


def read_dump(path, beat_bytes: int) -> bytes:
    """The bytes of a ``$writememh`` dump (comment lines skipped)."""
    lines = [line.strip() for line in Path(path).read_text().splitlines()]
    hexed = "".join(line for line in lines if line and not line.startswith("//"))
    raw = np.frombuffer(bytes.fromhex(hexed.replace("x", "0").replace("X", "0")), dtype=np.uint8)
    return raw.reshape(-1, beat_bytes)[:, ::-1].tobytes()
