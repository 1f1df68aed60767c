"""TFLite's requantisation: the division-free rewrite (:func:`model.numerics.requantize`,
what the RTL computes) against the two steps as the reference kernels' C code writes
them (:func:`model.numerics.multiply_by_quantized_multiplier`), ties included."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import examples

from model.numerics import (INT32_MAX, INT32_MIN, SHIFT_MAX, SHIFT_MIN, mean_multiplier,
                            multiply_by_quantized_multiplier, quantize_multiplier, requantize,
                            rounding_divide_by_pot, saturating_rounding_doubling_high_mul)

M0 = st.one_of(st.just(0), st.integers(1 << 30, (1 << 31) - 1), st.integers(0, (1 << 31) - 1))
SHIFT = st.integers(SHIFT_MIN, SHIFT_MAX)


def two_step(acc, m0, shift, zp=0, lo=-128, hi=127):
    return min(max(multiply_by_quantized_multiplier(acc, m0, shift) + zp, lo), hi)


def unclamped(acc, m0, shift):
    """The rewrite without its clamp: the clamp window moved to where the result is."""
    expected = multiply_by_quantized_multiplier(acc, m0, shift)
    zp = max(-128, min(127, -expected))  # bring the result into int8 when it can be
    got = requantize(np.array([acc]), np.array([m0]), np.array([shift]), zp, -128, 127)
    return int(got[0]) - zp, max(-128, min(127, expected + zp)) - zp


@settings(max_examples=examples(3000), deadline=None)
@given(acc=st.integers(INT32_MIN, INT32_MAX), m0=M0, shift=SHIFT)
def test_rewrite_equals_two_steps(acc, m0, shift):
    got, expected = unclamped(acc, m0, shift)
    assert got == expected


@settings(max_examples=examples(2000), deadline=None)
@given(k=st.integers(-(1 << 28), (1 << 28) - 1), right=st.integers(1, 28), odd=st.booleans())
def test_rewrite_equals_two_steps_on_ties(k, right, odd):
    # M0 = 2**30 halves x: an odd x is a tie of the first rounding (ties up), and
    # h = (2k + 1) * 2**(right - 1) a tie of the second (ties away from zero).
    h = (2 * (k >> right) + 1) << (right - 1)
    acc = max(INT32_MIN, min(INT32_MAX, 2 * h - odd))
    got, expected = unclamped(acc, 1 << 30, -right)
    assert got == expected


def test_tie_directions_of_the_two_roundings():
    # SaturatingRoundingDoublingHighMul: ties toward +infinity (-2.5 -> -2, 2.5 -> 3).
    assert saturating_rounding_doubling_high_mul(-5, 1 << 30) == -2
    assert saturating_rounding_doubling_high_mul(5, 1 << 30) == 3
    assert saturating_rounding_doubling_high_mul(INT32_MIN, INT32_MIN) == INT32_MAX
    # RoundingDivideByPOT: ties away from zero.
    assert [rounding_divide_by_pot(x, 1) for x in (-3, -1, 1, 3)] == [-2, -1, 1, 2]


@settings(max_examples=examples(500), deadline=None)
@given(acc=st.lists(st.integers(INT32_MIN, INT32_MAX), min_size=1, max_size=6), m0=M0,
       shift=SHIFT, zp=st.integers(-128, 127),
       bounds=st.tuples(st.integers(-128, 127), st.integers(-128, 127)).map(sorted))
def test_requantize_vectorised_with_zero_point_and_clamp(acc, m0, shift, zp, bounds):
    lo, hi = bounds
    got = requantize(np.array(acc), np.full(len(acc), m0), np.full(len(acc), shift), zp, lo, hi)
    assert got.tolist() == [two_step(a, m0, shift, zp, lo, hi) for a in acc]


def test_left_shift_wraps_in_int32():
    # TFLite computes x * (1 << left) in int32; LiteRT's reference kernels wrap.
    acc = (1 << 30) + 3  # times 4 is 2**32 + 12: wraps to 12, halved to 6
    assert multiply_by_quantized_multiplier(acc, 1 << 30, 2) == 6
    got, expected = unclamped(acc, 1 << 30, 2)
    assert got == expected


@pytest.mark.parametrize("count", [1, 2, 4, 9, 25, 49, 100, 196, 1 << 20])
@pytest.mark.parametrize("real", [1.0, 0.37, 3.9, 2.0**-20, 100.0])
def test_mean_multiplier_folds_the_count(count, real):
    m0, shift = quantize_multiplier(real)
    k = min(count.bit_length() - 1, 32, 31 + shift)
    assert mean_multiplier(real, count) == ((m0 << k) // count, shift - k)
    got_m0, got_shift = mean_multiplier(real, count)
    # The folded multiplier stays within one part in 2**30 of real / count.
    assert abs(got_m0 * 2.0 ** (got_shift - 31) - real / count) <= real / count * 2**-29 + 2**-62


def test_mean_multiplier_messages():
    with pytest.raises(ValueError, match=r"^mean count must be a positive integer, not 0$"):
        mean_multiplier(1.0, 0)
