"""Combinational FP32 lane operations of the vector unit that need no FMA: min/max, compares,
conversions between FP32 and INT32, and the RNE narrowing of an FP32 value to BF16.

Each function adds its logic to module ``m`` and returns values; the semantics are those of
``verif/vector/model.py`` (docs/vector.md). The callers (``hw/vector/lane.py``,
``hw/vector/reduce.py``) place the registers: the functions that span two pipeline stages take
the first half's registered results as arguments of their second half.
"""

from amaranth.hdl import Cat, Const, Mux, Signal

from hw.common.arith import count_leading_zeros, prefix_add, prefix_sub, shift_left
from hw.fp.formats import BF16, FP32

__all__ = ["is_nan", "is_snan", "is_subnormal", "order_key", "fp_ge", "minmax_select",
           "fp_minmax", "fp_compare",
           "to_i32_first", "to_i32_second", "to_f32_first", "to_f32_second", "narrow_bf16"]

_SIGN_BIT = FP32.sign_shift
_QUIET_BIT = FP32.man_bits - 1
_INT32_MAX = (1 << 31) - 1
_INT32_MIN = 1 << 31
#: The biased exponent of 2**31: INT32 conversions saturate from there on.
_EXP_2_31 = FP32.bias + 31


def _exp(x):
    return x[FP32.man_bits:_SIGN_BIT]


def is_nan(x):
    return (_exp(x) == (1 << FP32.exp_bits) - 1) & x[:FP32.man_bits].any()


def is_snan(x):
    return is_nan(x) & ~x[_QUIET_BIT]


def is_subnormal(x):
    return (_exp(x) == 0) & x[:FP32.man_bits].any()


def order_key(x):
    """An unsigned key whose order is the order of the non-NaN FP32 values, -0 below +0."""
    return Mux(x[_SIGN_BIT], ~x, Cat(x[:_SIGN_BIT], Const(1, 1)))


def fp_ge(m, a, b, *, name):
    """``a >= b`` in :func:`order_key` order (meaningless for NaNs)."""
    _, ge = prefix_sub(m, order_key(a), order_key(b), width=32, name=name)
    return ge


def minmax_select(a, b, a_ge_b, *, take_max):
    """maximumNumber / minimumNumber of FP32 ``a`` and ``b`` given :func:`fp_ge`'s ``a_ge_b``:
    a NaN operand yields the other one, two NaNs the canonical NaN."""
    na, nb = is_nan(a), is_nan(b)
    pick_a = a_ge_b if take_max else ~a_ge_b | (a == b)
    return Mux(na & nb, FP32.qnan_code, Mux(na, b, Mux(nb, a, Mux(pick_a, a, b))))


def fp_minmax(m, a, b, *, take_max, name):
    """IEEE 754-2019 maximumNumber / minimumNumber of FP32 ``a`` and ``b``: ``(z, invalid)``
    (Invalid iff an operand is a signaling NaN)."""
    z = Signal(32, name=f"{name}_z")
    m.d.comb += z.eq(minmax_select(a, b, fp_ge(m, a, b, name=f"{name}_ge"), take_max=take_max))
    return z, is_snan(a) | is_snan(b)


def fp_compare(a, b, a_ge_b):
    """FP32 ``(eq, lt, le)`` given :func:`fp_ge`'s ``a_ge_b``: false with a NaN; -0 == +0."""
    zeros = ~(a[:_SIGN_BIT] | b[:_SIGN_BIT]).any()
    nan = is_nan(a) | is_nan(b)
    eq = ~nan & ((a == b) | zeros)
    lt = ~nan & ~a_ge_b & ~zeros
    return eq, lt, eq | lt


def to_i32_first(m, a, *, name):
    """First stage of FP32 -> INT32: the magnitude's integer part and its rounding bits.

    Returns a dict of values to register: ``int`` (31 bits, toward zero), ``round`` and
    ``sticky`` (the bits below), ``sign``, ``in_range`` (the value rounds into INT32 whatever the
    rounding: below 2**31, or exactly -2**31; never a NaN), ``exact_min`` (exactly -2**31),
    ``nan`` and ``denormal``.
    """
    e = _exp(a)
    sig = Cat(a[:FP32.man_bits], e.any())
    # The significand at bits 40..63 of a 64-bit field shifted right by s = 157 - e leaves the
    # integer part in bits 33..63 and the fraction below; from s = 34 on the integer part and
    # the round bit are zero and all that is left is sticky.
    s_full, no_borrow = prefix_sub(m, _EXP_2_31 - 1, e, width=9, name=f"{name}_s")
    far = ~no_borrow                                    # e > 157: 2**31 or beyond
    clamp = s_full[6:].any() | (s_full[:6] >= 34)
    shifted = Signal(64, name=f"{name}_shr")
    m.d.comb += shifted.eq(Cat(Const(0, 40), sig) >> Mux(clamp, 34, s_full[:6]))
    sticky = Mux(clamp, sig.any(), shifted[:32].any())
    exact_min = a[_SIGN_BIT] & (e == _EXP_2_31) & ~a[:FP32.man_bits].any()
    return {"int": shifted[33:], "round": shifted[32] & ~clamp, "sticky": sticky,
            "sign": a[_SIGN_BIT], "in_range": ~far | exact_min, "exact_min": exact_min,
            "nan": is_nan(a), "denormal": is_subnormal(a)}


def to_i32_second(m, x, *, rtz, name):
    """Second stage of FP32 -> INT32 from :func:`to_i32_first`'s registered ``x``, rounding to
    nearest even or (``rtz``) toward zero, saturating as RISC-V: ``(z, invalid, inexact)``."""
    inc = ~rtz & x.round & (x.sticky | x.int[0])
    # -(int + inc) = ~int + (1 - inc): one adder for both signs.
    total, _ = prefix_add(m, x.int ^ x.sign.replicate(31), 0, width=32,
                          carry_in=inc ^ x.sign, name=f"{name}_add")
    signed = Cat(total[:31], x.sign & (x.int.any() | inc))
    saturated = Mux(x.nan | ~x.sign, _INT32_MAX, _INT32_MIN)
    z = Signal(32, name=f"{name}_z")
    m.d.comb += z.eq(Mux(x.exact_min, _INT32_MIN, Mux(x.in_range, signed, saturated)))
    return z, ~x.in_range, x.in_range & ~x.exact_min & (x.round | x.sticky)


def to_f32_first(m, a, *, name):
    """First stage of INT32 -> FP32: the magnitude and its leading zeros."""
    sign = a[31]
    mag, _ = prefix_add(m, a ^ sign.replicate(32), 0, width=32, carry_in=sign,
                        name=f"{name}_neg")
    return {"mag": mag, "lz": count_leading_zeros(m, mag, name=f"{name}_lz"), "sign": sign}


def to_f32_second(m, x, *, name):
    """Second stage of INT32 -> FP32 (RNE) from :func:`to_f32_first`'s registered ``x``:
    ``(z, inexact)``."""
    norm = shift_left(m, x.mag, x.lz[:5], name=f"{name}_norm")
    sig = norm[8:]
    round_bit, sticky = norm[7], norm[:7].any()
    inc = round_bit & (sticky | sig[0])
    # {exponent, mantissa} as one integer: (biased exponent - 1) << 23 plus the significand with
    # its hidden bit, so a rounding carry runs into the exponent. Biased exponent: 158 - lz.
    exp_m1 = Signal(8, name=f"{name}_exp")
    m.d.comb += exp_m1.eq(FP32.bias + 30 - x.lz[:5])
    packed, _ = prefix_add(m, sig, Cat(Const(0, FP32.man_bits), exp_m1), width=31,
                           carry_in=inc, name=f"{name}_round")
    z = Signal(32, name=f"{name}_z")
    m.d.comb += z.eq(Mux(x.lz[5], 0, Cat(packed, x.sign)))
    return z, round_bit | sticky


def narrow_bf16(m, z, *, name):
    """RNE narrowing of FP32 ``z`` to BF16 (IEEE: subnormals kept, tininess after rounding, NaN
    0x7FC0): ``(code, overflow, underflow, inexact)``.

    BF16 is FP32's upper half, so rounding the 31-bit magnitude code as an integer at bit 16 is
    the rounding of the value, a carry running from a subnormal to a normal and to Inf.
    """
    low = FP32.width - BF16.width
    nan = is_nan(z)
    inf = _exp(z).all() & ~nan
    lsb = z[low]
    rounded, _ = prefix_add(m, z[:_SIGN_BIT], (1 << (low - 1)) - 1, width=31, carry_in=lsb,
                            name=f"{name}_rne")
    mag = rounded[low:]
    inexact = ~nan & ~inf & z[:low].any()
    overflow = ~nan & ~inf & mag[BF16.man_bits:].all()
    # Tiny after rounding: below 2**-126 and not rounding up to it with an unbounded exponent,
    # which takes the eight mantissa bits from the top down to the round bit all ones.
    tiny = ~_exp(z).any() & ~z[low - 2:FP32.man_bits].all()
    code = Signal(BF16.width, name=f"{name}_code")
    m.d.comb += code.eq(Mux(nan, BF16.qnan_code, Cat(mag, z[_SIGN_BIT])))
    return code, overflow, tiny & inexact, inexact
