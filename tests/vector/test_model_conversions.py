"""Tests of the vector model's WIDEN and NARROW (docs/vector.md, "Conversions").

Oracles: the conversion unit's model ``verif.fp.convert.convert_requests`` lane by lane (itself
checked against ml_dtypes, numpy float16 and SoftFloat in tests/fp), ml_dtypes directly where a
format is one of its types (CFP8 1-4-3 at bias 7 is float8_e4m3fn apart from its NaN codes, CFP8
1-5-2 at bias 16 is float8_e5m2fnuz apart from 0x80, BF16 is bfloat16), and round trips.
"""

import ml_dtypes
import numpy as np
import pytest

from hw.fp.formats import FORMATS, SR_BITS
from verif.fp.convert import NARROW, WIDEN, convert_requests
from verif.fp.rng import sr_randoms
from verif.vector.model import execute, lanes, vector

#: (format, bias) pairs exercised: every format, the configurable ones at several biases.
FMT_BIAS = [("bf16", 0), ("uhp", 0), ("shp", 0), ("shp", 15), ("shp", 63), ("cfp8_143", 0),
            ("cfp8_143", 7), ("cfp8_143", 63), ("cfp8_152", 0), ("cfp8_152", 16),
            ("cfp8_152", 63)]
CFP8 = [fb for fb in FMT_BIAS if fb[0].startswith("cfp8")]


def code(fmt):
    return FORMATS[fmt].code.value


def parts(wide_bits, fmt):
    return 512 // ((512 // wide_bits) * FORMATS[fmt].width)


def conv(op, data, fmt, bias, rnd=0, seed=0):
    """The conversion-unit model on a flat array of request words."""
    return convert_requests(np.asarray(data, np.int64).ravel(), op, code(fmt), bias, rnd, seed)


def all_codes_vectors(width):
    """Every code of a ``width``-bit format, 512 // width per vector, as (n, 64) vectors."""
    codes = np.arange(1 << width).reshape(-1, 512 // width)
    return vector(codes, width), codes


def fp32_inputs(rng, n):
    """FP32 codes: specials, values around every format's range, random bit patterns."""
    specials = [0, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001, 0xFFC00001, 1,
                0x807FFFFF, 0x00800000, 0x3F800000, 0x477FE000, 0x47800000, 0x4F800000]
    moderate = (rng.standard_normal(n) * 2.0 ** rng.integers(-70, 35, n)).astype(np.float32)
    bits = rng.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32)
    return np.concatenate([np.asarray(specials, np.uint32), moderate.view(np.uint32), bits])


# --- widen ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("fmt", "bias"), FMT_BIAS)
def test_widen_to_fp32_every_code(fmt, bias):
    """WIDEN to FP32 of every code of every format (configurable ones at several biases), from
    each part: lane i is the conversion model's widening of narrow lane 16·imm + i, and the flags
    are the OR of its flags over those 16 lanes; the result does not depend on c or b."""
    width = FORMATS[fmt].width
    a, codes = all_codes_vectors(width)
    want, want_f = conv(WIDEN, codes, fmt, bias)
    want, want_f = want.reshape(codes.shape), want_f.reshape(codes.shape)
    for imm in range(parts(32, fmt)):
        z, f, err = execute("widen", "fp32", a, imm=imm, fmt=fmt, bias=bias)
        assert not err.any()
        sl = slice(16 * imm, 16 * imm + 16)
        np.testing.assert_array_equal(lanes(z, 32), want[:, sl])
        np.testing.assert_array_equal(f, np.bitwise_or.reduce(want_f[:, sl], axis=1))


@pytest.mark.parametrize(("fmt", "bias"), CFP8)
def test_widen_cfp8_to_bf16_every_code(fmt, bias):
    """WIDEN to BF16 of every CFP8 code from both parts: lane i is the upper half of the FP32
    widening of byte 32·imm + i, whose lower half is zero (every CFP8 value is a BF16 value)."""
    a, codes = all_codes_vectors(8)
    want, want_f = conv(WIDEN, codes, fmt, bias)
    assert not (want & 0xFFFF).any()
    want, want_f = (want >> 16).reshape(codes.shape), want_f.reshape(codes.shape)
    for imm in range(2):
        z, f, err = execute("widen", "bf16", a, imm=imm, fmt=fmt, bias=bias)
        assert not err.any()
        sl = slice(32 * imm, 32 * imm + 32)
        np.testing.assert_array_equal(lanes(z, 16), want[:, sl])
        np.testing.assert_array_equal(f, np.bitwise_or.reduce(want_f[:, sl], axis=1))


@pytest.mark.parametrize(("fmt", "bias", "ml_type", "skip"), [
    ("cfp8_143", 7, ml_dtypes.float8_e4m3fn, (0x7F, 0xFF)),
    ("cfp8_152", 16, ml_dtypes.float8_e5m2fnuz, (0x80,)),
])
def test_widen_cfp8_matches_ml_dtypes(fmt, bias, ml_type, skip):
    """WIDEN of every CFP8 code to FP32 and to BF16 equals ml_dtypes' value of the same byte in
    the matching float8 type (its NaN codes excepted), converted to float32 / bfloat16."""
    a, codes = all_codes_vectors(8)
    keep = ~np.isin(codes, skip)
    ref = codes.astype(np.uint8).view(ml_type)
    z32 = np.concatenate([lanes(execute("widen", "fp32", a, imm=p, fmt=fmt, bias=bias)[0], 32)
                          for p in range(4)], axis=1)
    np.testing.assert_array_equal(z32[keep], ref.astype(np.float32).view(np.uint32)[keep])
    z16 = np.concatenate([lanes(execute("widen", "bf16", a, imm=p, fmt=fmt, bias=bias)[0], 16)
                          for p in range(2)], axis=1)
    np.testing.assert_array_equal(z16[keep], ref.astype(ml_dtypes.bfloat16).view(np.uint16)[keep])


def test_widen_bf16_matches_ml_dtypes():
    """WIDEN of every non-NaN BF16 code to FP32 is ml_dtypes' bfloat16 -> float32; NaNs give
    0x7FC00000 with Invalid exactly for the signaling ones."""
    a, codes = all_codes_vectors(16)
    z = np.concatenate([lanes(execute("widen", "fp32", a, imm=p, fmt="bf16")[0], 32)
                        for p in range(2)], axis=1)
    nan = ((codes & 0x7F80) == 0x7F80) & ((codes & 0x7F) != 0)
    ref = codes.astype(np.uint16).view(ml_dtypes.bfloat16).astype(np.float32).view(np.uint32)
    np.testing.assert_array_equal(z[~nan], ref[~nan])
    assert (z[nan] == 0x7FC00000).all()
    snan = vector(np.full(32, 0x7F81), 16)
    assert execute("widen", "fp32", snan, fmt="bf16")[1] == 0x10


# --- narrow --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("fmt", "bias"), FMT_BIAS)
@pytest.mark.parametrize("rnd", [0, 1])
def test_narrow_fp32_vs_convert_model(fmt, bias, rnd):
    """NARROW of FP32 vectors into each part of c, RNE and SR: the narrowed lanes are the
    conversion model's per lane (SR: lane j's requests through a conversion unit seeded like
    generator j, the same random words handed to the vector model), every other lane is c's, and
    the flags are the OR over the 16 narrowed lanes only."""
    rng = np.random.default_rng(code(fmt) * 64 + bias + 1000 * rnd)
    x = fp32_inputs(rng, 1600)[: 16 * 100].reshape(100, 16)
    a = vector(x, 32)
    c = rng.integers(0, 256, (100, 64), dtype=np.uint8)
    width = FORMATS[fmt].width
    seeds = rng.integers(1, 1 << 32, 32, dtype=np.uint64)
    rand = np.stack([sr_randoms(int(s), 100) for s in seeds], axis=1)  # (100, 32)
    want = np.zeros(x.shape, np.int64)
    want_f = np.zeros(x.shape, np.uint8)
    for j in range(16):
        want[:, j], want_f[:, j] = conv(NARROW, x[:, j], fmt, bias, rnd, int(seeds[j]))
    for imm in range(parts(32, fmt)):
        z, f, err = execute("narrow", "fp32", a, c, imm=imm, fmt=fmt, bias=bias, rnd=rnd,
                            rand=rand)
        assert not err.any()
        zl, cl = lanes(z, width), lanes(c, width)
        sl = slice(16 * imm, 16 * imm + 16)
        np.testing.assert_array_equal(zl[:, sl], want)
        keep = np.ones(zl.shape[1], bool)
        keep[sl] = False
        np.testing.assert_array_equal(zl[:, keep], cl[:, keep])
        np.testing.assert_array_equal(f, np.bitwise_or.reduce(want_f, axis=1))


@pytest.mark.parametrize(("fmt", "bias"), CFP8)
@pytest.mark.parametrize("rnd", [0, 1])
def test_narrow_bf16_vs_convert_model(fmt, bias, rnd):
    """NARROW of 32 BF16 lanes into each half of c: lane j is the conversion model's narrowing of
    the exact FP32 value (code << 16) with generator j's words for SR; c's other half kept; the
    flags OR over the 32 narrowed lanes."""
    rng = np.random.default_rng(code(fmt) * 64 + bias + 7)
    x = (fp32_inputs(rng, 3200)[: 32 * 100] >> 16).reshape(100, 32)
    a = vector(x, 16)
    c = rng.integers(0, 256, (100, 64), dtype=np.uint8)
    seeds = rng.integers(1, 1 << 32, 32, dtype=np.uint64)
    rand = np.stack([sr_randoms(int(s), 100) for s in seeds], axis=1)
    want = np.zeros(x.shape, np.int64)
    want_f = np.zeros(x.shape, np.uint8)
    for j in range(32):
        want[:, j], want_f[:, j] = conv(NARROW, x[:, j].astype(np.int64) << 16, fmt, bias, rnd,
                                        int(seeds[j]))
    for imm in range(2):
        z, f, err = execute("narrow", "bf16", a, c, imm=imm, fmt=fmt, bias=bias, rnd=rnd,
                            rand=rand)
        assert not err.any()
        sl = slice(32 * imm, 32 * imm + 32)
        np.testing.assert_array_equal(z[:, sl], want)
        other = slice(32 - 32 * imm, 64 - 32 * imm)
        np.testing.assert_array_equal(z[:, other], c[:, other])
        np.testing.assert_array_equal(f, np.bitwise_or.reduce(want_f, axis=1))


def test_narrow_fp32_to_bf16_matches_ml_dtypes():
    """NARROW FP32 -> BF16 with RNE of finite values equals ml_dtypes' float32 -> bfloat16."""
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(1600) * 2.0 ** rng.integers(-140, 128, 1600)).astype(np.float32)
    x = x.reshape(100, 16)
    c = np.zeros((100, 64), np.uint8)
    z = lanes(execute("narrow", "fp32", vector(x.view(np.uint32), 32), c, fmt="bf16")[0], 16)
    z = z[:, :16]
    np.testing.assert_array_equal(z, x.astype(ml_dtypes.bfloat16).view(np.uint16))


@pytest.mark.parametrize(("fmt", "bias"), FMT_BIAS)
def test_pack_and_unpack_round_trip(fmt, bias):
    """Packing by chained NARROWs and unpacking by WIDENs: narrow codes widened to FP32 vectors
    (16 lanes each) and narrowed back into parts 0, 1, ... of one chained c give the original
    codes (RNE and SR alike: the values are exact), and WIDEN of each part gives the FP32 vectors
    back. BF16 NaN codes are left out (they widen to the canonical NaN)."""
    width = FORMATS[fmt].width
    n = 512 // width
    rng = np.random.default_rng(99)
    codes = rng.integers(0, 1 << width, (50, n))
    if fmt == "bf16":
        codes = np.where(((codes & 0x7F80) == 0x7F80) & ((codes & 0x7F) != 0), 0x3F80, codes)
    packed_src = vector(codes, width)
    k = parts(32, fmt)
    wide = [execute("widen", "fp32", packed_src, imm=p, fmt=fmt, bias=bias)[0] for p in range(k)]
    for rnd in (0, 1):
        c = rng.integers(0, 256, (50, 64), dtype=np.uint8)
        for p in range(k):
            c, f, err = execute("narrow", "fp32", wide[p], c, imm=p, fmt=fmt, bias=bias,
                                rnd=rnd, rand=rng.integers(0, 1 << SR_BITS, (50, 32)))
            assert not err.any() and not (f & 0x1F).any()     # exact: no flag but Denormal
        np.testing.assert_array_equal(lanes(c, width), codes)


@pytest.mark.parametrize(("fmt", "bias"), CFP8)
def test_pack_bf16_to_cfp8_round_trip(fmt, bias):
    """Two NARROWs of BF16 vectors pack 64 CFP8 lanes; WIDEN to BF16 of both parts unpacks them."""
    rng = np.random.default_rng(5)
    codes = rng.integers(0, 256, (20, 64))
    src = vector(codes, 8)
    halves = [execute("widen", "bf16", src, imm=p, fmt=fmt, bias=bias)[0] for p in range(2)]
    c = np.zeros((20, 64), np.uint8)
    for p in range(2):
        c = execute("narrow", "bf16", halves[p], c, imm=p, fmt=fmt, bias=bias)[0]
    np.testing.assert_array_equal(c, src)


@pytest.mark.parametrize(("vtype", "fmt", "imm"), [
    ("fp32", "fp32", 0), ("fp32", 6, 0), ("fp32", 7, 0), ("fp32", "bf16", 2), ("fp32", "uhp", 3),
    ("fp32", "cfp8_143", 4), ("fp32", "cfp8_152", 63), ("bf16", "bf16", 0), ("bf16", "shp", 0),
    ("bf16", "uhp", 0), ("bf16", "fp32", 0), ("bf16", "cfp8_143", 2), ("bf16", 6, 0),
])
@pytest.mark.parametrize("op", ["widen", "narrow"])
def test_conversion_illegal_fmt_or_imm(op, vtype, fmt, imm):
    """A WIDEN or NARROW whose fmt is not strictly narrower than the type (or an unknown code), or
    whose imm is past the last part, is illegal: zero data, flags 0, error set."""
    v = np.full((2, 64), 0x3F, np.uint8)
    operands = (v,) if op == "widen" else (v, v)
    z, f, err = execute(op, vtype, *operands, fmt=fmt, imm=imm, rnd=1,
                        rand=np.zeros((2, 32), np.int64))
    assert not z.any() and f.tolist() == [0, 0] and err.tolist() == [True, True]


def test_widen_ignores_bias_of_fixed_formats():
    """BF16 and UHP ignore the bias field (any value gives the same result); CFP8 uses it."""
    a = np.random.default_rng(1).integers(0, 256, (4, 64), dtype=np.uint8)
    for fmt in ("bf16", "uhp"):
        ref = execute("widen", "fp32", a, fmt=fmt, bias=0)
        for bias in (1, 31, 63):
            got = execute("widen", "fp32", a, fmt=fmt, bias=bias)
            for x, y in zip(got, ref, strict=True):
                np.testing.assert_array_equal(x, y)
    z0 = execute("widen", "fp32", a, fmt="cfp8_143", bias=0)[0]
    z1 = execute("widen", "fp32", a, fmt="cfp8_143", bias=1)[0]
    assert not np.array_equal(z0, z1)


def test_sr_known_answer():
    """SR lane by lane: 1 + 2**-8 + 2**-17 to BF16 has the fraction F = 0x8040 below the LSB;
    with the first word of seed 1 (r_1 = 4, docs/formats.md) F + 4 does not carry (rounds down),
    with 0x8000 it does (rounds up). Lanes 0..7 get the first, 8..15 the second."""
    x = np.full(16, 0x3F808040, np.uint32)     # 1 + 2**-8 + 2**-17
    a, c = vector(x, 32), np.zeros(64, np.uint8)
    rand = np.zeros(32, np.int64)
    rand[:8] = sr_randoms(1, 1)[0]
    rand[8:16] = 0x8000
    z, f, _ = execute("narrow", "fp32", a, c, fmt="bf16", rnd="sr", rand=rand)
    assert rand[0] == 4
    assert lanes(z, 16)[:16].tolist() == [0x3F80] * 8 + [0x3F81] * 8 and f == 0x01
