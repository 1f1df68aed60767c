"""How an int8 x int8 product becomes logic: a DSP multiplier, LUTs, or half a DSP.

The MAC arrays (``hw.pointwise``, ``hw.depthwise``) build every product with these
functions, so the configuration (``AcceleratorConfig.multipliers``) decides, product by
product, where it goes without changing a bit of the result:

- :func:`dsp_product`: ``a * b``; Yosys maps it to one 18x18 (ECP5) or 25x18 (7-series)
  DSP multiplier.
- :func:`lut_product`: a radix-4 Booth multiplier written out as four partial products
  and an adder tree. It has no ``*`` in it, so synthesis cannot put it in a DSP: this is
  how a design with more products than the device has DSPs fits.
- :func:`packed_products` / :func:`unpack_products`: two products that share an
  activation from one multiplier of an 8-bit by 25-bit operand, ``a * (w_hi * 2**16 +
  w_lo)``. The two 16-bit fields are separated exactly afterwards (below). A 7-series
  DSP48E1 (25x18) does this in one block; an ECP5 MULT18X18D (18x18) cannot, so on
  ECP5 packing saves nothing.

Packing is exact for every int8 operand: ``a * w`` lies in [-16256, 16384], which fits
16 signed bits, so with ``P = a * w_hi * 2**16 + a * w_lo`` the low field is
``lo = signed(P[0:16]) = a * w_lo`` and the high one is ``(P >> 16) + P[15]`` (the
borrow a negative low field took from it).
"""

from amaranth.hdl import Cat, Mux

from model.numerics import ACT_BITS, WEIGHT_BITS

__all__ = ["PRODUCT_BITS", "PACKED_BITS", "dsp_product", "lut_product", "packed_products",
           "unpack_products", "tree_sum", "times_constant"]

PRODUCT_BITS = ACT_BITS + WEIGHT_BITS
_FIELD = PRODUCT_BITS  # bits between the two packed products
#: Bits of a packed product: an 8-bit activation times a 25-bit weight pair.
PACKED_BITS = ACT_BITS + WEIGHT_BITS + _FIELD + 1


def dsp_product(a, b):
    """``a * b``, left for synthesis to map (to a DSP block where there is one)."""
    return a * b


def lut_product(a, b):
    """``a * b`` of two int8 values as a radix-4 Booth multiplier, without ``*``.

    Digit ``k`` of ``b`` is ``b[2k] + b[2k-1] - 2 * b[2k+1]`` in {-2, ..., 2}. Its partial
    product ``sel`` (0, ``a`` or ``2a``) is inverted when the digit is negative, and the
    missing ``+1`` of those two's-complement negations is added once, as ``fix``."""
    assert len(b) == WEIGHT_BITS == 8
    terms, fix_bits = [], []
    for k in range(WEIGHT_BITS // 2):
        hi, mid, lo = b[2 * k + 1], b[2 * k], b[2 * k - 1] if k else 0
        zero = (hi == mid) & (mid == lo) if k else (hi == mid) & ~mid
        two = (hi ^ mid) & ~(mid ^ lo) if k else hi & ~mid
        sel = Mux(zero, 0, Mux(two, a << 1, a))  # signed, 9 bits
        terms.append((sel ^ Mux(hi, -1, 0)) << (2 * k))
        fix_bits += [hi, 0]
    terms.append(Cat(*fix_bits[:-1]))  # +1 at 4**k for every inverted partial product
    return tree_sum(terms)[:PRODUCT_BITS].as_signed()


def packed_products(a, w_lo, w_hi):
    """One multiplier for ``a * w_lo`` and ``a * w_hi`` (split with :func:`unpack_products`)."""
    return a * ((w_hi << _FIELD) + w_lo)


def unpack_products(packed):
    """``(a * w_lo, a * w_hi)`` from :func:`packed_products`' value (see the module notes)."""
    lo = packed[:_FIELD].as_signed()
    hi = (packed[_FIELD:].as_signed() + packed[_FIELD - 1])[:PRODUCT_BITS].as_signed()
    return lo, hi


def tree_sum(terms):
    """Balanced adder tree (the width grows one bit per level)."""
    while len(terms) > 1:
        paired = [terms[k] + terms[k + 1] for k in range(0, len(terms) - 1, 2)]
        terms = paired + ([terms[-1]] if len(terms) % 2 else [])
    return terms[0]


def times_constant(value, k):
    """``value * k`` for a constant ``k >= 0`` as shifted copies added up, so that an
    address or a length times a constant never takes a DSP block."""
    assert isinstance(k, int) and k >= 0
    terms = [value << bit for bit in range(k.bit_length()) if k >> bit & 1]
    return tree_sum(terms) if terms else 0
