"""Tests of the number-format model ``verif.fp.formats`` (decode, widen, narrow; no simulator).

Oracles, none of them our code:
  * ml_dtypes: ``float8_e4m3fn`` is CFP8 1-4-3 at bias 7 (except its NaN codes 0x7F/0xFF),
    ``float8_e5m2fnuz`` is CFP8 1-5-2 at bias 16 (except its NaN code 0x80 and the sign of zero),
    ``bfloat16`` is BF16; their casts from float32 are RNE but do not saturate.
  * numpy ``float16`` is SHP at bias 15 up to 65504; the Berkeley SoftFloat ``f32_to_f16`` gives
    the IEEE flags (tininess after rounding) of the same conversion.
  * Any other bias follows from an exact power-of-two scaling (the grid just shifts), and a normal
    binade beyond an oracle's range follows from halving (RNE is scale-invariant away from the
    denormals). UHP, which no library has, is checked against a grid of its values built here from
    the format definition, rounded by nearest-value search.
  * Hand-written known answers for every flag and every format, each stating what it checks.
"""

import re

import ml_dtypes
import numpy as np
import pytest
import softfloat

from hw.fp.formats import (
    BF16,
    BIAS_MAX,
    CFP8_143,
    CFP8_152,
    FLAG_DENORMAL,
    FLAG_INEXACT,
    FLAG_INVALID,
    FLAG_OVERFLOW,
    FLAG_UNDERFLOW,
    FP32,
    SHP,
    SR_BITS,
    UHP,
    Round,
)
from verif.fp.formats import decode, max_value, narrow, tininess_bound, widen
from verif.fp.rng import sr_randoms

I, U, O, V, D = FLAG_INEXACT, FLAG_UNDERFLOW, FLAG_OVERFLOW, FLAG_INVALID, FLAG_DENORMAL
BIASES = range(BIAS_MAX + 1)
QNAN, SNAN = 0x7FC00000, 0x7F800001
SR_MAX = (1 << SR_BITS) - 1


# --- helpers -------------------------------------------------------------------------------------

def f32(values):
    return np.asarray(values, dtype=np.float32)


def bits(values):
    return f32(values).view(np.uint32)


def from_bits(codes):
    return np.asarray(codes, dtype=np.uint32).view(np.float32)


def scaled(x, k):
    """``x * 2**k`` in float32, asserting that the scaling is exact (no overflow, no denormal)."""
    y = np.ldexp(f32(x), k).astype(np.float32)
    assert np.array_equal(y.astype(np.float64), np.ldexp(f32(x).astype(np.float64), k))
    assert not np.any((y != 0) & (np.abs(y) < np.finfo(np.float32).tiny))
    return y


def cast(x, dtype):
    """An ml_dtypes / numpy float16 cast of float32 ``x``, as float64 values."""
    with np.errstate(over="ignore", invalid="ignore"):
        return f32(x).astype(dtype).astype(np.float64)


def sample_values(rng, n, lo_exp, hi_exp):
    """``n`` float32 values, log-uniform in magnitude in ``2**lo_exp .. 2**hi_exp``, both signs."""
    mag = np.exp2(rng.uniform(lo_exp, hi_exp, n)).astype(np.float32)
    return np.where(rng.random(n) < 0.5, -mag, mag).astype(np.float32)


def with_neighbours(values):
    """Nonzero float32 ``values``, their float32 neighbours on both sides, all with both signs."""
    v = np.abs(f32(values))
    v = v[v > 0]
    v = np.concatenate([v, np.nextafter(v, np.float32(np.inf)), np.nextafter(v, np.float32(0))])
    return np.concatenate([v, -v]).astype(np.float32)


def grid_points(values):
    """A format's positive grid values and the midpoints between them (checked to be exact in
    float32), with their float32 neighbours and both signs."""
    v = np.unique(np.abs(f32(values)))
    v = v[v > 0]
    mids = ((v[:-1].astype(np.float64) + v[1:]) / 2).astype(np.float32)
    assert np.array_equal(mids.astype(np.float64), (v[:-1].astype(np.float64) + v[1:]) / 2)
    return with_neighbours(np.concatenate([v, mids]))


def format_grid(fmt, bias):
    """Every non-negative value of a non-IEEE format, indexed by magnitude code, from its definition
    (exponent 0: ``0.m * 2**(1 - bias)``; else ``1.m * 2**(e - bias)``), plus one step beyond max
    (the value an unbounded exponent would give next, which has an even code)."""
    m = fmt.man_bits
    codes = np.arange(fmt.max_code + 2, dtype=np.int64)
    e, man = codes >> m, codes & ((1 << m) - 1)
    sig = np.where(e == 0, man, man + (1 << m)).astype(np.float64)
    return np.ldexp(sig, (np.maximum(e, 1) - bias - m).astype(np.int32))


def grid_round(x, grid, mode, rand_up=None):
    """Magnitude code of float ``|x|`` on ``grid``: ``"rne"`` nearest with ties to the even code,
    ``"down"`` the largest value not above it, ``"up"`` the next one when ``rand_up(frac)``."""
    ax = np.abs(np.asarray(x, np.float64))
    i = np.minimum(np.searchsorted(grid, ax, side="right") - 1, len(grid) - 2)
    lo, hi = grid[i], grid[i + 1]
    if mode == "rne":
        up = (hi - ax < ax - lo) | ((hi - ax == ax - lo) & (i % 2 == 1))
    elif mode == "down":
        up = np.zeros(ax.shape, bool)
    else:
        up = rand_up((ax - lo) / (hi - lo))  # (ax - lo) is exact; hi - lo is a power of two
    return np.where(up, i + 1, i)


def check_flags(x, codes, flags, fmt, bias, rnd="rne"):
    """Check the flags of finite inputs against their definitions, independently of the model's
    method: Inexact iff the delivered value differs from x; Underflow iff inexact and
    0 < |x| < 2**emin - 2**(emin - m - 2); Overflow iff (RNE) |x| >= max + half an ulp of the
    top binade; Denormal iff x is an FP32 subnormal; never Invalid."""
    x = f32(x)
    fin = np.isfinite(x)
    x64 = x[fin].astype(np.float64)
    got = decode(codes[fin], fmt, bias)
    emin = 1 - bias
    m = fmt.man_bits
    bound = 2.0 ** emin - 2.0 ** (emin - m - 2)
    inexact = got != x64
    exp = np.where(inexact, I, 0)
    exp |= np.where(inexact & (x64 != 0) & (np.abs(x64) < bound), U, 0)
    if rnd == "rne":
        top_half_ulp = 2.0 ** (fmt.max_exp_field - bias - m - 1)
        exp |= np.where(np.abs(x64) >= max_value(fmt, bias) + top_half_ulp, O, 0)
    exp |= np.where((x64 != 0) & (np.abs(x64) < np.finfo(np.float32).tiny), D, 0)
    got_flags = flags[fin].astype(np.int64)
    if rnd != "rne":
        got_flags &= ~O  # checked by the known answers
    bad = np.flatnonzero(got_flags != exp)
    assert bad.size == 0, (
        f"{fmt.name} bias {bias}: x={x64[bad[:5]]} flags={got_flags[bad[:5]]} want {exp[bad[:5]]}")


# --- decode and widen against the oracles --------------------------------------------------------

def test_cfp8_143_decode_and_widen_match_e4m3fn_at_every_bias():
    """1-4-3 at bias b = float8_e4m3fn scaled by 2**(7 - b); 0x7F/0xFF (NaN there) are ±480*2**(7-b)
    by the white paper's range table. widen gives the same value in FP32, exactly."""
    codes = np.arange(256)
    oracle = codes.astype(np.uint8).view(ml_dtypes.float8_e4m3fn).astype(np.float32)
    top = np.isin(codes, (0x7F, 0xFF))
    oracle[top] = np.where(codes[top] == 0x7F, 480.0, -480.0)
    for b in BIASES:
        want = scaled(oracle, 7 - b)
        got = decode(codes, "cfp8_143", b)
        assert np.array_equal(got, want.astype(np.float64)), b
        assert np.array_equal(np.signbit(got), codes >= 0x80), b
        wbits, wflags = widen(codes, "cfp8_143", b)
        assert np.array_equal(wbits, want.view(np.uint32)), b
        denormal = (want != 0) & (np.abs(want) < 2.0 ** (1 - b))
        assert np.array_equal(wflags, np.where(denormal, D, 0)), b
    assert decode(0x7F, "cfp8_143", 0) == 1.875 * 2.0 ** 15  # white paper: bias 0 gives 61440


def test_cfp8_152_decode_and_widen_match_e5m2fnuz_at_every_bias():
    """1-5-2 at bias b = float8_e5m2fnuz scaled by 2**(16 - b); 0x80 (fnuz NaN) is -0."""
    codes = np.arange(256)
    oracle = codes.astype(np.uint8).view(ml_dtypes.float8_e5m2fnuz).astype(np.float32)
    oracle[0x80] = -0.0
    for b in BIASES:
        want = scaled(oracle, 16 - b)
        got = decode(codes, "cfp8_152", b)
        assert np.array_equal(got, want.astype(np.float64)), b
        assert np.array_equal(np.signbit(got), codes >= 0x80), b
        wbits, wflags = widen(codes, "cfp8_152", b)
        assert np.array_equal(wbits, want.view(np.uint32)), b
        denormal = (want != 0) & (np.abs(want) < 2.0 ** (1 - b))
        assert np.array_equal(wflags, np.where(denormal, D, 0)), b
    assert decode(0x7F, "cfp8_152", 15) == 114688.0  # white paper: bias 15 gives 114688


def test_bf16_widen_matches_ml_dtypes_for_all_65536_codes():
    """BF16 → FP32 equals ml_dtypes' bfloat16 → float32, except that every NaN becomes 0x7FC00000
    (Invalid iff signaling); Denormal for the subnormals."""
    codes = np.arange(1 << 16, dtype=np.uint32)
    oracle = codes.astype(np.uint16).view(ml_dtypes.bfloat16).astype(np.float32)
    got, flags = widen(codes, "bf16")
    nan = np.isnan(oracle)
    assert np.array_equal(got[~nan], oracle[~nan].view(np.uint32))
    assert np.all(got[nan] == QNAN)
    exp, man = (codes >> 7) & 0xFF, codes & 0x7F
    snan = nan & (man & 0x40 == 0)
    assert np.array_equal(flags, np.where(snan, V, 0) | np.where((exp == 0) & (man != 0), D, 0))
    assert np.array_equal(np.isnan(decode(codes, "bf16")), nan)
    assert np.array_equal(decode(codes[~nan], "bf16"), oracle[~nan].astype(np.float64))


def test_shp_bias15_decode_and_widen_match_float16():
    """SHP at bias 15 is float16 for exponents 0..30; exponent 31 is one more ordinary binade
    (1.m * 2**16, up to 131008) where float16 has Inf and NaN."""
    codes = np.arange(1 << 16, dtype=np.uint32)
    exp, man = (codes >> 10) & 0x1F, codes & 0x3FF
    want = codes.astype(np.uint16).view(np.float16).astype(np.float32)
    top = exp == 31
    want[top] = np.where(codes[top] >> 15, -1.0, 1.0) * (1 + man[top] / 1024.0) * 2.0 ** 16
    got, flags = widen(codes, "shp", 15)
    assert np.array_equal(got, want.view(np.uint32))
    assert np.array_equal(flags, np.where((exp == 0) & (man != 0), D, 0))
    assert np.array_equal(decode(codes, "shp", 15), want.astype(np.float64))
    assert decode(0x7FFF, "shp", 15) == 131008.0


@pytest.mark.parametrize("b", [0, 1, 14, 15, 16, 31, 62, 63])
def test_shp_decode_other_biases_is_scaled_bias15(b):
    """The whole SHP grid shifts with the bias: value_b(c) = value_15(c) * 2**(15 - b)."""
    codes = np.arange(1 << 16)
    assert np.array_equal(decode(codes, "shp", b), np.ldexp(decode(codes, "shp", 15), 15 - b))


def test_uhp_decode_and_widen_match_definition():
    """UHP (own reasoning, no library has it): unsigned, 6-bit exponent, bias 31, 0.m*2**-30
    denormals; every code widens exactly, denormals flag Denormal."""
    codes = np.arange(1 << 16)
    want = format_grid(UHP, 31)[: 1 << 16]
    assert np.array_equal(decode(codes, "uhp"), want)
    got, flags = widen(codes, "uhp")
    assert np.array_equal(from_bits(got).astype(np.float64), want)
    assert np.array_equal(flags, np.where((codes > 0) & (codes < 1024), D, 0))
    assert want[-1] == 2.0 ** 33 - 2.0 ** 22  # max 0xFFFF
    assert want[1] == 2.0 ** -40  # min denormal


def test_fp32_widen_is_identity_but_canonical_nan():
    """widen from FP32 (used by the FMA): identity, canonical NaN, Invalid for sNaN, Denormal."""
    x = np.array([0, 0x80000000, 1, 0x807FFFFF, 0x3F800000, 0x7F800000, 0xFF800000, 0x7F7FFFFF,
                  QNAN, 0xFFC00000, SNAN, 0xFFBFFFFF, 0x7FC12345], dtype=np.uint32)
    got, flags = widen(x, "fp32")
    assert list(got) == [0, 0x80000000, 1, 0x807FFFFF, 0x3F800000, 0x7F800000, 0xFF800000,
                         0x7F7FFFFF, QNAN, QNAN, QNAN, QNAN, QNAN]
    assert list(flags) == [0, 0, D, D, 0, 0, 0, 0, 0, 0, V, V, 0]


@pytest.mark.parametrize("fmt, biases", [
    ("cfp8_143", BIASES), ("cfp8_152", BIASES), ("shp", (0, 15, 31, 63)), ("uhp", (None,)),
    ("bf16", (None,))])
def test_narrow_of_widen_is_identity(fmt, biases):
    """Every code (NaNs aside) survives FP32 and back, with no flag but Denormal for FP32
    subnormals (the BF16 subnormals)."""
    for b in biases:
        for rnd in ("rne", "sr"):
            codes = np.arange(1 << (8 if fmt.startswith("cfp8") else 16))
            wide, _ = widen(codes, fmt, b)
            keep = ~np.isnan(from_bits(wide))
            back, flags = narrow(wide[keep], fmt, b, rnd, rand=SR_MAX)
            assert np.array_equal(back, codes[keep]), (fmt, b)
            sub = (from_bits(wide[keep]) != 0) & (np.abs(from_bits(wide[keep])) < 2.0 ** -126)
            assert np.array_equal(flags, np.where(sub, D, 0)), (fmt, b)


# --- narrow (RNE) against the oracles ------------------------------------------------------------

def _cfp8_inputs(grid7, max7, seed):
    """Inputs in oracle units: every code's value, midpoints and their neighbours, values around
    max, deep underflow, and log-uniform random values over the whole range, with both signs."""
    rng = np.random.default_rng(seed)
    near_max = np.linspace(max7 * 0.9, max7 * 1.2, 2001).astype(np.float32)
    return np.concatenate([
        grid_points(np.append(grid7, [max7, max7 * 17 / 16])), near_max, -near_max,
        sample_values(rng, 40000, -16, np.log2(max7) + 1), sample_values(rng, 2000, -30, -16),
        f32([0.0, -0.0, 2.0 ** -30, -(2.0 ** -30), 1e6, -1e6])])


def test_cfp8_143_narrow_rne_matches_e4m3fn_at_every_bias():
    """narrow(x * 2**(7-b), bias b) = e4m3fn(clip(x, ±480)) * 2**(7-b) for every bias b. e4m3fn's
    top binade holds NaN, so for |x| >= 256 the oracle is 2 * e4m3fn(x / 2) (same binade shape).
    The sign is always kept (−0 included); the flags follow their definitions."""
    grid7 = np.arange(0x7F, dtype=np.uint8).view(ml_dtypes.float8_e4m3fn).astype(np.float32)
    x7 = _cfp8_inputs(grid7, 480.0, seed=143)
    xc = np.clip(x7, -480, 480)
    top = np.abs(xc) >= 256
    want7 = np.where(top, 2 * cast(xc / 2, ml_dtypes.float8_e4m3fn),
                     cast(xc, ml_dtypes.float8_e4m3fn))
    assert not np.any(np.isnan(want7))
    for b in BIASES:
        x = scaled(x7, 7 - b)
        codes, flags = narrow(x, "cfp8_143", b)
        got7 = np.ldexp(decode(codes, "cfp8_143", b), b - 7)
        bad = np.flatnonzero(got7 != want7)
        assert bad.size == 0, (b, x7[bad[:5]], got7[bad[:5]], want7[bad[:5]])
        assert np.array_equal(codes >> 7, np.signbit(x7)), b
        check_flags(x, codes, flags, CFP8_143, b)


def test_cfp8_152_narrow_rne_matches_e5m2fnuz_at_every_bias():
    """narrow(x * 2**(16-b), bias b) = e5m2fnuz(clip(x, ±57344)) * 2**(16-b) for every bias b,
    compared as values (fnuz has no −0); the sign bit always follows x."""
    grid16 = np.arange(1, 0x80, dtype=np.uint8).view(ml_dtypes.float8_e5m2fnuz).astype(np.float32)
    x16 = _cfp8_inputs(grid16, 57344.0, seed=152)
    want16 = cast(np.clip(x16, -57344, 57344), ml_dtypes.float8_e5m2fnuz)
    assert not np.any(np.isnan(want16))
    for b in BIASES:
        x = scaled(x16, 16 - b)
        codes, flags = narrow(x, "cfp8_152", b)
        got16 = np.ldexp(decode(codes, "cfp8_152", b), b - 16)
        bad = np.flatnonzero(got16 != want16)
        assert bad.size == 0, (b, x16[bad[:5]], got16[bad[:5]], want16[bad[:5]])
        assert np.array_equal(codes >> 7, np.signbit(x16)), b
        check_flags(x, codes, flags, CFP8_152, b)


def _bf16_inputs():
    """FP32 inputs covering every exponent: random mantissas, exact ties (low half 0x8000) of
    both parities and their neighbours, subnormals, ±0, ±Inf and NaNs of every kind."""
    rng = np.random.default_rng(16)
    exps = np.repeat(np.arange(256, dtype=np.uint32), 400)
    man = rng.integers(0, 1 << 23, exps.size, dtype=np.uint32)
    ties = (man & ~np.uint32(0xFFFF)) | 0x8000
    mags = np.concatenate([man, ties, ties - 1, ties + 1, man & ~np.uint32(0xFFFF)])
    x = (np.tile(exps, 5) << 23) | mags
    x = x | (rng.integers(0, 2, x.size, dtype=np.uint32) << 31)
    special = np.array([0, 0x80000000, 0x7F800000, 0xFF800000, QNAN, 0xFFC00000, SNAN,
                        0xFF800001, 0x7FBFFFFF, 0x7FC00001, 0x7F7F8000, 0x7F7F7FFF, 0xFF7F8000,
                        0x00008000, 0x00018000, 0x007FC000, 0x007FBFFF, 1, 0x80000001],
                       dtype=np.uint32)
    return np.concatenate([x, special])


def test_bf16_narrow_rne_matches_ml_dtypes():
    """FP32 → BF16 RNE equals ml_dtypes' bfloat16 cast code for code (overflow to Inf included);
    NaN inputs give the canonical 0x7FC0 (ml_dtypes keeps payloads: NaN-ness compared)."""
    x = _bf16_inputs()
    with np.errstate(invalid="ignore"):
        want = from_bits(x).astype(ml_dtypes.bfloat16).view(np.uint16)
    got, flags = narrow(x, "bf16")
    nan = np.isnan(from_bits(x))
    bad = np.flatnonzero((got != want) & ~nan)
    assert bad.size == 0, [hex(v) for v in x[bad[:5]]]
    assert np.all(got[nan] == 0x7FC0)
    assert np.all(np.isnan(want.view(ml_dtypes.bfloat16)[nan].astype(np.float32)))
    fin = np.isfinite(from_bits(x))
    check_flags(from_bits(x[fin]), got[fin], flags[fin], BF16, 127)
    inf = np.isinf(from_bits(x))
    assert np.all(flags[inf] == 0)
    snan = nan & ((x >> 22) & 1 == 0)
    assert np.array_equal(flags[nan], np.where(snan[nan], V, 0))


def _softfloat_f16_flags(x):
    """Berkeley SoftFloat's flags for f32_to_f16 (RNE, tininess after rounding) of each input."""
    softfloat.cvar.softfloat_detectTininess = softfloat.softfloat_tininess_afterRounding
    softfloat.cvar.softfloat_roundingMode = softfloat.softfloat_round_near_even
    a = softfloat.float32_t()
    out = np.empty(len(x), np.int64)
    for k, v in enumerate(np.asarray(x).view(np.uint32).tolist()):
        a.v = v
        softfloat.cvar.softfloat_exceptionFlags = 0
        softfloat.f32_to_f16(a)
        out[k] = softfloat.cvar.softfloat_exceptionFlags
    return out


def test_shp_bias15_narrow_rne_matches_float16_and_softfloat():
    """|x| <= 65504: FP32 → SHP bias 15 equals numpy's float16 cast code for code, and the flags
    (Inexact, Underflow) equal SoftFloat's f32_to_f16 flags."""
    rng = np.random.default_rng(15)
    grid = np.arange(0x7C00, dtype=np.uint16).view(np.float16).astype(np.float32)
    x = np.concatenate([grid_points(grid), sample_values(rng, 50000, -30, 16)])
    x = x[np.abs(x) <= 65504]
    got, flags = narrow(x, "shp", 15)
    assert np.array_equal(got, x.astype(np.float16).view(np.uint16))
    sub = rng.choice(x.size, 20000, replace=False)
    assert np.array_equal(flags[sub].astype(np.int64) & ~D, _softfloat_f16_flags(x[sub]))
    check_flags(x, got, flags, SHP, 15)


@pytest.mark.parametrize("b", BIASES)
def test_shp_narrow_rne_every_bias_matches_scaled_float16(b):
    """narrow(s * 2**(15-b), SHP bias b) = f16(clip(s, ±131008)) * 2**(15-b), where for
    |s| >= 2**15 (exponent 31 has no float16 counterpart) f16(s) is taken as 2 * f16(s / 2).
    The flags, but Overflow, equal SoftFloat's f32_to_f16 flags of s (inexactness and tininess
    are scale-invariant); Overflow is checked by definition."""
    rng = np.random.default_rng(1000 + b)
    s = np.concatenate([sample_values(rng, 3000, -28, 17.2),
                        with_neighbours([65504, 65520, 65536, 131008, 131040, 131072, 2.0**-14,
                                         2.0**-14 - 2.0**-26, 2.0**-24, 2.0**-25, 1.5 * 2.0**-24])])
    sc = np.clip(s, -131008, 131008)
    top = np.abs(sc) >= 2.0 ** 15
    want = np.where(top, 2 * cast(sc / 2, np.float16), cast(sc, np.float16))
    x = scaled(s, 15 - b)
    codes, flags = narrow(x, "shp", b)
    assert np.array_equal(np.ldexp(decode(codes, "shp", b), b - 15), want)
    assert np.array_equal(codes >> 15, np.signbit(s))
    small = np.abs(s) <= 65504
    assert np.array_equal(flags[small].astype(np.int64), _softfloat_f16_flags(s[small]))
    check_flags(x, codes, flags, SHP, b)


def test_shp_bias15_beyond_float16_range():
    """SHP continues past 65504 (own reasoning): 65520 ties to 65536 (float16 would give Inf),
    131008 is max, 131040 (max + half ulp) saturates."""
    x = f32([65504, 65519.99, 65520, 65536, 65568, 65600, 131008, 131039.99, 131040, 2.0 ** 20])
    codes, flags = narrow(x, "shp", 15)
    assert [hex(c) for c in codes] == [hex(c) for c in (
        0x7BFF, 0x7BFF, 0x7C00, 0x7C00, 0x7C00, 0x7C01, 0x7FFF, 0x7FFF, 0x7FFF, 0x7FFF)]
    assert list(flags) == [0, I, I, 0, I, 0, 0, I, O | I, O | I]


def test_uhp_narrow_rne_matches_grid():
    """UHP RNE = nearest value of the UHP grid (ties to the even code), saturating above max; the
    grid is built from the format definition, not by the model."""
    rng = np.random.default_rng(31)
    grid = format_grid(UHP, 31)
    pts = grid_points(grid[: 1 << 16].astype(np.float32))
    x = np.concatenate([pts[pts >= 0], np.abs(sample_values(rng, 60000, -48, 35))])
    codes, flags = narrow(x, "uhp")
    want = np.minimum(grid_round(x, grid, "rne"), UHP.max_code)
    assert np.array_equal(codes, want)
    check_flags(x, codes, flags, UHP, 31)


# --- stochastic rounding --------------------------------------------------------------------------

SR_CASES = [  # (format, bias, x): normal and denormal results, both signs, every format
    (CFP8_143, 7, 0.3), (CFP8_143, 7, -5.3 * 2.0 ** -9), (CFP8_143, 40, 1.1e-11),
    (CFP8_152, 15, -1234.5), (CFP8_152, 15, 1.3 * 2.0 ** -16), (BF16, 127, 3.14159),
    (BF16, 127, 1.7e-39), (SHP, 15, 1.7e-6), (SHP, 3, -777.77), (UHP, 31, 1e-10), (UHP, 31, 3e7),
]


@pytest.mark.parametrize("fmt, bias, x", SR_CASES)
def test_sr_mean_is_unbiased(fmt, bias, x):
    """N SR conversions of x with the xorshift32 randoms: every result is one of the two grid
    neighbours of x, both occur, and |mean − x| < 5 σ / √N with σ ≤ (hi − lo) / 2."""
    n = 200_000
    b = None if fmt in (BF16, UHP) else bias
    grid = format_grid(fmt, bias) if not fmt.ieee else None
    x = np.float32(x)
    if fmt is BF16:  # BF16 grid near x: 8 significant bits, denormal step 2**-133
        step = 2.0 ** max(int(np.floor(np.log2(abs(float(x))))) - 7, -133)
        lo = np.floor(abs(float(x)) / step) * step
        hi = lo + step
    else:
        i = grid_round(x, grid, "down")
        lo, hi = grid[i], grid[i + 1]
    assert lo < abs(float(x)) < hi
    codes, flags = narrow(np.full(n, x), fmt, b, "sr", rand=sr_randoms(1234, n))
    vals = np.abs(decode(codes, fmt, b))
    assert set(np.unique(vals)) == {lo, hi}
    if fmt.signed:
        assert np.all(np.signbit(decode(codes, fmt, b)) == (x < 0))
    assert abs(vals.mean() - abs(float(x))) < 5 * ((hi - lo) / 2) / np.sqrt(n)
    assert np.all(flags & I)


@pytest.mark.parametrize("fmt, bias", [(CFP8_143, 7), (CFP8_143, 50), (CFP8_152, 0),
                                       (SHP, 15), (SHP, 63), (UHP, 31)])
def test_sr_rand_zero_truncates_and_rand_max_rounds_up_any_top_bits(fmt, bias):
    """rand = 0 gives truncation (toward zero, saturating at max); rand = 2**R − 1 rounds up
    exactly when the fraction below the LSB has a nonzero top R bits, i.e. frac >= 2**-R."""
    rng = np.random.default_rng(bias + 7 * fmt.width)
    b = None if fmt is UHP else bias
    grid = format_grid(fmt, bias)
    top = np.log2(grid[-2])
    x = sample_values(rng, 30000, top - 40, top + 1)
    step = (grid[grid_round(x, grid, "down") + 1] - grid[grid_round(x, grid, "down")])
    tail = f32(np.abs(x) + step * 2.0 ** -(SR_BITS + 2))  # fraction only below the R bits
    x = np.concatenate([x, tail[tail != np.abs(x)]])
    if fmt is UHP:
        x = np.abs(x)
    sign = np.signbit(x).astype(np.int64) << fmt.sign_shift
    for rand, want in (
        (0, grid_round(x, grid, "down")),
        (SR_MAX, grid_round(x, grid, "up", lambda f: f >= 2.0 ** -SR_BITS)),
    ):
        codes, flags = narrow(x, fmt, b, Round.SR, rand=np.full(x.size, rand))
        want = np.minimum(want, fmt.max_code) | sign
        bad = np.flatnonzero(codes != want)
        assert bad.size == 0, (rand, x[bad[:5]], codes[bad[:5]], want[bad[:5]])
        check_flags(x, codes, flags, fmt, bias, rnd="sr")


# --- known answers --------------------------------------------------------------------------------

def below(v):
    """The float32 just below v (v > 0)."""
    return float(np.nextafter(np.float32(v), np.float32(0)))


def _test_id(fmt, what):
    return f"{fmt}-{what}".replace("→", "->").replace("−", "-")


# (format, bias, input: float value or FP32 code (int), rnd, rand, code, flags, what it checks)
KNOWN = [
    # CFP8 1-4-3, bias 7: max 480 (0x7F), top ulp 32, min normal 2**-6 (0x08), min denormal 2**-9.
    ("cfp8_143", 7, 1.0, "rne", 0, 0x38, 0, "1.0 = exponent field 7"),
    ("cfp8_143", 7, 480.0, "rne", 0, 0x7F, 0, "max is exact"),
    ("cfp8_143", 7, below(496), "rne", 0, 0x7F, I, "just under max + ulp/2 rounds to max"),
    ("cfp8_143", 7, 496.0, "rne", 0, 0x7F, O | I, "max + ulp/2 ties to even 512 > max: saturate"),
    ("cfp8_143", 7, -496.0, "rne", 0, 0xFF, O | I, "negative overflow saturates to -max"),
    ("cfp8_143", 7, np.inf, "rne", 0, 0x7F, O | I, "+Inf → +max, Overflow|Inexact (decision)"),
    ("cfp8_143", 7, -np.inf, "rne", 0, 0xFF, O | I, "-Inf → -max, Overflow|Inexact (decision)"),
    ("cfp8_143", 7, QNAN, "rne", 0, 0x7F, V, "qNaN → +max, Invalid only"),
    ("cfp8_143", 7, 0xFFC00000, "rne", 0, 0xFF, V, "NaN keeps its sign bit"),
    ("cfp8_143", 7, SNAN, "rne", 0, 0x7F, V, "sNaN → max, Invalid only"),
    ("cfp8_143", 7, 2.0**-6 - 2.0**-11, "rne", 0, 0x08, I,
     "tininess bound itself is not tiny: Inexact only"),
    ("cfp8_143", 7, below(2.0**-6 - 2.0**-11), "rne", 0, 0x08, U | I,
     "just below the bound: tiny after rounding although delivered as min normal"),
    ("cfp8_143", 7, 2.0**-6 - 2.0**-10, "rne", 0, 0x08, U | I,
     "tie between largest denormal and min normal goes to even (min normal), tiny"),
    ("cfp8_143", 7, 7 * 2.0**-9, "rne", 0, 0x07, 0, "exact denormal: tiny but exact, no Underflow"),
    ("cfp8_143", 7, 2.0**-10, "rne", 0, 0x00, U | I, "half the min denormal ties to +0"),
    ("cfp8_143", 7, -(2.0**-10), "rne", 0, 0x80, U | I, "underflow to -0 keeps the sign"),
    ("cfp8_143", 7, float(np.nextafter(np.float32(2.0**-10), np.float32(1))), "rne", 0, 0x01,
     U | I, "just above half the min denormal rounds up to it"),
    ("cfp8_143", 7, 0x00000001, "rne", 0, 0x00, D | U | I, "FP32 subnormal input: Denormal"),
    ("cfp8_143", 7, 0x80000001, "rne", 0, 0x80, D | U | I, "negative FP32 subnormal → -0"),
    ("cfp8_143", 7, 0.0, "rne", 0, 0x00, 0, "+0 exact, no flags"),
    ("cfp8_143", 7, -0.0, "rne", 0, 0x80, 0, "-0 is 0x80, no flags"),
    ("cfp8_143", 0, 61440.0, "rne", 0, 0x7F, 0, "bias 0: max 61440 (white paper)"),
    ("cfp8_143", 0, 63488.0, "rne", 0, 0x7F, O | I, "bias 0: max + ulp/2 saturates"),
    ("cfp8_143", 63, 1.0, "rne", 0, 0x7F, O | I, "bias 63: 1.0 is far above max 1.875*2**-48"),
    ("cfp8_143", 63, 2.0**-65, "rne", 0, 0x01, 0, "bias 63: min denormal 2**-65"),
    # CFP8 1-5-2, bias 15: max 114688 (0x7F), top ulp 16384, min normal 2**-14 (0x04).
    ("cfp8_152", 15, 1.0, "rne", 0, 0x3C, 0, "1.0 = exponent field 15"),
    ("cfp8_152", 15, 114688.0, "rne", 0, 0x7F, 0, "max is exact"),
    ("cfp8_152", 15, below(122880), "rne", 0, 0x7F, I, "just under max + ulp/2"),
    ("cfp8_152", 15, 122880.0, "rne", 0, 0x7F, O | I, "max + ulp/2 saturates"),
    ("cfp8_152", 15, -np.inf, "rne", 0, 0xFF, O | I, "-Inf → -max"),
    ("cfp8_152", 15, 0xFFC00000, "rne", 0, 0xFF, V, "-NaN → -max, Invalid"),
    ("cfp8_152", 15, 2.0**-14 - 2.0**-18, "rne", 0, 0x04, I, "tininess bound: not tiny"),
    ("cfp8_152", 15, below(2.0**-14 - 2.0**-18), "rne", 0, 0x04, U | I, "just below: tiny"),
    ("cfp8_152", 15, 3 * 2.0**-16, "rne", 0, 0x03, 0, "exact denormal"),
    ("cfp8_152", 15, 3 * 2.0**-17, "rne", 0, 0x02, U | I, "denormal tie 1.5 → 2 (even)"),
    ("cfp8_152", 15, 2.0**-17, "rne", 0, 0x00, U | I, "half min denormal → 0"),
    # SHP, bias 15: max 131008 (0x7FFF), float16's max 65504 is 0x7BFF.
    ("shp", 15, 65520.0, "rne", 0, 0x7C00, I, "ties to 65536, where float16 would overflow"),
    ("shp", 15, 131008.0, "rne", 0, 0x7FFF, 0, "max is exact"),
    ("shp", 15, 131040.0, "rne", 0, 0x7FFF, O | I, "max + ulp/2 saturates"),
    ("shp", 15, np.inf, "rne", 0, 0x7FFF, O | I, "+Inf → max"),
    ("shp", 15, 0xFFC00000, "rne", 0, 0xFFFF, V, "-NaN → -max, Invalid"),
    ("shp", 15, 2.0**-14 - 2.0**-26, "rne", 0, 0x0400, I, "tininess bound: not tiny"),
    ("shp", 15, below(2.0**-14 - 2.0**-26), "rne", 0, 0x0400, U | I, "just below: tiny"),
    ("shp", 15, 2.0**-24, "rne", 0, 0x0001, 0, "min denormal exact"),
    ("shp", 15, -(2.0**-25), "rne", 0, 0x8000, U | I, "half min denormal → -0"),
    ("shp", 63, 1.0, "rne", 0, 0x7FFF, O | I, "bias 63: max is about 2**-31"),
    ("shp", 0, 2.0**-9, "rne", 0, 0x0001, 0, "bias 0: min denormal 2**-9"),
    # UHP (bias 31): max 2**33 − 2**22 (0xFFFF), top ulp 2**22, min normal 2**-30.
    ("uhp", None, 1.0, "rne", 0, 0x7C00, 0, "1.0 = exponent field 31"),
    ("uhp", None, 2.0**33 - 2.0**22, "rne", 0, 0xFFFF, 0, "max is exact"),
    ("uhp", None, below(2.0**33 - 2.0**21), "rne", 0, 0xFFFF, I, "just under max + ulp/2"),
    ("uhp", None, 2.0**33 - 2.0**21, "rne", 0, 0xFFFF, O | I, "max + ulp/2 saturates"),
    ("uhp", None, np.inf, "rne", 0, 0xFFFF, O | I, "+Inf → max"),
    ("uhp", None, -1.0, "rne", 0, 0x0000, V, "negative → +0, Invalid only"),
    ("uhp", None, -(2.0**-50), "rne", 0, 0x0000, V, "tiny negative → +0, Invalid only"),
    ("uhp", None, -np.inf, "rne", 0, 0x0000, V, "-Inf → +0, Invalid only"),
    ("uhp", None, -0.0, "rne", 0, 0x0000, 0, "-0 → +0, no flags"),
    ("uhp", None, QNAN, "rne", 0, 0xFFFF, V, "NaN → max, Invalid"),
    ("uhp", None, 0xFFC00000, "rne", 0, 0xFFFF, V, "-NaN → max too"),
    ("uhp", None, SNAN, "rne", 0, 0xFFFF, V, "sNaN → max, Invalid"),
    ("uhp", None, 0x80000001, "rne", 0, 0x0000, V | D, "negative FP32 subnormal: Invalid|Denormal"),
    ("uhp", None, 0x00000001, "rne", 0, 0x0000, D | U | I, "FP32 subnormal → 0"),
    ("uhp", None, 2.0**-30 - 2.0**-42, "rne", 0, 0x0400, I, "tininess bound: not tiny"),
    ("uhp", None, below(2.0**-30 - 2.0**-42), "rne", 0, 0x0400, U | I, "just below: tiny"),
    ("uhp", None, 2.0**-40, "rne", 0, 0x0001, 0, "min denormal exact"),
    ("uhp", None, 2.0**-41, "rne", 0, 0x0000, U | I, "half min denormal → 0"),
    # BF16: IEEE. max 0x7F7F; FP32 0x7F7F8000 is max + ulp/2.
    ("bf16", None, 1.0, "rne", 0, 0x3F80, 0, "1.0"),
    ("bf16", None, 0x3F808000, "rne", 0, 0x3F80, I, "tie rounds to even (down)"),
    ("bf16", None, 0x3F818000, "rne", 0, 0x3F82, I, "tie rounds to even (up)"),
    ("bf16", None, 0x7F7F7FFF, "rne", 0, 0x7F7F, I, "just under max + ulp/2"),
    ("bf16", None, 0x7F7F8000, "rne", 0, 0x7F80, O | I, "max + ulp/2 overflows to +Inf"),
    ("bf16", None, 0xFF7F8000, "rne", 0, 0xFF80, O | I, "negative overflow → -Inf"),
    ("bf16", None, np.inf, "rne", 0, 0x7F80, 0, "+Inf stays, no flags"),
    ("bf16", None, -np.inf, "rne", 0, 0xFF80, 0, "-Inf stays, no flags"),
    ("bf16", None, QNAN, "rne", 0, 0x7FC0, 0, "qNaN → canonical, no flags"),
    ("bf16", None, 0xFFC12345, "rne", 0, 0x7FC0, 0, "-qNaN with payload → canonical +"),
    ("bf16", None, SNAN, "rne", 0, 0x7FC0, V, "sNaN → canonical, Invalid"),
    ("bf16", None, 0xFF800100, "rne", 0, 0x7FC0, V, "-sNaN → canonical, Invalid"),
    ("bf16", None, 0x00400000, "rne", 0, 0x0040, D, "exact subnormal: Denormal only"),
    ("bf16", None, 0x80010000, "rne", 0, 0x8001, D, "exact negative min subnormal"),
    ("bf16", None, 0x007FC000, "rne", 0, 0x0080, D | I, "tininess bound 2**-126 − 2**-135"),
    ("bf16", None, 0x007FBFFF, "rne", 0, 0x0080, D | U | I, "just below the bound: tiny"),
    ("bf16", None, 0x00008000, "rne", 0, 0x0000, D | U | I, "half min subnormal → +0"),
    ("bf16", None, 0x00018000, "rne", 0, 0x0002, D | U | I, "subnormal tie → even"),
    # Stochastic rounding with explicit random values (R = SR_BITS = 16).
    ("cfp8_143", 7, 1.0625, "sr", 0x7FFF, 0x38, I, "SR: F = 0x8000, + 0x7FFF: no carry"),
    ("cfp8_143", 7, 1.0625, "sr", 0x8000, 0x39, I, "SR: F = 0x8000, + 0x8000: carry"),
    ("cfp8_143", 7, 1 + 2.0**-20, "sr", SR_MAX, 0x38, I,
     "SR: fraction below the kept R bits never carries, but is Inexact"),
    ("cfp8_143", 7, 481.0, "sr", 0, 0x7F, I, "SR: max + ulp/32 with rand 0 → max"),
    ("cfp8_143", 7, 481.0, "sr", SR_MAX, 0x7F, O | I, "SR: carry past max saturates"),
    ("cfp8_143", 7, 2.0**-6 - 2.0**-9 + 2.0**-12, "sr", SR_MAX, 0x08, U | I,
     "SR: tiny by the RNE test, delivered as min normal: Underflow"),
    ("cfp8_143", 7, 2.0**-6 - 2.0**-12, "sr", 0, 0x07, I,
     "SR: not tiny by the RNE test (above the bound), delivered as a denormal: no Underflow"),
    ("shp", 15, -(1 + 2.0**-11), "sr", 0x8000, 0xBC01, I, "SR on a negative value: magnitude"),
    ("bf16", None, 0x7F7F0001, "sr", SR_MAX, 0x7F80, O | I, "SR: BF16 overflow → +Inf"),
    ("bf16", None, 0x7F7F0001, "sr", 0, 0x7F7F, I, "SR: BF16 truncation below max"),
    ("uhp", None, -3.0, "sr", SR_MAX, 0x0000, V, "SR: UHP negative → +0, Invalid"),
    ("uhp", None, QNAN, "sr", 0, 0xFFFF, V, "SR: UHP NaN → max, Invalid"),
    ("cfp8_152", 15, np.inf, "sr", SR_MAX, 0x7F, O | I, "SR: Inf → max as in RNE"),
]


@pytest.mark.parametrize("fmt, bias, x, rnd, rand, code, flags, what", KNOWN,
                         ids=[_test_id(k[0], k[7]) for k in KNOWN])
def test_narrow_known_answers(fmt, bias, x, rnd, rand, code, flags, what):
    xb = np.uint32(x) if isinstance(x, int) else bits(x)
    got, got_flags = narrow(xb, fmt, bias, rnd, rand=rand)
    assert (hex(got), hex(got_flags)) == (hex(code), hex(flags)), what


WIDEN_KNOWN = [  # (format, bias, code, FP32 result, flags, what it checks)
    ("bf16", None, 0x3F80, 0x3F800000, 0, "1.0"),
    ("bf16", None, 0x7F80, 0x7F800000, 0, "+Inf"),
    ("bf16", None, 0x7F81, QNAN, V, "sNaN → canonical, Invalid"),
    ("bf16", None, 0xFF81, QNAN, V, "-sNaN → canonical +, Invalid"),
    ("bf16", None, 0x7FC1, QNAN, 0, "qNaN with payload → canonical, no flag"),
    ("bf16", None, 0x0001, 0x00010000, D, "subnormal: Denormal"),
    ("bf16", None, 0x8001, 0x80010000, D, "negative subnormal"),
    ("cfp8_143", 7, 0x01, int(bits(2.0**-9)), D, "min denormal 2**-9"),
    ("cfp8_143", 7, 0x80, 0x80000000, 0, "0x80 is -0"),
    ("cfp8_143", 7, 0xFF, int(bits(-480.0)), 0, "-max"),
    ("cfp8_152", 63, 0x01, int(bits(2.0**-64)), D, "bias 63: min denormal 2**-64"),
    ("cfp8_152", 0, 0x7F, int(bits(1.75 * 2.0**31)), 0, "bias 0: max 1.75*2**31"),
    ("shp", 15, 0x7FFF, int(bits(131008.0)), 0, "max beyond float16"),
    ("shp", 15, 0xFC00, int(bits(-65536.0)), 0, "exponent 31 is ordinary"),
    ("shp", 63, 0x0001, int(bits(2.0**-72)), D, "bias 63: min denormal 2**-72"),
    ("uhp", None, 0xFFFF, int(bits(2.0**33 - 2.0**22)), 0, "max, no sign bit"),
    ("uhp", None, 0x8000, int(bits(2.0)), 0, "bit 15 is exponent, not sign"),
    ("uhp", None, 0x0001, int(bits(2.0**-40)), D, "min denormal 2**-40"),
]


@pytest.mark.parametrize("fmt, bias, code, want, flags, what", WIDEN_KNOWN,
                         ids=[_test_id(k[0], k[5]) for k in WIDEN_KNOWN])
def test_widen_known_answers(fmt, bias, code, want, flags, what):
    got, got_flags = widen(code, fmt, bias)
    assert (hex(got), hex(got_flags)) == (hex(want), hex(flags)), what


def test_tininess_bound_and_max_values():
    """Derived constants, by hand: the tininess bound 2**emin − 2**(emin−m−2) and the maxima of the
    white paper's range table."""
    assert tininess_bound("cfp8_143", 7) == 2.0**-6 - 2.0**-11
    assert tininess_bound("bf16") == 2.0**-126 - 2.0**-135
    assert tininess_bound("uhp") == 2.0**-30 - 2.0**-42
    assert max_value("cfp8_143", 7) == 480.0
    assert max_value("cfp8_143", 0) == 61440.0
    assert max_value("cfp8_152", 15) == 114688.0
    assert max_value("shp", 15) == 131008.0
    assert max_value("bf16") == float(ml_dtypes.finfo(ml_dtypes.bfloat16).max)
    assert max_value("fp32") == float(np.finfo(np.float32).max)


def test_shapes_and_dtypes():
    """Outputs keep the input's shape; codes are uint8 for CFP8, uint16 for 16-bit formats."""
    x = bits(np.ones((2, 3)))
    c, f = narrow(x, "cfp8_152", 15)
    assert (c.shape, c.dtype, f.dtype) == ((2, 3), np.uint8, np.uint8)
    c, f = narrow(x, SHP, 15)
    assert (c.shape, c.dtype) == ((2, 3), np.uint16)
    w, f = widen(c, "shp", 15)
    assert (w.shape, w.dtype, f.dtype) == ((2, 3), np.uint32, np.uint8)
    assert np.all(w == 0x3F800000)
    assert narrow(np.float32(1.0), "fp32")[0] == 0x3F800000
    assert narrow(np.float32(1.0), "cfp8_152", np.int64(15))[0] == 0x3C  # numpy integer bias


# --- error messages -------------------------------------------------------------------------------

@pytest.mark.parametrize("call", [narrow, widen, decode])
@pytest.mark.parametrize("bias", [64, -1, None, 1.5])
def test_bad_bias_message(call, bias):
    message = f"CFP8 1-4-3 bias must be an integer in 0..63, not {bias!r}"
    with pytest.raises(ValueError, match=re.escape(message)):
        call(0, "cfp8_143", bias)


def test_fixed_bias_message():
    with pytest.raises(ValueError, match=re.escape("BF16 has a fixed bias of 127, not 15")):
        widen(0, "bf16", 15)
    with pytest.raises(ValueError, match=re.escape("CFP16 UHP has a fixed bias of 31, not 30")):
        narrow(0, UHP, 30)
    assert narrow(bits(1.0), "uhp", 31)[0] == 0x7C00  # the fixed value itself is accepted


def test_unknown_format_message():
    with pytest.raises(ValueError, match=re.escape(
            "unknown format 'fp64'; expected one of fp32, bf16, cfp8_143, cfp8_152, shp, uhp")):
        narrow(0, "fp64", 0)


def _raises(error, message):
    return pytest.raises(error, match=f"^{re.escape(message)}$")


def test_bad_inputs_messages():
    with _raises(ValueError, "CFP8 1-5-2 codes must be in 0..255, not 256"):
        widen(256, "cfp8_152", 15)
    with _raises(ValueError, "FP32 codes must be in 0..4294967295, not -1"):
        narrow(-1, "bf16")
    with _raises(TypeError, "FP32 codes must be an integer array, not an array of float64"):
        narrow(1.0, "bf16")
    with _raises(TypeError, "BF16 codes must be an integer array, not an array of bool"):
        widen(True, "bf16")
    with _raises(ValueError,
                 "unknown rounding mode 'rtz'; expected Round.RNE, Round.SR, 'rne' or 'sr'"):
        narrow(0, "bf16", rnd="rtz")
    with _raises(ValueError,
                 "stochastic rounding needs rand: one sr_bits-bit integer per element"):
        narrow(0, "bf16", rnd=Round.SR)
    with _raises(ValueError, "rand values must be in 0..65535 (sr_bits=16), not 65536"):
        narrow(0, "bf16", rnd="sr", rand=1 << 16)
    with _raises(TypeError, "rand must be an integer array, not an array of float64"):
        narrow(0, "bf16", rnd="sr", rand=0.5)
    with _raises(ValueError, "sr_bits must be in 1..32, not 0"):
        narrow(0, "bf16", rnd="sr", rand=0, sr_bits=0)
    with _raises(TypeError, "sr_bits must be an integer, not 8.0"):
        narrow(0, "bf16", rnd="sr", rand=0, sr_bits=8.0)
    assert FP32.width == 32  # the FP32 limit quoted above
