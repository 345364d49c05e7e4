"""Tests of the SR random generator model (``verif.fp.rng``) and of the conversion-unit model
(``verif.fp.convert``). Pure Python, no simulator.

Known answers for xorshift32 were computed by hand for the first step (1 ^ 1<<13 = 8193;
8193 ^ 8193<<5 = 270369) and by an independent C implementation (uint32_t, the same three shifts)
for the rest.
"""

import re

import numpy as np
import pytest

from hw.fp.formats import (
    FLAG_DENORMAL,
    FLAG_INEXACT,
    FLAG_INVALID,
    FP32,
    SR_BITS,
    XORSHIFT_SHIFTS,
    XORSHIFT_ZERO_SEED,
    FormatCode,
    Round,
    format_for_code,
)
from verif.fp.convert import NARROW, WIDEN, convert_requests
from verif.fp.formats import narrow, widen
from verif.fp.rng import XorShift32, initial_state, next_state, sr_randoms

QNAN = 0x7FC00000

# --- the random generator -------------------------------------------------------------------------

SEED1_STATES = [270369, 67634689, 2647435461]
ZERO_SEED_STATES = [3777279546, 2342155435, 1692513196]  # from state XORSHIFT_ZERO_SEED


def test_xorshift32_known_states():
    """seed 1 → 270369, 67634689, 2647435461; seed 0 starts from XORSHIFT_ZERO_SEED instead."""
    assert XORSHIFT_SHIFTS == (13, 17, 5) and XORSHIFT_ZERO_SEED == 0x2545F491
    g = XorShift32(1)
    assert [g.step() for _ in range(3)] == SEED1_STATES
    g = XorShift32(0)
    assert g.state == XORSHIFT_ZERO_SEED
    assert [g.step() for _ in range(3)] == ZERO_SEED_STATES
    assert next_state(1) == 270369 and next_state(0) == 0
    assert initial_state(0) == XORSHIFT_ZERO_SEED and initial_state(0xFFFFFFFF) == 0xFFFFFFFF


def test_sr_randoms_are_top_bits_of_each_new_state():
    """r_i = state_i >> (32 − sr_bits), the state advanced before each value."""
    assert list(sr_randoms(1, 3)) == [s >> (32 - SR_BITS) for s in SEED1_STATES]
    assert list(sr_randoms(1, 3, sr_bits=32)) == SEED1_STATES
    assert list(sr_randoms(0, 3, sr_bits=8)) == [s >> 24 for s in ZERO_SEED_STATES]
    assert sr_randoms(7, 0).shape == (0,)
    assert sr_randoms(7, 5).dtype == np.uint32


def test_generator_continues_across_calls():
    """Two draws of n from one generator equal one draw of 2n: the state carries over."""
    g = XorShift32(0xDEADBEEF)
    both = np.concatenate([g.randoms(1000), g.randoms(1000)])
    assert np.array_equal(both, sr_randoms(0xDEADBEEF, 2000))
    s = 0xDEADBEEF
    for _ in range(2000):
        s = next_state(s)
    assert g.state == s


def test_sr_randoms_look_uniform():
    """Coarse sanity of the R-bit values: mean and per-bit frequencies near 1/2 (8 σ bounds)."""
    n = 200_000
    r = sr_randoms(99, n)
    assert abs(r.mean() / (1 << SR_BITS) - 0.5) < 8 * np.sqrt(1 / 12 / n)
    for bit in range(SR_BITS):
        assert abs(((r >> bit) & 1).mean() - 0.5) < 8 * 0.5 / np.sqrt(n), bit


@pytest.mark.parametrize("seed, error, message", [
    (-1, ValueError, "seed must be in 0..4294967295, not -1"),
    (1 << 32, ValueError, "seed must be in 0..4294967295, not 4294967296"),
    (np.int64(-1), ValueError, "seed must be in 0..4294967295, not -1"),
    (1.5, TypeError, "seed must be an integer, not 1.5"),
    (True, TypeError, "seed must be an integer, not True"),
    ("1", TypeError, "seed must be an integer, not '1'"),
])
def test_bad_seed_message(seed, error, message):
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        sr_randoms(seed, 1)


@pytest.mark.parametrize("sr_bits, error, message", [
    (33, ValueError, "sr_bits must be in 1..32, not 33"),
    (0, ValueError, "sr_bits must be in 1..32, not 0"),
    (16.0, TypeError, "sr_bits must be an integer, not 16.0"),
])
def test_bad_sr_bits_message(sr_bits, error, message):
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        sr_randoms(1, 1, sr_bits=sr_bits)


@pytest.mark.parametrize("n, error, message", [
    (-1, ValueError, "n must be at least 0, not -1"),
    (2.0, TypeError, "n must be an integer, not 2.0"),
])
def test_bad_count_message(n, error, message):
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        sr_randoms(1, n)


# --- the conversion unit --------------------------------------------------------------------------

def test_not_a_conversion_codes():
    """FP32 (code 0) and the unknown codes 6 and 7: NARROW → 0, WIDEN → 0x7FC00000, Invalid."""
    codes = [FormatCode.FP32.value, 6, 7]
    assert [format_for_code(c) for c in codes] == [FP32, None, None]
    data = np.full(6, 0x3F800000, np.uint32)
    res, flags = convert_requests(data, [NARROW] * 3 + [WIDEN] * 3, codes * 2, 0, 0)
    assert list(res) == [0, 0, 0, QNAN, QNAN, QNAN]
    assert list(flags) == [FLAG_INVALID] * 6


def test_widen_uses_only_the_low_bits():
    """WIDEN reads the code right-aligned in the low width bits; the rest of the word is ignored."""
    res, flags = convert_requests([0xABCD3F80, 0xFFFFFF38, 0x12340001, 0x00000001], WIDEN,
                                  [FormatCode.BF16.value, FormatCode.CFP8_143.value,
                                   FormatCode.UHP.value, FormatCode.CFP8_152.value], 7, 0)
    assert [hex(v) for v in res] == [hex(v) for v in (
        0x3F800000, 0x3F800000, int(np.float32(2.0**-40).view(np.uint32)),
        int(np.float32(2.0**-8).view(np.uint32)))]
    assert list(flags) == [0, 0, FLAG_DENORMAL, FLAG_DENORMAL]


def test_narrow_zero_extends_and_bias_ignored_for_fixed_formats():
    """NARROW results are zero-extended; the bias field is ignored by BF16 and UHP (any value)."""
    x = np.float32([-1.0, -1.0, 1.0, -1.0]).view(np.uint32)
    code = [FormatCode.CFP8_143.value, FormatCode.BF16.value, FormatCode.UHP.value,
            FormatCode.SHP.value]
    res, flags = convert_requests(x, NARROW, code, [7, 63, 63, 15], 0)
    assert [hex(v) for v in res] == ["0xb8", "0xbf80", "0x7c00", "0xbc00"]
    assert list(flags) == [0, 0, 0, 0]


def test_rng_advances_once_per_request_of_any_kind():
    """Seed 1: r_1 = 4, r_2 = 1032, r_3 = 40396. An SR request in third place, after a WIDEN and
    an RNE request, uses r_3: BF16 of 1 + 0x63C0 * 2**-23 (F = 25536) carries only with r_3."""
    assert list(sr_randoms(1, 3)) == [4, 1032, 40396]
    x = 0x3F8063C0
    bf16 = FormatCode.BF16.value
    res, flags = convert_requests([0x3F80, x, x], [WIDEN, NARROW, NARROW], bf16, 0,
                                  [Round.RNE.value, Round.RNE.value, Round.SR.value], seed=1)
    assert [hex(v) for v in res] == ["0x3f800000", "0x3f80", "0x3f81"]
    assert list(flags) == [0, FLAG_INEXACT, FLAG_INEXACT]
    # The same SR request first in the stream uses r_1 and truncates.
    res, _ = convert_requests([x], NARROW, bf16, 0, Round.SR.value, seed=1)
    assert list(res) == [0x3F80]


def test_mixed_requests_match_element_by_element_model():
    """Random mixed requests (every op, format code, bias and rounding mode) give, request by
    request, exactly what narrow/widen give for that request alone with the request's r_i."""
    rng = np.random.default_rng(5)
    n = 3000
    data = rng.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32)
    # Mostly finite FP32 values of moderate size, so that rounding actually happens.
    moderate = np.exp2(rng.uniform(-40, 40, n)).astype(np.float32).view(np.uint32)
    data = np.where(rng.random(n) < 0.7, moderate | (data & 0x80000000), data)
    op = rng.integers(0, 2, n)
    code = rng.integers(0, 8, n)
    bias = rng.integers(0, 64, n)
    rnd = rng.integers(0, 2, n)
    seed = 0x1234567
    res, flags = convert_requests(data, op, code, bias, rnd, seed=seed)
    r = sr_randoms(seed, n)
    for i in range(n):
        f = format_for_code(code[i])
        if f is None or f is FP32:
            want = (QNAN if op[i] == WIDEN else 0, FLAG_INVALID)
        else:
            b = int(bias[i]) if f.configurable else None
            if op[i] == WIDEN:
                w, fl = widen(int(data[i]) & ((1 << f.width) - 1), f, b)
            else:
                w, fl = narrow(data[i], f, b, Round(int(rnd[i])), rand=r[i])
            want = (int(w), int(fl))
        assert (int(res[i]), int(flags[i])) == want, (i, hex(data[i]), op[i], code[i], bias[i])
    assert res.dtype == np.uint32 and flags.dtype == np.uint8


def test_sr_bits_parameter_reaches_the_rounding():
    """With sr_bits = 1 the kept fraction is one bit: 1 + 3/16 ulp truncates with r = 0 and
    rounds up with r = 1. Seed 1, sr_bits 1: r_1 = 0 (270369 < 2**31), r_3 = 1."""
    assert list(sr_randoms(1, 3, sr_bits=1)) == [0, 0, 1]
    x = int(np.float32(1 + 2.0**-7 * 0.75).view(np.uint32))  # BF16 fraction 0.75 ulp: top bit 1
    res, _ = convert_requests([x, x, x], NARROW, FormatCode.BF16.value, 0, 1, seed=1, sr_bits=1)
    assert [hex(v) for v in res] == ["0x3f80", "0x3f80", "0x3f81"]


@pytest.mark.parametrize("field, value, error, message", [
    ("op", 2, ValueError, "op must be in 0..1, not 2"),
    ("fmt_code", 8, ValueError, "fmt_code must be in 0..7, not 8"),
    ("bias", 64, ValueError, "bias must be in 0..63, not 64"),
    ("bias", -1, ValueError, "bias must be in 0..63, not -1"),
    ("rnd", 2, ValueError, "rnd must be in 0..1, not 2"),
    ("data", 1 << 32, ValueError, "data must be in 0..4294967295, not 4294967296"),
    ("op", 0.0, TypeError, "op must be an integer array, not an array of float64"),
    ("rnd", True, TypeError, "rnd must be an integer array, not an array of bool"),
    ("data", 1.0, TypeError, "data must be an integer array, not an array of float64"),
])
def test_bad_request_field_messages(field, value, error, message):
    args = {"data": [0], "op": 0, "fmt_code": 1, "bias": 0, "rnd": 0}
    args[field] = [value] if field == "data" else value
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        convert_requests(**args)


def test_bad_shape_message():
    with pytest.raises(ValueError, match=re.escape(
            "data must be a 1-D array of requests, not an array of shape (2, 2)")):
        convert_requests(np.zeros((2, 2), np.uint32), 0, 1, 0, 0)
