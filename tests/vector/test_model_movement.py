"""Tests of the vector model's data movement (docs/vector.md, "Data movement").

Oracle: plain Python lists of lane values, indexed as the document's table says, and numpy's
``.T`` for the transposes.
"""

import numpy as np
import pytest

from verif.vector.model import LANE_BITS, execute, lanes, transpose8x8_by_zips, vector

TYPES = list(LANE_BITS)


def rand_vectors(rng, k=3):
    return [rng.integers(0, 256, 64, dtype=np.uint8) for _ in range(k)]


def as_list(v, bits):
    return lanes(v, bits).tolist()


def run(op, vtype, *vs, **kw):
    z, f, err = execute(op, vtype, *vs, **kw)
    assert f == 0 and not err, (op, vtype)
    return as_list(z, LANE_BITS[vtype])


@pytest.mark.parametrize("vtype", TYPES)
def test_bcast(vtype):
    """BCAST copies lane imm mod n of a (n lanes) to every lane, for every imm 0..63."""
    bits = LANE_BITS[vtype]
    n = 512 // bits
    (a,) = rand_vectors(np.random.default_rng(bits), 1)
    al = as_list(a, bits)
    for imm in range(64):
        assert run("bcast", vtype, a, imm=imm) == [al[imm % n]] * n


@pytest.mark.parametrize("vtype", TYPES)
def test_shuffle(vtype):
    """SHUFFLE: lane i = a[b[i] mod n], with b's lanes anywhere in their range (read unsigned)."""
    bits = LANE_BITS[vtype]
    n = 512 // bits
    rng = np.random.default_rng(bits + 1)
    for _ in range(20):
        a, b = rand_vectors(rng, 2)
        al, bl = as_list(a, bits), as_list(b, bits)
        assert run("shuffle", vtype, a, b) == [al[j % n] for j in bl]
    # Small indices: a permutation and its inverse give a back.
    perm = rng.permutation(n)
    inv = np.argsort(perm)
    a = rand_vectors(rng, 1)[0]
    once = vector(run("shuffle", vtype, a, vector(perm, bits)), bits)
    assert run("shuffle", vtype, once, vector(inv, bits)) == as_list(a, bits)


@pytest.mark.parametrize("vtype", TYPES)
def test_zip_unzip(vtype):
    """ZIP_LO/ZIP_HI interleave the low/high halves of a and b (a0 b0 a1 b1 ...); UNZIP_EVEN/
    UNZIP_ODD take the even/odd lanes of a then of b; unzip of the two zips gives a and b back."""
    bits = LANE_BITS[vtype]
    n = 512 // bits
    a, b = rand_vectors(np.random.default_rng(bits + 2), 2)
    al, bl = as_list(a, bits), as_list(b, bits)
    lo = [x for k in range(n // 2) for x in (al[k], bl[k])]
    hi = [x for k in range(n // 2, n) for x in (al[k], bl[k])]
    assert run("zip_lo", vtype, a, b) == lo
    assert run("zip_hi", vtype, a, b) == hi
    assert run("unzip_even", vtype, a, b) == al[0::2] + bl[0::2]
    assert run("unzip_odd", vtype, a, b) == al[1::2] + bl[1::2]
    zl, zh = vector(lo, bits), vector(hi, bits)
    assert run("unzip_even", vtype, zl, zh) == al
    assert run("unzip_odd", vtype, zl, zh) == bl


def test_movement_batched_and_nan_bits():
    """Data movement moves bits unchanged (FP32/BF16 NaNs and -0 keep their payloads, no flag)
    and a batch of vectors gives the rows one by one."""
    rng = np.random.default_rng(4)
    nans = vector(np.asarray([0x7F800001, 0xFFC00123, 0x80000000, 0x7F800000] * 4, np.uint32), 32)
    assert run("bcast", "fp32", nans, imm=1) == [0xFFC00123] * 16
    a, b = (rng.integers(0, 256, (5, 64), dtype=np.uint8) for _ in range(2))
    for op in ("shuffle", "zip_lo", "zip_hi", "unzip_even", "unzip_odd"):
        z, f, err = execute(op, "bf16", a, b)
        assert not f.any() and not err.any()
        for r in range(5):
            np.testing.assert_array_equal(z[r], execute(op, "bf16", a[r], b[r])[0])


def test_transpose8():
    """TRANSPOSE8 on int8: byte 8c + r of the result is byte 8r + c of a."""
    rng = np.random.default_rng(8)
    for _ in range(10):
        (a,) = rand_vectors(rng, 1)
        al = a.tolist()
        assert run("transpose8", "int8", a) == [al[8 * r + c] for c in range(8) for r in range(8)]
    a = rng.integers(0, 256, (3, 64), dtype=np.uint8)
    z = execute("transpose8", "int8", a)[0]
    np.testing.assert_array_equal(z, a.reshape(3, 8, 8).transpose(0, 2, 1).reshape(3, 64))


@pytest.mark.parametrize("unzip", [False, True])
@pytest.mark.parametrize("vtype", ["fp32", "int32", "bf16", "int16"])
def test_transpose_by_zips(vtype, unzip):
    """docs/vector.md's scheme: an 8×8 block of 32-bit (16-bit) elements in 4 (2) vectors,
    row-major, transposed by three rounds of zip_lo/zip_hi (or unzip_even/unzip_odd): the result,
    read row-major, is numpy's .T of the block; 12 (6) operations."""
    bits = LANE_BITS[vtype]
    count = bits // 8
    rng = np.random.default_rng(bits + unzip)
    block = rng.integers(0, 1 << bits, (8, 8), dtype=np.uint64)
    vs = list(vector(block.reshape(count, 512 // bits), bits))
    out, ops = transpose8x8_by_zips(vs, vtype, unzip=unzip)
    got = np.concatenate([lanes(v, bits) for v in out]).reshape(8, 8)
    np.testing.assert_array_equal(got, block.T)
    assert ops == 3 * count


@pytest.mark.parametrize(("args", "message"), [
    (([np.zeros(64, np.uint8)], "int8"),
     "transpose8x8_by_zips needs a 16- or 32-bit lane type (int8 has transpose8), not 'int8'"),
    (([np.zeros(64, np.uint8)] * 3, "fp32"), "an 8x8 block of fp32 fills 4 vectors, not 3"),
])
def test_transpose_by_zips_bad_arguments(args, message):
    """Impossible transpose requests raise ValueError with exact messages."""
    with pytest.raises(ValueError) as e:
        transpose8x8_by_zips(*args)
    assert str(e.value) == message
