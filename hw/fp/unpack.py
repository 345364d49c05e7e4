"""Combinational helpers that decode a format into a common unpacked form, and pack FP32.

Every format of the table (``hw/fp/formats.py``) fits inside FP32's significand, so one unpacked
form serves them all: a 24-bit significand ``sig`` with the hidden bit at bit 23 and a signed
unbiased exponent ``exp``, value ``(-1)**sign * sig * 2**(exp - 23)``, plus the operand's class.

Widening a narrow operand to FP32 is ``pack_fp32(m, unpack_any(m, ...))``; a unit that works on the
unpacked form directly (an FMA) uses :func:`unpack_any` alone. These helpers add logic to a module
and return values; they have no state, no latency and no handshake.
"""

from amaranth.hdl import Cat, Const, Mux, Signal, signed, unsigned
from amaranth.lib import data

from hw.common.arith import leading_zeros

from .formats import BIAS_BITS, FP32, get_format

__all__ = ["SIG_WIDTH", "EXP_WIDTH", "Unpacked", "unpack", "unpack_any", "pack_fp32"]

#: Significand width of the unpacked form: FP32's, hidden bit included.
SIG_WIDTH = FP32.man_bits + 1

#: Width of the signed unbiased exponent. It must hold FP32's range with subnormals normalized
#: (down to -149) and the configurable formats' (``ef - bias`` for ``ef`` up to 63, ``bias`` up to
#: ``BIAS_MAX``); one bit more than FP32's exponent field plus sign covers both.
EXP_WIDTH = FP32.exp_bits + 2


class Unpacked(data.Struct):
    """A decoded operand.

    ``sig`` holds the hidden bit at bit ``SIG_WIDTH - 1`` (the operand's mantissa left-aligned below
    it). A denormal that was not normalized has a zero hidden bit and ``exp`` equal to the format's
    ``emin``. For Inf and NaN ``sig`` and ``exp`` are meaningless; for zero ``sig`` is 0.
    """
    sig: unsigned(SIG_WIDTH)
    exp: signed(EXP_WIDTH)
    sign: 1
    zero: 1
    inf: 1
    nan: 1
    snan: 1   #: signalling NaN (IEEE formats: the quiet bit is clear)
    denormal: 1  #: the operand is a denormal (an IEEE subnormal)


def unpack(m, bits, fmt, bias=None, *, normalize=True):
    """Decode ``bits`` (right-aligned, upper bits ignored) of the static format ``fmt``.

    ``bias`` is a ``BIAS_BITS``-wide value for a configurable format and is ignored for a fixed-bias
    one. With ``normalize`` a denormal is shifted so its leading one is the hidden bit (its exponent
    falls below ``emin``); without it, it keeps a zero hidden bit and ``exp == emin``. Returns an
    :class:`Unpacked` view.
    """
    fmt = get_format(fmt)
    e, mb = fmt.exp_bits, fmt.man_bits
    man = bits[:mb]
    ef = bits[mb:mb + e]
    sign = bits[fmt.sign_shift] if fmt.signed else Const(0, 1)

    u = Signal(Unpacked, name=f"unpacked_{fmt.name}")
    m.d.comb += u.sign.eq(sign)
    ef_zero = ef == 0
    top = ef == (1 << e) - 1
    if fmt.ieee:
        m.d.comb += [
            u.inf.eq(top & (man == 0)),
            u.nan.eq(top & (man != 0)),
            u.snan.eq(top & (man != 0) & ~man[mb - 1]),
        ]
    m.d.comb += [
        u.zero.eq(ef_zero & (man == 0)),
        u.denormal.eq(ef_zero & (man != 0)),
    ]

    if fmt.configurable:
        bias_value = bias[:BIAS_BITS]
    else:
        bias_value = Const(fmt.bias, range(fmt.bias + 1))
    # The denormal binade has the smallest normal's scale: exponent field 1, hidden bit 0.
    ef_eff = Mux(ef_zero, 1, ef)
    align = SIG_WIDTH - 1 - mb  # left-aligns the mantissa below the hidden bit
    if normalize:
        lz = leading_zeros(m, man, mb)
        norm_shift = Mux(ef_zero, lz + 1, 0)
        m.d.comb += [
            u.sig.eq(Cat(man, ~ef_zero) << align << norm_shift),
            u.exp.eq(ef_eff - norm_shift - bias_value),
        ]
    else:
        m.d.comb += [
            u.sig.eq(Cat(man, ~ef_zero) << align),
            u.exp.eq(ef_eff - bias_value),
        ]
    return u


def unpack_any(m, bits, code, bias, formats, *, normalize=True):
    """Decode ``bits`` in the run-time format ``code`` (a ``FormatCode`` value), one of ``formats``.

    Returns ``(unpacked, known)``: ``known`` is 0 when ``code`` names none of ``formats`` (the
    unpacked value is then zero). IEEE formats are never normalized: they share FP32's exponent
    range (BF16 is the only one besides FP32), so their subnormals are FP32 subnormals as they are.
    """
    formats = [get_format(f) for f in formats]
    u = Signal(Unpacked, name="unpacked")
    known = Signal(name="known")
    with m.Switch(code):
        for fmt in formats:
            with m.Case(fmt.code):
                fu = unpack(m, bits, fmt, bias, normalize=normalize and not fmt.ieee)
                m.d.comb += [u.eq(fu), known.eq(1)]
    return u, known


def pack_fp32(m, u):
    """Encode an :class:`Unpacked` value that FP32 holds exactly (every format of the table's).

    ``sig`` must be normalized, or have a zero hidden bit with ``exp == FP32.emin()`` (an FP32
    subnormal). Any NaN becomes the canonical quiet NaN. Returns a 32-bit value.
    """
    man = u.sig[:FP32.man_bits]
    hidden = u.sig[FP32.man_bits]
    biased = (u.exp + FP32.bias)[:FP32.exp_bits]
    finite = Cat(man, Mux(hidden, biased, 0), u.sign)
    inf = Cat(Const(FP32.inf_code, 31), u.sign)
    return Mux(u.nan, FP32.qnan_code, Mux(u.inf, inf, finite))
