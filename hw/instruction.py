"""The instruction format of the command queue the accelerator fetches from DDR.

A program is an array of 512-bit (64-byte) instructions; the host starts it through the
AXI4-Lite registers (``hw.regs``). Two kinds, both with a dependency count:

- ``LOAD``: DMA ``words`` words of ``target`` from DDR address ``addr`` into buffer half
  ``half``. A word is ``slices(target)`` slices of ``pe`` bytes, contiguous in DDR in
  load order. Activation words carry the band's geometry (``cols``, ``blocks``,
  ``row_pitch``) from which the DMA derives each pixel's sub-bank and address (the
  layout of ``hw.act_buffer``). Starts when ``wait`` EXECs have completed (the half it
  overwrites is free).
- ``EXEC``: run one tile (``cmd``, ``hw.command.command_layout``) and write its output
  words to DDR: ``segments`` runs of ``seg_beats`` bus beats, the first at ``out_addr``,
  each ``pitch`` bytes after the previous; or, with ``to_act``, into an activation
  buffer half as the next step's input map (``act_store_layout``). Starts when ``wait``
  LOADs have completed.

The host-side scheduler (``sw/schedule.py``) encodes instructions with these layouts;
the RTL (``hw.sequencer``, ``hw.load_dma``, ``hw.store_dma``) decodes the same ones.
"""

from amaranth.hdl import unsigned
from amaranth.lib import data, enum

from .axi import AXI_ADDR_BITS
from .command import Target, command_layout

__all__ = ["Op", "ACT_BASE_BITS", "INSTRUCTION_BITS", "INSTRUCTION_BYTES", "WAIT_BITS", "WORD_COUNT_BITS",
           "instruction_layout", "load_desc_layout", "store_desc_layout", "act_store_layout",
           "slices_per_word"]

INSTRUCTION_BITS = 512
INSTRUCTION_BYTES = INSTRUCTION_BITS // 8
#: Dependency counts, and so LOADs and EXECs per program, up to 2**20 - 1.
WAIT_BITS = 20
WORD_COUNT_BITS = 24
SEGMENT_BITS = 24
#: Activation-buffer word addresses in descriptors (band and output-row bases).
ACT_BASE_BITS = 20


class Op(enum.Enum, shape=1):
    LOAD = 0
    EXEC = 1


def slices_per_word(target: Target, pe: int) -> int:
    """Load-stream slices (``pe`` bytes each) in one word of ``target``'s buffer."""
    from .config import PARAM_LANE_BITS

    return {Target.ACT: 1, Target.PW_WEIGHTS: pe, Target.DW_WEIGHTS: 9,
            Target.DW_PARAMS: PARAM_LANE_BITS // 8, Target.PW_PARAMS: PARAM_LANE_BITS // 8}[target]


def load_desc_layout():
    return data.StructLayout({
        "target": Target,
        "half": 1,
        "addr": unsigned(AXI_ADDR_BITS),
        "words": unsigned(WORD_COUNT_BITS),
        "cols": unsigned(12),  # activation band: pixels per row
        "blocks": unsigned(12),  # activation band: channel blocks per pixel
        "row_pitch": unsigned(20),  # activation band: ceil(cols / 3) * blocks
        # activation band of the compact image (conv1's input): 4 bytes a pixel in DDR,
        # one pixel per word (``hw.load_dma``); ``words`` pixels, ``blocks`` 1
        "image": 1,
        # activation band: the address of its first word in every sub-bank (0: the
        # half's start; a half may hold two bands, double-buffered, while the other
        # half holds the step's output map)
        "base": unsigned(ACT_BASE_BITS),
    })


def act_store_layout():
    """Where a tile's output words go when they stay on chip (``to_act``): into
    activation buffer half ``half``, as the map the next step reads (the layout of
    ``hw.act_buffer``: pixel ``(r, c)``'s block ``b`` in sub-bank ``3 * (r % 3) + c % 3``
    at ``(r // 3) * row_pitch + (c // 3) * blocks + b``). The tile's words are its
    ``pixels`` pixels from row 0 in row order, ``group`` blocks each from ``block0``;
    with ``base``, from the row whose words start there (a tile of a multi-band step
    whose whole output map stays on chip)."""
    return data.StructLayout({
        "half": 1,
        "cols": unsigned(12),  # pixels per row of the output map
        "blocks": unsigned(12),  # channel blocks per pixel of the whole output map
        "row_pitch": unsigned(20),  # ceil(cols / 3) * blocks
        "block0": unsigned(12),  # the tile's first output block
        # the address of the tile's first row in every sub-bank: 0, or ``(R / 3) *
        # row_pitch`` for a tile whose rows start at row R (a multiple of 3) of the map
        "base": unsigned(ACT_BASE_BITS),
        "group": unsigned(12),  # the tile's output blocks per pixel
        "pixels": unsigned(SEGMENT_BITS),  # the tile's pixels (rows x cols, from row 0)
    })


def store_desc_layout():
    """A tile's output: to DDR (``segments`` runs of ``seg_beats`` beats from ``addr``,
    ``pitch`` bytes apart), or, with ``to_act``, into the activation buffer
    (:func:`act_store_layout`)."""
    return data.StructLayout({
        "addr": unsigned(AXI_ADDR_BITS),
        "segments": unsigned(SEGMENT_BITS),
        "seg_beats": unsigned(SEGMENT_BITS),
        "pitch": unsigned(SEGMENT_BITS + 8),
        "to_act": 1,
        "act": act_store_layout(),
    })


def instruction_layout():
    body = data.UnionLayout({
        "load": load_desc_layout(),
        "exec": data.StructLayout({"cmd": command_layout(), "store": store_desc_layout()}),
    })
    layout = data.StructLayout({
        "op": Op,
        "wait": unsigned(WAIT_BITS),
        "body": body,
    })
    assert layout.size <= INSTRUCTION_BITS, layout.size
    fields = {name: field.shape for name, field in layout}
    return data.StructLayout({**fields, "pad": unsigned(INSTRUCTION_BITS - layout.size)})
