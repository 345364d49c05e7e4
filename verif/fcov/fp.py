"""Functional coverage of the number formats' units: the conversion unit and the FMA.

The bins come from docs/formats.md (the contract), not from the RTL: the conversions the unit
offers, the classes of operand each format can hold, the rounding modes, the flags, and which
flags each class can raise. A sample is one request and the response the design gave to it
(:func:`sample_convert`, :func:`sample_fma`, called by the testbenches' scoreboards with the
requests they drove and the results they received).

Operand classes
  Of a code in its own format (a widening's input, an FMA operand): ``zero``; ``subnormal`` (a
  denormal of its format: e = 0, m != 0); ``normal``; ``edge``, the saturation edge (the largest
  finite magnitude, ±max); ``infinity`` and ``nan`` (FP32 and BF16 only: the configurable
  formats and UHP have neither, so those combinations are no bins).

  Of a narrowing's FP32 input, relative to the destination format at its bias: ``zero``;
  ``subnormal`` (an FP32 subnormal: it raises Denormal); ``tiny`` (an FP32 normal below the
  destination's smallest normal 2^emin: a denormal or zero result; BF16 shares FP32's emin, so it
  has none); ``normal`` (2^emin <= |x| < max); ``edge`` (max <= |x| < max + ulp/2: what RNE
  delivers as ±max, the saturation edge); ``overflow`` (a finite |x| >= max + ulp/2, the RNE
  overflow); ``infinity``; ``nan``.
"""

import numpy as np

from hw.fp.formats import (
    FLAG_DENORMAL,
    FLAG_INEXACT,
    FLAG_INVALID,
    FLAG_OVERFLOW,
    FLAG_UNDERFLOW,
    FP32,
    format_for_code,
    get_format,
)

from . import FLAG_BINS, Cross, Group, Point, record, requested

__all__ = ["CONVERT", "FMA", "GROUPS", "narrow_class", "code_class", "flag_labels",
           "sample_convert", "sample_fma"]

#: The conversion unit's destination (narrowing) and source (widening) formats.
CONVERSION_FORMATS = ("bf16", "cfp8_143", "cfp8_152", "shp", "uhp")
#: The FMA's multiplicand formats.
FMA_FORMATS = ("fp32", "bf16", "cfp8_143", "cfp8_152")

_FLAGS = (("inexact", FLAG_INEXACT), ("underflow", FLAG_UNDERFLOW), ("overflow", FLAG_OVERFLOW),
          ("invalid", FLAG_INVALID), ("denormal", FLAG_DENORMAL))

CODE_CLASSES = ("zero", "subnormal", "normal", "edge", "infinity", "nan")
NARROW_CLASSES = ("zero", "subnormal", "tiny", "normal", "edge", "overflow", "infinity", "nan")
#: The format codes that are no conversion (FP32 and the unused codes 6, 7): Invalid only.
UNKNOWN_CODES = (0, 6, 7)
_OPS = ("narrow", "widen")


def flag_labels(flags):
    """The flag bins of one flags byte: the names of the flags raised, or ``{"none"}``."""
    flags = int(flags)
    out = frozenset(name for name, bit in _FLAGS if flags & bit)
    return out or frozenset({"none"})


def _ieee(fmt):
    return get_format(fmt).ieee


# --- the conversion unit --------------------------------------------------------------------

#: Per class of a narrowing's input, the flags the contract allows (docs/formats.md,
#: narrowing) and the rule, as the report states it.
_NARROW_RULES = {
    "zero": ("±0 raises no flag", lambda fmt, rnd: {"none"}),
    "subnormal": ("an FP32 subnormal raises Denormal, with Inexact and Underflow when it does "
                  "not fit", lambda fmt, rnd: {"denormal", "inexact", "underflow"}),
    "tiny": ("a tiny input raises nothing, or Inexact with or without Underflow (tininess "
             "after rounding)", lambda fmt, rnd: {"none", "inexact", "underflow"}),
    "normal": ("an input in range raises nothing or Inexact", lambda fmt, rnd: {"none",
                                                                              "inexact"}),
    "edge": ("the saturation edge raises nothing or Inexact, Overflow only when SR rounds it "
             "up", lambda fmt, rnd: {"none", "inexact"} | ({"overflow"} if rnd == "sr"
                                                          else set())),
    "overflow": ("an overflowing input raises Overflow and Inexact",
                 lambda fmt, rnd: {"inexact", "overflow"}),
    "infinity": ("an infinity raises nothing into BF16, Overflow and Inexact into the others",
                 lambda fmt, rnd: {"none"} if fmt == "bf16" else {"inexact", "overflow"}),
    "nan": ("a NaN raises Invalid only (into BF16: only a signaling one)",
            lambda fmt, rnd: {"none", "invalid"} if fmt == "bf16" else {"invalid"}),
}


def _narrow_flags(c):
    """Why a narrowing (format, class, rounding, flag) is no bin (docs/formats.md, narrowing)."""
    fmt, cls, rnd, flag = c["narrowing"].split()[1], c["operand"], c["rounding"], c["flags"]
    if fmt == "bf16" and cls == "tiny":
        return "BF16 has FP32's smallest normal: no FP32 normal is tiny for it"
    if flag == "invalid" and fmt == "uhp" and cls not in ("zero", "nan"):
        return None  # a negative nonzero into UHP: +0 with Invalid
    rule, allowed = _NARROW_RULES[cls]
    if flag in allowed(fmt, rnd):
        return None
    return rule if cls in ("zero", "nan") else f"{rule} (a negative one into UHP: Invalid)"


def _widen_flags(c):
    """Why a widening (format, class, flag) is no bin (docs/formats.md, widening)."""
    fmt, cls, flag = c["widening"].split()[1], c["operand"], c["flags"]
    if cls in ("tiny", "overflow"):
        return "tiny and overflow are classes of a narrowing's FP32 input"
    if cls in ("infinity", "nan") and not _ieee(fmt):
        return "the configurable formats and UHP have no infinity and no NaN"
    allowed = {"zero": {"none"}, "subnormal": {"denormal"}, "normal": {"none"},
               "edge": {"none"}, "infinity": {"none"}, "nan": {"none", "invalid"}}[cls]
    if flag in allowed:
        return None
    return "widening is exact: only Denormal (a denormal input) and Invalid (a signaling NaN)"


def _narrow_class_bins(c):
    fmt, cls = c["narrowing"].split()[1], c["operand"]
    if fmt == "bf16" and cls == "tiny":
        return "BF16 has FP32's smallest normal: no FP32 normal is tiny for it"
    return None


def _widen_class_bins(c):
    fmt, cls = c["widening"].split()[1], c["operand"]
    if cls in ("tiny", "overflow"):
        return "tiny and overflow are classes of a narrowing's FP32 input"
    if cls in ("infinity", "nan") and not _ieee(fmt):
        return "the configurable formats and UHP have no infinity and no NaN"
    return None


def _configurable_only(c):
    fmt = (c.get("narrowing") or c.get("widening")).split()[1]
    return None if get_format(fmt).configurable else "BF16 and UHP have a fixed bias"


def _unknown_flags(c):
    return None if c["flags"] == "invalid" else "a code that is no conversion raises Invalid only"


CONVERT = Group(
    "fp.convert",
    "one request of the conversion unit (data, op, format code, bias, rounding) and the unit's "
    "response flags, as the scoreboard of tests/fp/tb_convert.py saw them",
    points=(
        Point("narrowing", tuple(f"narrow {f}" for f in CONVERSION_FORMATS),
              "a narrowing (FP32 to the format)"),
        Point("widening", tuple(f"widen {f}" for f in CONVERSION_FORMATS),
              "a widening (the format to FP32)"),
        Point("operand", NARROW_CLASSES, "the input's class (module docstring)"),
        Point("rounding", ("rne", "sr"), "a narrowing's rounding mode"),
        Point("bias", ("0", "1..62", "63"), "the bias of a configurable format"),
        Point("unknown", tuple(f"{op} code {k}" for op in _OPS for k in UNKNOWN_CODES),
              "a format code that is no conversion (FP32, 6, 7)"),
        Point("flags", FLAG_BINS, "the flags of the response", multi=True),
    ),
    crosses=(
        Cross("narrow_class_round", ("narrowing", "operand", "rounding"),
              "every narrowing, class of input and rounding mode", _narrow_class_bins),
        Cross("narrow_class_round_flags", ("narrowing", "operand", "rounding", "flags"),
              "every narrowing, class, rounding mode and flag the contract allows",
              _narrow_flags),
        Cross("widen_class", ("widening", "operand"), "every widening and class of input",
              _widen_class_bins),
        Cross("widen_class_flags", ("widening", "operand", "flags"),
              "every widening, class and flag the contract allows", _widen_flags),
        Cross("narrow_bias", ("narrowing", "bias"), "the bias edges of each configurable format",
              _configurable_only),
        Cross("widen_bias", ("widening", "bias"), "the bias edges of each configurable format",
              _configurable_only),
        Cross("unknown_flags", ("unknown", "flags"), "codes that are no conversion",
              _unknown_flags),
    ),
)


def _bias_label(bias):
    return "0" if bias == 0 else "63" if bias == 63 else "1..62"


def _fp32_values(bits):
    with np.errstate(invalid="ignore"):  # signaling NaNs
        return np.asarray(bits, dtype=np.uint64).astype(np.uint32).view(np.float32).astype(
            np.float64)


def narrow_class(bits, fmt, bias):
    """The class index (into ``NARROW_CLASSES``) of FP32 codes ``bits`` narrowed to ``fmt`` at
    ``bias`` (module docstring)."""
    from verif.fp.formats import max_value

    f = get_format(fmt)
    b = f.bias if f.bias is not None else int(bias)
    bits = np.asarray(bits, dtype=np.uint64)
    v = np.abs(_fp32_values(bits))
    exp = (bits >> np.uint64(FP32.man_bits)) & np.uint64(0xFF)
    top = max_value(f, b)
    half_ulp = np.ldexp(1.0, f.emax(b) - f.man_bits - 1)
    with np.errstate(invalid="ignore"):
        cls = np.select(
            [np.isnan(v), np.isinf(v), v == 0, exp == 0, v < np.ldexp(1.0, 1 - b), v < top,
             v < top + half_ulp],
            [7, 6, 0, 1, 2, 3, 4], 5)
    return cls


def code_class(bits, fmt, bias):
    """The class index (into ``CODE_CLASSES``) of codes ``bits`` of ``fmt`` at ``bias``."""
    from verif.fp.formats import decode, max_value

    f = get_format(fmt)
    b = f.bias if f.bias is not None else int(bias)
    raw = np.asarray(bits, dtype=np.uint64) & np.uint64((1 << f.width) - 1)
    v = np.abs(decode(raw, f, b))
    exp = (raw >> np.uint64(f.man_bits)) & np.uint64((1 << f.exp_bits) - 1)
    with np.errstate(invalid="ignore"):
        return np.select([np.isnan(v), np.isinf(v), v == 0, exp == 0, v == max_value(f, b)],
                         [5, 4, 0, 1, 3], 2)


_CODE_TO_NARROW = np.array([NARROW_CLASSES.index(k) for k in CODE_CLASSES])


def _keys(columns):
    """One int64 key per row of the small integer ``columns`` (mixed radix), and the rows: a
    1-D ``np.unique`` of the keys is much faster than ``np.unique(axis=0)`` of the rows."""
    rows = np.stack([np.asarray(c, dtype=np.int64) for c in columns], axis=1)
    key = np.zeros(len(rows), dtype=np.int64)
    for j in range(rows.shape[1]):
        col = rows[:, j] - rows[:, j].min(initial=0)
        key = key * (int(col.max(initial=0)) + 1) + col
    return key, rows


def _split(*columns):
    """``((value, ...), indices)`` for each distinct row of the integer ``columns``."""
    key, rows = _keys(columns)
    if not len(rows):
        return
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(first) + 1))
    for k, i in enumerate(first):
        yield tuple(int(v) for v in rows[i]), order[bounds[k]:bounds[k + 1]]


def _distinct(columns):
    """The distinct rows of integer ``columns`` (equal-length arrays)."""
    key, rows = _keys(columns)
    return rows[np.unique(key, return_index=True)[1]]


def sample_convert(req, flags):
    """Sample conversion requests ``req`` (``data``, ``op``, ``fmt``, ``bias``, ``rnd`` arrays)
    and the flags the unit returned for them. Does nothing unless functional coverage is on."""
    if requested() is None:
        return
    op, code = np.asarray(req["op"]).astype(np.int64), np.asarray(req["fmt"]).astype(np.int64)
    bias, rnd = np.asarray(req["bias"]).astype(np.int64), np.asarray(req["rnd"]).astype(np.int64)
    flags = np.asarray(flags).astype(np.int64)
    cls = np.full(len(op), -1, dtype=np.int64)
    names = {get_format(n).code.value: n for n in CONVERSION_FORMATS}
    for (o, c, b), idx in _split(op, code, bias):
        if c not in names:
            continue
        name = names[c]
        if o == 0:
            cls[idx] = narrow_class(req["data"][idx], name, b)
        else:
            cls[idx] = _CODE_TO_NARROW[code_class(req["data"][idx], name, b)]
    samples = []
    # The bias as its bin (0, 1..62, 63), and rnd's one bit: fewer distinct rows to sample.
    edge = np.select([bias == 0, bias == 63], [0, 63], 1)
    for o, c, b, r, k, fl in _distinct([op, code, edge, rnd & 1, cls, flags]):
        f = format_for_code(int(c))
        known = f is not None and f.name in CONVERSION_FORMATS
        narrow = o == 0
        samples.append((
            f"narrow {f.name}" if known and narrow else None,
            f"widen {f.name}" if known and not narrow else None,
            NARROW_CLASSES[k] if known else None,
            ("rne", "sr")[r & 1] if known and narrow else None,
            _bias_label(b) if known and f.configurable else None,
            None if known else f"{_OPS[o & 1]} code {c}",
            flag_labels(fl)))
    record(CONVERT, samples)


# --- the FMA ----------------------------------------------------------------------------------

def _pairs():
    return tuple(f"{a}*{b}" for a in FMA_FORMATS for b in FMA_FORMATS)


def _operand_class(c, slot):
    fmt, cls = c[f"{slot}_format"], c[slot]
    if cls in ("infinity", "nan") and not _ieee(fmt):
        return "CFP8 has no infinity and no NaN"
    return None


def _result_flags(c):
    """Why a (operation, result class, flag) is no FMA bin (docs/formats.md, FMA table)."""
    res, flag = c["result"], c["flags"]
    allowed = {
        "zero": {"none", "inexact", "underflow", "denormal"},
        "subnormal": {"none", "inexact", "underflow", "denormal"},
        "normal": {"none", "inexact", "underflow", "denormal"},
        "edge": {"none", "inexact", "denormal"},
        "infinity": {"none", "inexact", "overflow", "denormal"},
        # The operation is defined only without NaN operands: a NaN result then comes from
        # inf*0 or inf-inf, which raise Invalid, and is exact.
        "nan": {"invalid", "denormal"},
    }[res]
    if flag in allowed:
        return None
    if res == "nan":
        return "a NaN made of non-NaN operands raises Invalid and nothing inexact"
    if flag == "invalid":
        return "Invalid gives a NaN result"
    if flag == "overflow":
        return "Overflow gives an infinite result"
    return "an infinite or ±max result is never tiny" if flag == "underflow" else \
        f"a {res} result never raises {flag}"


def _pair_flags(c):
    a, b = c["formats"].split("*")
    if a.startswith("cfp8") and b.startswith("cfp8") and c["flags"] in ("overflow", "underflow"):
        return ("CFP8 products are below 2^64 and on a grid of at least 2^-130: added to an FP32 "
                "addend they never overflow and are never tiny and inexact")
    return None


FMA = Group(
    "fp.fma",
    "one FMA request (a, b and their formats and biases, c) and the unit's result and flags, "
    "as the scoreboard of tests/fp/tb_fma.py saw them",
    points=(
        Point("formats", _pairs(), "the multiplicand formats, a*b"),
        Point("a_format", FMA_FORMATS, "a's format"),
        Point("b_format", FMA_FORMATS, "b's format"),
        Point("a", CODE_CLASSES, "a's class in its own format"),
        Point("b", CODE_CLASSES, "b's class in its own format"),
        Point("c", CODE_CLASSES, "c's class (FP32)"),
        Point("operation", ("add", "subtract"),
              "the effective operation: the signs of a*b and c agree (add) or not; none with a "
              "NaN operand"),
        Point("result", CODE_CLASSES, "the result's class (FP32)"),
        Point("flags", FLAG_BINS, "the result's flags", multi=True),
    ),
    crosses=(
        Cross("a_format_class", ("a_format", "a"), "a's every class in each format",
              lambda c: _operand_class(c, "a")),
        Cross("b_format_class", ("b_format", "b"), "b's every class in each format",
              lambda c: _operand_class(c, "b")),
        Cross("classes", ("a", "b", "c"), "every combination of the operands' classes"),
        Cross("operation_result_flags", ("operation", "result", "flags"),
              "each operation's results and flags the contract allows", _result_flags),
        Cross("formats_flags", ("formats", "flags"), "each format pair's flags", _pair_flags),
    ),
)


def sample_fma(req, z, flags, formats=FMA_FORMATS):
    """Sample FMA requests ``req`` (``a``, ``b``, ``c``, ``a_fmt``, ``a_bias``, ``b_fmt``,
    ``b_bias`` arrays) and the result ``z`` and ``flags`` the unit returned. Requests with a
    format code outside ``formats`` (the unit's build) are left out. Does nothing unless
    functional coverage is on."""
    if requested() is None:
        return
    n = len(req["a"])
    cols = {}
    known = np.ones(n, dtype=bool)
    for slot in ("a", "b"):
        code = np.asarray(req[f"{slot}_fmt"]).astype(np.int64)
        bias = np.asarray(req[f"{slot}_bias"]).astype(np.int64)
        fidx = np.full(n, -1, dtype=np.int64)
        cls = np.full(n, -1, dtype=np.int64)
        neg = np.zeros(n, dtype=bool)
        index = {get_format(f).code.value: i for i, f in enumerate(FMA_FORMATS)
                 if f in formats}
        for (c, b), idx in _split(code, bias):
            if c not in index:
                continue
            f = get_format(FMA_FORMATS[index[c]])
            fidx[idx] = index[c]
            bits = np.asarray(req[slot], dtype=np.uint64)[idx]
            cls[idx] = code_class(bits, f.name, b)
            neg[idx] = ((bits >> np.uint64(f.sign_shift)) & np.uint64(1)).astype(bool)
        known &= fidx >= 0
        cols[slot] = (fidx, cls, neg)
    ccls = code_class(req["c"], "fp32", None)
    cneg = ((np.asarray(req["c"], dtype=np.uint64) >> np.uint64(31)) & np.uint64(1)) == 1
    nan = (cols["a"][1] == 5) | (cols["b"][1] == 5) | (ccls == 5)
    op = np.where(nan, -1, (cols["a"][2] ^ cols["b"][2] ^ cneg).astype(np.int64))
    zcls = code_class(z, "fp32", None)
    rows = _distinct([cols["a"][0][known], cols["b"][0][known], cols["a"][1][known],
                      cols["b"][1][known], ccls[known], op[known], zcls[known],
                      np.asarray(flags)[known]])
    samples = []
    for fa, fb, ka, kb, kc, o, kz, fl in rows:
        samples.append((f"{FMA_FORMATS[fa]}*{FMA_FORMATS[fb]}", FMA_FORMATS[fa], FMA_FORMATS[fb],
                        CODE_CLASSES[ka], CODE_CLASSES[kb], CODE_CLASSES[kc],
                        None if o < 0 else ("add", "subtract")[o], CODE_CLASSES[kz],
                        flag_labels(fl)))
    record(FMA, samples)


GROUPS = (CONVERT, FMA)
