"""Testbench of the FMA unit: stimulus, the model over request arrays, and the cocotb TB class.

* Requests are dicts of equal-length ``np.uint64`` arrays with the fields of
  ``hw.fp.fma.fma_request_layout`` (``a``, ``b``, ``c``, ``a_fmt``, ``a_bias``, ``b_fmt``,
  ``b_bias``); :func:`requests` builds them, :func:`random_requests`, :func:`hard_requests` and
  :func:`special_requests` generate them.
* :func:`expected` gives the reference model's ``(z, flags)`` for any mix of formats.
* :class:`FMATB` (cocotb) sends batches through ``hw.fp.fma.FMAUnit`` inside the bulk stream harness
  and compares ``z``, ``flags`` and ``tag`` bit for bit, in order, with :func:`expected`; a mismatch
  raises ``verif.scoreboard.Mismatch`` listing the first differences in hex and decoded form.

This module imports no simulator: the Amaranth tests and ``d1core vectors`` use it too.
"""

import numpy as np

from hw.fp.formats import BIAS_MAX, FLAG_INVALID, FP32, format_for_code, get_format
from verif.fp.fma import FMA_FORMATS, fma
from verif.fp.formats import decode, widen

from ..fcov.fp import sample_fma
from ..scoreboard import compare, flags_str

__all__ = ["FIELDS", "requests", "concat", "expected", "random_requests", "hard_requests",
           "exhaustive_pair_requests", "special_requests", "unknown_code_requests", "describe",
           "FMATB"]

#: The request fields, in layout order (the tag is added when packing).
FIELDS = ("a", "b", "c", "a_fmt", "a_bias", "b_fmt", "b_bias")

_CODE = {name: get_format(name).code.value for name in FMA_FORMATS}
_SIGN = 1 << FP32.sign_shift


def _code(fmt):
    """A format's run-time code, from a name, a ``FormatCode`` or an int."""
    if isinstance(fmt, str):
        return get_format(fmt).code.value
    return int(getattr(fmt, "value", fmt))


def requests(a, b, c, a_fmt="fp32", a_bias=0, b_fmt="fp32", b_bias=0):
    """Broadcast operands and side-band fields into request arrays. A format is a name or a
    code; a configurable format's bias defaults to 0."""
    arrays = np.broadcast_arrays(*(np.asarray(v, dtype=np.uint64) for v in (
        a, b, c, _code(a_fmt) if np.ndim(a_fmt) == 0 else a_fmt, a_bias,
        _code(b_fmt) if np.ndim(b_fmt) == 0 else b_fmt, b_bias)))
    return {k: np.ascontiguousarray(v).reshape(-1) for k, v in zip(FIELDS, arrays, strict=True)}


def concat(*parts):
    """Concatenate request dicts."""
    return {k: np.concatenate([p[k] for p in parts]) for k in FIELDS}


def _widen_operand(bits, codes, biases, formats):
    """Widen each operand in its own format: ``(fp32 codes, flags, known)``."""
    z = np.zeros(len(bits), dtype=np.uint32)
    fl = np.zeros(len(bits), dtype=np.uint8)
    known = np.zeros(len(bits), dtype=bool)
    for name in formats:
        f = get_format(name)
        sel = codes == f.code.value
        if not sel.any():
            continue
        known |= sel
        raw = bits[sel] & np.uint64((1 << f.width) - 1)
        if f.configurable:
            for bias in np.unique(biases[sel]):
                sub = biases[sel] == bias
                zz, ff = widen(raw[sub], f, int(bias))
                idx = np.flatnonzero(sel)[sub]
                z[idx], fl[idx] = zz, ff
        else:
            z[sel], fl[sel] = widen(raw, f)
    return z, fl, known


def expected(req, formats=FMA_FORMATS):
    """The model's ``(z, flags)`` (``np.uint64``) for requests mixing any formats.

    Each multiplicand is widened exactly to FP32 in its own format (what ``verif.fp.fma.fma``
    does first), the model runs on the FP32 values, and the widening flags (Denormal, Invalid for
    a signaling BF16) are added. A format code outside ``formats`` gives 0x7FC00000 with Invalid
    only, the unit's contract for a code it was not built for.
    """
    za, fa, ka = _widen_operand(req["a"], req["a_fmt"], req["a_bias"], formats)
    zb, fb, kb = _widen_operand(req["b"], req["b_fmt"], req["b_bias"], formats)
    c = req["c"].astype(np.uint32)
    z, flags = fma(za, zb, c)
    flags = flags | fa | fb
    known = ka & kb
    z = np.where(known, z, np.uint32(FP32.qnan_code))
    flags = np.where(known, flags, np.uint8(FLAG_INVALID))
    return z.astype(np.uint64), flags.astype(np.uint64)


# --- stimulus ------------------------------------------------------------------------------------

def _fp32(sign, exp, man):
    sign, exp, man = (np.asarray(v, dtype=np.uint64) for v in (sign, exp, man))
    return (sign << np.uint64(31)) | (exp << np.uint64(23)) | (man & np.uint64(0x7FFFFF))


def _special_fp32():
    pos = [0x00000000, 0x7F800000, 0x7FC00000, 0x7FC00001, 0x7F800001, 0x7FBFFFFF, 0x7FFFFFFF,
           0x00000001, 0x00000002, 0x007FFFFF, 0x00400000, 0x00800000, 0x00800001, 0x7F7FFFFF,
           0x7F7FFFFE, 0x3F800000, 0x3F800001, 0x3FFFFFFF, 0x34000000, 0x33800000, 0x4B800000]
    return np.array(pos + [p | _SIGN for p in pos], dtype=np.uint64)


def _random_fp32(rng, n):
    """FP32 codes: uniform bit patterns, every binade, subnormals, specials, short mantissas."""
    kind = rng.random(n)
    sign = rng.integers(0, 2, n)
    exp = rng.integers(1, 255, n)
    man = rng.integers(0, 1 << 23, n, dtype=np.uint64)
    # Short mantissas make exact products and sums, hence exact ties and cancellations.
    short = rng.random(n) < 0.3
    keep = rng.integers(0, 24, n).astype(np.uint64)
    man = np.where(short, man >> (np.uint64(23) - keep) << (np.uint64(23) - keep), man)
    bits = _fp32(sign, exp, man)
    bits = np.where(kind < 0.1, rng.integers(0, 1 << 32, n, dtype=np.uint64), bits)
    sub = _fp32(sign, 0, rng.integers(0, 1 << 23, n, dtype=np.uint64) >> rng.integers(0, 23, n)
                .astype(np.uint64))
    bits = np.where((kind >= 0.1) & (kind < 0.16), sub, bits)
    sp = _special_fp32()[rng.integers(0, len(_special_fp32()), n)]
    return np.where((kind >= 0.16) & (kind < 0.2), sp, bits)


def _random_code(rng, n, fmt):
    """Codes of ``fmt``: uniform for CFP8; for BF16 the FP32 mix truncated; garbage above the
    format's width half of the time (the unit must ignore it)."""
    f = get_format(fmt)
    if f.name == "fp32":
        return _random_fp32(rng, n)
    if f.name == "bf16":
        bits = _random_fp32(rng, n) >> np.uint64(16)
    else:
        bits = rng.integers(0, 1 << f.width, n, dtype=np.uint64)
    junk = rng.integers(0, 1 << (32 - f.width), n, dtype=np.uint64) << np.uint64(f.width)
    return bits | np.where(rng.random(n) < 0.5, junk, np.uint64(0))


def _biases(rng, n):
    """Biases for configurable operands: mostly the extremes and common values, else any."""
    return np.where(rng.random(n) < 0.6, rng.choice([0, BIAS_MAX, 7, 15], n),
                    rng.integers(0, BIAS_MAX + 1, n)).astype(np.uint64)


def _values(req, formats=FMA_FORMATS):
    za, _, _ = _widen_operand(req["a"], req["a_fmt"], req["a_bias"], formats)
    zb, _, _ = _widen_operand(req["b"], req["b_fmt"], req["b_bias"], formats)
    return za.view(np.float32).astype(np.float64), zb.view(np.float32).astype(np.float64)


def _c_near(rng, p, n):
    """FP32 addends placed against the exact products ``p``: same binade region (alignment and
    carries), cancellation (``c`` within a few ulps of ``-p``) and exact rounding ties."""
    with np.errstate(all="ignore"):
        kind = rng.random(n)
        sign = rng.integers(0, 2, n)
        finite = np.isfinite(p) & (p != 0)
        pe = np.where(finite, np.frexp(np.where(finite, p, 1.0))[1], 0)
        # A c of the product's magnitude times 2**[-30, 30].
        e = np.clip(pe + 126 + rng.integers(-30, 31, n), 0, 254)
        c = _fp32(sign, e, rng.integers(0, 1 << 23, n, dtype=np.uint64))
        # Cancellation: c = -fl32(p) plus a few ulps.
        neg = (-p).astype(np.float32).view(np.uint32).astype(np.int64)
        cancel = (neg + rng.integers(-3, 4, n)) & 0xFFFFFFFF
        c = np.where(kind < 0.35, cancel.astype(np.uint64), c)
        # A tie: c's ulp is twice the lowest set bit of p, so p sits on a half ulp of c.
        m, ex = np.frexp(np.where(finite, p, 1.0))
        mi = (np.abs(m) * 2.0 ** 53).astype(np.int64)
        low = ex - 53 + np.log2((mi & -mi).astype(np.float64)).astype(np.int64)
        te = np.clip(low + 1 + 23 + 127, 1, 254)
        tie = _fp32(sign, te, rng.integers(0, 1 << 23, n, dtype=np.uint64))
        c = np.where((kind >= 0.35) & (kind < 0.6), tie, c)
    return np.where(finite, c, _random_fp32(rng, n))


def random_requests(rng, n, *, formats=FMA_FORMATS, c_near=0.6):
    """``n`` requests mixing the multiplicand ``formats`` (each operand its own, CFP8 at random
    biases, often 0 and 63) with FP32 addends: a fraction ``c_near`` aimed at the product
    (alignment, cancellation, ties), the rest drawn like FP32 operands."""
    names = list(formats)
    fa = rng.choice(len(names), n)
    fb = rng.choice(len(names), n)
    a = np.zeros(n, dtype=np.uint64)
    b = np.zeros(n, dtype=np.uint64)
    for k, name in enumerate(names):
        a[fa == k] = _random_code(rng, int((fa == k).sum()), name)
        b[fb == k] = _random_code(rng, int((fb == k).sum()), name)
    req = requests(a, b, 0, np.array([_CODE[names[k]] for k in fa], dtype=np.uint64),
                   _biases(rng, n), np.array([_CODE[names[k]] for k in fb], dtype=np.uint64),
                   _biases(rng, n))
    va, vb = _values(req, formats)
    with np.errstate(all="ignore"):
        p = va * vb
    req["c"] = np.where(rng.random(n) < c_near, _c_near(rng, p, n), _random_fp32(rng, n))
    return req


def hard_requests(rng, n):
    """FP32 requests at the edges: cancellation to exact zero and to a few ulps, results around
    the smallest normal (the tininess boundary, subnormal to normal carries) and the largest
    finite value (overflow), and exact ties between the product and ``c``'s ulp."""
    k = n // 5
    parts = []
    sign = lambda m: rng.integers(0, 2, m)  # noqa: E731
    # 1. a·b = -c exactly or nearly: operands with short mantissas, c = -fl(a·b) ± ulps.
    a = _fp32(sign(k), rng.integers(1, 255, k), rng.integers(0, 1 << 12, k) << 11)
    b = _fp32(sign(k), rng.integers(64, 190, k), rng.integers(0, 1 << 12, k) << 11)
    with np.errstate(all="ignore"):
        p = a.astype(np.uint32).view(np.float32).astype(np.float64) * \
            b.astype(np.uint32).view(np.float32).astype(np.float64)
        neg = (-p).astype(np.float32).view(np.uint32).astype(np.int64)
    c = ((neg + rng.integers(-2, 3, k)) & 0xFFFFFFFF).astype(np.uint64)
    parts.append(requests(a, b, c))
    # 2. Around the smallest normal: c = ±(2**-126 ± a few ulps), a·b tiny of either sign.
    c = _fp32(sign(k), 1, 0).astype(np.int64) + rng.integers(-3, 3, k)
    a = _fp32(sign(k), rng.integers(1, 127, k), rng.integers(0, 1 << 23, k))
    b = _fp32(sign(k), np.clip(127 - 126 - 24 + 127 - ((a >> np.uint64(23)) & np.uint64(0xFF))
                               .astype(np.int64) + rng.integers(-3, 3, k), 1, 254),
              rng.integers(0, 1 << 23, k))
    parts.append(requests(a, b, c.astype(np.uint64)))
    # 3. Products in and around the subnormal range, c small or zero.
    ea = rng.integers(1, 254, k)
    eb = np.clip(127 + rng.integers(-160, -90, k) - (ea - 127), 1, 254)
    a = _fp32(sign(k), ea, rng.integers(0, 1 << 23, k))
    b = _fp32(sign(k), eb, rng.integers(0, 1 << 23, k))
    c = np.where(rng.random(k) < 0.5, _fp32(sign(k), 0, rng.integers(0, 1 << 23, k)),
                 _fp32(sign(k), rng.integers(0, 8, k), rng.integers(0, 1 << 23, k)))
    parts.append(requests(a, b, c))
    # 4. Overflow: a·b and c near the largest finite value.
    ea = rng.integers(127, 254, k)
    eb = np.clip(127 + 127 + rng.integers(-2, 2, k) - (ea - 127), 1, 254)
    a = _fp32(sign(k), ea, rng.integers(0, 1 << 23, k))
    b = _fp32(sign(k), eb, rng.integers(0, 1 << 23, k))
    c = _fp32(sign(k), rng.integers(250, 255, k), rng.integers(0, 1 << 23, k))
    c = np.where(rng.random(k) < 0.2, _fp32(sign(k), 254, 0x7FFFFF), c)
    parts.append(requests(a, b, c))
    # 5. Ties: c's ulp twice the product's lowest set bit (products of short mantissas).
    m = n - 4 * k
    a = _fp32(sign(m), rng.integers(1, 255, m), rng.integers(0, 1 << 6, m) << 17)
    b = _fp32(sign(m), rng.integers(100, 150, m), rng.integers(0, 1 << 6, m) << 17)
    req = requests(a, b, 0)
    va, vb = _values(req)
    with np.errstate(all="ignore"):
        req["c"] = _c_near(np.random.default_rng(rng.integers(1 << 31)), va * vb, m)
    parts.append(req)
    return concat(*parts)


def exhaustive_pair_requests(rng, a_fmt, a_bias, b_fmt, b_bias, *, stride=1):
    """Every pair of codes of two narrow formats (every ``stride``-th pair), each with an addend
    aimed at its product (:func:`random_requests`' mix: alignment, cancellation, ties)."""
    fa, fb = get_format(a_fmt), get_format(b_fmt)
    a, b = np.meshgrid(np.arange(1 << fa.width, dtype=np.uint64),
                       np.arange(1 << fb.width, dtype=np.uint64), indexing="ij")
    req = requests(a.reshape(-1)[::stride], b.reshape(-1)[::stride], 0, fa.name, a_bias,
                   fb.name, b_bias)
    va, vb = _values(req)
    n = len(req["a"])
    with np.errstate(all="ignore"):
        req["c"] = np.where(rng.random(n) < 0.8, _c_near(rng, va * vb, n), _random_fp32(rng, n))
    return req


def special_requests():
    """Every combination of FP32 specials and boundary values for ``a``, ``b`` and ``c``; and
    BF16 and CFP8 specials (zeros, denormals, extremes, BF16 Inf and NaNs) against FP32 ones."""
    sp = _special_fp32()
    a, b, c = np.meshgrid(sp, sp, sp, indexing="ij")
    parts = [requests(a, b, c)]
    bf = np.array([0x0000, 0x8000, 0x0001, 0x807F, 0x0080, 0x7F7F, 0xFF7F, 0x7F80, 0xFF80, 0x7FC0,
                   0x7F81, 0xFFBF, 0x3F80, 0xBF81], dtype=np.uint64)
    a, c = np.meshgrid(bf, sp, indexing="ij")
    parts.append(requests(a, 0x3F800000, c, a_fmt="bf16"))
    parts.append(requests(0x40000000, a, c, b_fmt="bf16"))
    for name in ("cfp8_143", "cfp8_152"):
        codes = np.array([0x00, 0x80, 0x01, 0x81, 0x07, 0x08, 0x7F, 0xFF, 0x38, 0x03], np.uint64)
        for bias in (0, 1, 7, 63):
            x, y, z = np.meshgrid(codes, codes, sp, indexing="ij")
            parts.append(requests(x, y, z, name, bias, name, bias))
    return concat(*parts)


def unknown_code_requests(rng, n=64, formats=FMA_FORMATS):
    """Requests naming a format code the unit was not built for (SHP, UHP, 6, 7, or a
    multiplicand format left out), on ``a``, on ``b`` or on both."""
    built = {_CODE[f] for f in formats}
    bad = np.array([c for c in range(8) if c not in built], dtype=np.uint64)
    good = np.array(sorted(built), dtype=np.uint64)
    which = rng.integers(0, 3, n)
    a_fmt = np.where(which != 1, rng.choice(bad, n), rng.choice(good, n))
    b_fmt = np.where(which != 0, rng.choice(bad, n), rng.choice(good, n))
    return requests(rng.integers(0, 1 << 32, n, dtype=np.uint64),
                    rng.integers(0, 1 << 32, n, dtype=np.uint64),
                    rng.integers(0, 1 << 32, n, dtype=np.uint64), a_fmt, 5, b_fmt, 9)


# --- reporting -----------------------------------------------------------------------------------

def _show(bits, code, bias):
    f = format_for_code(int(code))
    if f is None or f.name not in FMA_FORMATS:
        return f"{int(bits):#x} (code {int(code)})"
    bits = int(bits) & ((1 << f.width) - 1)
    try:
        value = float(decode(np.array([bits]), f, int(bias) if f.configurable else None)[0])
        text = f"{value:.9g}"
    except (ValueError, TypeError):
        text = "?"
    name = f.name + (f"@{int(bias)}" if f.configurable else "")
    return f"{name} {bits:#0{f.width // 4 + 2}x} ({text})"


def describe(req, i, exp_z, exp_flags, got_z=None, got_flags=None):
    """One readable line for request ``i``: operands, expected and (if given) actual results."""
    fp32 = FP32.code.value
    line = (f"#{i} {_show(req['a'][i], req['a_fmt'][i], req['a_bias'][i])} * "
            f"{_show(req['b'][i], req['b_fmt'][i], req['b_bias'][i])} + "
            f"{_show(req['c'][i], fp32, 0)} -> expected {_show(exp_z[i], fp32, 0)} "
            f"[{flags_str(exp_flags[i])}]")
    if got_z is not None:
        line += f", got {_show(got_z[i], fp32, 0)} [{flags_str(got_flags[i])}]"
    return line


class FMATB:
    """Drive a harness-wrapped ``FMAUnit``: pack requests with the unit's layout, run them through
    the bulk harness, compare every response with :func:`expected`."""

    def __init__(self, dut, *, tag_width=8, formats=FMA_FORMATS):
        from ..harness import StreamHarness

        self.dut = dut
        self.harness = StreamHarness(dut)
        self.tag_width = tag_width
        self.formats = tuple(formats)
        self.checked = 0

    async def reset(self):
        await self.harness.reset()

    async def check(self, req, *, idle=0, stall=0, seed=1, what="FMAs", cycles=False):
        """Run ``req``; compare z, flags and tag of every response, in order, with the model, and
        with ``cycles`` every accept and response cycle with the unit's cycle contract
        (``verif.harness.StallingPipeline`` of the unit's latency)."""
        from hw.fp.fma import FMAGeometry, fma_request_layout, fma_response_layout

        from ..pack import pack, unpack

        n = len(req["a"])
        tags = np.arange(n, dtype=np.uint64) % np.uint64(1 << self.tag_width)
        words = pack(fma_request_layout(self.tag_width), tag=tags, **req)
        latency = FMAGeometry.of(self.formats).latency if cycles else None
        out = await self.harness.run(words, idle=idle, stall=stall, seed=seed, pipeline=latency)
        got = unpack(fma_response_layout(self.tag_width), out)
        exp_z, exp_flags = expected(req, self.formats)
        compare({"z": exp_z, "flags": exp_flags, "tag": tags}, got, what=what,
                describe=lambda i: describe(req, i, exp_z, exp_flags, got["z"], got["flags"]) +
                (f" (tag {int(got['tag'][i])}, expected {int(tags[i])})"
                 if got["tag"][i] != tags[i] else ""))
        # Functional coverage (off unless D1CORE_FCOV is set): what the design was seen to do.
        sample_fma(req, got["z"], got["flags"], self.formats)
        self.checked += n
        return n
