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

from amaranth.hdl import Cat, ClockSignal, Const, Instance, Mux, ResetSignal, Signal, Value, signed, unsigned

from model.numerics import ACT_BITS, WEIGHT_BITS

__all__ = ["PRODUCT_BITS", "PACKED_BITS", "dsp_product", "lut_product", "packed_products",
           "unpack_products", "tree_sum", "tree_levels", "tree_stages", "pipelined_tree_sum",
           "times_constant", "LEVELS_PER_STAGE", "LEVELS_AFTER_PRODUCT", "registered_product", "ECP5",
           "is_ecp5", "booth_terms", "registered_terms", "LUT_PRODUCT_TERMS", "dsp_ties"]

#: Adder levels between two registers in a pipelined adder tree: two carry chains of up to
#: 32 bits and their routing fit 8 ns on an ECP5 at speed grade 6 (a third did not: a
#: depthwise lane's 9 products and bias in one stage took 9.9 ns).
LEVELS_PER_STAGE = 2
#: Adder levels in a tree's first stage, right behind the multipliers' output registers: a
#: MULT18X18D's clock-to-out and the route out of the DSP row leave room for one carry chain
#: (with two, Yosys folds the first level into LUT compressors ahead of the chain, and the
#: depthwise lanes ran at 121 MHz, the pointwise array at 147 MHz, alone at speed grade 6).
LEVELS_AFTER_PRODUCT = 1

PRODUCT_BITS = ACT_BITS + WEIGHT_BITS
_FIELD = PRODUCT_BITS  # bits between the two packed products
#: Bits of a packed product: an 8-bit activation times a 25-bit weight pair.
PACKED_BITS = ACT_BITS + WEIGHT_BITS + _FIELD + 1


def dsp_product(a, b):
    """``a * b``, left for synthesis to map (to a DSP block where there is one)."""
    return a * b


class Ecp5:
    """The ``platform`` ``hw.synth`` and ``hw.generate --target ecp5`` elaborate with:
    :func:`registered_product` then instantiates ECP5 primitives. Any other platform
    (``None`` in simulation) gets portable RTL with the same registers and cycles."""

    family = "ecp5"


ECP5 = Ecp5()


def is_ecp5(platform) -> bool:
    return getattr(platform, "family", None) == "ecp5"


#: Operand bits of an ECP5 MULT18X18D (signed).
MULT18_BITS = 18


def dsp_ties(m, name):
    """``(low, high)``: flip-flops that tie a group of neighbouring MULT18X18Ds' control
    inputs in place of constants (:func:`registered_product`'s ``ties``): ``low`` is the
    domain's reset a cycle late (0 from the second cycle after it), ``high`` its
    negation.

    nextpnr-ecp5 routes a multiplier's constant clock, enable, reset, source and sign
    inputs from one LUT (``$PACKER_GND_NET``, ``$PACKER_VCC_NET``; a block RAM's or a
    flip-flop's it ties inside the block): at pe 8 ``--fit`` that net reached about 2,000
    DSP pins across the chip, and it was a quarter of the arcs router1 routed again and
    again in its last, stalled minutes (timing step 24, "Routability at pe 8"). A group's
    own ties sit beside its multipliers. Each is written so that its enable depends on
    itself: synthesis merges flip-flops whose inputs are the same nets, and the groups'
    ties have the same next state. The multipliers' registers are held in reset one
    cycle longer than the rest of the design, before any operand can reach them."""
    reset = ResetSignal()
    # Out of reset each is written only while it differs from its value (the condition
    # names the flip-flop itself); in reset always, so an unknown start in simulation
    # ends with the reset.
    low = Signal(name=f"{name}_tie_low", init=0, reset_less=True)
    high = Signal(name=f"{name}_tie_high", init=1, reset_less=True)
    with m.If(reset | (low != reset)):
        m.d.sync += low.eq(reset)
    with m.If(reset | (high == reset)):
        m.d.sync += high.eq(~reset)
    return low, high


def registered_product(m, platform, a, b, en_in, en_out, name, build=dsp_product, ties=None):
    """``a * b`` with its operands and its product registered, as a DSP block's input and
    output registers do: the operands load at the edge where ``en_in`` is high (the
    multiplier's stage advances), the product at the edge where ``en_out`` is (the next
    stage does). Returns the product register (``len(a) + len(b)`` bits, signed when
    either operand is).

    On ECP5 (:func:`is_ecp5`) a ``build=dsp_product`` of operands that fit 18 signed
    bits is one MULT18X18D with REG_INPUTA/B (clock enable CE0 = ``en_in``) and
    REG_OUTPUT (CE1 = ``en_out``): the path through the multiplier is then inside the
    block (3.9 ns at speed grade 6) instead of between fabric registers, where it left
    8 ns paths at 125 MHz. Elsewhere the registers are fabric, for the synthesis tool to
    place (Yosys' 7-series flow packs them into a DSP48E1's AREG/BREG/PREG).

    ``ties`` (:func:`dsp_ties`, or None for constants) drives the MULT18X18D's resets,
    source selects and sign inputs from its group's tie flip-flops, gates its clock
    enables with the ``high`` tie (an enable that is the constant 1, a free-running
    stage's, is then that flip-flop, not nextpnr's constant net; the registers are in
    reset while the tie is low), and leaves the clock and enable inputs no register
    selects (CLK1..3, CE2..3) unconnected."""
    a, b = Value.cast(a), Value.cast(b)
    signed_out = a.shape().signed or b.shape().signed
    product = Signal((signed if signed_out else unsigned)(len(a) + len(b)), name=f"{name}_p")

    def fits(x):
        return len(x) + (0 if x.shape().signed else 1) <= MULT18_BITS

    if is_ecp5(platform) and build is dsp_product and fits(a) and fits(b):
        def operand(x, port):
            ext = Cat(x, (x[-1] if x.shape().signed else Const(0, 1)).replicate(MULT18_BITS - len(x)))
            return {f"i_{port}{k}": ext[k] for k in range(MULT18_BITS)}

        p = Signal(2 * MULT18_BITS, name=f"{name}_P")
        regs = {}
        for reg, ce in (("INPUTA", "CE0"), ("INPUTB", "CE0"), ("INPUTC", "CE0"),
                        ("PIPELINE", "CE0"), ("OUTPUT", "CE1")):
            used = reg in ("INPUTA", "INPUTB", "OUTPUT")
            regs.update({f"p_REG_{reg}_CLK": "CLK0" if used else "NONE",
                         f"p_REG_{reg}_CE": ce, f"p_REG_{reg}_RST": "RST0"})
        m.submodules[f"{name}_mult"] = Instance(
            "MULT18X18D", **regs, p_GSR="DISABLED", p_RESETMODE="SYNC", p_CLK0_DIV="ENABLED",
            p_CLK1_DIV="ENABLED", p_CLK2_DIV="ENABLED", p_CLK3_DIV="ENABLED",
            p_SOURCEB_MODE="B_SHIFT", p_MULT_BYPASS="DISABLED", p_CAS_MATCH_REG="FALSE",
            p_HIGHSPEED_CLK="NONE",
            **operand(a, "A"), **operand(b, "B"), **{f"i_C{k}": 0 for k in range(MULT18_BITS)},
            **_controls(a, b, en_in, en_out, ties),
            **{f"o_P{k}": p[k] for k in range(2 * MULT18_BITS)})
        m.d.comb += product.eq(p[:len(product)])
        return product

    a_q, b_q = Signal(a.shape(), name=f"{name}_a"), Signal(b.shape(), name=f"{name}_b")
    with m.If(en_in):
        m.d.sync += [a_q.eq(a), b_q.eq(b)]
    with m.If(en_out):
        m.d.sync += product.eq(build(a_q, b_q))
    return product


def _controls(a, b, en_in, en_out, ties):
    """A MULT18X18D's sign, source, clock, enable and reset inputs (see
    :func:`registered_product`)."""
    if ties is None:
        return dict(i_SIGNEDA=int(a.shape().signed), i_SIGNEDB=int(b.shape().signed),
                    i_SOURCEA=0, i_SOURCEB=0,
                    i_CLK0=ClockSignal(), i_CLK1=0, i_CLK2=0, i_CLK3=0,
                    i_CE0=en_in, i_CE1=en_out, i_CE2=0, i_CE3=0,
                    i_RST0=0, i_RST1=0, i_RST2=0, i_RST3=0)
    low, high = ties
    return dict(i_SIGNEDA=high if a.shape().signed else low,
                i_SIGNEDB=high if b.shape().signed else low,
                i_SOURCEA=low, i_SOURCEB=low,
                i_CLK0=ClockSignal(), i_CE0=en_in & high, i_CE1=en_out & high,
                **{f"i_RST{k}": low for k in range(4)})


def booth_terms(a, b):
    """The terms whose sum is ``a * b`` (two int8 values) in a radix-4 Booth multiplier:
    four partial products and their sign fix.

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
    return terms


def lut_product(a, b):
    """``a * b`` of two int8 values as a radix-4 Booth multiplier (:func:`booth_terms`
    added up), without ``*``."""
    return tree_sum(booth_terms(a, b))[:PRODUCT_BITS].as_signed()


#: Registers a :func:`registered_terms` LUT product ends in: the Booth terms after one
#: adder level (5 -> 3).
LUT_PRODUCT_TERMS = 3


def registered_terms(m, platform, a, b, en_in, en_out, name, build=dsp_product, ties=None):
    """:func:`registered_product`'s stages as a list of registers whose sum is ``a * b``,
    for an adder tree behind them to add up: a DSP product is one (the product
    register); a ``build=lut_product`` one is :data:`LUT_PRODUCT_TERMS`, the Booth terms
    after one adder level, the other two levels left to the tree's first stage. From the
    operand registers through the Booth select and three carry chains into the product
    register, with the operand register placed far from its logic, was the critical path
    at pe 8 (timing step 18 (a), seed 2: 9.92 ns); the tree behind the lanes' products
    has the stages for the extra terms already (``tree_stages`` of 9 x 3 + 1 terms is
    that of 9 + 1)."""
    if build is not lut_product:
        return [registered_product(m, platform, a, b, en_in, en_out, name, build, ties)]
    a_q, b_q = Signal(a.shape(), name=f"{name}_a"), Signal(b.shape(), name=f"{name}_b")
    with m.If(en_in):
        m.d.sync += [a_q.eq(a), b_q.eq(b)]
    terms = _adder_level(booth_terms(a_q, b_q))
    assert len(terms) == LUT_PRODUCT_TERMS
    registers = []
    for i, term in enumerate(terms):
        reg = Signal(term.shape(), name=f"{name}_t{i}")
        with m.If(en_out):
            m.d.sync += reg.eq(term)
        registers.append(reg)
    return registers


def packed_weights(w_lo, w_hi):
    """The 25-bit operand that multiplies one activation by ``w_lo`` and ``w_hi`` at once."""
    return (w_hi << _FIELD) + w_lo


def packed_products(a, w_lo, w_hi):
    """One multiplier for ``a * w_lo`` and ``a * w_hi`` (split with :func:`unpack_products`)."""
    return a * packed_weights(w_lo, w_hi)


def unpack_products(packed):
    """``(a * w_lo, a * w_hi)`` from :func:`packed_products`' value (see the module notes)."""
    lo = packed[:_FIELD].as_signed()
    hi = (packed[_FIELD:].as_signed() + packed[_FIELD - 1])[:PRODUCT_BITS].as_signed()
    return lo, hi


def _adder_level(terms):
    """One level of a balanced adder tree: neighbours added in pairs, an odd last one on."""
    paired = [terms[k] + terms[k + 1] for k in range(0, len(terms) - 1, 2)]
    return paired + ([terms[-1]] if len(terms) % 2 else [])


def tree_sum(terms):
    """Balanced adder tree (the width grows one bit per level)."""
    while len(terms) > 1:
        terms = _adder_level(terms)
    return terms[0]


def tree_levels(n):
    """Adder levels of :func:`tree_sum` over ``n`` terms."""
    return max(0, (n - 1).bit_length())


def _stage_levels(n):
    """Adder levels before each register of :func:`pipelined_tree_sum` over ``n`` products:
    :data:`LEVELS_AFTER_PRODUCT` in the first stage, :data:`LEVELS_PER_STAGE` in each one
    after (fewer in the last); one stage without an adder for a single term."""
    left = tree_levels(n)
    stages = [min(left, LEVELS_AFTER_PRODUCT)]
    left -= stages[0]
    while left > 0:
        stages.append(min(left, LEVELS_PER_STAGE))
        left -= stages[-1]
    return stages


def pipelined_tree_sum(m, terms, enables, name):
    """:func:`tree_sum` of ``terms`` (multipliers' output registers, and terms registered
    beside them) through ``len(enables)`` registers: :data:`LEVELS_AFTER_PRODUCT` adder
    levels before the first, :data:`LEVELS_PER_STAGE` before each other one; register ``k``
    loads when ``enables[k]`` is high (its stage advances). Returns the last register, the
    sum. ``len(enables)`` must be :func:`tree_stages` ``(len(terms))``."""
    levels = _stage_levels(len(terms))
    assert len(enables) == len(levels), (len(terms), len(enables))
    for k, (enable, count) in enumerate(zip(enables, levels)):
        for _ in range(count):
            terms = _adder_level(terms)
        registers = []
        for i, term in enumerate(terms):
            reg = Signal(term.shape(), name=f"{name}_s{k}_{i}")
            with m.If(enable):
                m.d.sync += reg.eq(term)
            registers.append(reg)
        terms = registers
    return terms[0]


def tree_stages(n):
    """Registers :func:`pipelined_tree_sum` puts in a tree of ``n`` terms (at least 1)."""
    return len(_stage_levels(n))


def times_constant(value, k):
    """``value * k`` for a constant ``k >= 0`` as shifted copies added up, so that an
    address or a length times a constant never takes a DSP block."""
    assert isinstance(k, int) and k >= 0
    terms = [value << bit for bit in range(k.bit_length()) if k >> bit & 1]
    return tree_sum(terms) if terms else 0
