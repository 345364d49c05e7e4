"""Tests of the matrix-multiply model ``verif.matmul.model`` (matmul, check_operands).

Oracles:
  * A plain Python loop, element by element and k by k, of scalar ``verif.fp.fma.fma`` calls (the
    FMA model is itself checked against Berkeley SoftFloat in tests/fp/test_model_fma.py): the
    order and stickiness of the flags, on every operand-format pair.
  * Exact rational arithmetic (``fractions.Fraction``) on operands whose every partial sum is
    exactly representable in FP32 (checked here), where the result must be the exact one and no
    flag may be raised; the operand values come from ml_dtypes where it has the format
    (``bfloat16``, ``float8_e4m3fn`` = CFP8 1-4-3 at bias 7) and from the format definition else.
  * Hand-derived answers for the special cases (NaN, ∞·0, ∞ - ∞, overflow, denormals, ties).
"""

import re
import zlib
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest

from hw.fp.formats import (
    BIAS_MAX,
    FLAG_DENORMAL,
    FLAG_INEXACT,
    FLAG_INVALID,
    FLAG_OVERFLOW,
    FLAG_UNDERFLOW,
    FP32,
    get_format,
)
from verif.fp.fma import fma
from verif.fp.formats import code_dtype, decode
from verif.matmul.model import MATMUL_FORMATS, check_operands, matmul

I, U, O, V, D = FLAG_INEXACT, FLAG_UNDERFLOW, FLAG_OVERFLOW, FLAG_INVALID, FLAG_DENORMAL
QNAN = FP32.qnan_code
INF = FP32.inf_code
SIGN = 1 << FP32.sign_shift

#: Operand formats with biases: BF16 and both CFP8 at the extreme biases and a middle one.
OPERANDS = [("bf16", None), ("cfp8_143", 0), ("cfp8_143", 7), ("cfp8_143", 63),
            ("cfp8_152", 0), ("cfp8_152", 16), ("cfp8_152", 63)]
PAIRS = [(a, b) for a in OPERANDS for b in OPERANDS]


def pair_id(pair):
    (fa, ba), (fb, bb) = pair
    return f"{fa}{'' if ba is None else ba}x{fb}{'' if bb is None else bb}"


def f32bits(values):
    return np.asarray(values, dtype=np.float32).view(np.uint32)


def bf16(values):
    """BF16 codes of float values (ml_dtypes' RNE cast; the tests use representable values)."""
    return np.asarray(values, dtype=np.float32).astype(ml_dtypes.bfloat16).view(np.uint16)


def random_codes(rng, fmt, shape, specials=0.0):
    """Random codes of ``fmt``. BF16 values are kept within 2**±20 (random BF16 bit patterns would
    mostly be huge or tiny); a ``specials`` fraction is replaced by specials (BF16: ±0, ±Inf,
    quiet and signaling NaNs, subnormals; CFP8: ±0, ±max, denormals)."""
    f = get_format(fmt)
    if fmt == "bf16":
        mag = np.exp2(rng.uniform(-20, 20, shape)).astype(np.float32)
        x = bf16(np.where(rng.random(shape) < 0.5, -mag, mag))
        pool = np.array([0, 0x8000, 0x7F80, 0xFF80, 0x7FC0, 0x7F81, 0x0001, 0x807F, 0x7F7F],
                        np.uint16)
    else:
        x = rng.integers(0, 1 << f.width, shape, dtype=np.uint64).astype(np.uint8)
        pool = np.array([0, 0x80, f.max_code, f.max_code | 0x80, 1, 0x81], np.uint8)
    return np.where(rng.random(shape) < specials, rng.choice(pool, shape), x).astype(x.dtype)


def loop_matmul(a, b, c, fa, ba, fb, bb):
    """The definition, one scalar fma per (i, j, k), in k order, flags ORed."""
    m, k = a.shape
    n = b.shape[1]
    d = np.zeros((m, n), np.uint32)
    flags = np.zeros((m, n), np.uint8)
    for i in range(m):
        for j in range(n):
            acc = np.uint32(0) if c is None else c[i, j]
            fl = 0
            for kk in range(k):
                acc, f = fma(a[i, kk], b[kk, j], acc, a_fmt=fa, a_bias=ba, b_fmt=fb, b_bias=bb)
                fl |= int(f)
            d[i, j], flags[i, j] = acc, fl
    return d, flags


# --- the definition ------------------------------------------------------------------------------

@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_matmul_equals_loop_of_fma(pair):
    """For every operand-format pair (CFP8 at biases 0, middle and 63): matmul equals the
    element-by-element, k-by-k loop of scalar fma calls, value and sticky flags, on a 3x5x4
    product with random operands (a tenth of them specials: NaN, ∞, 0, max, denormals) and a
    random C that includes specials and subnormals."""
    (fa, ba), (fb, bb) = pair
    rng = np.random.default_rng(zlib.crc32(pair_id(pair).encode()))
    a = random_codes(rng, fa, (3, 5), 0.1)
    b = random_codes(rng, fb, (5, 4), 0.1)
    c = np.where(rng.random((3, 4)) < 0.3,
                 rng.choice(np.array([0, SIGN, INF, QNAN, 1, 0x807FFFFF], np.uint32), (3, 4)),
                 f32bits(rng.normal(0, 4, (3, 4)))).astype(np.uint32)
    d, flags = matmul(a, b, c, a_fmt=fa, a_bias=ba, b_fmt=fb, b_bias=bb)
    want_d, want_flags = loop_matmul(a, b, c, fa, ba, fb, bb)
    assert np.array_equal(d, want_d)
    assert np.array_equal(flags, want_flags)
    assert d.dtype == np.uint32 and flags.dtype == np.uint8 and d.shape == (3, 4)


@pytest.mark.parametrize("shape", [(1, 1, 1), (1, 7, 1), (5, 3, 7), (9, 4, 17), (8, 8, 8),
                                   (13, 1, 10), (2, 33, 3)])
def test_matmul_shapes(shape):
    """Shapes with M and N not multiples of 8, K = 1 and a long K: matmul equals the loop of fma
    (BF16 x CFP8 1-4-3 at bias 7, random C)."""
    m, k, n = shape
    rng = np.random.default_rng(m * 10000 + k * 100 + n)
    a = random_codes(rng, "bf16", (m, k), 0.05)
    b = random_codes(rng, "cfp8_143", (k, n), 0.05)
    c = f32bits(rng.normal(0, 100, (m, n)))
    d, flags = matmul(a, b, c, b_fmt="cfp8_143", b_bias=7)
    assert (d.shape, flags.shape) == ((m, n), (m, n))
    want = loop_matmul(a, b, c, "bf16", None, "cfp8_143", 7)
    assert np.array_equal(d, want[0]) and np.array_equal(flags, want[1])


@pytest.mark.parametrize("pair", PAIRS[::3], ids=pair_id)
def test_matmul_k1_is_one_fma(pair):
    """K = 1: D = fma(A[:, 0], B[0, :], C) elementwise (broadcast column times row), flags too."""
    (fa, ba), (fb, bb) = pair
    rng = np.random.default_rng(7)
    a, b = random_codes(rng, fa, (6, 1), 0.2), random_codes(rng, fb, (1, 11), 0.2)
    c = f32bits(rng.normal(0, 1, (6, 11)))
    d, flags = matmul(a, b, c, a_fmt=fa, a_bias=ba, b_fmt=fb, b_bias=bb)
    want = fma(a, b, c, a_fmt=fa, a_bias=ba, b_fmt=fb, b_bias=bb)
    assert np.array_equal(d, want[0]) and np.array_equal(flags, want[1])


def test_matmul_c_none_is_plus_zero_and_inputs_untouched():
    """C = None is C = +0 everywhere; the operand arrays are not modified."""
    rng = np.random.default_rng(8)
    a, b = random_codes(rng, "bf16", (4, 6), 0.1), random_codes(rng, "bf16", (6, 5), 0.1)
    c = np.zeros((4, 5), np.uint32)
    copies = a.copy(), b.copy(), c.copy()
    d0, f0 = matmul(a, b)
    d1, f1 = matmul(a, b, c)
    assert np.array_equal(d0, d1) and np.array_equal(f0, f1)
    for x, y in zip((a, b, c), copies, strict=True):
        assert np.array_equal(x, y)


# --- exact results -------------------------------------------------------------------------------

def _values(codes, fmt, bias):
    """Exact values of codes: ml_dtypes where it has the format, else the format definition."""
    if fmt == "bf16":
        return codes.view(ml_dtypes.bfloat16).astype(np.float64)
    if (fmt, bias) == ("cfp8_143", 7):
        return codes.view(ml_dtypes.float8_e4m3fn).astype(np.float64)
    return decode(codes, fmt, bias)


def _window_codes(rng, fmt, bias, shape):
    """Codes of two binades around 1 (clipped to the format's normal range), or zero (a tenth)."""
    f = get_format(fmt)
    lo = min(max(bias if bias is not None else f.bias, 1), f.max_exp_field - 1)
    exp = rng.integers(lo, lo + 2, shape)
    man = rng.integers(0, 1 << f.man_bits, shape)
    sign = rng.integers(0, 2, shape)
    codes = (sign << f.sign_shift) | (exp << f.man_bits) | man
    codes = np.where(rng.random(shape) < 0.1, 0, codes)
    return codes.astype(code_dtype(f)), 2.0 ** (lo - (bias if bias is not None else f.bias)
                                                 - f.man_bits)


def _is_fp32(x):
    return x == 0 or Fraction(float(np.float32(float(x)))) == x


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_matmul_exact_when_representable(pair):
    """Operands restricted to two binades (so every product has few bits) and C on the products'
    grid: every partial sum a_i0·b_0j + ... + c is exactly an FP32 value (asserted), so D must be
    the exact rational A·B + C, no flag raised, for every operand-format pair."""
    (fa, ba), (fb, bb) = pair
    rng = np.random.default_rng(zlib.crc32(pair_id(pair).encode()) + 1)
    m, k, n = 4, 8, 5
    a, ua = _window_codes(rng, fa, ba, (m, k))
    b, ub = _window_codes(rng, fb, bb, (k, n))
    grid = ua * ub
    c = f32bits(rng.integers(-(1 << 20), 1 << 20, (m, n)) * grid)
    assert np.array_equal(f32bits(c.view(np.float32).astype(np.float64) / grid * grid), c)
    d, flags = matmul(a, b, c, a_fmt=fa, a_bias=ba, b_fmt=fb, b_bias=bb)
    va = [[Fraction(float(x)) for x in row] for row in _values(a, fa, ba)]
    vb = [[Fraction(float(x)) for x in row] for row in _values(b, fb, bb)]
    for i in range(m):
        for j in range(n):
            acc = Fraction(float(c.view(np.float32)[i, j]))
            for kk in range(k):
                acc += va[i][kk] * vb[kk][j]
                assert _is_fp32(acc)
            assert d[i, j] == f32bits(float(acc)) or (acc == 0 and d[i, j] in (0, SIGN))
    assert np.all(flags == 0)


def test_matmul_rounds_at_every_step():
    """acc = 2**24 (C) plus four products 1·1, in k order: every step is a tie that rounds to
    even (2**24), so D = 2**24 with Inexact, not the exact 2**24 + 4 (which FP32 holds): one
    rounding per step, not one per dot product."""
    a = bf16(np.ones((1, 4)))
    b = bf16(np.ones((4, 1)))
    d, flags = matmul(a, b, f32bits([[2.0 ** 24]]))
    assert d[0, 0] == f32bits(2.0 ** 24) and flags[0, 0] == I
    d, flags = matmul(a, bf16(2 * np.ones((4, 1))), f32bits([[2.0 ** 24]]))
    assert d[0, 0] == f32bits(2.0 ** 24 + 8) and flags[0, 0] == 0


# --- specials and flags --------------------------------------------------------------------------

def test_matmul_nan_propagation():
    """A BF16 quiet NaN in A[1, 2] makes row 1 of D the canonical NaN without Invalid; a signaling
    one in A[2, 0] makes row 2 NaN with Invalid; a signaling NaN in C[0, 3] makes only D[0, 3]
    NaN with Invalid; other elements stay finite and flag-free."""
    a = bf16(np.ones((3, 4)))
    a[1, 2], a[2, 0] = 0xFFC1, 0x7F81
    b = bf16(np.full((4, 5), 2.0))
    c = f32bits(np.ones((3, 5)))
    c[0, 3] = 0x7F800001
    d, flags = matmul(a, b, c)
    want = np.full((3, 5), f32bits(9.0), np.uint32)
    want[1:, :] = QNAN
    want[0, 3] = QNAN
    want_flags = np.zeros((3, 5), np.uint8)
    want_flags[2, :] = V
    want_flags[0, 3] = V
    assert np.array_equal(d, want) and np.array_equal(flags, want_flags)


def test_matmul_inf_times_zero_and_inf_minus_inf():
    """∞·0 in a step gives NaN with Invalid (D[0, 1]); ∞ + (-∞) from two steps gives NaN with
    Invalid (D[1, 0]); ∞·x for finite nonzero x stays ±∞ with no flag (D[0, 0], D[0, 2]); a NaN
    accumulator stays the canonical NaN and keeps its Invalid in later steps."""
    a = bf16([[np.inf, 1.0], [np.inf, -np.inf]])
    b = bf16([[1.0, 0.0, -3.0], [1.0, 5.0, 1.0]])
    d, flags = matmul(a, b)
    assert d.tolist() == [[INF, QNAN, INF | SIGN], [QNAN, QNAN, INF | SIGN]]
    assert flags.tolist() == [[0, V, 0], [V, V, 0]]


def test_matmul_overflow_accumulation():
    """BF16 max (0x7F7F) times 1 accumulated: step 2 overflows to +∞ with Overflow|Inexact, later
    steps keep +∞ and the flags stay set (sticky); adding -∞ afterwards gives NaN with Invalid
    on top. The mirror image (-max) gives -∞, and NaN with Invalid when +∞ is added."""
    a = np.array([[0x7F7F] * 4, [0xFF7F] * 4], np.uint16)
    b = bf16(np.ones((4, 2)))
    b[3, 1] = 0xFF80                                   # -∞ in the last step of column 1
    d, flags = matmul(a, b)
    assert d.tolist() == [[INF, QNAN], [INF | SIGN, QNAN]]
    assert flags.tolist() == [[O | I, O | I | V], [O | I, O | I | V]]


def test_matmul_denormal_flags():
    """Denormal is raised for an element when one of its A-row or B-column operands is a denormal
    of its own format (BF16 0x0001 = 2**-133, whose product 1 + 2**-133 is also Inexact; CFP8
    code 0x01) or its C is an FP32 subnormal, and when an
    intermediate accumulator value is subnormal and feeds the next step; a subnormal final value
    raises nothing (no operand is denormal, the result is exact)."""
    a = bf16(np.ones((3, 2)))
    a[2, 1] = 0x0001                                   # BF16 denormal in row 2
    b = np.array([[0x38, 0x38, 0x38], [0x38, 0x01, 0x38]], np.uint8)  # CFP8 1-4-3 bias 7: 1.0
    c = np.zeros((3, 3), np.uint32)
    c[0, 2] = 1                                        # FP32 subnormal C
    d, flags = matmul(a, b, c, b_fmt="cfp8_143", b_bias=7)
    assert flags.tolist() == [[0, D, D | I], [0, D, 0], [D | I, D | I, D | I]]
    # Intermediate subnormal: 2**-100 · 2**-30 = 2**-130 (exact, subnormal), then + 0·1.
    a = bf16([[2.0 ** -100, 0.0]])
    b = bf16([[2.0 ** -30], [1.0]])
    d, flags = matmul(a, b)
    assert d[0, 0] == f32bits(2.0 ** -130) and flags[0, 0] == D
    d, flags = matmul(a[:, :1], b[:1, :])
    assert d[0, 0] == f32bits(2.0 ** -130) and flags[0, 0] == 0


def test_matmul_underflow():
    """A product below FP32's range: 2**-100 · (2**-50 · 1.5) = 1.5 · 2**-150 rounds to the
    smallest subnormal 2**-149 with Underflow|Inexact."""
    d, flags = matmul(bf16([[2.0 ** -100]]), bf16([[1.5 * 2.0 ** -50]]))
    assert d[0, 0] == 1 and flags[0, 0] == U | I


# --- check_operands ------------------------------------------------------------------------------

def _ops(m=2, k=3, n=4, adt=np.uint16, bdt=np.uint16, cdt=np.uint32):
    return np.zeros((m, k), adt), np.zeros((k, n), bdt), np.zeros((m, n), cdt)


BAD = [
    (lambda: (*_ops(), "fp32", None, "bf16", None),
     "A format must be one of bf16, cfp8_143, cfp8_152, not 'fp32'"),
    (lambda: (*_ops(), "bf16", None, "shp", 15),
     "B format must be one of bf16, cfp8_143, cfp8_152, not 'shp'"),
    (lambda: (*_ops(), "e4m3", None, "bf16", None),
     "unknown format 'e4m3'; expected one of fp32, bf16, cfp8_143, cfp8_152, shp, uhp"),
    (lambda: (*_ops(adt=np.uint8), "cfp8_143", None, "bf16", None),
     "CFP8 1-4-3 bias must be an integer in 0..63, not None"),
    (lambda: (*_ops(bdt=np.uint8), "bf16", None, "cfp8_152", BIAS_MAX + 1),
     "CFP8 1-5-2 bias must be an integer in 0..63, not 64"),
    (lambda: (*_ops(), "bf16", 7, "bf16", None), "BF16 has a fixed bias of 127, not 7"),
    (lambda: (np.zeros(3, np.uint16), *_ops()[1:], "bf16", None, "bf16", None),
     "A must be a 2-D array (MxK), not an array of shape (3,)"),
    (lambda: (_ops()[0], np.zeros((3, 4, 1), np.uint16), _ops()[2], "bf16", None, "bf16", None),
     "B must be a 2-D array (KxN), not an array of shape (3, 4, 1)"),
    (lambda: (_ops()[0], np.zeros((4, 4), np.uint16), _ops()[2], "bf16", None, "bf16", None),
     "A is MxK and B is KxN, but A has K=3 and B has K=4"),
    (lambda: (*_ops(m=0), "bf16", None, "bf16", None),
     "M, K and N must be at least 1, not M=0, K=3, N=4"),
    (lambda: (*_ops(k=0), "bf16", None, "bf16", None),
     "M, K and N must be at least 1, not M=2, K=0, N=4"),
    (lambda: (*_ops(adt=np.uint8), "bf16", None, "bf16", None),
     "A holds bf16 codes and must have dtype uint16, not uint8"),
    (lambda: (*_ops(bdt=np.uint16), "bf16", None, "cfp8_143", 7),
     "B holds cfp8_143 codes and must have dtype uint8, not uint16"),
    (lambda: (*_ops(adt=np.int16), "bf16", None, "bf16", None),
     "A holds bf16 codes and must have dtype uint16, not int16"),
    (lambda: (*_ops()[:2], np.zeros((4, 2), np.uint32), "bf16", None, "bf16", None),
     "C must be MxN = 2x4, not an array of shape (4, 2)"),
    (lambda: (*_ops(cdt=np.float32), "bf16", None, "bf16", None),
     "C holds FP32 codes and must have dtype uint32, not float32"),
]


@pytest.mark.parametrize("make, message", BAD, ids=[m for _, m in BAD])
def test_check_operands_messages(make, message):
    """Each malformed operand set raises ValueError with its exact message, both from
    check_operands and from matmul."""
    a, b, c, fa, ba, fb, bb = make()
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        check_operands(a, b, c, fa, ba, fb, bb)
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        matmul(a, b, c, a_fmt=fa, a_bias=ba, b_fmt=fb, b_bias=bb)


def test_check_operands_accepts_and_returns_shape():
    """Well-formed operands return (M, K, N); C may be None; every operand-format pair is
    accepted with its own dtype; MATMUL_FORMATS is BF16 and both CFP8."""
    assert MATMUL_FORMATS == ("bf16", "cfp8_143", "cfp8_152")
    for fa in MATMUL_FORMATS:
        for fb in MATMUL_FORMATS:
            ba = None if fa == "bf16" else 0
            bb = None if fb == "bf16" else 63
            a = np.zeros((2, 3), code_dtype(fa))
            b = np.zeros((3, 4), code_dtype(fb))
            assert check_operands(a, b, None, fa, ba, fb, bb) == (2, 3, 4)
