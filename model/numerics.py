"""Integer numerics shared by the golden model, the quantiser and the RTL.

Requantisation of one accumulator ``acc`` (int32) for output channel ``c``::

    prod = acc * M[c]                          M[c] unsigned, 0 <= M[c] < 2**15
    y    = (prod + 2**(S[c] - 1)) >> S[c]      arithmetic shift, 1 <= S[c] <= 47
    y    = y + Z_out                           output zero point, -128 <= Z_out <= 127
    out  = min(max(y, LO), HI)                 -128 <= LO <= HI <= 127

The shift rounds half toward +infinity (``floor(prod / 2**S + 1/2)``). ``acc`` already
holds the bias and the input zero-point correction (``bias - Z_in * sum(w)``, folded by
the quantiser), so the multiply-accumulate units see plain int8 x int8 products and pad
with ``Z_in`` (the input's code for real zero). The clamp bounds express the activation:
ReLU is ``LO = Z_out``, ReLU6 is ``LO = Z_out, HI = min(127, Z_out + round(6 / s_out))``,
none is ``-128, 127``.

These widths are the hardware contract: the RTL requantiser multiplies a 32-bit signed
accumulator by a 15-bit unsigned multiplier into a 47-bit product.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "ACT_BITS",
    "WEIGHT_BITS",
    "ACC_BITS",
    "BIAS_BITS",
    "MULT_BITS",
    "SHIFT_MIN",
    "SHIFT_MAX",
    "INT8_MIN",
    "INT8_MAX",
    "INT32_MIN",
    "INT32_MAX",
    "requantize",
    "check_requant_params",
]

ACT_BITS = 8
WEIGHT_BITS = 8
ACC_BITS = 32
BIAS_BITS = 32
MULT_BITS = 15  # unsigned multiplier width
SHIFT_MIN = 1
SHIFT_MAX = ACC_BITS + MULT_BITS  # 47: any larger shift yields only the sign
INT8_MIN, INT8_MAX = -(1 << (ACT_BITS - 1)), (1 << (ACT_BITS - 1)) - 1
INT32_MIN, INT32_MAX = -(1 << (ACC_BITS - 1)), (1 << (ACC_BITS - 1)) - 1


def check_requant_params(multiplier, shift, zero_point: int, lo: int, hi: int) -> None:
    """Raise ValueError unless the parameters are inside the hardware contract above."""
    multiplier = np.asarray(multiplier)
    shift = np.asarray(shift)
    if multiplier.size and (multiplier.min() < 0 or multiplier.max() >= 1 << MULT_BITS):
        raise ValueError(f"requant multiplier must be in [0, 2**{MULT_BITS}), "
                         f"not [{multiplier.min()}, {multiplier.max()}]")
    if shift.size and (shift.min() < SHIFT_MIN or shift.max() > SHIFT_MAX):
        raise ValueError(f"requant shift must be in [{SHIFT_MIN}, {SHIFT_MAX}], "
                         f"not [{shift.min()}, {shift.max()}]")
    if not INT8_MIN <= zero_point <= INT8_MAX:
        raise ValueError(f"zero point must be in [{INT8_MIN}, {INT8_MAX}], not {zero_point}")
    if not INT8_MIN <= lo <= hi <= INT8_MAX:
        raise ValueError(f"clamp bounds must satisfy {INT8_MIN} <= lo <= hi <= {INT8_MAX}, "
                         f"not lo={lo}, hi={hi}")


def requantize(acc, multiplier, shift, zero_point: int, lo: int, hi: int) -> np.ndarray:
    """Apply the formula in the module docstring; channels are the last axis of ``acc``.

    ``acc`` must already fit in int32 (the caller checks, as the RTL would wrap).
    Returns an int8 array of ``acc``'s shape.
    """
    check_requant_params(multiplier, shift, zero_point, lo, hi)
    acc = np.asarray(acc, dtype=np.int64)
    if acc.size and (acc.min() < INT32_MIN or acc.max() > INT32_MAX):
        raise OverflowError("accumulator outside int32: the RTL would wrap")
    multiplier = np.asarray(multiplier, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    # |acc * M| < 2**46, so int64 is exact.
    prod = acc * multiplier
    y = (prod + (np.int64(1) << (shift - 1))) >> shift
    y = y + zero_point
    return np.clip(y, lo, hi).astype(np.int8)
