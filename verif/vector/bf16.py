"""Bit-exact model of the vector unit's BF16 arithmetic: ``bf16_fma`` (docs/vector.md).

``z = RNE_bf16(a·b + c)`` of BF16 codes with **one** rounding, IEEE: subnormals kept, tininess
after rounding, every NaN result the canonical 0x7FC0, the flag rules of the FP32 FMA model
(``verif.fp.fma``) with BF16's precision, and Denormal when some operand is a BF16 subnormal.

How the model computes (its method; the tests check it against exact rational arithmetic): BF16
codes are FP32 codes shifted left by 16, so ``verif.fp.formats.widen`` gives their exact values
(and the operand flags: Denormal, Invalid for a signaling NaN). ``verif.fp.fma.fma_odd53`` gives the
exact sum rounded to odd at 53 bits; that is rounded to odd again at FP32 precision (24 bits, the
FP32 subnormal step below 2**-126, and saturating at the largest finite FP32 value instead of
overflowing), which is still the round-to-odd value of the exact sum at that precision. Rounding
to odd at 24 ≥ 8 + 2 bits and then to nearest even at BF16's 8 bits is the single RNE rounding of
the exact sum, so ``verif.fp.formats.narrow`` to BF16 finishes it, with its Inexact, Underflow
(the round-to-odd value lies on the same side of the BF16 tininess bound 2**-126 − 2**-135 as the
exact sum: the bound is a multiple of 2**-149 with an even last FP32 bit) and Overflow flags. This
is also the RTL's suggested method (an FMA rounding to odd, then a BF16 narrowing).
"""

import numpy as np

from hw.fp.formats import (
    BF16,
    FLAG_INEXACT,
    FLAG_INVALID,
    FLAG_OVERFLOW,
    FLAG_UNDERFLOW,
)
from verif.fp.fma import fma_odd53
from verif.fp.formats import narrow, widen

__all__ = ["BF16_ONE", "BF16_SIGN", "bf16_fma"]

#: BF16 codes of +1.0 and of the sign bit (-0.0).
BF16_ONE = np.uint16(0x3F80)
BF16_SIGN = np.uint16(1 << BF16.sign_shift)

_F32_MAX = np.float32(np.finfo(np.float32).max)
_ROUNDING_FLAGS = FLAG_INEXACT | FLAG_UNDERFLOW | FLAG_OVERFLOW


def _odd_f32(v):
    """Round float64 values to odd at FP32 precision, saturating at ±FP32 max: FP32 codes.
    NaN and ±inf pass through (the caller handles them)."""
    with np.errstate(over="ignore", invalid="ignore"):
        r = v.astype(np.float32)
    finite = np.isfinite(v)
    r = np.where(finite & np.isinf(r), np.copysign(_F32_MAX, v).astype(np.float32), r)
    inexact = finite & (r.astype(np.float64) != v)
    even = (r.view(np.uint32) & np.uint32(1)) == 0
    toward = np.where(v > r, np.float32(np.inf), np.float32(-np.inf)).astype(np.float32)
    with np.errstate(over="ignore"):  # lanes stepping past max are not selected
        r = np.where(inexact & even, np.nextafter(r, toward), r)
    return r.view(np.uint32)


def bf16_fma(a, b, c):
    """``RNE_bf16(a·b + c)`` of BF16 codes (arrays that broadcast together) with one rounding.
    Returns ``(z uint16, flags uint8)`` of the broadcast shape (docs/vector.md)."""
    za, fa = widen(np.asarray(a), BF16)
    zb, fb = widen(np.asarray(b), BF16)
    zc, fc = widen(np.asarray(c), BF16)
    za, zb, zc, fa, fb, fc = np.broadcast_arrays(za, zb, zc, fa, fb, fc)
    # widen's flags are the Denormal and signaling-NaN rules of the operands.
    flags = (fa | fb | fc).astype(np.uint8)
    s_odd, invalid = fma_odd53(*(z.view(np.float32).astype(np.float64) for z in (za, zb, zc)))
    nan = np.isnan(s_odd)
    r = np.where(nan, 0, _odd_f32(s_odd)).astype(np.uint32)
    z, fr = narrow(r, BF16)
    flags |= (fr & _ROUNDING_FLAGS).astype(np.uint8)
    flags |= np.where(invalid, FLAG_INVALID, 0).astype(np.uint8)
    z = np.where(nan, np.uint16(BF16.qnan_code), z)
    return np.asarray(z.astype(np.uint16)), np.asarray(flags)

