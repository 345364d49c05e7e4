"""Bit-exact numpy model of d1core's FP32 fused multiply-add: ``fma``, ``f32_mul``, ``f32_add``.

The contract is ``docs/formats.md`` ("Arithmetic"); every constant comes from ``hw.fp.formats``.
All functions are vectorized: operands are arrays (or scalars) of raw codes that broadcast together,
and the results have the broadcast shape.

Semantics (IEEE 754 binary32 ``fusedMultiplyAdd``, round to nearest even, as Berkeley SoftFloat's
``f32_mulAdd`` with tininess detected after rounding):

* ``z = RNE_fp32(a·b + c)`` with one rounding; ``a`` and ``b`` are first widened exactly to FP32
  (``verif.fp.formats.widen``). Subnormal operands and results are kept (no flush to zero).
* An exact zero sum is +0, except that it is -0 when ``a·b`` and ``c`` are both -0 (RNE rule).
* Every NaN result is the canonical quiet NaN 0x7FC00000.
* Invalid: some operand is a signaling NaN (an FP32 or BF16 operand; CFP8 has no NaN); or ``∞·0``
  (also when ``c`` is a quiet NaN, as SoftFloat does); or ``a·b`` is an infinity and ``c`` the
  opposite one. An ``∞·0`` with a NaN ``a`` or ``b`` is not Invalid (the NaN propagates first).
* Overflow: the result rounded with unbounded exponent exceeds the largest finite FP32; the result
  is then ±Inf and Inexact is raised too. Infinite operands never raise Overflow.
* Underflow: the result is tiny after rounding (rounded to 24 bits with unbounded exponent, its
  magnitude is below 2**-126) and inexact.
* Inexact: the delivered finite result differs from the exact ``a·b + c``.
* Denormal (d1core's own flag, not IEEE): some operand is a denormal in its own format (a subnormal
  FP32 or BF16, a CFP8 denormal; ``c`` a subnormal FP32), whatever the result.

How the model computes (its method, not the RTL's): FP32 operands are exact in float64 and so is
their product (48-bit significand, exponent in -298..256), so ``p = a·b`` is exact. ``s =
fl64(p + c)`` and its error ``e = p + c - s`` (Knuth's TwoSum) are exact too. ``s`` is then
replaced by the round-to-odd value of ``p + c`` at 53 bits (``s``, or its neighbour towards
``e`` when ``e != 0`` and ``s`` is even), and a float64 → float32 cast (RNE) of that value is the
correctly rounded result, subnormals and overflow included (Boldo & Melquiond, "Emulation of FMA and
correctly rounded sums: proved algorithms using rounding to odd", IEEE TC 2008: 53 >= 24 + 2).
Every FP32 rounding boundary, and the tininess bound, has at most 25 significant bits and an even
last float64 bit, so the round-to-odd value lies on the same side of each as the exact sum.
"""

import numpy as np

from hw.fp.formats import (
    FLAG_INEXACT,
    FLAG_INVALID,
    FLAG_OVERFLOW,
    FLAG_UNDERFLOW,
    FP32,
    get_format,
)
from verif.fp.formats import tininess_bound, widen

__all__ = ["FMA_FORMATS", "fma", "fma_odd53", "f32_mul", "f32_add"]

#: Formats an ``fma`` multiplicand may have (``c`` is always FP32).
FMA_FORMATS = ("fp32", "bf16", "cfp8_143", "cfp8_152")

_NEG_ZERO = np.uint32(1 << FP32.sign_shift)
_ONE = np.float32(1.0).view(np.uint32)
#: A nonzero exact result whose magnitude is below this is tiny (after rounding).
_TINY = tininess_bound(FP32)


def _operand(bits, fmt, bias, which):
    f = get_format(fmt)
    if f.name not in FMA_FORMATS:
        raise ValueError(
            f"fma operand {which} format must be one of {', '.join(FMA_FORMATS)}, not {f.name!r}")
    return widen(bits, f, f.check_bias(bias))


def fma_odd53(xa, xb, xc):
    """The exact ``xa·xb + xc`` of float64 operands that are exact values of FP32 (or narrower)
    codes, rounded to odd at float64's 53 bits: ``(s_odd, invalid)``.

    ``s_odd`` is NaN for a NaN result and ±inf for an infinite one (infinite operands only; the
    product of FP32 values cannot overflow float64); an exact zero sum has the IEEE RNE sign.
    ``invalid`` marks ``∞·0`` and ``∞ - ∞`` (not signaling-NaN operands: those are the caller's).
    A round-to-odd value at 53 bits rounds (RNE) to any precision of at most 51 bits exactly as
    the exact sum does (the module docstring).
    """
    with np.errstate(invalid="ignore", over="ignore"):
        p = xa * xb                      # exact
        s = p + xc
        finite = np.isfinite(s)          # every operand finite (p cannot overflow float64)
        bb = s - p                       # TwoSum: e = (p + c) - s exactly
        e = np.where(finite, (p - (s - bb)) + (xc - bb), 0.0)
        even = (s.view(np.uint64) & np.uint64(1)) == 0
        s_odd = np.where((e != 0) & even, np.nextafter(s, np.copysign(np.inf, e)), s)
        inf_times_zero = (np.isinf(xa) & (xb == 0)) | ((xa == 0) & np.isinf(xb))
        inf_minus_inf = np.isinf(p) & np.isinf(xc) & (np.signbit(p) != np.signbit(xc))
    return s_odd, inf_times_zero | inf_minus_inf


def fma(a, b, c, *, a_fmt="fp32", a_bias=None, b_fmt="fp32", b_bias=None):
    """``RNE_fp32(a·b + c)`` with one rounding. Returns ``(z, flags)``: ``np.uint32`` FP32 codes
    and ``np.uint8`` flags (bits of ``hw.fp.formats``), both of the broadcast shape.

    ``a`` and ``b`` are codes of ``a_fmt`` and ``b_fmt`` (one of :data:`FMA_FORMATS`; the CFP8
    formats need a bias in ``0..BIAS_MAX``, the others ``None`` or their fixed bias); ``c`` is FP32
    codes. A bad format, bias or code raises ``ValueError`` (the messages of ``Format.check_bias``
    and ``verif.fp.formats``). The rules are those of the module docstring.
    """
    za, fa = _operand(a, a_fmt, a_bias, "a")
    zb, fb = _operand(b, b_fmt, b_bias, "b")
    zc, fc = widen(c, FP32)
    za, zb, zc, fa, fb, fc = np.broadcast_arrays(za, zb, zc, fa, fb, fc)
    # widen's flags are exactly the Denormal and signaling-NaN rules of the operands.
    flags = (fa | fb | fc).astype(np.uint8)

    s_odd, invalid = fma_odd53(*(z.view(np.float32).astype(np.float64) for z in (za, zb, zc)))
    finite = np.isfinite(s_odd)
    with np.errstate(invalid="ignore", over="ignore"):
        r = s_odd.astype(np.float32)     # RNE, subnormals and overflow to ±Inf included
    inexact = finite & (r.astype(np.float64) != s_odd)
    overflow = finite & np.isinf(r)
    underflow = inexact & (np.abs(s_odd) < _TINY)

    flags |= np.where(inexact, FLAG_INEXACT, 0).astype(np.uint8)
    flags |= np.where(underflow, FLAG_UNDERFLOW, 0).astype(np.uint8)
    flags |= np.where(overflow, FLAG_OVERFLOW, 0).astype(np.uint8)
    flags |= np.where(invalid, FLAG_INVALID, 0).astype(np.uint8)
    z = np.where(np.isnan(s_odd), np.uint32(FP32.qnan_code), r.view(np.uint32))
    return np.asarray(z.astype(np.uint32)), np.asarray(flags)


def f32_mul(a, b):
    """IEEE binary32 multiplication of FP32 codes, RNE: ``fma(a, b, -0.0)`` (adding -0 is exact
    and keeps the product's sign of zero). Returns ``(z, flags)`` as :func:`fma`."""
    return fma(a, b, _NEG_ZERO)


def f32_add(a, b):
    """IEEE binary32 addition of FP32 codes, RNE: ``fma(a, 1.0, b)``. Returns ``(z, flags)`` as
    :func:`fma`."""
    return fma(a, _ONE, b)
