"""Bit-exact numpy model of d1core's number formats: ``decode``, ``widen`` and ``narrow``.

The contract is ``docs/formats.md``; every constant comes from ``hw.fp.formats``. All functions are
vectorized: they take arrays (or scalars) of codes and return arrays of the same shape.

Arguments shared by every function
  * ``fmt``: a :class:`hw.fp.formats.Format` or its name (``"bf16"``, ``"cfp8_143"``...); an
    unknown name raises ``ValueError`` (message from :func:`hw.fp.formats.get_format`).
  * ``bias``: required, in ``0..BIAS_MAX``, for the configurable formats (CFP8 1-4-3, CFP8 1-5-2,
    SHP); ``None`` or the fixed value for FP32, BF16 and UHP. Anything else raises ``ValueError``
    (message from :meth:`hw.fp.formats.Format.check_bias`).
  * Codes are unsigned integers right-aligned in the format's width. A code outside the width or
    a negative one raises ``ValueError``, an array of a non-integer dtype ``TypeError``
    (``"FP32 codes must be an integer array, not an array of float64"``). ``narrow`` also accepts a
    ``np.float32`` array in place of FP32 codes (it is reinterpreted, not converted).
  * Flags are ``np.uint8`` arrays of the bits ``FLAG_INEXACT``, ``FLAG_UNDERFLOW``,
    ``FLAG_OVERFLOW``, ``FLAG_INVALID`` and ``FLAG_DENORMAL``.

How ``narrow`` computes (the model's method, not the RTL's): an FP32 value is exact in float64, and
so is its product with any power of two in range, so ``y = |x| / lsb`` (``lsb`` the weight of the
destination's least significant bit in the binade of ``|x|``, at least ``2**(emin - m)``) is the
exact value in units of that bit. ``np.rint`` on it is round-to-nearest-even; its integer and
fraction parts are exact too, which is what stochastic rounding needs.
"""

import numpy as np

from hw.common.params import check_int
from hw.fp.convert import SR_BITS_MAX
from hw.fp.formats import (
    FLAG_DENORMAL,
    FLAG_INEXACT,
    FLAG_INVALID,
    FLAG_OVERFLOW,
    FLAG_UNDERFLOW,
    FP32,
    SR_BITS,
    Round,
    get_format,
)
from verif.params import check_int_array

__all__ = [
    "decode", "widen", "narrow", "parse_round", "tininess_bound", "max_value", "code_dtype",
]

_F32_EXP_MASK = (1 << FP32.exp_bits) - 1
_F32_MAN_MASK = (1 << FP32.man_bits) - 1
_F32_SIGN_SHIFT = FP32.sign_shift


def _resolve(fmt, bias):
    f = get_format(fmt)
    if isinstance(bias, np.integer):  # numpy scalars from arrays of requests are plain integers
        bias = int(bias)
    return f, f.check_bias(bias)


def _codes(bits, width, what):
    """``bits`` as an int64 array, checked to be integers in ``0 .. 2**width - 1``."""
    a = check_int_array(f"{what} codes", bits).astype(np.int64)
    bad = (a < 0) | (a >> width != 0)
    if bad.any():
        raise ValueError(f"{what} codes must be in 0..{(1 << width) - 1}, "
                         f"not {a[bad].flat[0]}")
    return a


def _fp32_codes(x):
    a = np.asarray(x)
    if a.dtype == np.float32:
        return a.view(np.uint32).astype(np.int64)
    return _codes(a, FP32.width, FP32.title)


def code_dtype(fmt):
    """The numpy dtype of a code of ``fmt``: ``uint8``, ``uint16`` or ``uint32``."""
    width = get_format(fmt).width
    return {8: np.uint8, 16: np.uint16, 32: np.uint32}[width]


def parse_round(rnd):
    """``rnd`` as a :class:`Round`: accepts ``Round.RNE``, ``Round.SR``, ``"rne"`` or ``"sr"``."""
    if isinstance(rnd, Round):
        return rnd
    if isinstance(rnd, str) and rnd.lower() in ("rne", "sr"):
        return Round[rnd.upper()]
    raise ValueError(f"unknown rounding mode {rnd!r}; expected Round.RNE, Round.SR, 'rne' or 'sr'")


def tininess_bound(fmt, bias=None):
    """A nonzero ``|x|`` below this float is tiny: ``2**emin - 2**(emin - m - 2)``.

    That is the point below which ``x``, rounded to nearest-even with the format's precision but an
    unbounded exponent, is still below the smallest normal ``2**emin`` (tininess after rounding).
    """
    f, b = _resolve(fmt, bias)
    emin = 1 - b
    return np.ldexp(1.0, emin) - np.ldexp(1.0, emin - f.man_bits - 2)


def max_value(fmt, bias=None):
    """The largest finite magnitude of ``fmt`` at ``bias``, as a float."""
    f, b = _resolve(fmt, bias)
    return float(decode(f.max_code, f, b))


def _fields(c, f):
    man = c & ((1 << f.man_bits) - 1)
    exp = (c >> f.man_bits) & ((1 << f.exp_bits) - 1)
    neg = ((c >> f.sign_shift) & 1).astype(bool) if f.signed else np.zeros(c.shape, bool)
    return neg, exp, man


def decode(bits, fmt, bias=None):
    """The exact value of each code as ``np.float64`` (every value of every format is exact).

    Zero keeps its sign (CFP8 0x80 decodes to -0.0). IEEE formats decode Inf to ``±inf`` and every
    NaN to ``nan``; the configurable formats and UHP have neither.
    """
    f, b = _resolve(fmt, bias)
    c = _codes(bits, f.width, f.title)
    neg, exp, man = _fields(c, f)
    sig = np.where(exp == 0, man, man | (1 << f.man_bits)).astype(np.float64)
    mag = np.ldexp(sig, (np.maximum(exp, 1) - b - f.man_bits).astype(np.int32))
    if f.ieee:
        special = exp == (1 << f.exp_bits) - 1
        mag = np.where(special, np.where(man == 0, np.inf, np.nan), mag)
    return np.asarray(np.where(neg, -mag, mag))


def widen(bits, fmt, bias=None):
    """Convert codes of ``fmt`` to FP32, always exactly. Returns ``(fp32 codes uint32, flags)``.

    Flags: Denormal when the input is a denormal (nonzero mantissa, zero exponent). An IEEE NaN
    input (BF16, or FP32 for ``fmt="fp32"``) gives the canonical NaN 0x7FC00000, with Invalid iff it
    was signaling (quiet bit clear). No other flag is ever raised. ``fmt="fp32"`` is the identity
    apart from that NaN rule and the Denormal flag.
    """
    f, b = _resolve(fmt, bias)
    c = _codes(bits, f.width, f.title)
    _, exp, man = _fields(c, f)
    out = decode(c, f, b).astype(np.float32).view(np.uint32)
    flags = np.where((exp == 0) & (man != 0), FLAG_DENORMAL, 0)
    if f.ieee:
        nan = (exp == (1 << f.exp_bits) - 1) & (man != 0)
        quiet = ((man >> (f.man_bits - 1)) & 1).astype(bool)
        out = np.where(nan, np.uint32(FP32.qnan_code), out)
        flags = np.where(nan & ~quiet, flags | FLAG_INVALID, flags)
    return np.asarray(out.astype(np.uint32)), np.asarray(flags.astype(np.uint8))


def _rand(rand, shape, sr_bits):
    if rand is None:
        raise ValueError("stochastic rounding needs rand: one sr_bits-bit integer per element")
    r = np.broadcast_to(check_int_array("rand", rand).astype(np.int64), shape)
    bad = (r < 0) | (r >> sr_bits != 0)
    if bad.any():
        raise ValueError(f"rand values must be in 0..{(1 << sr_bits) - 1} (sr_bits={sr_bits}), "
                         f"not {r[bad].flat[0]}")
    return r


def narrow(fp32_bits, fmt, bias=None, rnd=Round.RNE, rand=None, *, sr_bits=SR_BITS):
    """Convert FP32 codes to ``fmt``, rounding with ``rnd``. Returns ``(codes, flags)``.

    ``codes`` are ``np.uint8`` for CFP8 and ``np.uint16`` for BF16, SHP and UHP (``np.uint32`` for
    FP32, where the conversion is exact). ``rnd`` is ``Round.RNE`` (ties to even) or ``Round.SR``;
    SR needs ``rand``, one ``sr_bits``-bit integer per element (broadcast to the input's shape;
    ignored for RNE). The rules, all of docs/formats.md:

    * Rounding. RNE: nearest, ties to even. SR: with ``y`` the exact ``|x|`` in units of the
      destination's least significant bit (after any denormal shift), ``I = floor(y)`` and ``F``
      the top ``sr_bits`` bits of ``y - I``, the magnitude is ``I + ((F + rand) >> sr_bits)``.
      Denormals are ``±0.m × 2**(1 - bias)``; zero keeps its sign.
    * Overflow (rounded magnitude above the largest finite one): BF16 gives ±Inf, the other formats
      ±max; both raise Overflow and Inexact.
    * Inexact: the delivered value differs from ``x``. Underflow: inexact and tiny, i.e. the
      nonzero ``|x|`` is below :func:`tininess_bound` (the RNE test, for SR too).
    * Denormal: raised whenever the FP32 input is subnormal, in addition to any other flag.
    * Specials. BF16: ±Inf stays ±Inf with no flag; NaN gives 0x7FC0, Invalid iff signaling.
      CFP8 and SHP: ±Inf gives ±max with Overflow and Inexact; NaN gives max with the NaN's sign
      and Invalid only. UHP: ±0 gives +0 with no flag; any other negative input (-Inf included)
      gives +0 and Invalid; NaN of either sign gives max (0xFFFF) and Invalid; +Inf as CFP8.
    """
    f, b = _resolve(fmt, bias)
    rnd = parse_round(rnd)
    check_int("sr_bits", sr_bits, 1, SR_BITS_MAX)
    x = _fp32_codes(fp32_bits)
    neg = ((x >> _F32_SIGN_SHIFT) & 1).astype(bool)
    e32 = (x >> FP32.man_bits) & _F32_EXP_MASK
    m32 = x & _F32_MAN_MASK
    is_nan = (e32 == _F32_EXP_MASK) & (m32 != 0)
    is_inf = (e32 == _F32_EXP_MASK) & (m32 == 0)
    is_snan = is_nan & ((m32 >> (FP32.man_bits - 1)) & 1 == 0)
    is_zero = (e32 == 0) & (m32 == 0)
    finite = ~(is_nan | is_inf | is_zero)  # finite and nonzero
    flags = np.where((e32 == 0) & (m32 != 0), FLAG_DENORMAL, 0).astype(np.int64)

    m = f.man_bits
    emin = 1 - b
    # Exact magnitude as float64 (from the fields, so that no NaN is ever cast); 1.0 stands in for
    # specials and zero, whose results are set below.
    sig = np.where(e32 == 0, m32, m32 | (1 << FP32.man_bits)).astype(np.float64)
    ax = np.where(finite, np.ldexp(sig, (np.maximum(e32, 1) - FP32.bias - FP32.man_bits)
                                   .astype(np.int32)), 1.0)
    binade = np.maximum(np.frexp(ax)[1] - 1, emin)    # exponent of the destination binade
    y = np.ldexp(ax, (m - binade).astype(np.int32))   # exact |x| in units of the LSB
    ipart = np.floor(y)
    inexact = finite & (y != ipart)
    if rnd is Round.RNE:
        mag = np.rint(y).astype(np.int64)
    else:
        r = _rand(rand, x.shape, sr_bits)
        top = np.floor(np.ldexp(y - ipart, sr_bits)).astype(np.int64)
        mag = ipart.astype(np.int64) + ((top + r) >> sr_bits)
    # A carry out of the binade lands on the next exponent code, so this is always the code.
    code = ((binade - emin).astype(np.int64) << m) + mag
    over = finite & (code > f.max_code)
    tiny = finite & (ax < tininess_bound(f, b))

    flags |= np.where(inexact, FLAG_INEXACT, 0)
    flags |= np.where(inexact & tiny, FLAG_UNDERFLOW, 0)
    flags |= np.where(over, FLAG_OVERFLOW | FLAG_INEXACT, 0)
    if f.ieee:
        code = np.where(over | is_inf, f.inf_code, code)
    else:
        code = np.where(over | is_inf | is_nan, f.max_code, code)
        flags |= np.where(is_inf, FLAG_OVERFLOW | FLAG_INEXACT, 0)
    code = np.where(is_zero, 0, code)
    flags |= np.where(is_snan if f.ieee else is_nan, FLAG_INVALID, 0)

    if f.signed:
        code = code | (neg.astype(np.int64) << f.sign_shift)
        if f.ieee:
            code = np.where(is_nan, f.qnan_code, code)
    else:
        bad = neg & ~is_zero & ~is_nan  # negative nonzero, -Inf included
        code = np.where(bad, 0, code)
        flags = np.where(bad, FLAG_INVALID | (flags & FLAG_DENORMAL), flags)
    return np.asarray(code.astype(code_dtype(f))), np.asarray(flags.astype(np.uint8))
