"""cocotb tests of the SECDED codec's Verilog (run by tests/sram/test_ecc.py on both simulators).

The encoder and the decoder are combinational: each vector is applied to the ports, settles for
a nanosecond and is read back, and every output is compared with ``verif.sram.ecc``. Vectors:
random and edge words clean; every single-bit error position (data and check bits) on random
words; a seeded sample of double-bit pairs; errors that are codewords (undetectable); every
syndrome.
"""

import itertools

import cocotb
import numpy as np
from cocotb.triggers import Timer

from hw.sram.ecc import CHECK_BITS, CODE_BITS, DATA_BITS, hsiao_columns
from verif.fcov.sram import sample_ecc_decoder
from verif.sram.ecc import CORRECTED, decode, encode, syndrome_position

EDGE_WORDS = [0, 1, 1 << 63, (1 << 64) - 1, 0x5555_5555_5555_5555, 0xAAAA_AAAA_AAAA_AAAA]


def _words(rng, n):
    words = rng.integers(0, 1 << 64, size=n, dtype=np.uint64, endpoint=False)
    words[:len(EDGE_WORDS)] = EDGE_WORDS
    return words


def _codeword_flips(rng):
    """``(data, check, sent_data, sent_check)``: received words (clean, every single-bit error,
    400 double-bit errors, 8 undetectable errors, every syndrome) and the clean codewords they
    were made from."""
    positions = [(p,) for p in range(CODE_BITS)] * 2
    pairs = list(itertools.combinations(range(CODE_BITS), 2))
    positions += [pairs[i] for i in rng.choice(len(pairs), 400, replace=False)]
    # A data bit with the check bits of its column: an error of weight 4 or 6 that is another
    # codeword, so the decoder says OK (outside SECDED's guarantee; a functional coverage bin).
    columns = hsiao_columns()
    positions += [(p, *(DATA_BITS + j for j in range(CHECK_BITS) if columns[p] >> j & 1))
                  for p in range(0, DATA_BITS, 9)]
    data = _words(rng, len(positions) + 100 + (1 << CHECK_BITS))
    check = encode(data)
    sent = data.copy(), check.copy()
    for i, bits in enumerate(positions, start=100):
        for p in bits:
            if p < DATA_BITS:
                data[i] ^= np.uint64(1) << np.uint64(p)
            else:
                check[i] ^= np.uint8(1 << (p - DATA_BITS))
    check[-(1 << CHECK_BITS):] ^= np.arange(1 << CHECK_BITS, dtype=np.uint8)
    return data, check, *sent


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
    data, check, sent_data, sent_check = _codeword_flips(np.random.default_rng(2))
    corrected, status, syndrome = decode(data, check)
    position = np.where(status == CORRECTED, syndrome_position(syndrome), 0)
    seen = set()
    outputs = []
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
        outputs.append(got)
    assert seen == {0, 1, 2}, f"statuses reached: {sorted(seen)}"
    # Functional coverage (with D1CORE_FCOV only): what the decoder was seen to do.
    _, got_status, _, got_position = zip(*outputs, strict=True)
    sample_ecc_decoder(sent_data, sent_check, data, check, got_status, got_position)
