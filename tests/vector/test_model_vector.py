"""Tests of the vector-unit model ``verif.vector.model`` (FP32 and integer lanes).

Oracles, none of them the model:
  * Berkeley SoftFloat (``softfloat``, RNE, tininess after rounding) for every FP32 arithmetic op,
    the comparisons and the conversions: value and the five IEEE flags. Its build saturates
    conversions as RISC-V does (NaN and +big to INT_MAX, -big to INT_MIN). Its NaN payloads are
    its own, so NaN results are compared by NaN-ness and the model's checked to be 0x7FC00000.
  * Denormal (d1core's own flag) is derived from the operand fields.
  * ``min`` / ``max`` follow a scalar IEEE 754-2019 minimumNumber / maximumNumber written here, and
    hand-written expectations on the specials; integer ops follow Python integers per lane.
  * Reductions and conversions also have exact hand-computed values.

Each FP case is checked twice: replicated over all 16 lanes of a vector (so the sticky flags of
that vector are the case's own flags), and in random mixed vectors (flags OR-ed over the lanes).
"""

import numpy as np
import pytest
import softfloat

from hw.fp.formats import (
    FLAG_DENORMAL,
    FLAG_INEXACT,
    FLAG_INVALID,
    FLAG_OVERFLOW,
    FLAG_UNDERFLOW,
    FP32,
)
from hw.vector import isa
from hw.vector.isa import VecOp, VecType
from verif.vector.model import LANE_BITS, OPS, execute, lanes, vector

from .specials import special_combinations

I, U, O, V, D = FLAG_INEXACT, FLAG_UNDERFLOW, FLAG_OVERFLOW, FLAG_INVALID, FLAG_DENORMAL
SIGN = 1 << 31
QNAN = FP32.qnan_code
INF = FP32.inf_code
MAX = FP32.max_code
ONE = 0x3F800000
INT_MAX, INT_MIN = (1 << 31) - 1, -(1 << 31)

_POS = [0, INF, QNAN, 0x7F800001, 0x7FBFFFFF, 0x7FFFFFFF, 1, 2, 0x007FFFFF, 0x00800000,
        0x00800001, MAX, MAX - 1, ONE, 0x3FC00000, 0x40200000, 0x3F000000, 0x33800000,
        0x4B800000, 0x4F000000, 0x4EFFFFFF]
#: FP32 specials and boundaries of both signs: ±0, ±Inf, quiet and signaling NaNs, subnormals,
#: the smallest normals, max, 1, 1.5, 2.5, 0.5, 2**-24, 2**24, 2**31 and its predecessor.
SPECIALS = np.asarray(_POS + [p | SIGN for p in _POS], np.uint32)


# --- helpers -------------------------------------------------------------------------------------

def u32(x):
    return np.asarray(x, np.uint32)


def f32(values):
    return np.asarray(values, np.float32).view(np.uint32)


def vec32(codes):
    """Vectors (n, 64) of 16 FP32/INT32 lanes from codes of shape (n, 16)."""
    return vector(u32(codes), 32)


def replicate(codes):
    """One vector per case, the case in all 16 lanes: (n,) codes -> (n, 64) vectors."""
    return vec32(np.repeat(u32(codes)[:, None], 16, axis=1))


def is_nan(z):
    return (u32(z) & ~np.uint32(SIGN)) > INF


def is_snan(z):
    return is_nan(z) & ((u32(z) & (1 << 22)) == 0)


def is_subnormal(z):
    z = u32(z) & ~np.uint32(SIGN)
    return (z != 0) & (z < 0x00800000)


def sf_loop(fn, *operands):
    """SoftFloat ``fn`` on each tuple of FP32 codes: ``(z uint32, flags uint8)``."""
    softfloat.cvar.softfloat_roundingMode = softfloat.softfloat_round_near_even
    softfloat.cvar.softfloat_detectTininess = softfloat.softfloat_tininess_afterRounding
    regs = [softfloat.float32_t() for _ in operands]
    lists = [u32(x).ravel().tolist() for x in operands]
    z = np.empty(len(lists[0]), np.uint32)
    flags = np.empty(len(lists[0]), np.uint8)
    for k, vals in enumerate(zip(*lists, strict=True)):
        for reg, v in zip(regs, vals, strict=True):
            reg.v = v
        softfloat.cvar.softfloat_exceptionFlags = 0
        r = fn(*regs)
        z[k] = (int(r) & 0xFFFFFFFF) if isinstance(r, (int, bool)) else r.v
        flags[k] = softfloat.cvar.softfloat_exceptionFlags
    return z, flags


def flip(x):
    return u32(x) ^ np.uint32(SIGN)


#: FP32 arithmetic op -> (SoftFloat function on codes, which operands are FP32 inputs to it).
SF_ARITH = {
    "add": lambda a, b: sf_loop(softfloat.f32_add, a, b),
    "sub": lambda a, b: sf_loop(softfloat.f32_sub, a, b),
    "mul": lambda a, b: sf_loop(softfloat.f32_mul, a, b),
    "fma": lambda a, b, c: sf_loop(softfloat.f32_mulAdd, a, b, c),
    "fms": lambda a, b, c: sf_loop(softfloat.f32_mulAdd, a, b, flip(c)),
    "fnma": lambda a, b, c: sf_loop(softfloat.f32_mulAdd, flip(a), b, c),
    "fnms": lambda a, b, c: sf_loop(softfloat.f32_mulAdd, flip(a), b, flip(c)),
}


def special_cases(arity, rng):
    """Operand tuples of FP32 codes: every pair of specials (binary), or 3000 triples drawn from
    the specials (ternary), plus 1500 random bit patterns and 1500 random moderate values."""
    cases = special_combinations(SPECIALS, arity, rng)
    rand_bits = [rng.integers(0, 1 << 32, 1500, dtype=np.uint64).astype(np.uint32)
                 for _ in range(arity)]
    moderate = [f32(rng.standard_normal(1500) * 2.0 ** rng.integers(-30, 30, 1500))
                for _ in range(arity)]
    return [np.concatenate([c, r, m]) for c, r, m in zip(cases, rand_bits, moderate, strict=True)]


def check_against(z, flags, want_z, want_flags):
    nan = is_nan(want_z)
    np.testing.assert_array_equal(is_nan(z), nan)
    np.testing.assert_array_equal(z[nan], QNAN)
    np.testing.assert_array_equal(z[~nan], want_z[~nan])
    np.testing.assert_array_equal(flags, want_flags)


# --- lanes ---------------------------------------------------------------------------------------

def test_lanes_little_endian():
    v = np.arange(64, dtype=np.uint8)
    assert lanes(v, 32)[0] == 0x03020100 and lanes(v, 32)[15] == 0x3F3E3D3C
    assert lanes(v, 16)[1] == 0x0302 and lanes(v, 8)[63] == 63
    np.testing.assert_array_equal(vector(lanes(v, 16), 16), v)
    batch = np.stack([v, v[::-1]])
    assert lanes(batch, 32).shape == (2, 16) and lanes(batch, 32)[1, 0] == 0x3C3D3E3F
    assert vector(np.full(16, 0xAABBCCDD, np.uint32), 32)[:4].tolist() == [0xDD, 0xCC, 0xBB, 0xAA]


# --- FP32 arithmetic -----------------------------------------------------------------------------

@pytest.mark.parametrize("op", list(SF_ARITH))
def test_fp_arith_vs_softfloat(op):
    arity = OPS[(op, "fp32")].arity
    rng = np.random.default_rng(list(SF_ARITH).index(op))
    ops = special_cases(arity, rng)
    want_z, want_f = SF_ARITH[op](*ops)
    want_f = want_f | np.where(np.any([is_subnormal(x) for x in ops], axis=0), D, 0)

    # One case per vector: value and the case's own flags.
    z, flags, err = execute(op, "fp32", *(replicate(x) for x in ops))
    assert not err.any()
    z = lanes(z, 32)
    assert (z == z[:, :1]).all()
    check_against(z[:, 0], flags, want_z, want_f)

    # Sixteen different cases per vector: lane order and sticky flags.
    m = len(ops[0]) // 16 * 16
    perm = rng.permutation(len(ops[0]))[:m]
    z, flags, _ = execute(op, "fp32", *(vec32(x[perm].reshape(-1, 16)) for x in ops))
    want = want_z[perm].reshape(-1, 16)
    check_against(lanes(z, 32), flags, want,
                  np.bitwise_or.reduce(want_f[perm].reshape(-1, 16), axis=1))


@pytest.mark.parametrize(("op", "a", "b", "c", "want", "flags"), [
    ("add", 0x80000000, 0x80000000, None, 0x80000000, 0),   # -0 + -0 = -0
    ("add", 0x80000000, 0x00000000, None, 0x00000000, 0),   # -0 + +0 = +0
    ("sub", 0x80000000, 0x00000000, None, 0x80000000, 0),   # -0 - +0 = -0
    ("sub", ONE, ONE, None, 0x00000000, 0),                 # x - x = +0
    ("mul", 0x80000000, ONE, None, 0x80000000, 0),
    ("fma", ONE, ONE, 0xBF800000, 0x00000000, 0),           # 1·1 - 1 = +0
    ("fnms", 0x00000000, ONE, 0x00000000, 0x80000000, 0),   # -(0·1) - 0 = -0
    ("fnma", ONE, ONE, ONE, 0x00000000, 0),                 # -(1·1) + 1 = +0
    ("fms", INF, 0, QNAN, QNAN, V),                         # ∞·0 with a quiet NaN c
    ("add", INF, INF | SIGN, None, QNAN, V),
    ("mul", MAX, 0x40000000, None, INF, O | I),
    ("mul", 0x00800000, 0x3F000000, None, 0x00400000, 0),   # exact subnormal: no Underflow
    ("mul", 1, 0x3F000000, None, 0, U | I | D),             # 2**-150 ties to even zero
    ("add", 0x7F800001, ONE, None, QNAN, V),                # signaling NaN
])
def test_fp_arith_exact(op, a, b, c, want, flags):
    ops = [a, b] if c is None else [a, b, c]
    z, f, err = execute(op, "fp32", *(replicate([x]) for x in ops))
    assert lanes(z, 32)[0].tolist() == [want] * 16
    assert f.tolist() == [flags] and err.tolist() == [False]


# --- min / max / abs / neg -----------------------------------------------------------------------

def ref_minmax(a, b, take_max):
    """IEEE 754-2019 maximumNumber / minimumNumber of two FP32 codes: (code, Invalid?)."""
    invalid = bool(is_snan(a) or is_snan(b))
    if is_nan(a) and is_nan(b):
        return QNAN, invalid
    if is_nan(a) or is_nan(b):
        return (b if is_nan(a) else a), invalid
    fa, fb = (float(np.uint32(x).view(np.float32)) for x in (a, b))
    if fa == fb:  # only ±0 (or equal values): order by sign, -0 < +0
        neg_a = bool(a & SIGN)
        first = (not neg_a) if take_max else neg_a
        return (a if first else b), invalid
    return (a if (fa > fb) == take_max else b), invalid


@pytest.mark.parametrize("op", ["min", "max"])
def test_fp_minmax(op):
    rng = np.random.default_rng(7)
    a, b = special_cases(2, rng)
    ref = [ref_minmax(x, y, op == "max") for x, y in zip(a.tolist(), b.tolist(), strict=True)]
    want = u32([r[0] for r in ref])
    want_f = np.where([r[1] for r in ref], V, 0)
    z, flags, _ = execute(op, "fp32", replicate(a), replicate(b))
    np.testing.assert_array_equal(lanes(z, 32)[:, 0], want)
    np.testing.assert_array_equal(flags, want_f)
    # Hand-written anchors.
    cases = {("max", 0x80000000, 0): 0, ("min", 0, 0x80000000): 0x80000000,
             ("max", QNAN, ONE): ONE, ("min", 0x7F800001, 1): 1, ("max", QNAN, 0xFFC00000): QNAN,
             ("min", INF | SIGN, MAX | SIGN): INF | SIGN, ("max", 1, 0x80000001): 1}
    for (o, x, y), w in cases.items():
        if o == op:
            z, f, _ = execute(op, "fp32", replicate([x]), replicate([y]))
            assert lanes(z, 32)[0, 0] == w
            assert f[0] == (V if is_snan(x) or is_snan(y) else 0)


def test_fp_abs_neg():
    v = vec32(SPECIALS[:32].reshape(2, 16))
    z, f, _ = execute("abs", "fp32", v)
    np.testing.assert_array_equal(lanes(z, 32), lanes(v, 32) & 0x7FFFFFFF)
    assert f.tolist() == [0, 0]
    z, f, _ = execute("neg", "fp32", v)
    np.testing.assert_array_equal(lanes(z, 32), lanes(v, 32) ^ SIGN)
    assert f.tolist() == [0, 0]


# --- compare and select --------------------------------------------------------------------------

@pytest.mark.parametrize(("op", "sf"), [("eq", softfloat.f32_eq), ("lt", softfloat.f32_lt),
                                        ("le", softfloat.f32_le)])
def test_fp_compare_vs_softfloat(op, sf):
    a, b = special_cases(2, np.random.default_rng(3))
    b[-1000:] = a[-1000:]  # equal operands
    want, want_f = sf_loop(sf, a, b)
    z, flags, _ = execute(op, "fp32", replicate(a), replicate(b))
    np.testing.assert_array_equal(lanes(z, 32)[:, 0], np.where(want != 0, 0xFFFFFFFF, 0))
    np.testing.assert_array_equal(flags, want_f)


def test_fp_compare_anchors():
    def run(op, x, y):
        z, f, _ = execute(op, "fp32", replicate([x]), replicate([y]))
        return int(lanes(z, 32)[0, 0]), int(f[0])
    assert run("eq", 0x80000000, 0) == (0xFFFFFFFF, 0)
    assert run("eq", QNAN, QNAN) == (0, 0)
    assert run("eq", 0x7F800001, ONE) == (0, V)
    assert run("lt", QNAN, ONE) == (0, V)
    assert run("le", 0x80000000, 0) == (0xFFFFFFFF, 0)
    assert run("lt", 0x80000000, 0) == (0, 0)


@pytest.mark.parametrize("vtype", list(LANE_BITS))
def test_select(vtype):
    rng = np.random.default_rng(11)
    a, b = (rng.integers(0, 256, (3, 64), dtype=np.uint8) for _ in range(2))
    bits = LANE_BITS[vtype]
    sel = rng.integers(0, 2, (3, 512 // bits)).astype(bool)
    mask = vector(np.where(sel, (1 << bits) - 1, 0), bits)
    z, f, err = execute("select", vtype, mask, a, b)
    np.testing.assert_array_equal(lanes(z, bits), np.where(sel, lanes(a, bits), lanes(b, bits)))
    assert f.tolist() == [0, 0, 0] and not err.any()


# --- conversions ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("op", "sf"), [
    ("to_i32", lambda x: softfloat.f32_to_i32(x, softfloat.softfloat_round_near_even, True)),
    ("to_i32_rtz", lambda x: softfloat.f32_to_i32_r_minMag(x, True)),
])
def test_to_i32_vs_softfloat(op, sf):
    rng = np.random.default_rng(5)
    near = f32(np.concatenate([rng.uniform(-2.0**32, 2.0**32, 1000),
                               np.round(rng.uniform(-50, 50, 1000) * 2) / 2]))
    a = np.concatenate([SPECIALS, special_cases(1, rng)[0], near])
    want, want_f = sf_loop(sf, a)
    want_f = want_f | np.where(is_subnormal(a), D, 0)
    z, flags, _ = execute(op, "fp32", replicate(a))
    np.testing.assert_array_equal(lanes(z, 32)[:, 0], want)
    np.testing.assert_array_equal(flags, want_f)


@pytest.mark.parametrize(("x", "rne", "rtz", "flags"), [
    (2.0**31, INT_MAX, INT_MAX, V),
    (-(2.0**31), INT_MIN, INT_MIN, 0),
    (2147483520.0, 2147483520, 2147483520, 0),
    (-(2.0**31) - 256, INT_MIN, INT_MIN, V),
    (0.5, 0, 0, I), (-0.5, 0, 0, I), (1.5, 2, 1, I), (2.5, 2, 2, I), (-2.5, -2, -2, I),
    (-1.5, -2, -1, I), (float("inf"), INT_MAX, INT_MAX, V), (float("-inf"), INT_MIN, INT_MIN, V),
    (float("nan"), INT_MAX, INT_MAX, V), (-0.0, 0, 0, 0),
])
def test_to_i32_boundaries(x, rne, rtz, flags):
    for op, want in (("to_i32", rne), ("to_i32_rtz", rtz)):
        z, f, _ = execute(op, "fp32", replicate(f32([x])))
        assert int(lanes(z, 32)[0, 0].view(np.int32)) == want
        assert f[0] == flags


def test_to_f32():
    rng = np.random.default_rng(9)
    a = np.concatenate([u32([0, 1, INT_MAX, 1 << 31, 0xFFFFFFFF, (1 << 24) + 1, (1 << 24) + 3]),
                        rng.integers(0, 1 << 32, 3000, dtype=np.uint64).astype(np.uint32)])
    softfloat.cvar.softfloat_roundingMode = softfloat.softfloat_round_near_even
    want, want_f = [], []
    for v in a.view(np.int32).tolist():
        softfloat.cvar.softfloat_exceptionFlags = 0
        want.append(softfloat.i32_to_f32(v).v)
        want_f.append(softfloat.cvar.softfloat_exceptionFlags)
    z, f, _ = execute("to_f32", "int32", replicate(a))
    np.testing.assert_array_equal(lanes(z, 32)[:, 0], want)
    np.testing.assert_array_equal(f, want_f)
    assert lanes(z, 32)[:7, 0].tolist() == [0, ONE, 0x4F000000, 0xCF000000, 0xBF800000,
                                            0x4B800000, 0x4B800002]
    assert f[:7].tolist() == [0, 0, I, 0, 0, I, I]


# --- integers ------------------------------------------------------------------------------------

def _s(x, w):
    return x - (1 << w) if x >> (w - 1) else x


INT_REF = {
    "add": lambda a, b, w: a + b,
    "sub": lambda a, b, w: a - b,
    "mul": lambda a, b, w: a * b,
    "min": lambda a, b, w: min(_s(a, w), _s(b, w)),
    "max": lambda a, b, w: max(_s(a, w), _s(b, w)),
    "minu": lambda a, b, w: min(a, b),
    "maxu": lambda a, b, w: max(a, b),
    "and": lambda a, b, w: a & b,
    "or": lambda a, b, w: a | b,
    "xor": lambda a, b, w: a ^ b,
    "not": lambda a, b, w: ~a,
    "sll": lambda a, b, w: a << (b % w),
    "srl": lambda a, b, w: a >> (b % w),
    "sra": lambda a, b, w: _s(a, w) >> (b % w),
    "eq": lambda a, b, w: -int(a == b),
    "lt": lambda a, b, w: -int(_s(a, w) < _s(b, w)),
    "ltu": lambda a, b, w: -int(a < b),
}


@pytest.mark.parametrize("vtype", ["int8", "int16", "int32"])
@pytest.mark.parametrize("op", list(INT_REF))
def test_int_ops(op, vtype):
    w = LANE_BITS[vtype]
    n = 512 // w
    rng = np.random.default_rng(w)
    edge = [0, 1, (1 << (w - 1)) - 1, 1 << (w - 1), (1 << w) - 1, w, w + 1, 2 * w - 1]
    a = rng.integers(0, 1 << w, (20, n), dtype=np.uint64)
    b = rng.integers(0, 1 << w, (20, n), dtype=np.uint64)
    b[1::2] = rng.integers(0, 3 * w, (10, n))          # shift amounts around the width
    a[0, :len(edge)], b[0, :len(edge)] = edge, edge[::-1]
    b[2] = a[2]                                       # equal lanes
    va, vb = vector(a, w), vector(b, w)
    ops = (va,) if op == "not" else (va, vb)
    z, f, err = execute(op, vtype, *ops)
    want = [[INT_REF[op](x, y, w) & ((1 << w) - 1) for x, y in zip(ra, rb, strict=True)]
            for ra, rb in zip(a.tolist(), b.tolist(), strict=True)]
    assert lanes(z, w).tolist() == want
    assert f.tolist() == [0] * 20 and not err.any()


def test_int_anchors():
    def run(op, vtype, x, y):
        w = LANE_BITS[vtype]
        va, vb = (vector(np.full(512 // w, v), w) for v in (x, y))
        z, _, _ = execute(op, vtype, va, vb)
        return int(lanes(z, w)[0])
    assert run("add", "int8", 0x7F, 1) == 0x80
    assert run("mul", "int16", 0xFFFF, 0xFFFF) == 1
    assert run("sra", "int8", 0x80, 9) == 0xC0      # 9 mod 8 = 1
    assert run("sll", "int32", 1, 32) == 1          # 32 mod 32 = 0
    assert run("srl", "int16", 0x8000, 15) == 1
    assert run("lt", "int32", 0x80000000, 0) == 0xFFFFFFFF
    assert run("ltu", "int32", 0x80000000, 0) == 0
    assert run("max", "int8", 0x80, 0x7F) == 0x7F and run("maxu", "int8", 0x80, 0x7F) == 0x80


# --- reductions ----------------------------------------------------------------------------------

def tree_softfloat(x):
    """Pairwise-tree sum of 16 FP32 codes with SoftFloat's f32_add: (code, OR of flags)."""
    x, flags = u32(x), 0
    while len(x) > 1:
        z, f = sf_loop(softfloat.f32_add, x[0::2], x[1::2])
        flags |= int(np.bitwise_or.reduce(f | np.where(is_subnormal(x[0::2]) |
                                                       is_subnormal(x[1::2]), D, 0)))
        x = z
    return int(x[0]), flags


def test_redsum_order_matters():
    x = np.zeros(16, np.float32)
    x[:4] = [1.0, 2.0**-24, 2.0**-24, 2.0**-24]
    z, f, _ = execute("redsum", "fp32", vec32(f32(x)[None]))
    # Pairwise: (1 + 2**-24) -> 1 (tie to even), (2**-24 + 2**-24) = 2**-23, 1 + 2**-23 exact.
    assert lanes(z, 32)[0].tolist() == [0x3F800001] + [0] * 15
    assert f.tolist() == [I]
    # Left to right would give 1.0 and the exact sum rounds to 1 + 2**-22: order is observable.
    seq = np.float32(0)
    for v in x:
        seq = np.float32(seq + v)
    assert f32([seq])[0] == 0x3F800000
    assert f32([np.float32(1 + 3 * 2.0**-24)])[0] == 0x3F800002


def test_redsum_vs_softfloat_tree():
    rng = np.random.default_rng(13)
    a = np.concatenate([f32(rng.standard_normal((40, 16)) * 2.0 ** rng.integers(-20, 20, (40, 16))),
                        SPECIALS[rng.integers(0, len(SPECIALS), (40, 16))]])
    a[:5, :] = 0x80000000                                # all -0: -0
    a[5, :] = 1                                          # subnormals
    z, f, _ = execute("redsum", "fp32", vec32(a))
    z = lanes(z, 32)
    assert (z[:, 1:] == 0).all()
    for k in range(len(a)):
        want, want_f = tree_softfloat(a[k])
        assert (z[k, 0] == QNAN) if is_nan(want) else (z[k, 0] == want), k
        assert f[k] == want_f, k
    assert z[0, 0] == 0x80000000 and z[5, 0] == 16 and f[5] == D


def test_redmax_redmin():
    x = f32(np.arange(16, dtype=np.float32) - 8)
    v = vec32(np.stack([x, x, x, np.full(16, QNAN, np.uint32)]))
    lv = lanes(v, 32).copy()
    lv[1, 3] = 0x7F800001                   # signaling NaN: ignored, Invalid
    lv[2, :] = 0
    lv[2, 9] = 0x80000000                   # -0 among +0
    v = vec32(lv)
    z, f, _ = execute("redmax", "fp32", v)
    assert lanes(z, 32)[:, 0].tolist() == [f32([7.0])[0], f32([7.0])[0], 0, QNAN]
    assert f.tolist() == [0, V, 0, 0]
    z, f, _ = execute("redmin", "fp32", v)
    assert lanes(z, 32)[:, 0].tolist() == [f32([-8.0])[0], f32([-8.0])[0], 0x80000000, QNAN]
    assert (lanes(z, 32)[:, 1:] == 0).all()


@pytest.mark.parametrize("vtype", ["int8", "int16", "int32"])
def test_int_redsum(vtype):
    w = LANE_BITS[vtype]
    a = np.random.default_rng(w).integers(0, 1 << w, (5, 512 // w), dtype=np.uint64)
    a[0] = (1 << w) - 1                                   # -1 everywhere: wraps
    z, f, _ = execute("redsum", vtype, vector(a, w))
    want = [int(sum(r)) % (1 << w) for r in a.tolist()]
    assert lanes(z, w)[:, 0].tolist() == want
    assert want[0] == (1 << w) - 512 // w
    assert (lanes(z, w)[:, 1:] == 0).all() and f.tolist() == [0] * 5


# --- table, illegal pairs, malformed calls -------------------------------------------------------

def test_table():
    """OPS is exactly docs/vector.md's list of legal (op, type) pairs, written out here."""
    fp = {"add", "sub", "mul", "fma", "fms", "fnma", "fnms", "min", "max", "abs", "neg", "eq",
          "lt", "le", "to_i32", "to_i32_rtz", "redsum", "redmax", "redmin"}
    bf16 = {"add", "sub", "mul", "fma", "fms", "fnma", "fnms"}
    ints = set(INT_REF) | {"redsum"}
    every_type = {"select", "bcast", "shuffle", "zip_lo", "zip_hi", "unzip_even", "unzip_odd"}
    types = ("fp32", "bf16", "int8", "int16", "int32")
    want = ({(o, "fp32") for o in fp} | {(o, "bf16") for o in bf16} | {("to_f32", "int32")}
            | {(o, t) for o in ints for t in ("int8", "int16", "int32")}
            | {(o, t) for o in every_type for t in types} | {("transpose8", "int8")}
            | {(o, t) for o in ("widen", "narrow") for t in ("fp32", "bf16")}
            | {(o, "int32") for o in ("rdflags", "clrflags", "seed")})
    assert set(OPS) == want
    assert set(LANE_BITS) == set(types)


def test_names_match_isa():
    """Every op and type name of OPS is the lower-case name of a member of hw/vector/isa.py's
    VecOp / VecType, every VecOp and VecType member has at least one legal pair, and the lane
    widths agree with the ISA's."""
    ops = {op.name.lower() for op in VecOp}
    types = {t.name.lower(): isa.LANE_BITS[t] for t in VecType}
    assert {op for op, _ in OPS} == ops
    assert {t for _, t in OPS} == set(types)
    assert LANE_BITS == types


@pytest.mark.parametrize(("op", "vtype", "n"), [
    ("fma", "int32", 3), ("to_f32", "fp32", 1), ("sra", "fp32", 2), ("min", "bf16", 2),
    ("to_i32", "int16", 1), ("redmax", "int8", 1), ("nop", "int8", 5), ("transpose8", "int16", 1),
    ("widen", "int32", 1), ("narrow", "int8", 2), ("rdflags", "fp32", 1), ("seed", "bf16", 1),
    ("redsum", "bf16", 1), ("add", "fp64", 2),
])
def test_illegal_pair(op, vtype, n):
    v = np.full((2, 64), 0x3F, np.uint8)
    z, f, err = execute(op, vtype, *([v] * n))
    assert z.shape == (2, 64) and z.dtype == np.uint8 and not z.any()
    assert f.tolist() == [0, 0] and err.tolist() == [True, True]
    z, f, err = execute(op, vtype, v[0])
    assert z.shape == (64,) and f.shape == () and err.shape == () and bool(err)


@pytest.mark.parametrize(("args", "error", "message"), [
    (("add", "fp32"), ValueError, "execute needs at least one vector operand"),
    (("add", "fp32", np.zeros(64, np.uint16), np.zeros(64, np.uint8)), TypeError,
     "operand 0 must be a uint8 array, not an array of uint16"),
    (("add", "fp32", np.zeros(64, np.uint8), np.zeros((2, 32), np.uint8)), ValueError,
     "operand 1 must have shape (64,) or (n, 64), not (2, 32)"),
    (("add", "fp32", np.zeros(64, np.uint8), np.zeros((1, 64), np.uint8)), ValueError,
     "operands must all have the same shape, not (64,), (1, 64)"),
    (("fma", "fp32", np.zeros(64, np.uint8), np.zeros(64, np.uint8)), ValueError,
     "fma on fp32 takes 3 vector operand(s), not 2"),
    (("narrow", "fp32", np.zeros(64, np.uint8)), ValueError,
     "narrow on fp32 takes 2 vector operand(s), not 1"),
])
def test_malformed(args, error, message):
    """Malformed calls raise TypeError (wrong kind) or ValueError (wrong value) with exact
    messages (legal or not)."""
    with pytest.raises(error) as e:
        execute(*args)
    assert str(e.value) == message


Z = np.zeros(64, np.uint8)


@pytest.mark.parametrize(("kw", "error", "message"), [
    ({"imm": 64}, ValueError, "imm must be in 0..63, not 64"),
    ({"imm": -1}, ValueError, "imm must be in 0..63, not -1"),
    ({"imm": np.int64(64)}, ValueError, "imm must be in 0..63, not 64"),
    ({"imm": 1.0}, TypeError, "imm must be an integer, not 1.0"),
    ({"imm": True}, TypeError, "imm must be an integer, not True"),
    ({"bias": 64}, ValueError, "bias must be in 0..63, not 64"),
    ({"fmt": 8}, ValueError, "fmt must be in 0..7, not 8"),
    ({"fmt": "fp64"}, ValueError,
     "unknown format 'fp64'; expected one of fp32, bf16, cfp8_143, cfp8_152, shp, uhp"),
    ({"rnd": 2}, ValueError, "rnd must be in 0..1, not 2"),
    ({"rnd": "rtz"}, ValueError,
     "unknown rounding mode 'rtz'; expected Round.RNE, Round.SR, 'rne' or 'sr'"),
    ({"sticky": 64}, ValueError, "sticky must be in 0..63, not 64"),
])
def test_malformed_extras(kw, error, message):
    """An extra of the wrong kind raises TypeError, one outside its request field ValueError,
    with an exact message, whatever the op (here a legal add, which does not use it, and an
    illegal pair)."""
    for op, vtype in (("add", "fp32"), ("nop", "fp32")):
        with pytest.raises(error) as e:
            execute(op, vtype, Z, Z, **kw)
        assert str(e.value) == message


@pytest.mark.parametrize(("shape", "rand", "error", "message"), [
    ((64,), None, ValueError,
     "narrow with stochastic rounding needs rand: the 32 generators' 16-bit words, shape (32,)"),
    ((2, 64), np.zeros(32, np.int64), ValueError, "rand must have shape (2, 32), not (32,)"),
    ((64,), np.zeros(32), TypeError, "rand must be an integer array, not an array of float64"),
    ((64,), np.full(32, 1 << 16), ValueError, "rand values must be in 0..65535, not 65536"),
])
def test_malformed_rand(shape, rand, error, message):
    """A narrow with SR needs the 32 generators' words in the batch's shape, in range."""
    v = np.zeros(shape, np.uint8)
    with pytest.raises(error) as e:
        execute("narrow", "fp32", v, v, fmt="bf16", rnd="sr", rand=rand)
    assert str(e.value) == message
    # RNE does not need them.
    assert not execute("narrow", "fp32", v, v, fmt="bf16", rnd="rne")[2].any()
