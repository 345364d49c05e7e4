"""Tests of the FP32 fused multiply-add model ``verif.fp.fma`` (fma, f32_mul, f32_add).

Oracles, none of them our code:
  * Berkeley SoftFloat (the ``softfloat`` package): ``f32_mulAdd``, ``f32_mul`` and ``f32_add``
    with round-to-nearest-even and tininess after rounding give the value and the five IEEE flags
    (Inexact, Underflow, Overflow, Infinite, Invalid) bit for bit. Its NaN payloads follow x86, so
    NaN results are compared by NaN-ness (the model's NaN is always 0x7FC00000, checked apart).
  * Exact rational arithmetic (``fractions.Fraction``) with an RNE written here from the definition
    of binary32, for the value and every flag on a sample of hard cases.
  * numpy float32 ``*`` and ``+`` (IEEE RNE) for f32_mul and f32_add; a float64 product of two
    BF16/CFP8 values (exact) cast once to float32 for ``fma(a, b, +0)``; ml_dtypes decodes CFP8
    1-4-3 at bias 7 and BF16.
  * Denormal, d1core's own flag, is derived from the operand fields (exponent 0, mantissa not 0).

``softfloat_mul_add`` and ``hard_triples`` are importable, so a bigger run is one line:
``python -c "from tests.fp.test_model_fma import big_run; big_run(10_000_000)"``.
"""

import re
import zlib
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest
import softfloat

from hw.fp.formats import (
    BIAS_MAX,
    FLAG_DENORMAL,
    FLAG_INEXACT,
    FLAG_INVALID,
    FLAG_OVERFLOW,
    FLAG_UNDERFLOW,
    FP32,
    TESTFLOAT_FLAG_MASK,
    get_format,
)
from verif.fp.fma import FMA_FORMATS, f32_add, f32_mul, fma
from verif.fp.formats import decode, widen

I, U, O, V, D = FLAG_INEXACT, FLAG_UNDERFLOW, FLAG_OVERFLOW, FLAG_INVALID, FLAG_DENORMAL
QNAN = FP32.qnan_code
SIGN = 1 << FP32.sign_shift
MAX = FP32.max_code
INF = FP32.inf_code
ONE = 0x3F800000

#: Random triples compared with SoftFloat in the regression: half uniform bit patterns, half hard.
N_UNIFORM = 600_000
N_HARD = 1_400_000


# --- helpers -------------------------------------------------------------------------------------

def u32(values):
    return np.asarray(values, dtype=np.uint32)


def bits(values):
    return np.asarray(values, dtype=np.float32).view(np.uint32)


def _softfloat_loop(op, *operands):
    softfloat.cvar.softfloat_roundingMode = softfloat.softfloat_round_near_even
    softfloat.cvar.softfloat_detectTininess = softfloat.softfloat_tininess_afterRounding
    regs = [softfloat.float32_t() for _ in operands]
    n = np.broadcast(*operands).size
    lists = [np.broadcast_to(u32(x), (n,)).tolist() for x in operands]
    z = np.empty(n, np.uint32)
    flags = np.empty(n, np.uint8)
    cvar = softfloat.cvar
    for k, vals in enumerate(zip(*lists, strict=True)):
        for reg, v in zip(regs, vals, strict=True):
            reg.v = v
        cvar.softfloat_exceptionFlags = 0
        z[k] = op(*regs).v
        flags[k] = cvar.softfloat_exceptionFlags
    return z, flags


def softfloat_mul_add(a, b, c):
    """SoftFloat's ``f32_mulAdd`` (RNE, tininess after rounding) of each triple of FP32 codes:
    ``(z, flags)``. Flags are SoftFloat's, whose bits are TestFloat's (= ours but Denormal)."""
    return _softfloat_loop(softfloat.f32_mulAdd, a, b, c)


def is_nan(z):
    z = u32(z)
    return (z & ~np.uint32(SIGN)) > INF


def is_denormal(z):
    z = u32(z)
    return ((z >> FP32.man_bits) & 0xFF == 0) & (z & ((1 << FP32.man_bits) - 1) != 0)


def fields(sign, exp, man):
    """FP32 codes from fields (arrays broadcast): sign 0/1, biased exponent 0..255, mantissa."""
    sign, exp, man = (np.asarray(x, np.uint64) for x in (sign, exp, man))
    return ((sign << 31) | (exp << 23) | (man & ((1 << 23) - 1))).astype(np.uint32)


def special_values():
    """FP32 codes of the special and boundary values: ±0, ±Inf, quiet and signaling NaNs of both
    signs, the smallest and largest subnormals, the smallest normal and its successor, max and its
    predecessor, 1, 1.5, 2**64, 2**-64, 2**-75, 0.5 + 2**-24 and 2**24, all with both signs."""
    pos = [0, INF, QNAN, 0x7F800001, 0x7FBFFFFF, 0x7FFFFFFF, 1, 2, 0x007FFFFF, 0x00400000,
           0x00800000, 0x00800001, MAX, MAX - 1, ONE, 0x3FC00000, 0x5F800000, 0x1F800000,
           0x1A000000, 0x3F000001, 0x4B800000]
    return u32(pos + [p | SIGN for p in pos])


def hard_triples(rng, n):
    """``(a, b, c)`` FP32 codes, ``n`` of them, biased to the cases a fused multiply-add gets wrong:
    operands of every binade with ``a·b`` of the magnitude of ``c`` (alignment, carries); massive
    cancellation (``c`` within a few ulps of ``-a·b``); results around the subnormal boundary, the
    tininess boundary (just below 2**-126) and the overflow boundary; exact rounding ties and
    near-ties (product = half an ulp of ``c``, or that times ``1 ± 2**-k``) in the normal,
    subnormal and overflow ranges, with either sign. The last 2/7 of the triples are the ties."""
    parts = []
    k = n // 7
    sgn = lambda m: rng.integers(0, 2, m)  # noqa: E731
    man = lambda m: rng.integers(0, 1 << 23, m)  # noqa: E731

    # 1. a·b of the magnitude of c, all binades, subnormals included.
    ea = rng.integers(0, 255, k)
    eb = rng.integers(0, 255, k)
    ec = np.clip(ea + eb - 127 + rng.integers(-30, 31, k), 0, 254)
    parts.append((fields(sgn(k), ea, man(k)), fields(sgn(k), eb, man(k)),
                  fields(sgn(k), ec, man(k))))

    # 2. Cancellation: c = -RN32(a·b) moved by a few ulps; a·b of any magnitude in range, and
    # exact in FP32 for half of them (short mantissas), so that many sums are exactly 0.
    ea = rng.integers(1, 255, k)
    eb = np.clip(254 - ea - rng.integers(-100, 110, k), 0, 254)
    short = rng.random(k) < 0.5
    ma = np.where(short, man(k) & 0x7F0000, man(k))
    mb = np.where(short, man(k) & 0x7FE000, man(k))
    a, b = fields(sgn(k), ea, ma), fields(sgn(k), eb, mb)
    with np.errstate(over="ignore"):
        p = (a.view(np.float32).astype(np.float64) * b.view(np.float32)).astype(np.float32)
    ulps = np.where(rng.random(k) < 0.5, 0, rng.integers(-3, 4, k))
    c = (bits(-p).astype(np.int64) + ulps).astype(np.uint32)
    c = np.where(np.isfinite(p), c, bits(np.float32(0)))
    parts.append((a, b, c))

    # 3. Around the subnormal boundary: a·b near 2**-126 (±24 binades), c tiny or near 2**-126.
    ea = rng.integers(1, 128, k)
    eb = np.clip(128 - ea + rng.integers(-26, 4, k), 0, 254)
    ec = np.where(rng.random(k) < 0.5, 0, rng.integers(0, 4, k))
    parts.append((fields(sgn(k), ea, man(k)), fields(sgn(k), eb, man(k)),
                  fields(sgn(k), ec, man(k))))

    # 4. Around the overflow boundary: a·b near 2**128, c near ±max or anywhere large.
    ea = rng.integers(127, 255, k)
    eb = np.clip(381 - ea + rng.integers(-2, 2, k), 0, 254)
    ec = np.where(rng.random(k) < 0.5, 254, rng.integers(200, 255, k))
    mc = np.where(rng.random(k) < 0.5, (1 << 23) - 1 - rng.integers(0, 4, k), man(k))
    ma = np.where(rng.random(k) < 0.3, (1 << 23) - 1, man(k))
    parts.append((fields(sgn(k), ea, ma), fields(sgn(k), eb, man(k)), fields(sgn(k), ec, mc)))

    # 5. The tininess boundary: c within 3 ulps of ±2**-126 (either side), a·b of magnitude
    # 2**-153 .. 2**-147, so that a·b + c falls in the window [2**-126 - 2**-151, 2**-126) of
    # results that round to the smallest normal without being tiny, or just below it. Half the
    # products have 2-bit mantissas, so that the window's end points are hit exactly.
    ec = rng.integers(0, 2, k)
    mc = np.where(ec == 0, (1 << 23) - 1 - rng.integers(0, 3, k), rng.integers(0, 3, k))
    ea = rng.integers(1, 100, k)
    eb = np.clip(104 + rng.integers(-3, 4, k) - ea, 1, 254)
    short = rng.random(k) < 0.5
    ma, mb = np.where(short, man(k) & 0x600000, man(k)), np.where(short, man(k) & 0x600000, man(k))
    parts.append((fields(sgn(k), ea, ma), fields(sgn(k), eb, mb), fields(sgn(k), ec, mc)))

    # 6. Ties and near-ties: a·b = ±ulp(c)/2 · t with t = 1, 1 - 2**-2j or 1 + 2**(1-j) +
    # 2**-2j; a = 2**i · (1 + u), b = ulp(c)/2 · 2**-i · (1 ± u), u = 0 or 2**-j. Half the cases
    # with a subnormal or zero c (ulp 2**-149), some with c = ±max (the overflow tie).
    m = n - 5 * k
    ec = rng.integers(0, 255, m)
    ec = np.where(rng.random(m) < 0.25, 0, ec)
    ec = np.where(rng.random(m) < 0.1, 254, ec)
    mc = np.where(ec == 254, np.where(rng.random(m) < 0.5, (1 << 23) - 1, man(m)), man(m))
    c = fields(sgn(m), ec, mc)
    half_ulp_exp = np.maximum(ec, 1) - 127 - 23 - 1        # unbiased exponent of ulp(c)/2
    i = rng.integers(-60, 61, m)
    i = np.clip(i, half_ulp_exp + 127 - 126, 127)            # keep b normal and in range
    i = np.where(half_ulp_exp - i < -126, half_ulp_exp + 126, i)
    j = rng.integers(1, 24, m)
    kind = rng.integers(0, 3, m)                               # exact tie, below, above
    u = np.where(kind == 0, 0, 1 << (23 - j))                  # u = 2**-j in mantissa units
    man_b = np.where(kind == 1, ((1 << 23) - u) * 2 % (1 << 23), u)
    exp_b = np.where(kind == 1, half_ulp_exp - i - 1, half_ulp_exp - i) + 127
    a = fields(sgn(m), i + 127, u)
    b = fields(sgn(m), np.clip(exp_b, 1, 254), man_b)
    parts.append((a, b, c))

    return tuple(np.concatenate(x) for x in zip(*parts, strict=True))


def compare_with_softfloat(a, b, c):
    """Assert that fma equals SoftFloat's f32_mulAdd on each triple: the value bit for bit (NaN by
    NaN-ness, and then canonical), the IEEE flags exactly, Denormal from the operand fields.
    Returns the number of triples compared."""
    z, flags = fma(a, b, c)
    want, want_flags = softfloat_mul_add(a, b, c)
    nan = is_nan(want)
    bad = np.flatnonzero((z != want) & ~(nan & (z == QNAN)))
    assert bad.size == 0, [(hex(a[k]), hex(b[k]), hex(c[k]), hex(z[k]), hex(want[k]))
                           for k in bad[:5]]
    bad = np.flatnonzero((flags & TESTFLOAT_FLAG_MASK) != want_flags)
    assert bad.size == 0, [(hex(a[k]), hex(b[k]), hex(c[k]), flags[k], want_flags[k])
                           for k in bad[:5]]
    den = is_denormal(a) | is_denormal(b) | is_denormal(c)
    assert np.array_equal(flags & D != 0, den)
    return len(z)


def big_run(n, seed=12345, chunk=1_000_000):
    """Compare ``n`` triples (half uniform, half hard) with SoftFloat by chunks; print the count."""
    rng = np.random.default_rng(seed)
    done = 0
    while done < n:
        m = min(chunk, n - done)
        u = m // 2
        compare_with_softfloat(*(rng.integers(0, 1 << 32, u, dtype=np.uint64).astype(np.uint32)
                                 for _ in range(3)))
        compare_with_softfloat(*hard_triples(rng, m - u))
        done += m
    print(f"{done} triples agree with SoftFloat f32_mulAdd")


# --- SoftFloat ----------------------------------------------------------------------------------

def test_fma_matches_softfloat_uniform_bit_patterns():
    """N_UNIFORM uniformly random FP32 bit-pattern triples (NaNs, Infs and subnormals included in
    proportion): value and flags equal SoftFloat's f32_mulAdd, NaN results are 0x7FC00000, and
    Denormal is raised iff some operand is subnormal."""
    rng = np.random.default_rng(1)
    a, b, c = (rng.integers(0, 1 << 32, N_UNIFORM, dtype=np.uint64).astype(np.uint32)
               for _ in range(3))
    assert compare_with_softfloat(a, b, c) == N_UNIFORM


def test_fma_matches_softfloat_hard_cases():
    """N_HARD triples from ``hard_triples`` (alignment, cancellation, subnormal and overflow
    boundaries, ties and near-ties): value and flags equal SoftFloat's f32_mulAdd. Also checks
    that the generator does reach those cases (every flag, exact ties, exact zeros, subnormal and
    infinite results occur often)."""
    rng = np.random.default_rng(2)
    a, b, c = hard_triples(rng, N_HARD)
    assert compare_with_softfloat(a, b, c) == N_HARD
    z, flags = fma(a, b, c)
    for flag in (I, U, O, D):
        assert np.count_nonzero(flags & flag) > N_HARD // 100, flag
    assert np.count_nonzero((flags & I == 0) & (is_denormal(z))) > N_HARD // 2000
    assert np.count_nonzero((z & ~np.uint32(SIGN)) == 0) > N_HARD // 100
    assert np.count_nonzero(z == INF) > N_HARD // 1000
    # Exact ties: a·b + c lies halfway between two FP32 neighbours.
    x = [Fraction(float(v)) for v in u32(a[-2000:]).view(np.float32)]
    y = [Fraction(float(v)) for v in u32(b[-2000:]).view(np.float32)]
    w = [Fraction(float(v)) for v in u32(c[-2000:]).view(np.float32)]
    ties = sum(_is_tie(p * q + r) for p, q, r in zip(x, y, w, strict=True))
    assert ties > 100


def test_fma_matches_softfloat_on_all_special_triples():
    """Every triple of ``special_values`` (±0, ±Inf, qNaN, sNaN, subnormals, max...; 74 088
    triples): value and flags equal SoftFloat's. This covers ∞·0 + qNaN (Invalid, as SoftFloat),
    ∞·0 with a NaN multiplicand (no Invalid unless signaling), ∞ - ∞, sNaN in each position."""
    s = special_values()
    a, b, c = (x.reshape(-1) for x in np.meshgrid(s, s, s, indexing="ij"))
    assert compare_with_softfloat(a, b, c) == len(s) ** 3


def test_f32_mul_and_f32_add_match_softfloat_and_numpy():
    """f32_mul and f32_add equal SoftFloat's f32_mul and f32_add (values and flags) and numpy's
    float32 ``*`` and ``+`` (values; NaN-ness for NaNs) on uniform, special and near-cancelling
    operands, signed zeros included (-0 · 1 = -0, 1 + -1 = +0, -0 + -0 = -0)."""
    rng = np.random.default_rng(3)
    n = 150_000
    a, b = (rng.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32) for _ in range(2))
    s = special_values()
    sa, sb = (x.reshape(-1) for x in np.meshgrid(s, s, indexing="ij"))
    ea = rng.integers(0, 255, n)
    ca = fields(rng.integers(0, 2, n), ea, rng.integers(0, 1 << 23, n))
    cb = (ca ^ np.uint32(SIGN)) + rng.integers(0, 3, n).astype(np.uint32)
    a, b = np.concatenate([a, sa, ca]), np.concatenate([b, sb, cb])
    fa, fb = a.view(np.float32), b.view(np.float32)
    with np.errstate(all="ignore"):
        numpy_results = {f32_mul: (fa * fb).view(np.uint32), f32_add: (fa + fb).view(np.uint32)}
    for model, oracle in ((f32_mul, softfloat.f32_mul), (f32_add, softfloat.f32_add)):
        z, flags = model(a, b)
        want, want_flags = _softfloat_loop(oracle, a, b)
        nan = is_nan(want)
        assert np.array_equal(nan, is_nan(numpy_results[model]))
        assert np.all(z[nan] == QNAN)
        assert np.array_equal(z[~nan], want[~nan])
        assert np.array_equal(z[~nan], numpy_results[model][~nan])
        assert np.array_equal(flags & TESTFLOAT_FLAG_MASK, want_flags)
        assert np.array_equal(flags & D != 0, is_denormal(a) | is_denormal(b))
    assert f32_mul(SIGN, ONE)[0] == SIGN
    assert f32_add(ONE, ONE | SIGN)[0] == 0
    assert f32_add(SIGN, SIGN)[0] == SIGN


# --- exact arithmetic -----------------------------------------------------------------------------

EMIN, PREC = 1 - FP32.bias, FP32.man_bits + 1
MAX_VALUE = Fraction(2 ** PREC - 1, 2 ** PREC) * 2 ** (FP32.max_exp_field - FP32.bias + 1)


def _exponent(v):
    """floor(log2 |v|) of a nonzero Fraction, exactly."""
    v = abs(v)
    e = v.numerator.bit_length() - v.denominator.bit_length()
    return e if Fraction(2) ** e <= v else e - 1


def _round(v, emin):
    """|v| rounded to nearest, ties to even, to PREC bits with the exponent bounded below by emin
    (``None``: unbounded)."""
    e = _exponent(v)
    q = Fraction(2) ** ((e if emin is None else max(e, emin)) - PREC + 1)
    return round(abs(v) / q) * q


def _is_tie(v):
    if v == 0:
        return False
    e = max(_exponent(v), EMIN)
    y = abs(v) / Fraction(2) ** (e - PREC + 1)
    return y.denominator == 2


def fraction_fma(a, b, c):
    """The FP32 fma of finite FP32 codes from exact rationals: ``(code, flags)``, the flags from
    their IEEE definitions (Denormal from the fields)."""
    x, y, w = (Fraction(float(np.uint32(v).view(np.float32))) for v in (a, b, c))
    neg = lambda code: bool(code >> FP32.sign_shift)  # noqa: E731
    flags = D if any(is_denormal(v) for v in (a, b, c)) else 0
    v = x * y + w
    if v == 0:
        both_neg = (neg(a) != neg(b)) and neg(c) if x * y == 0 else False
        return (SIGN if both_neg else 0), flags
    r = _round(v, EMIN)
    if r != abs(v):
        flags |= I
        if _round(v, None) < Fraction(2) ** EMIN:
            flags |= U
    if r > MAX_VALUE:
        code = INF
        flags |= O | I
    else:
        code = int(bits(np.float32(float(r))))     # r is an FP32 value: both casts exact
    return (code | SIGN) if v < 0 else code, flags


def test_fma_matches_exact_rational_arithmetic():
    """On 6000 finite hard triples and all 32 768 triples of finite specials, fma equals an FP32
    rounding of the exact rational a·b + c written from the definitions: value, sign of an exact
    zero, Inexact, Underflow (tiny after rounding), Overflow and Denormal. Independent of
    SoftFloat."""
    rng = np.random.default_rng(4)
    a, b, c = hard_triples(rng, 6000)
    s = special_values()
    s = s[np.isfinite(s.view(np.float32))]
    sa, sb, sc = (x.reshape(-1) for x in np.meshgrid(s, s, s, indexing="ij"))
    a, b, c = np.concatenate([a, sa]), np.concatenate([b, sb]), np.concatenate([c, sc])
    fin = np.isfinite(a.view(np.float32)) & np.isfinite(b.view(np.float32)) & \
        np.isfinite(c.view(np.float32))
    a, b, c = a[fin], b[fin], c[fin]
    z, flags = fma(a, b, c)
    for k in range(len(a)):
        want = fraction_fma(a[k], b[k], c[k])
        assert (int(z[k]), int(flags[k])) == want, (hex(a[k]), hex(b[k]), hex(c[k]))


# --- known answers ------------------------------------------------------------------------------

KNOWN = [
    # (a, b, c, z, flags, what)
    (ONE, 0x40000000, ONE, 0x40400000, 0, "1·2 + 1 = 3, exact"),
    (INF, 0, QNAN, QNAN, V, "∞·0 + qNaN: Invalid (as SoftFloat; IEEE lets either be)"),
    (QNAN, 0, INF, QNAN, 0, "qNaN·0 + ∞: the NaN propagates, no Invalid"),
    (INF, QNAN, ONE, QNAN, 0, "∞·qNaN: no Invalid"),
    (0, INF | SIGN, ONE, QNAN, V, "0·(-∞) + 1: Invalid, canonical NaN"),
    (INF, ONE, INF | SIGN, QNAN, V, "∞·1 + (-∞): Invalid"),
    (INF, ONE | SIGN, INF | SIGN, INF | SIGN, 0, "∞·(-1) + (-∞) = -∞, no flag"),
    (ONE, ONE, 0x7F800001, QNAN, V, "signaling NaN c: Invalid, canonical NaN"),
    (0xFF800001, ONE, QNAN, QNAN, V, "negative signaling NaN a: Invalid"),
    (0xFFC00000, ONE, ONE, QNAN, 0, "negative quiet NaN: canonical positive NaN"),
    (ONE, ONE, ONE | SIGN, 0, 0, "1·1 + (-1) = +0"),
    (ONE | SIGN, ONE, ONE, 0, 0, "(-1)·1 + 1 = +0"),
    (SIGN, ONE, SIGN, SIGN, 0, "(-0)·1 + (-0) = -0"),
    (SIGN, ONE, 0, 0, 0, "(-0)·1 + (+0) = +0"),
    (0, ONE, SIGN, 0, 0, "(+0)·1 + (-0) = +0"),
    (1, 1, SIGN, 0, U | I | D, "2**-149 · 2**-149 + (-0): +2**-298 rounds to +0"),
    (0x80000001, 0x3E800000, 0, SIGN, U | I | D, "-2**-149 · 0.25 + 0: -2**-151 rounds to -0"),
    (MAX, 0x40000000, 0, INF, O | I, "max·2 overflows to +∞"),
    (MAX, ONE, 0x73000000, INF, O | I, "max + 2**103 (half ulp of max): tie to even = overflow"),
    (MAX, ONE, 0x72FFFFFF, MAX, I, "max + just under half an ulp: max, Inexact only"),
    (MAX | SIGN, ONE, 0xF3000000, INF | SIGN, O | I, "-max - 2**103: -∞"),
    (0x4B800000, ONE, ONE, 0x4B800000, I, "2**24 + 1: tie, to even (2**24)"),
    (0x4B800001, ONE, ONE, 0x4B800002, I, "(2**24 + 2) + 1: tie, to even (2**24 + 4)"),
    (0x00800000, 0x3F000000, 0, 0x00400000, 0, "2**-126 · 0.5 = 2**-127: exact subnormal, no flag"),
    (0x00800001, 0x3F000000, 0, 0x00400000, U | I, "subnormal tie to even, Underflow"),
    (0x00FFFFFF, 0x3F000000, 0, 0x00800000, U | I,
     "2**-126 - 2**-150 rounds up to 2**-126 but is tiny after rounding to 24 bits: Underflow"),
    (0x3FF80000, 0x00421084, 0, 0x00800000, I | D,
     "31/16 · 1082401·2**-147 = 2**-126 - 2**-151 rounds to 2**-126, not tiny: no Underflow"),
    (0x1A4000C0, 0x19FFFF00, 0x007FFFFF, 0x00800000, U | I | D,
     "2**-126 - 2**-151 - 1.5·2**-182 (float64 would round it onto the tininess bound): tiny"),
    (0x3F800001, 0x3F800001, 0xBF800000, 0x34800000, I,
     "(1 + 2**-23)**2 - 1 = 2**-22 + 2**-46: a tie, to even, with one rounding"),
    (1, ONE, 0, 1, D, "subnormal operand: Denormal even though exact"),
    (ONE, ONE, 1, ONE, D | I, "1 + 2**-149: Inexact and Denormal (c subnormal)"),
]


@pytest.mark.parametrize("a, b, c, z, flags, what", KNOWN, ids=[k[-1] for k in KNOWN])
def test_fma_known_answers(a, b, c, z, flags, what):
    """Hand-written answers from the IEEE 754 rules (each case says what it checks); each also
    agrees with SoftFloat (IEEE flags) and with the exact-rational model when finite."""
    got, got_flags = fma(a, b, c)
    want_z, want_flags = softfloat_mul_add([a], [b], [c])
    if not is_nan(z):
        assert int(want_z[0]) == z
    assert int(want_flags[0]) == flags & TESTFLOAT_FLAG_MASK
    assert (int(got), int(got_flags)) == (z, flags)


# --- BF16 and CFP8 multiplicands ------------------------------------------------------------------

MUL_FORMATS = [("bf16", None), ("cfp8_143", 0), ("cfp8_143", 63), ("cfp8_143", 7),
               ("cfp8_152", 0), ("cfp8_152", 63), ("cfp8_152", 16), ("fp32", None)]


def _all_codes(fmt):
    f = get_format(fmt)
    return np.arange(1 << f.width, dtype=np.uint64).astype(
        {8: np.uint8, 16: np.uint16, 32: np.uint32}[f.width])


def _codes_of(rng, fmt, n):
    f = get_format(fmt)
    return rng.integers(0, 1 << f.width, n, dtype=np.uint64).astype(np.uint32)


def _own_denormal(codes, fmt):
    f = get_format(fmt)
    codes = np.asarray(codes, np.int64)
    return ((codes >> f.man_bits) & ((1 << f.exp_bits) - 1) == 0) & \
        (codes & ((1 << f.man_bits) - 1) != 0)


@pytest.mark.parametrize("a_fmt, a_bias", MUL_FORMATS)
@pytest.mark.parametrize("b_fmt, b_bias", MUL_FORMATS)
def test_fma_narrow_operands_equal_widened_fp32(a_fmt, a_bias, b_fmt, b_bias):
    """fma with BF16/CFP8 multiplicands (CFP8 at biases 0, 63 and a middle one) equals fma on
    their exact FP32 widening (``verif.fp.formats.widen``) in value, and in flags once Denormal is
    raised for a multiplicand that is a denormal in its own format (a CFP8 denormal widens to a
    normal FP32), and Invalid for a signaling-NaN BF16 or FP32 multiplicand (which widens to the
    canonical quiet NaN). c ranges over random FP32 codes, small ones and specials."""
    rng = np.random.default_rng(zlib.crc32(repr((a_fmt, a_bias, b_fmt, b_bias)).encode()))
    n = 40_000
    a, b = _codes_of(rng, a_fmt, n), _codes_of(rng, b_fmt, n)
    c = np.concatenate([_codes_of(rng, "fp32", n // 2),
                        fields(rng.integers(0, 2, n - n // 2 - 42), rng.integers(0, 40, n - n // 2
                               - 42), rng.integers(0, 1 << 23, n - n // 2 - 42)),
                        special_values()])
    z, flags = fma(a, b, c, a_fmt=a_fmt, a_bias=a_bias, b_fmt=b_fmt, b_bias=b_bias)
    (wa, fa), (wb, fb) = widen(a, a_fmt, a_bias), widen(b, b_fmt, b_bias)
    wz, wflags = fma(wa, wb, c)
    assert np.array_equal(z, wz)
    den = _own_denormal(a, a_fmt) | _own_denormal(b, b_fmt)
    snan = (fa | fb) & V != 0   # a signaling NaN multiplicand widens to the quiet 0x7FC00000
    assert np.array_equal(flags, wflags | np.where(den, D, 0) | np.where(snan, V, 0))


@pytest.mark.parametrize("a_fmt, a_bias", [f for f in MUL_FORMATS if f[0] != "fp32"])
def test_fma_narrow_products_are_exact(a_fmt, a_bias):
    """fma(a, b, +0) of every pair of CFP8 codes (and of BF16 codes sampled) equals the float64
    product of the decoded values (exact) cast once to float32; the decoding is ml_dtypes' for
    CFP8 1-4-3 at bias 7 (float8_e4m3fn, its NaN codes excluded) and BF16. Nothing but a NaN or
    an infinity raises any flag other than Denormal/Inexact/Underflow."""
    f = get_format(a_fmt)
    codes = _all_codes(a_fmt)
    if a_fmt == "bf16":
        codes = np.random.default_rng(5).choice(codes, 600, replace=False)
    a, b = (x.reshape(-1) for x in np.meshgrid(codes, codes, indexing="ij"))
    z, flags = fma(a, b, 0, a_fmt=a_fmt, a_bias=a_bias, b_fmt=a_fmt, b_bias=a_bias)
    if (a_fmt, a_bias) == ("cfp8_143", 7):
        ok = (a & 0x7F != 0x7F) & (b & 0x7F != 0x7F)
        da = a[ok].view(ml_dtypes.float8_e4m3fn).astype(np.float64)
        db = b[ok].view(ml_dtypes.float8_e4m3fn).astype(np.float64)
        assert np.array_equal(da, decode(a[ok], f, 7))
    elif a_fmt == "bf16":
        ok = ~np.isnan(a.view(ml_dtypes.bfloat16).astype(np.float32)) & \
            ~np.isnan(b.view(ml_dtypes.bfloat16).astype(np.float32))
        da = a[ok].view(ml_dtypes.bfloat16).astype(np.float64)
        db = b[ok].view(ml_dtypes.bfloat16).astype(np.float64)
    else:
        ok = np.ones(a.shape, bool)
        da, db = decode(a, f, a_bias), decode(b, f, a_bias)
    with np.errstate(invalid="ignore", over="ignore"):
        want = (da * db + 0.0).astype(np.float32)
    assert np.array_equal(z[ok] == QNAN, np.isnan(want))
    assert np.array_equal(z[ok][~np.isnan(want)], want[~np.isnan(want)].view(np.uint32))
    if not f.ieee:
        assert np.all(flags & (V | O) == 0)


@pytest.mark.parametrize("fmt", ["cfp8_143", "cfp8_152"])
def test_fma_cfp8_extreme_biases(fmt):
    """CFP8 at bias 0 (largest values) and 63 (smallest): max·max + 0, min denormal squared + 0,
    and max(bias 0)·min(bias 63) are the exact products (all within FP32's range), Denormal raised
    exactly when a denormal code is used."""
    f = get_format(fmt)
    big, tiny = f.max_code, 1
    vmax0, vmin63 = decode(big, f, 0), decode(tiny, f, 63)
    for a, ab, b, bb, want, den in ((big, 0, big, 0, vmax0 * vmax0, 0),
                                    (tiny, 63, tiny, 63, vmin63 * vmin63, D),
                                    (big, 0, tiny, 63, vmax0 * vmin63, D),
                                    (big | 0x80, 0, big, 63, -vmax0 * decode(big, f, 63), 0)):
        z, flags = fma(a, b, 0, a_fmt=fmt, a_bias=ab, b_fmt=fmt, b_bias=bb)
        assert z == bits(np.float32(want)) and float(np.float32(want)) == want
        assert flags == den


def test_fma_bf16_nans_and_denormals():
    """BF16 multiplicands: a signaling NaN (0x7F81) raises Invalid, a quiet one (0xFFC1) does not,
    both give 0x7FC00000; a BF16 subnormal (0x0001 = 2**-133) raises Denormal and multiplies
    exactly."""
    z, flags = fma([0x7F81, 0xFFC1, 0x0001], 0x3F80, 0, a_fmt="bf16", b_fmt="bf16")
    assert z.tolist() == [QNAN, QNAN, bits(np.float32(2.0 ** -133))]
    assert flags.tolist() == [V, 0, D]


# --- API ---------------------------------------------------------------------------------------

def test_fma_broadcasts_and_types():
    """Operands broadcast together (a column times a row plus a scalar); z is uint32 and flags
    uint8 of the broadcast shape; a scalar call gives 0-d arrays."""
    a = u32([[ONE], [0x40000000]])
    b = u32([ONE, 0x40400000, 0x40800000])
    z, flags = fma(a, b, ONE)
    assert z.shape == flags.shape == (2, 3)
    assert z.dtype == np.uint32 and flags.dtype == np.uint8
    assert np.array_equal(z.view(np.float32), [[2, 4, 5], [3, 7, 9]])
    z, flags = fma(ONE, ONE, ONE)
    assert z.shape == () and z == 0x40000000 and flags == 0


@pytest.mark.parametrize("kwargs, message", [
    ({"a_fmt": "shp", "a_bias": 15},
     "fma operand a format must be one of fp32, bf16, cfp8_143, cfp8_152, not 'shp'"),
    ({"b_fmt": "uhp"}, "fma operand b format must be one of fp32, bf16, cfp8_143, cfp8_152, "
                       "not 'uhp'"),
    ({"a_fmt": "fp16"}, "unknown format 'fp16'; expected one of fp32, bf16, cfp8_143, cfp8_152, "
                        "shp, uhp"),
    ({"a_fmt": "cfp8_143"}, "CFP8 1-4-3 bias must be an integer in 0..63, not None"),
    ({"b_fmt": "cfp8_152", "b_bias": BIAS_MAX + 1},
     "CFP8 1-5-2 bias must be an integer in 0..63, not 64"),
    ({"a_fmt": "bf16", "a_bias": 7}, "BF16 has a fixed bias of 127, not 7"),
])
def test_fma_bad_arguments(kwargs, message):
    """A format that is not a multiplicand format, an unknown format or a bad bias raises
    ValueError with the exact message."""
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        fma(0, 0, 0, **kwargs)


def test_fma_bad_codes():
    """A code outside its format's width raises ValueError (the message of verif.fp.formats)."""
    with pytest.raises(ValueError, match=r"^CFP8 1-4-3 codes must be in 0\.\.255, not 256$"):
        fma(256, 0, 0, a_fmt="cfp8_143", a_bias=7)
    with pytest.raises(ValueError, match=r"^FP32 codes must be in 0\.\.4294967295, not -1$"):
        fma(0, 0, -1)


def test_fma_formats_constant():
    """FMA_FORMATS names the multiplicand formats of the contract: FP32, BF16 and both CFP8."""
    assert FMA_FORMATS == ("fp32", "bf16", "cfp8_143", "cfp8_152")
