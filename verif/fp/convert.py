"""Transaction-level model of the conversion unit (``hw/fp/convert.py``): one result per request.

A request is ``(data, op, fmt_code, bias, rnd)``; the unit answers each with ``(result, flags)``.

* ``op``: a :class:`hw.fp.convert.ConvOp` value. ``NARROW`` (0) converts the FP32 ``data`` to the
  format (all 32 bits of ``data`` are the input); ``WIDEN`` (1) converts the format's code,
  right-aligned in the low ``width`` bits of ``data`` (higher bits ignored), to FP32.
* ``fmt_code``: a :class:`hw.fp.formats.FormatCode` value, 0..7. FP32 (0) and the unknown codes
  6 and 7 are not conversions: NARROW returns 0 and WIDEN returns 0x7FC00000, both with Invalid.
* ``bias``: the 6-bit bias field, used by CFP8 1-4-3, CFP8 1-5-2 and SHP, ignored otherwise.
* ``rnd``: a :class:`hw.fp.formats.Round` value (0 = RNE, 1 = SR), used by NARROW only.
* Results are 32 bits: narrowed codes zero-extended, FP32 codes as they are.
* Stochastic rounding: one xorshift32 generator (``verif.fp.rng``) started from ``seed`` advances
  once for every accepted request, whatever its op, format or rounding mode; request i (from 0, in
  acceptance order) uses the random value of step i + 1.

The arithmetic is ``verif.fp.formats.narrow`` / ``widen``; see docs/formats.md.
"""

import numpy as np

from hw.fp.convert import ConvOp
from hw.fp.formats import BIAS_MAX, FLAG_INVALID, FP32, SR_BITS, Round, format_for_code

from ..params import check_int_array
from .formats import narrow, widen
from .rng import sr_randoms

__all__ = ["NARROW", "WIDEN", "convert_requests"]

#: Request operations, as plain integers (the values of the RTL's ``ConvOp``).
NARROW = ConvOp.NARROW.value
WIDEN = ConvOp.WIDEN.value


def _field(values, n, bits, what):
    a = check_int_array(what, values.value if isinstance(values, (Round, ConvOp)) else values)
    a = np.broadcast_to(a.astype(np.int64), (n,))
    bad = (a < 0) | (a >> bits != 0)
    if bad.any():
        raise ValueError(f"{what} must be in 0..{(1 << bits) - 1}, not {a[bad].flat[0]}")
    return a


def convert_requests(data, op, fmt_code, bias, rnd, seed=0, sr_bits=SR_BITS):
    """Results of a sequence of conversion requests, in acceptance order.

    ``data`` is a 1-D array of 32-bit request words; ``op``, ``fmt_code``, ``bias`` and ``rnd`` are
    arrays of the same length or scalars (broadcast). Returns ``(result uint32, flags uint8)``.
    Out-of-range fields (``op`` > 1, ``fmt_code`` > 7, ``bias`` > ``BIAS_MAX``, ``rnd`` > 1,
    ``data`` ≥ 2**32) and a ``seed`` outside 0..2**32-1 raise ``ValueError``; a field of a
    non-integer dtype, or a ``seed`` that is no integer, raises ``TypeError``.
    """
    data = np.asarray(data)
    if data.ndim != 1:
        raise ValueError(f"data must be a 1-D array of requests, not an array of shape "
                         f"{data.shape}")
    n = data.shape[0]
    data = _field(data, n, FP32.width, "data")
    op = _field(op, n, 1, "op")
    code = _field(fmt_code, n, 3, "fmt_code")
    bias = _field(bias, n, BIAS_MAX.bit_length(), "bias")
    rnd = _field(rnd, n, 1, "rnd")
    rand = sr_randoms(seed, n, sr_bits)

    result = np.zeros(n, np.uint32)
    flags = np.zeros(n, np.uint8)
    # Group the requests by everything that selects the arithmetic, then compute each group at once.
    key = ((op * 8 + code) * (BIAS_MAX + 1) + bias) * 2 + rnd
    for k in np.unique(key):
        sel = key == k
        o, c, b, r = int(op[sel][0]), int(code[sel][0]), int(bias[sel][0]), int(rnd[sel][0])
        f = format_for_code(c)
        if f is None or f is FP32:
            result[sel] = FP32.qnan_code if o == WIDEN else 0
            flags[sel] = FLAG_INVALID
            continue
        b = b if f.configurable else None
        if o == WIDEN:
            res, fl = widen(data[sel] & ((1 << f.width) - 1), f, b)
        else:
            res, fl = narrow(data[sel], f, b, Round(r), rand=rand[sel], sr_bits=sr_bits)
        result[sel] = res
        flags[sel] = fl
    return result, flags
