"""cocotb tests of the SECDED codec's Verilog (run by tests/sram/test_ecc.py on both simulators).

The encoder and the decoder are combinational: each vector is applied to the ports, settles for
a nanosecond and is read back, and every output is compared with ``verif.sram.ecc``. Vectors:
random and edge words clean; every single-bit error position (data and check bits) on random
words; a seeded sample of double-bit pairs; every syndrome.
"""

import itertools

import cocotb
import numpy as np
from cocotb.triggers import Timer

from hw.sram.ecc import CHECK_BITS, CODE_BITS, DATA_BITS
from verif.sram.ecc import CORRECTED, decode, encode, syndrome_position

EDGE_WORDS = [0, 1, 1 << 63, (1 << 64) - 1, 0x5555_5555_5555_5555, 0xAAAA_AAAA_AAAA_AAAA]


def _words(rng, n):
    words = rng.integers(0, 1 << 64, size=n, dtype=np.uint64, endpoint=False)
    words[:len(EDGE_WORDS)] = EDGE_WORDS
    return words


def _codeword_flips(rng):
    """``(data, check)`` of received words: clean, every single-bit error, 400 double-bit
    errors, every syndrome."""
    positions = [(p,) for p in range(CODE_BITS)] * 2
    pairs = list(itertools.combinations(range(CODE_BITS), 2))
    positions += [pairs[i] for i in rng.choice(len(pairs), 400, replace=False)]
    data = _words(rng, len(positions) + 100 + (1 << CHECK_BITS))
    check = encode(data)
    for i, bits in enumerate(positions, start=100):
        for p in bits:
            if p < DATA_BITS:
                data[i] ^= np.uint64(1) << np.uint64(p)
            else:
                check[i] ^= np.uint8(1 << (p - DATA_BITS))
    check[-(1 << CHECK_BITS):] ^= np.arange(1 << CHECK_BITS, dtype=np.uint8)
    return data, check


@cocotb.test()
async def encoder(dut):
    """Check bits of random words and of every single-bit word equal the model's."""
    rng = np.random.default_rng(1)
    words = np.concatenate([_words(rng, 300), np.uint64(1) << np.arange(DATA_BITS,
                                                                        dtype=np.uint64)])
    for word, want in zip(words, encode(words), strict=True):
        dut.data.value = int(word)
        await Timer(1, "ns")
        assert int(dut.check.value) == int(want), f"data {int(word):#018x}"


@cocotb.test()
async def decoder(dut):
    """Corrected data, status, syndrome and corrected position equal the model's."""
    data, check = _codeword_flips(np.random.default_rng(2))
    corrected, status, syndrome = decode(data, check)
    position = np.where(status == CORRECTED, syndrome_position(syndrome), 0)
    seen = set()
    for i in range(len(data)):
        dut.data.value = int(data[i])
        dut.check.value = int(check[i])
        await Timer(1, "ns")
        got = (int(dut.corrected.value), int(dut.status.value), int(dut.syndrome.value),
               int(dut.position.value))
        want = (int(corrected[i]), int(status[i]), int(syndrome[i]), int(position[i]))
        assert got == want, f"data {int(data[i]):#018x} check {int(check[i]):#04x}: " \
                            f"got {got}, expected {want}"
        seen.add(got[1])
    assert seen == {0, 1, 2}, f"statuses reached: {sorted(seen)}"
