"""Tests of the (72, 64) Hsiao SECDED code (``hw/sram/ecc.py``, ``verif/sram/ecc.py``).

Layers: the properties of ``H`` and its pinned construction; the numpy model against known
answers, against a second implementation written here with Python integers and bit loops over
``H``, and exhaustively over every single-bit error, every double-bit error pair and every
syndrome; its argument checks; then ``ECCEncoder`` and ``ECCDecoder`` in Amaranth's Python
simulator, bit for bit against the model (data, status, syndrome, corrected position) on random
clean words, every single-bit position, every double-bit pair and every syndrome; and their
Verilog on Verilator and Icarus (``tests/sram/tb_ecc.py``), against the model likewise.
"""

import itertools

import numpy as np
import pytest
from amaranth.sim import Simulator

from hw.sram.ecc import (
    CHECK_BITS,
    CODE_BITS,
    DATA_BITS,
    HSIAO_COLUMNS,
    ECCDecoder,
    ECCEncoder,
    ECCStatus,
)
from sim.flow.build import Design
from sim.flow.runner import run_cocotb
from sim.flow.toolchain import SIMULATORS
from verif.sram.ecc import CORRECTED, OK, UNCORRECTABLE, H, decode, encode, syndrome_position

PAIRS = list(itertools.combinations(range(CODE_BITS), 2))
EDGE_WORDS = [0, 1, 1 << 63, (1 << 64) - 1, 0x5555_5555_5555_5555, 0xAAAA_AAAA_AAAA_AAAA]


def _random_words(n, seed):
    """``n`` random 64-bit words, edge words first."""
    rng = np.random.default_rng(seed)
    words = rng.integers(0, 1 << 64, size=n, dtype=np.uint64, endpoint=False)
    words[:len(EDGE_WORDS)] = EDGE_WORDS
    return words


def _flip(data, check, positions):
    """``data`` and ``check`` with the codeword bits ``positions`` (an array broadcasting with
    them, or a tuple of such arrays for several bits) inverted."""
    data, check = data.copy(), check.copy()
    for p in positions if isinstance(positions, tuple) else (positions,):
        p = np.asarray(p)
        data ^= np.where(p < DATA_BITS, np.uint64(1) << (p % DATA_BITS).astype(np.uint64),
                         np.uint64(0))
        check ^= np.where(p >= DATA_BITS, 1 << (p - DATA_BITS).clip(0), 0).astype(np.uint8)
    return data, check


# --- a second implementation: Python integers, bit loops over H --------------------------------

H_ROWS = H.tolist()
COLUMN_INTS = [sum(H_ROWS[j][c] << j for j in range(CHECK_BITS)) for c in range(CODE_BITS)]


def ref_syndrome(codeword):
    """``H · codeword`` (mod 2) of a 72-bit codeword, as an 8-bit integer."""
    syndrome = 0
    for j in range(CHECK_BITS):
        parity = 0
        for c in range(CODE_BITS):
            parity ^= H_ROWS[j][c] & (codeword >> c)
        syndrome |= (parity & 1) << j
    return syndrome


def ref_encode(data):
    """The check bits of a 64-bit word: the syndrome of the word with zero check bits."""
    return ref_syndrome(data)


def ref_decode(data, check):
    """``(data_corrected, status, syndrome)`` of one word, searching the columns of ``H``."""
    codeword = data | check << DATA_BITS
    syndrome = ref_syndrome(codeword)
    if syndrome == 0:
        return data, OK, 0
    for c in range(CODE_BITS):
        if COLUMN_INTS[c] == syndrome:
            return (codeword ^ 1 << c) & ((1 << DATA_BITS) - 1), CORRECTED, syndrome
    return data, UNCORRECTABLE, syndrome


# --- H ---------------------------------------------------------------------------------------

def test_h_columns_are_distinct_nonzero_odd_weight():
    assert H.shape == (CHECK_BITS, CODE_BITS)
    assert set(np.unique(H)) == {0, 1}
    assert len(set(COLUMN_INTS)) == CODE_BITS
    assert 0 not in COLUMN_INTS
    assert all(w % 2 == 1 for w in H.sum(axis=0))
    assert np.array_equal(H[:, DATA_BITS:], np.eye(CHECK_BITS, dtype=np.uint8))


def test_h_is_minimal_weight_and_balanced():
    weights = H[:, :DATA_BITS].sum(axis=0)
    # All 56 weight-3 columns, then the 8 lightest odd weight left (5): the least total weight.
    assert sorted(weights.tolist()) == [3] * 56 + [5] * 8
    assert H.sum() == 56 * 3 + 8 * 5 + 8
    assert H.sum(axis=1).tolist() == [27] * CHECK_BITS


def test_h_is_shared_and_pinned():
    assert tuple(COLUMN_INTS) == HSIAO_COLUMNS
    assert HSIAO_COLUMNS[:4] == (0b0000_0111, 0b0000_1011, 0b0000_1101, 0b0000_1110)
    assert HSIAO_COLUMNS[55] == 0b1110_0000
    assert HSIAO_COLUMNS[56:64] == (0x1F, 0x3E, 0x7C, 0xF8, 0xF1, 0xE3, 0xC7, 0x8F)
    assert HSIAO_COLUMNS[64:] == tuple(1 << k for k in range(CHECK_BITS))


# --- model -----------------------------------------------------------------------------------

def test_model_known_answers():
    assert encode(0) == 0
    assert encode((1 << 64) - 1) == 0  # every row has 26 data ones
    unit_words = np.uint64(1) << np.arange(DATA_BITS, dtype=np.uint64)
    assert encode(unit_words).tolist() == list(HSIAO_COLUMNS[:DATA_BITS])
    assert encode(unit_words).dtype == np.uint8


def test_model_matches_python_reference():
    n = 400
    words = _random_words(n, seed=1)
    rng = np.random.default_rng(2)
    checks = encode(words)
    assert checks.tolist() == [ref_encode(int(w)) for w in words]

    # Clean, one flipped bit, two flipped bits, three flipped bits, random check bytes.
    single = _flip(words, checks, rng.integers(0, CODE_BITS, n))
    pair = rng.choice(len(PAIRS), n)
    double = _flip(words, checks, tuple(np.array(PAIRS)[pair].T))
    triple_bits = np.array([rng.choice(CODE_BITS, 3, replace=False) for _ in range(n)])
    triple = _flip(words, checks, tuple(triple_bits.T))
    garbage = (words, rng.integers(0, 256, n).astype(np.uint8))
    for data, check in [(words, checks), single, double, triple, garbage]:
        got = decode(data, check)
        expected = [ref_decode(int(d), int(c)) for d, c in zip(data, check, strict=True)]
        assert list(zip(*(g.tolist() for g in got), strict=True)) == expected


def test_model_round_trip():
    words = _random_words(20_000, seed=3)
    data, status, syndrome = decode(words, encode(words))
    assert np.array_equal(data, words)
    assert (status == OK).all()
    assert (syndrome == 0).all()
    assert data.dtype == np.uint64 and status.dtype == np.uint8 and syndrome.dtype == np.uint8


def test_model_corrects_every_single_bit_error():
    words = _random_words(500, seed=4)
    checks = encode(words)
    for p in range(CODE_BITS):
        data, status, syndrome = decode(*_flip(words, checks, np.full(len(words), p)))
        assert np.array_equal(data, words), p
        assert (status == CORRECTED).all(), p
        assert (syndrome == HSIAO_COLUMNS[p]).all(), p
        assert (syndrome_position(syndrome) == p).all(), p


def test_model_detects_every_double_bit_error():
    words = _random_words(8, seed=5)
    pairs = np.array(PAIRS)
    data = np.repeat(words, len(PAIRS))
    check = encode(data)
    bad_data, bad_check = _flip(data, check, (np.tile(pairs[:, 0], 8), np.tile(pairs[:, 1], 8)))
    assert len(bad_data) == 8 * 2556
    got, status, syndrome = decode(bad_data, bad_check)
    assert (status == UNCORRECTABLE).all()
    assert np.array_equal(got, bad_data)  # passed through, never "corrected"
    assert (syndrome != 0).all()
    assert (np.bitwise_count(syndrome) % 2 == 0).all()
    assert (syndrome_position(syndrome) == -1).all()


def test_model_classifies_every_syndrome():
    syndromes = np.arange(256, dtype=np.uint8)
    data, status, syndrome = decode(np.zeros(256, dtype=np.uint64), syndromes)
    assert np.array_equal(syndrome, syndromes)  # encode(0) == 0
    columns = set(HSIAO_COLUMNS)
    expected = [OK if s == 0 else CORRECTED if s in columns else UNCORRECTABLE for s in range(256)]
    assert status.tolist() == expected
    assert np.bincount(status).tolist() == [1, 72, 183]
    # A corrected data bit is flipped in the (all-zero) data; a corrected check bit is not.
    assert data.tolist() == [1 << HSIAO_COLUMNS.index(s) if s in HSIAO_COLUMNS[:DATA_BITS] else 0
                             for s in range(256)]


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: encode(-1), ValueError, r"^data must be in 0\.\.18446744073709551615, not -1$"),
    (lambda: encode([1.0]), TypeError, r"^data must be an integer array, not an array of float64$"),
    (lambda: encode([1 << 64]), TypeError,
     r"^data must be an integer array, not an array of object$"),
    (lambda: encode([True]), TypeError, r"^data must be an integer array, not an array of bool$"),
    (lambda: decode([1, 2], [3, 256]), ValueError, r"^check must be in 0\.\.255, not 256$"),
    (lambda: decode([1, 2], [3]), ValueError,
     r"^data and check must have the same shape, not \(2,\) and \(1,\)$"),
    (lambda: syndrome_position(-3), ValueError, r"^syndrome must be in 0\.\.255, not -3$"),
])
def test_model_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_model_status_codes_match_rtl():
    assert (OK, CORRECTED, UNCORRECTABLE) == (ECCStatus.OK.value, ECCStatus.CORRECTED.value,
                                              ECCStatus.UNCORRECTABLE.value)


# --- RTL -------------------------------------------------------------------------------------

def _simulate(dut, inputs, outputs):
    """Drive each row of ``inputs`` (a dict: port name -> array) into the combinational ``dut``
    and return the ``outputs`` ports read back, as a list of tuples."""
    results = []

    async def testbench(ctx):
        for row in zip(*inputs.values(), strict=True):
            for name, value in zip(inputs, row, strict=True):
                ctx.set(getattr(dut, name), int(value))
            results.append(tuple(ctx.get(getattr(dut, name)) for name in outputs))

    sim = Simulator(dut)
    sim.add_testbench(testbench)
    sim.run()
    return results


def test_rtl_encoder_matches_model():
    words = np.concatenate([_random_words(300, seed=6),
                            np.uint64(1) << np.arange(DATA_BITS, dtype=np.uint64)])
    got = _simulate(ECCEncoder(), {"data": words}, ["check"])
    assert [c for (c,) in got] == encode(words).tolist()


def test_rtl_decoder_matches_model():
    clean = _random_words(100, seed=8)
    words = _random_words(2 * CODE_BITS, seed=9)
    single = _flip(words, encode(words), np.tile(np.arange(CODE_BITS), 2))
    pairs = np.array(PAIRS)
    pair_words = _random_words(len(PAIRS), seed=10)
    double = _flip(pair_words, encode(pair_words), (pairs[:, 0], pairs[:, 1]))
    every_syndrome = (_random_words(256, seed=11),
                      encode(_random_words(256, seed=11)) ^ np.arange(256, dtype=np.uint8))
    data = np.concatenate([clean, single[0], double[0], every_syndrome[0]])
    check = np.concatenate([encode(clean), single[1], double[1], every_syndrome[1]])

    corrected, status, syndrome = decode(data, check)
    position = np.where(status == CORRECTED, syndrome_position(syndrome), 0)
    expected = [(int(d), ECCStatus(int(s)), int(y), int(p))
                for d, s, y, p in zip(corrected, status, syndrome, position, strict=True)]
    got = _simulate(ECCDecoder(), {"data": data, "check": check},
                    ["corrected", "status", "syndrome", "position"])
    mismatches = [(i, g, e) for i, (g, e) in enumerate(zip(got, expected, strict=True)) if g != e]
    assert mismatches == []
    # The vectors reach every status and every corrected position.
    assert {s for _, s, _, _ in got} == set(ECCStatus)
    assert {p for _, s, _, p in got if s == ECCStatus.CORRECTED} == set(range(CODE_BITS))


# --- the Verilog, on both simulators ----------------------------------------------------------

ECC_DESIGNS = {"encoder": Design.of("sram_ecc_encoder", ECCEncoder),
               "decoder": Design.of("sram_ecc_decoder", ECCDecoder)}


@pytest.mark.parametrize("sim", SIMULATORS)
@pytest.mark.parametrize("unit", list(ECC_DESIGNS))
def test_verilog_matches_model(unit, sim):
    run_cocotb(ECC_DESIGNS[unit], "tests.sram.tb_ecc", sim, testcase=unit, harness=None,
               quiet=True)
