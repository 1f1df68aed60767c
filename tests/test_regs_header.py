"""The register map is described once (``hw.regs.REGISTER_MAP``): the RTL decodes it, the
driver and testbenches address it, and ``hw.generate`` writes it as ``mnaccel_regs.h``.
Here the header is compiled with the system C compiler and a program built against it
decodes INFO values the Python side made, and prints every offset and field it declares,
which must equal the map."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from hw.config import AcceleratorConfig
from hw.generate import REGS_HEADER, write_build
from hw.regs import REGISTER_MAP, REGISTERS, c_header, field, info_word

PROGRAM = r"""
#include <stdio.h>
#include "mnaccel_regs.h"

int main(void)
{
    uint32_t info = MNACCEL_BUILD_INFO;
    uint32_t regs[16] = {0};
    if (!MNACCEL_INFO_IS_MNACCEL(info)) return 1;
    if (MNACCEL_INFO_PE_GET(info) != MNACCEL_BUILD_PE) return 2;
    if (MNACCEL_INFO_DDR_DATA_BITS(info) != MNACCEL_BUILD_DDR_DATA_BITS) return 3;
    if (MNACCEL_INFO_IS_MNACCEL(0x12340000u)) return 4;
    mnaccel_write(regs, MNACCEL_PROG_COUNT, 7u);
    if (mnaccel_read(regs, MNACCEL_PROG_COUNT) != 7u || regs[3] != 7u) return 5;
    printf("pe %u bits %u\n", MNACCEL_INFO_PE_GET(info), MNACCEL_INFO_DDR_DATA_BITS(info));
%(prints)s
    return 0;
}
"""


def _compiler():
    for name in ("cc", "gcc", "clang"):
        if shutil.which(name):
            return name
    pytest.skip("no C compiler (cc, gcc or clang) on PATH")


@pytest.mark.parametrize("pe, ddr_bits", [(16, 64), (4, 32), (16, 128)])
def test_header_compiles_and_decodes_info(tmp_path, pe, ddr_bits):
    config = AcceleratorConfig(pe=pe, sram_bytes=2_000_000, ddr_data_bits=ddr_bits)
    written = write_build(config, tmp_path)
    assert tmp_path / REGS_HEADER in written
    prints = []
    for r in REGISTER_MAP:
        prints.append(f'    printf("{r.name} %u\\n", (unsigned)MNACCEL_{r.name});')
        for f in r.fields:
            stem = f"MNACCEL_{r.name}_{f.name}"
            prints.append(f'    printf("{r.name}.{f.name} %u %u\\n", (unsigned){stem}_LSB, (unsigned){stem}_MASK);')
    (tmp_path / "main.c").write_text(PROGRAM.replace("%(prints)s", "\n".join(prints)))
    exe = tmp_path / "main"
    subprocess.run([_compiler(), "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic",
                    "-I", str(tmp_path), str(tmp_path / "main.c"), "-o", str(exe)],
                   check=True, capture_output=True, text=True)
    run = subprocess.run([str(exe)], capture_output=True, text=True)
    assert run.returncode == 0, f"the C program's check {run.returncode} failed"
    lines = run.stdout.splitlines()
    assert lines[0] == f"pe {pe} bits {ddr_bits}"
    expected = []
    for r in REGISTER_MAP:
        expected.append(f"{r.name} {r.offset}")
        expected += [f"{r.name}.{f.name} {f.lsb} {f.mask}" for f in r.fields]
    assert lines[1:] == expected
    assert f"0x{info_word(pe, ddr_bits // 8):08X}u" in (tmp_path / REGS_HEADER).read_text()


def test_register_map_is_consistent():
    """Offsets word-aligned, distinct and inside the AXI4-Lite window; fields inside 32
    bits and not overlapping; the INFO word packs through the fields."""
    from hw.regs import REG_ADDR_BITS

    offsets = [r.offset for r in REGISTER_MAP]
    assert len(set(offsets)) == len(offsets) == len(REGISTERS)
    assert all(o % 4 == 0 and o < 1 << REG_ADDR_BITS for o in offsets)
    for r in REGISTER_MAP:
        used = 0
        for f in r.fields:
            bits = f.mask << f.lsb
            assert bits < 1 << 32 and not used & bits, (r.name, f.name)
            used |= bits
    word = info_word(12, 16)
    assert word >> field("INFO", "PE").lsb & field("INFO", "PE").mask == 12
    assert word >> field("INFO", "BEAT_BYTES").lsb & field("INFO", "BEAT_BYTES").mask == 16
    assert "MNACCEL_BUILD_INFO" not in c_header()  # no build figures without a build
