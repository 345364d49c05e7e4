"""Reference model of the (72, 64) Hsiao SECDED code of the SRAM scratchpad, in numpy.

The code definition (the columns of ``H`` and the codeword bit order: data bits 0 .. 63, check
bits 64 .. 71) is shared with the RTL through ``hw.sram.ecc.hsiao_columns``, whose docstring
states the construction rule. The encoding and decoding here are independent of the RTL:
check bit ``k`` is the parity (``np.bitwise_count``) of the word masked by row ``k`` of ``H``,
and a 256-entry table maps each syndrome to the codeword bit it names. Every function is
vectorized over arrays of words.
"""

import numpy as np

from hw.sram.ecc import CHECK_BITS, CODE_BITS, DATA_BITS, hsiao_columns
from verif.params import check_int_array

__all__ = ["H", "OK", "CORRECTED", "UNCORRECTABLE", "encode", "decode", "syndrome_position"]

#: Status: the syndrome is 0.
OK = 0
#: Status: the syndrome is a column of ``H``; that one bit (data or check) was corrected.
CORRECTED = 1
#: Status: any other syndrome (two or more flipped bits); the data is returned as read.
UNCORRECTABLE = 2

#: The parity-check matrix, 8 × 72 ``uint8`` of 0/1: ``H[j, c]`` is row ``j`` of codeword bit
#: ``c``. Read-only.
H = np.array([[(column >> j) & 1 for column in hsiao_columns()] for j in range(CHECK_BITS)],
             dtype=np.uint8)
H.flags.writeable = False

# Row k of H over the data columns, as a 64-bit mask: check bit k = parity(data & mask).
_ROW_MASKS = np.bitwise_or.reduce(
    H[:, :DATA_BITS].astype(np.uint64) << np.arange(DATA_BITS, dtype=np.uint64), axis=1)
_CHECK_WEIGHTS = np.uint8(1) << np.arange(CHECK_BITS, dtype=np.uint8)
# Syndrome -> the codeword bit whose column it is, or -1 if it is no column of H.
_POSITION = np.full(1 << CHECK_BITS, -1, dtype=np.int16)
_POSITION[(H * _CHECK_WEIGHTS[:, None]).sum(axis=0)] = np.arange(CODE_BITS)


def _as_uint(values, name, bits):
    """``values`` as a ``uint64`` array, after checking that they are integers in
    ``[0, 2**bits)``."""
    array = check_int_array(name, values)
    bad = (array < 0) | (array > (1 << bits) - 1)
    if bad.any():
        raise ValueError(f"{name} must be in 0..{(1 << bits) - 1}, not {array[bad].flat[0]}")
    return array.astype(np.uint64)


def encode(data):
    """The check bits (``uint8``, same shape) of the 64-bit words ``data``."""
    words = _as_uint(data, "data", DATA_BITS)
    parities = np.bitwise_count(words[..., None] & _ROW_MASKS) & 1
    return (parities * _CHECK_WEIGHTS).sum(axis=-1, dtype=np.uint8)


def syndrome_position(syndrome):
    """The codeword bit (``int16``: 0 .. 63 data, 64 .. 71 check) that each 8-bit ``syndrome``
    names, or -1 where the syndrome is not a column of ``H`` (0 included)."""
    return _POSITION[_as_uint(syndrome, "syndrome", CHECK_BITS)]


def decode(data, check):
    """Check and correct the 64-bit words ``data`` read with their 8-bit ``check`` bits (arrays
    of the same shape).

    Returns ``(data_corrected, status, syndrome)``: ``uint64``, ``uint8`` (``OK``,
    ``CORRECTED`` or ``UNCORRECTABLE``) and ``uint8`` arrays of that shape. ``data_corrected``
    has the flipped bit inverted where one data bit was corrected, and is ``data`` elsewhere
    (a corrected check bit leaves the data as it is; an uncorrectable word is passed through).
    """
    words = _as_uint(data, "data", DATA_BITS)
    checks = _as_uint(check, "check", CHECK_BITS).astype(np.uint8)
    if words.shape != checks.shape:
        raise ValueError(
            f"data and check must have the same shape, not {words.shape} and {checks.shape}")
    syndrome = encode(words) ^ checks
    position = syndrome_position(syndrome)
    status = np.where(syndrome == 0, OK, np.where(position >= 0, CORRECTED, UNCORRECTABLE))
    in_data = (position >= 0) & (position < DATA_BITS)
    flip = np.where(in_data, np.uint64(1) << np.where(in_data, position, 0).astype(np.uint64),
                    np.uint64(0))
    return words ^ flip, status.astype(np.uint8), syndrome
