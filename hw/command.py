"""The engine's command (one tile) and load-stream formats, and their host-side encoders.

A tile command says which mode runs, where its operands sit (buffer halves) and the
tile's geometry in the activation buffer's coordinates. The host (``sw/``) and the
testbenches build commands with :func:`tile_command`, the one encoder, from a
``model.tiling`` tile; the RTL decodes the same layout.
"""

from __future__ import annotations

from amaranth.lib import enum

from amaranth.hdl import signed, unsigned
from amaranth.lib import data

from model.numerics import ACT_BITS

from .config import PARAM_LANE_BITS
from .window import COORD_BITS

__all__ = ["Mode", "Target", "command_layout", "load_layout", "COUNT_BITS", "PITCH_BITS",
           "PARAM_LANE_BITS", "param_lane_layout"]

COUNT_BITS = 12  # rows, columns, blocks, run lengths: up to 4095
PITCH_BITS = 20  # address pitches



class Mode(enum.Enum, shape=2):
    """What the engine does with a tile."""

    FUSED = 0  # 3x3 depthwise (stride 1 or 2, padded) -> requantise -> pointwise
    POINTWISE = 1  # act words straight into the pointwise array (pointwise, FC, a conv as im2col)
    POOL = 2  # global average pool: identity weights, accumulate over pixels
    CONV = 3  # conv1 from the raw image: windows -> im2col words (hw.conv_gather) -> pointwise


class Target(enum.Enum, shape=3):
    """Which buffer a load beat writes."""

    ACT = 0
    PW_WEIGHTS = 1
    DW_WEIGHTS = 2
    DW_PARAMS = 3
    PW_PARAMS = 4


def param_lane_layout():
    """One output channel's requantisation parameters (the bias feeds the accumulator):
    bias, TFLite's ``M0`` and its exponent ``shift`` (signed; negative shifts right)."""
    from model.numerics import ACC_BITS, MULT_BITS, SHIFT_BITS
    return data.StructLayout({
        "bias": signed(ACC_BITS),
        "multiplier": unsigned(MULT_BITS),
        "shift": signed(SHIFT_BITS),
        "pad": unsigned(PARAM_LANE_BITS - ACC_BITS - MULT_BITS - SHIFT_BITS),
    })


def load_layout(pe, addr_bits):
    """One load beat: ``pe`` bytes into slice ``slice`` of word ``addr`` of a buffer half
    (``bank`` selects the activation sub-bank)."""
    return data.StructLayout({
        "target": Target,
        "half": 1,
        "bank": unsigned(4),
        "slice": unsigned(max(1, (max(pe, 9) - 1).bit_length())),
        "addr": unsigned(addr_bits),
        "data": data.ArrayLayout(unsigned(8), pe),
    })


def command_layout():
    """One tile.

    Geometry of the input map in the activation buffer (``rows x cols``, ``blocks_in``
    channel blocks, address pitches ``row_pitch = ceil(cols/3) * blocks_in`` and
    ``col_pitch = blocks_in``); the output loop (``out_rows x out_cols`` pixels,
    ``blocks_out`` output blocks; ``pool_len = rows * cols`` for pooling); the top-left tap of the first window
    (``row0``, ``col0``, signed, with ``row0_mod3``/``col0_mod3`` and the address base of
    their group of three); the stride; zero points and clamps of both requantisers.
    """
    return data.StructLayout({
        "mode": Mode,
        "act_half": 1,
        "weight_half": 1,
        "stride2": 1,
        "rows": unsigned(COUNT_BITS),
        "cols": unsigned(COUNT_BITS),
        "blocks_in": unsigned(COUNT_BITS),
        "blocks_out": unsigned(COUNT_BITS),
        "out_rows": unsigned(COUNT_BITS),
        "out_cols": unsigned(COUNT_BITS),
        "pool_len": unsigned(2 * COUNT_BITS),
        "row_pitch": unsigned(PITCH_BITS),
        "col_pitch": unsigned(PITCH_BITS),
        "row0": signed(COORD_BITS),
        "col0": signed(COORD_BITS),
        "row0_mod3": unsigned(2),
        "col0_mod3": unsigned(2),
        "base0": signed(PITCH_BITS + 2),
        "pad_value": signed(ACT_BITS),
        "dw_zero_point": signed(ACT_BITS),
        "dw_lo": signed(ACT_BITS),
        "dw_hi": signed(ACT_BITS),
        "pw_zero_point": signed(ACT_BITS),
        "pw_lo": signed(ACT_BITS),
        "pw_hi": signed(ACT_BITS),
    })
