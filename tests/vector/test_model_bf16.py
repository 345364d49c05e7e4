"""Tests of the vector model's BF16 arithmetic (``verif.vector.bf16`` through ``execute``).

Oracle: exact rational arithmetic (``fractions.Fraction``) and a rounding to BF16 written here
from the definitions of docs/vector.md (round half to even on the exact value, subnormals, tininess
decided by rounding with an unbounded exponent, overflow to ±Inf), with the IEEE special cases
written out case by case. Nothing of the model (its float64 round-to-odd, ``narrow``) is used.
"""

from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest

from hw.fp.formats import (
    FLAG_DENORMAL,
    FLAG_INEXACT,
    FLAG_INVALID,
    FLAG_OVERFLOW,
    FLAG_UNDERFLOW,
)
from verif.fp.fma import fma
from verif.fp.formats import narrow
from verif.vector.model import execute, lanes, vector

from .specials import special_combinations

I, U, O, V, D = FLAG_INEXACT, FLAG_UNDERFLOW, FLAG_OVERFLOW, FLAG_INVALID, FLAG_DENORMAL
SIGN = 0x8000
QNAN = 0x7FC0
INF = 0x7F80
ONE = 0x3F80
MAX = Fraction(2 ** 8 - 1, 2 ** 7) * 2 ** 127
MIN_NORMAL = Fraction(1, 2 ** 126)

_POS = [0, INF, QNAN, 0x7F81, 0x7FBF, 0x7FFF, 0x7FC1, 1, 2, 0x7F, 0x80, 0x81, 0x7F7F, 0x7F7E,
        ONE, 0x3F81, 0x3FC0, 0x4000, 0x3F00, 0x3B80, 0x4040, 0x0100, 0x0C00, 0x7300]
#: BF16 specials and boundaries of both signs: ±0, ±Inf, quiet and signaling NaNs, subnormals,
#: the smallest normals, max and its predecessor, 1 and 1 + ulp, 1.5, 2, 0.5, 2**-8, 3, small and
#: large binades.
SPECIALS = np.asarray(_POS + [p | SIGN for p in _POS], np.uint16)


# --- the oracle ----------------------------------------------------------------------------------

def is_nan(c):
    return (c & 0x7F80) == 0x7F80 and (c & 0x7F) != 0


def is_snan(c):
    return is_nan(c) and not c & 0x40


def is_inf(c):
    return (c & 0x7FFF) == INF


def is_subnormal(c):
    return (c & 0x7F80) == 0 and (c & 0x7F) != 0


def value(c):
    """Exact value of a finite BF16 code."""
    e, m = (c >> 7) & 0xFF, c & 0x7F
    mag = Fraction(m, 2 ** 133) if e == 0 else Fraction(128 + m, 128) * Fraction(2) ** (e - 127)
    return -mag if c & SIGN else mag


def floor_log2(q):
    e = q.numerator.bit_length() - q.denominator.bit_length()
    return e - 1 if Fraction(2) ** e > q else e


def round_to(q, lowest_exp):
    """``q > 0`` rounded half-even to 8 significant bits, the exponent at least ``lowest_exp``."""
    ulp = Fraction(2) ** (max(floor_log2(q), lowest_exp) - 7)
    return round(q / ulp) * ulp


def encode(sign, mag):
    """The BF16 code of the representable magnitude ``mag`` (or Inf above max)."""
    if mag > MAX:
        return sign | INF
    if mag < MIN_NORMAL:
        return sign | int(mag * 2 ** 133)
    e = floor_log2(mag)
    return sign | ((e + 127) << 7) | (int(mag / Fraction(2) ** (e - 7)) - 128)


def ref_round(q):
    """``(code, flags)`` of the exact nonzero ``q`` rounded once to BF16."""
    sign = SIGN if q < 0 else 0
    a = abs(q)
    r = round_to(a, -126)
    flags = I if r != a else 0
    unbounded = round_to(a, -10 ** 6)
    if unbounded > MAX:
        return sign | INF, I | O
    if flags and a < MIN_NORMAL and unbounded < MIN_NORMAL:
        flags |= U
    return encode(sign, r), flags


def ref_fma(a, b, c):
    """The oracle: ``RNE_bf16(a·b + c)`` of BF16 codes with docs/vector.md's special cases."""
    flags = D if any(is_subnormal(x) for x in (a, b, c)) else 0
    if any(is_snan(x) for x in (a, b, c)):
        flags |= V
    inf_zero = ((is_inf(a) and (b & 0x7FFF) == 0) or ((a & 0x7FFF) == 0 and is_inf(b)))
    if not (is_nan(a) or is_nan(b)) and inf_zero:
        return QNAN, flags | V
    if any(is_nan(x) for x in (a, b, c)):
        return QNAN, flags
    p_sign = (a ^ b) & SIGN
    if is_inf(a) or is_inf(b):
        if is_inf(c) and (c & SIGN) != p_sign:
            return QNAN, flags | V
        return p_sign | INF, flags
    if is_inf(c):
        return c, flags
    exact = value(a) * value(b) + value(c)
    if exact == 0:
        both_neg = value(a) * value(b) == 0 and p_sign and (c & 0x7FFF) == 0 and c & SIGN
        return (SIGN if both_neg else 0), flags
    z, f = ref_round(exact)
    return z, flags | f


def flip(x):
    return np.uint16(x) ^ np.uint16(SIGN)


#: Each BF16 op as the oracle's fused form (docs/vector.md).
REF = {
    "add": lambda a, b: ref_fma(a, ONE, b),
    "sub": lambda a, b: ref_fma(a, ONE, b ^ SIGN),
    "mul": lambda a, b: ref_fma(a, b, SIGN),
    "fma": ref_fma,
    "fms": lambda a, b, c: ref_fma(a, b, c ^ SIGN),
    "fnma": lambda a, b, c: ref_fma(a ^ SIGN, b, c),
    "fnms": lambda a, b, c: ref_fma(a ^ SIGN, b, c ^ SIGN),
}
ARITY = {"add": 2, "sub": 2, "mul": 2, "fma": 3, "fms": 3, "fnma": 3, "fnms": 3}


def cases(arity, rng):
    """Operand tuples of BF16 codes: every pair of specials (binary ops) or 3000 triples drawn from
    them, random bit patterns, values of moderate and of tiny magnitude, and (ternary) sums that
    nearly cancel, where a single rounding differs most from two."""
    out = special_combinations(SPECIALS, arity, rng)

    def bf16(x):
        return np.asarray(x, np.float32).astype(ml_dtypes.bfloat16).view(np.uint16)

    rand = [rng.integers(0, 1 << 16, 1500).astype(np.uint16) for _ in range(arity)]
    moderate = [bf16(rng.standard_normal(1500) * 2.0 ** rng.integers(-20, 20, 1500))
                for _ in range(arity)]
    tiny = [bf16(rng.standard_normal(1500) * 2.0 ** rng.integers(-70, -55, 1500))
            for _ in range(arity)]
    parts = [rand, moderate, tiny]
    if arity == 3:
        a, b = (bf16(rng.standard_normal(3000)) for _ in range(2))
        prod = a.view(ml_dtypes.bfloat16).astype(np.float64) * b.view(ml_dtypes.bfloat16)
        c = bf16(-prod * (1 + rng.standard_normal(3000) * 2.0 ** -rng.integers(4, 12, 3000)))
        parts.append([a, b, c])
    return [np.concatenate([p[k] for p in [out, *parts]]) for k in range(arity)]


def run_bf16(op, *codes):
    """The model on cases given per lane: 32 cases per vector, unused lanes zero."""
    n = len(codes[0])
    pad = -n % 32
    vs = [vector(np.concatenate([c, np.zeros(pad, np.uint16)]).reshape(-1, 32), 16)
          for c in codes]
    z, f, err = execute(op, "bf16", *vs)
    assert not err.any()
    return lanes(z, 16).ravel()[:n], f


# --- tests ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("op", list(REF))
def test_bf16_arith_vs_fractions(op):
    """Every BF16 arithmetic op, lane by lane, equals the exact value rounded once to BF16 (the
    Fraction oracle), value and flags, on every pair of specials (or triples drawn from them),
    random codes, tiny operands and near-cancelling sums; the cases raise every flag the op can.
    Each case is also run alone in a vector of its own (32 copies), so the vector's flags are its
    own."""
    rng = np.random.default_rng(sum(map(ord, op)))
    ops = cases(ARITY[op], rng)
    want = [REF[op](*(int(x[k]) for x in ops)) for k in range(len(ops[0]))]
    want_z = np.asarray([w[0] for w in want], np.uint16)
    want_f = np.asarray([w[1] for w in want], np.uint8)
    z, _ = run_bf16(op, *ops)
    np.testing.assert_array_equal(z, want_z)
    # One case per vector, replicated in all 32 lanes: the vector's flags are the case's.
    vs = [vector(np.repeat(x[:, None], 32, axis=1), 16) for x in ops]
    z1, f1, _ = execute(op, "bf16", *vs)
    np.testing.assert_array_equal(lanes(z1, 16)[:, 0], want_z)
    np.testing.assert_array_equal(f1, want_f)
    seen = np.bitwise_or.reduce(want_f)
    # A sum of BF16 values is a multiple of the smallest subnormal: it never underflows.
    expect = I | O | V | D | (0 if op in ("add", "sub") else U)
    assert seen == expect, f"cases raise flags {seen:#x} only"


@pytest.mark.parametrize(("op", "a", "b", "c", "want", "flags"), [
    # 1 + 2**-8 is a tie: even 1.0; 1 + 3·2**-9 rounds up to 1 + 2**-7.
    ("add", ONE, 0x3B80, None, ONE, I),
    ("add", ONE, 0x3BC0, None, 0x3F81, I),
    # One rounding, not two: (1 + 2**-4)**2 + 2**-30 = 1.125 + 2**-8 + 2**-30 is just above a
    # BF16 tie and rounds up; FP32 RNE first would drop 2**-30 and the tie would go to even 1.125.
    ("fma", 0x3F88, 0x3F88, 0x3080, 0x3F91, I),
    ("sub", 0x4000, 0x4000, None, 0, 0),
    ("sub", SIGN, 0, None, SIGN, 0),
    ("mul", SIGN, 0, None, SIGN, 0),
    ("mul", 0x7F7F, 0x4000, None, INF, O | I),
    ("mul", 0x0080, 0x3F00, None, 0x0040, 0),          # exact subnormal result: no flag
    ("mul", 0x0081, 0x3F00, None, 0x0040, U | I),      # half a step off, ties to even
    ("mul", 0x0001, 0x3F00, None, 0, U | I | D),       # half the smallest subnormal: +0
    ("mul", INF, 0, None, QNAN, V),
    ("fma", INF, 0, QNAN, QNAN, V),
    ("fma", INF, ONE, INF | SIGN, QNAN, V),
    ("fma", QNAN, 0, 0x7F81, QNAN, V),
    ("add", 0x0001, 0, None, 0x0001, D),
])
def test_bf16_known_answers(op, a, b, c, want, flags):
    """Hand-computed BF16 results: ties, one rounding, signed zeros, overflow, subnormal results
    with and without Underflow, the Invalid cases and Denormal."""
    ops = [a, b] + ([] if c is None else [c])
    z, f = run_bf16(op, *(np.full(32, x, np.uint16) for x in ops))
    assert (int(z[0]), int(f[0])) == (want, flags)


def test_bf16_single_rounding_differs_from_double():
    """The BF16 ops round once: on near-ties, rounding first to FP32 (RNE) and then to BF16 gives
    a different result in some lanes, and the model agrees with the oracle there, not with the
    double rounding."""
    rng = np.random.default_rng(5)
    n = 4000
    a = (0x3F80 | rng.integers(0, 128, n)).astype(np.uint16)
    b = np.full(n, 0x3F80, np.uint16) | rng.integers(0, 128, n).astype(np.uint16)
    c = (0x3380 | rng.integers(0, 128, n)).astype(np.uint16)   # ≈ 2**-24: below FP32's half ulp
    z, _ = run_bf16("fma", a, b, c)
    double, _ = narrow(fma(a.astype(np.uint32) << 16, b.astype(np.uint32) << 16,
                           c.astype(np.uint32) << 16)[0], "bf16")
    differ = z != double
    assert differ.sum() > 10
    want = [ref_fma(int(a[k]), int(b[k]), int(c[k]))[0] for k in np.flatnonzero(differ)]
    np.testing.assert_array_equal(z[differ], want)
