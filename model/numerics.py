"""Integer numerics shared by the golden model, the quantisers and the RTL: TFLite's.

The arithmetic is that of TFLite's reference kernels (Jacob et al. 2018, "Quantization
and Training of Neural Networks for Efficient Integer-Arithmetic-Only Inference"), so
that a user's int8 ``.tflite`` model runs bit-exactly. Requantisation of one int32
accumulator ``acc`` for output channel ``c``, as the reference kernels write it::

    x    = acc * 2**max(shift[c], 0)                    in int32 (wraps, as compiled C)
    h    = SaturatingRoundingDoublingHighMul(x, M0[c])  round(x * M0 / 2**31), ties up
    y    = RoundingDivideByPOT(h, max(-shift[c], 0))    round(h / 2**r), ties away from 0
    out  = min(max(y + Z_out, LO), HI)

with ``M0[c]`` the 31-bit multiplier (``2**30 <= M0 < 2**31`` from
:func:`quantize_multiplier`, or 0; MEAN's :func:`mean_multiplier` may be smaller) and
``shift[c]`` TFLite's exponent (negative: right shift), ``Z_out``
the output zero point and ``LO, HI`` the fused activation's clamp. The two roundings are
kept; :func:`requantize` computes them without division or masks, the way the RTL does
(``hw.requant``):

    s = x * M0                                        63-bit product
    h = (s >> 31) + bit30(s)                          = floor((s + 2**30) / 2**31)
    v = h + (2**(r-1) - 1) + [r > 0 and h >= 0]       = h + 2**(r-1) - [h < 0] for r > 0
    y = v >> r                                        arithmetic shift

:func:`multiply_by_quantized_multiplier` is the plain two-step version, written as the
C code is (truncating division, masks and thresholds); ``tests/test_numerics.py`` proves
the two equal with hypothesis, ties included.

``acc`` already holds the bias and the input zero-point correction (``bias - Z_in *
sum(w)``, folded by the importer and the quantiser, modulo 2**32), so the multiply-
accumulate units see plain int8 x int8 products and pad with ``Z_in``. Accumulation is
modulo 2**32 (two's complement), as in the reference kernels and the RTL: the final
accumulator equals TFLite's int32 accumulator whenever TFLite's does not overflow.

The clamp bounds express the activation (TFLite's CalculateActivationRangeQuantized):
ReLU is ``LO = max(-128, Z_out)``, ReLU6 is that and ``HI = min(127, Z_out + round(6 /
s_out))``, none is ``-128, 127``.

These widths are the hardware contract: the RTL multiplies a 32-bit signed (left-shifted)
accumulator by a 31-bit unsigned multiplier; left shifts up to :data:`SHIFT_MAX` are
supported (real multipliers below ``2**SHIFT_MAX``).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "ACT_BITS",
    "WEIGHT_BITS",
    "ACC_BITS",
    "BIAS_BITS",
    "MULT_BITS",
    "SHIFT_BITS",
    "PARAM_LANE_BITS",
    "SHIFT_MIN",
    "SHIFT_MAX",
    "INT8_MIN",
    "INT8_MAX",
    "INT32_MIN",
    "INT32_MAX",
    "wrap_int32",
    "quantize_multiplier",
    "mean_multiplier",
    "saturating_rounding_doubling_high_mul",
    "rounding_divide_by_pot",
    "multiply_by_quantized_multiplier",
    "requantize",
    "check_requant_params",
]

ACT_BITS = 8
WEIGHT_BITS = 8
ACC_BITS = 32
BIAS_BITS = 32
MULT_BITS = 31  # M0: 0 or in [2**30, 2**31)
SHIFT_MIN = -31  # TFLite's QuantizeMultiplier never gives less (it zeroes M0 instead)
SHIFT_MAX = 7  # left shifts the RTL applies (a 3-level shifter); real multipliers < 128
SHIFT_BITS = 6  # signed shift field: -32..31
#: Bits per output channel of a parameter word in the accelerator's buffers and in DDR:
#: bias (32), M0 (31), shift (6, signed), padded to whole bytes (72: 9 bytes).
PARAM_LANE_BITS = -(-(BIAS_BITS + MULT_BITS + SHIFT_BITS) // 8) * 8
INT8_MIN, INT8_MAX = -(1 << (ACT_BITS - 1)), (1 << (ACT_BITS - 1)) - 1
INT32_MIN, INT32_MAX = -(1 << (ACC_BITS - 1)), (1 << (ACC_BITS - 1)) - 1


def wrap_int32(value):
    """``value`` modulo 2**32 as a signed int32 (int64 array, or int for an int)."""
    if isinstance(value, numbers.Integral):
        return (int(value) + (1 << 31)) % (1 << 32) - (1 << 31)
    value = np.asarray(value, dtype=np.int64)
    return ((value + (1 << 31)) & 0xFFFF_FFFF) - (1 << 31)


def _frexp_multiplier(real) -> tuple[int, int]:
    """TFLite's ``QuantizeMultiplier`` without the hardware's left-shift limit."""
    if isinstance(real, bool) or not isinstance(real, numbers.Real) or not math.isfinite(real):
        raise ValueError(f"requant multiplier must be a finite real number, not {real!r}")
    if real < 0:
        raise ValueError(f"requant multiplier must be non-negative, not {real!r}")
    if real == 0:
        return 0, 0
    q, shift = math.frexp(float(real))
    m0 = math.floor(q * (1 << 31) + 0.5)  # q * 2**31 is exact; q > 0: half away from 0
    if m0 == 1 << 31:
        m0, shift = m0 // 2, shift + 1
    if shift < SHIFT_MIN:
        return 0, 0
    return m0, shift


def _check_left_shift(real, shift):
    if shift > SHIFT_MAX:
        raise ValueError(f"requant multiplier {float(real)!r} needs a left shift of {shift}; "
                         f"the hardware supports real multipliers below 2**{SHIFT_MAX}")


def quantize_multiplier(real) -> tuple[int, int]:
    """TFLite's ``QuantizeMultiplier``: ``real ~= M0 * 2**(shift - 31)``.

    ``frexp`` splits ``real`` into ``q * 2**shift`` with ``0.5 <= q < 1``; ``M0 =
    round(q * 2**31)`` (half away from zero); ``M0 == 2**31`` becomes ``2**30`` with the
    shift one larger; ``shift < -31`` gives ``(0, 0)``; ``real == 0`` gives ``(0, 0)``.

    Raises ValueError for a negative or non-finite ``real`` and for one whose shift
    exceeds :data:`SHIFT_MAX` (the RTL's left shifter), naming the limit.
    """
    m0, shift = _frexp_multiplier(real)
    _check_left_shift(real, shift)
    return m0, shift


def mean_multiplier(real, count: int) -> tuple[int, int]:
    """The multiplier and shift of TFLite's int8 MEAN over ``count`` elements.

    LiteRT's reference MEAN (``QuantizedMeanOrSum``) quantises ``real = s_in / s_out``
    with ``QuantizeMultiplier``, then folds the division by ``count`` into it::

        k  = min(floor(log2(count)), 32, 31 + shift)
        M0 = (M0 << k) // count                  (so M0 may fall below 2**30)
        shift = shift - k

    and requantises ``sum(x) - Z_in * count`` with :func:`requantize`'s arithmetic.
    """
    if isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < 1:
        raise ValueError(f"mean count must be a positive integer, not {count!r}")
    m0, shift = _frexp_multiplier(real)
    k = min(int(count).bit_length() - 1, 32, 31 + shift)
    m0, shift = (m0 << k) // count, shift - k
    _check_left_shift(real, shift)
    return m0, shift


# -- the reference kernels' two steps, as C computes them (for proofs and tests) ------------

def _c_div(a: int, b: int) -> int:
    """C's integer division: truncates toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def saturating_rounding_doubling_high_mul(a: int, b: int) -> int:
    """gemmlowp's ``SaturatingRoundingDoublingHighMul`` on int32 ``a``, ``b``."""
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return wrap_int32(_c_div(ab + nudge, 1 << 31))


def rounding_divide_by_pot(x: int, exponent: int) -> int:
    """gemmlowp's ``RoundingDivideByPOT``: ``x / 2**exponent``, ties away from zero."""
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def multiply_by_quantized_multiplier(x: int, multiplier: int, shift: int) -> int:
    """TFLite's ``MultiplyByQuantizedMultiplier`` (double rounding), as written in C."""
    left, right = max(shift, 0), max(-shift, 0)
    return rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(wrap_int32(x * (1 << left)), multiplier), right)


# -- the vectorised form the golden model and the RTL compute ------------------------------

def check_requant_params(multiplier, shift, zero_point: int, lo: int, hi: int) -> None:
    """Raise ValueError unless the parameters are inside the hardware contract above."""
    multiplier = np.asarray(multiplier, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    if multiplier.size:
        bad = (multiplier < 0) | (multiplier >= 1 << MULT_BITS)
        if bad.any():
            raise ValueError(f"requant multiplier must be in [0, 2**31), "
                             f"not {int(multiplier[bad].flat[0])}")
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

    ``acc`` is taken modulo 2**32 (the int32 accumulator). Returns an int8 array of
    ``acc``'s shape.
    """
    check_requant_params(multiplier, shift, zero_point, lo, hi)
    x = wrap_int32(acc)
    multiplier = np.asarray(multiplier, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    left, right = np.maximum(shift, 0), np.maximum(-shift, 0)
    x = wrap_int32(x << left)
    s = x * multiplier  # |s| <= 2**31 * (2**31 - 1) < 2**62: exact in int64
    h = (s >> 31) + ((s >> 30) & 1)
    v = h + np.where(right > 0, (np.int64(1) << np.maximum(right - 1, 0)) - 1 + (h >= 0), 0)
    y = (v >> right) + zero_point
    return np.clip(y, lo, hi).astype(np.int8)
