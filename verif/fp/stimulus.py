"""Stimulus for the conversion unit: random, exhaustive and corner-case requests.

Every generator returns a dict of equal-length arrays with the request fields of
``hw.fp.convert.request_layout`` (``data``, ``op``, ``fmt``, ``bias``, ``rnd``), ready for
``verif.fp.convert.convert_requests`` and for packing.
"""

import numpy as np

from hw.fp.formats import FormatCode, Round, get_format

__all__ = ["NARROW", "WIDEN", "CONVERSION_FORMATS", "requests", "concat", "random_fp32_near",
           "random_requests", "exhaustive_bf16_narrowing", "exhaustive_widening",
           "special_fp32", "corner_requests", "unknown_code_requests"]

NARROW, WIDEN = 0, 1
#: The destination formats of the conversion unit, by name.
CONVERSION_FORMATS = ("bf16", "cfp8_143", "cfp8_152", "shp", "uhp")


def requests(data, op, fmt, bias=0, rnd=Round.RNE):
    """Broadcast request fields into arrays. ``fmt`` is a format name, Format or FormatCode."""
    data = np.asarray(data, dtype=np.uint64)
    n = data.size
    if isinstance(fmt, str):
        fmt = get_format(fmt).code
    code = fmt.code if hasattr(fmt, "code") else fmt
    code = int(getattr(code, "value", code))

    def arr(v):
        return np.broadcast_to(np.asarray(getattr(v, "value", v), dtype=np.uint64), (n,)).copy()
    return {"data": data.reshape(-1), "op": arr(op), "fmt": arr(code), "bias": arr(bias),
            "rnd": arr(rnd)}


def concat(*parts):
    """Concatenate request dicts."""
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _fixed_bias(f, bias):
    return f.bias if f.bias is not None else bias


def random_fp32_near(rng, n, fmt, bias):
    """FP32 bit patterns concentrated on the interesting range of ``fmt`` at ``bias``: every
    binade from below the smallest denormal to above the largest value, random mantissas, with a
    quarter of them exact rounding ties of the destination and a few specials."""
    f = get_format(fmt)
    b = _fixed_bias(f, bias)
    emin = 1 - b
    emax = f.max_exp_field - b
    lo = max(emin - f.man_bits - 3, -149)
    hi = min(emax + 3, 127)
    e = rng.integers(lo, hi + 1, size=n)
    mant = rng.integers(0, 1 << 23, size=n, dtype=np.uint64)
    # Ties: keep the destination's mantissa bits, set the half-ulp bit, clear the rest.
    drop = np.clip(23 - f.man_bits + np.maximum(emin - e, 0), 1, 24).astype(np.uint64)
    tie = rng.random(n) < 0.25
    half = np.uint64(1) << (drop - np.uint64(1))
    mask = (np.uint64(1) << drop) - np.uint64(1)
    mant = np.where(tie & (drop <= 23), (mant & ~mask & np.uint64(0x7FFFFF)) | half, mant)
    sign = rng.integers(0, 2, size=n, dtype=np.uint64) << np.uint64(31)
    normal = e >= -126
    biased = np.where(normal, e + 127, 0).astype(np.uint64)
    # FP32 subnormals: shift the significand right by the missing exponent.
    sub_mant = (mant | np.uint64(1 << 23)) >> np.clip(-126 - e, 0, 24).astype(np.uint64)
    mant = np.where(normal, mant, sub_mant & np.uint64(0x7FFFFF))
    bits = sign | (biased << np.uint64(23)) | mant
    special = rng.random(n) < 0.02
    pick = special_fp32()[rng.integers(0, len(special_fp32()), size=n)]
    return np.where(special, pick, bits).astype(np.uint64)


def special_fp32():
    """FP32 specials: signed zeros, infinities, quiet and signaling NaNs, subnormal and normal
    extremes."""
    pos = [0x00000000, 0x7F800000, 0x7FC00000, 0x7FC00001, 0x7F800001, 0x7FBFFFFF,
           0x00000001, 0x007FFFFF, 0x00800000, 0x7F7FFFFF, 0x3F800000, 0x00400000]
    return np.array(pos + [p | 0x80000000 for p in pos], dtype=np.uint64)


def random_requests(rng, n, *, formats=CONVERSION_FORMATS, widen_fraction=0.25,
                    sr_fraction=0.5, biases=None):
    """``n`` random requests mixing formats, biases (all of 0..63 unless given), directions and
    rounding modes. Narrowing inputs are near each destination's range; widening inputs are
    uniformly random codes."""
    fmts = [get_format(f) for f in formats]
    which = rng.integers(0, len(fmts), size=n)
    bias = (rng.integers(0, 64, size=n) if biases is None
            else np.asarray(biases)[rng.integers(0, len(biases), size=n)]).astype(np.uint64)
    op = (rng.random(n) < widen_fraction).astype(np.uint64)
    rnd = (rng.random(n) < sr_fraction).astype(np.uint64)
    data = np.zeros(n, dtype=np.uint64)
    code = np.zeros(n, dtype=np.uint64)
    for k, f in enumerate(fmts):
        sel = which == k
        code[sel] = f.code.value
        m = int(sel.sum())
        near = np.empty(m, dtype=np.uint64)
        # Group by bias so each value is near its own destination range.
        for b in np.unique(bias[sel]):
            sb = bias[sel] == b
            near[sb] = random_fp32_near(rng, int(sb.sum()), f, int(b))
        codes = rng.integers(0, 1 << f.width, size=m, dtype=np.uint64)
        data[sel] = np.where(op[sel] == WIDEN, codes, near)
    return {"data": data, "op": op, "fmt": code, "bias": bias, "rnd": rnd}


def exhaustive_bf16_narrowing(fmt, bias, rnd=Round.RNE):
    """All 65,536 BF16 patterns, as FP32, narrowed to ``fmt`` at ``bias``."""
    bits = np.arange(1 << 16, dtype=np.uint64) << np.uint64(16)
    return requests(bits, NARROW, fmt, _fixed_bias(get_format(fmt), bias) & 63, rnd)


def exhaustive_widening(fmt, bias):
    """Every code of ``fmt`` widened to FP32 at ``bias``."""
    f = get_format(fmt)
    return requests(np.arange(1 << f.width, dtype=np.uint64), WIDEN, f,
                    _fixed_bias(f, bias) & 63)


def corner_requests(fmt, bias):
    """Corner cases of narrowing to ``fmt`` at ``bias``, in both rounding modes: the largest value
    and the saturation edge (max, max + half ulp, the tie just past it), the smallest denormal and
    half of it, the tininess edge, every FP32 special, and unknown format codes."""
    f = get_format(fmt)
    b = _fixed_bias(f, bias)
    emin, emax, m = 1 - b, f.max_exp_field - b, f.man_bits
    vals = []
    top = (2 - 2.0 ** -m) * 2.0 ** emax
    ulp_top = 2.0 ** (emax - m)
    den = 2.0 ** (emin - m)
    for v in (top, top + ulp_top / 2, top + ulp_top / 4, top + ulp_top * 0.75, top * 2,
              den, den / 2, den * 1.5, den * 0.75, den * 2.5, 2.0 ** emin,
              2.0 ** emin - 2.0 ** (emin - m - 2), 2.0 ** emin - 2.0 ** (emin - m - 1),
              2.0 ** emin - 2.0 ** (emin - m - 3), 1.0, 1.0 + 2.0 ** -m / 2, 3.0):
        if 2.0 ** -149 <= v < 2.0 ** 128:
            vals.append(np.float32(v).view(np.uint32))
    vals = np.array(vals, dtype=np.uint64)
    vals = np.concatenate([vals, vals | np.uint64(0x80000000), special_fp32()])
    parts = [requests(vals, NARROW, f, b & 63, r) for r in (Round.RNE, Round.SR)]
    return concat(*parts)


def unknown_code_requests():
    """Requests naming FP32 (0) or an unknown format code (6, 7), in both directions."""
    vals = np.array([0x3F800000, 0x7FC00000, 0x00000001, 0xFFFFFFFF], dtype=np.uint64)
    return concat(*[requests(vals, op, code, 5) for op in (NARROW, WIDEN)
                    for code in (FormatCode.FP32.value, 6, 7)])

