"""Bit-exact numpy model of d1core's vector unit: every operation, and the unit's state.

The contract is ``docs/vector.md``; this docstring restates the model's conventions and the FP32
and integer rules, the document has the table of every op.

A vector is 64 bytes: a numpy ``uint8`` array of shape ``(64,)``, or ``(n, 64)`` for a batch of
``n`` independent vectors. Its lanes are little-endian: lane 0 is bytes 0.., lane ``i`` of a
``w``-bit type is bytes ``i·w/8 .. (i+1)·w/8 - 1`` read little-endian. :func:`lanes` and
:func:`vector` convert between the bytes and the lanes (16 × 32-bit, 32 × 16-bit, 64 × 8-bit
unsigned codes); :func:`vectors_from_ints` and :func:`ints_from_vectors` between vectors and the
512-bit integers of the request/response layouts. Lane types (:data:`LANE_BITS`, the lower-case
names of ``hw.vector.isa.VecType``): ``fp32`` (FP32 codes), ``bf16`` (BF16 codes), ``int8``,
``int16``, ``int32`` (two's complement; an operation decides whether it reads them signed or
unsigned). Op names are the lower-case names of ``hw.vector.isa.VecOp``.

Stateless calls: ``execute(op, vtype, *vectors, imm=0, fmt=0, bias=0, rnd=0, rand=None,
sticky=0)`` returns ``(result, flags, error)``. The vectors are the request fields the op reads,
in the order of ``OPS[(op, vtype)].fields`` (``a``, ``b``, ``c``; ``narrow`` reads ``a`` and
``c``). ``result`` is a vector of the operands' shape; ``flags`` is one ``uint8`` per vector (shape
``()`` or ``(n,)``), the OR over the lanes (and over the steps of a reduction) of the flag bits of
``hw.fp.formats`` (sticky flags); ``error`` is a ``bool`` array of the same shape. The keyword
extras are the request's scalar fields, the same for every vector of a batch: ``imm`` (0..63),
``fmt`` (a ``FormatCode``, a format name or a code 0..7), ``bias`` (0..63), ``rnd`` (``Round``,
``"rne"``/``"sr"`` or 0/1), plus ``rand``, the 32 SR generators' ``SR_BITS``-bit words for this
request (shape ``(32,)`` or ``(n, 32)``; required by a ``narrow`` with ``rnd`` SR), and
``sticky``, the value ``rdflags``/``clrflags`` return. Ops ignore the extras they do not use.

* Legal pairs are the keys of :data:`OPS` (op name, lane type) -> :class:`OpSpec` (operand fields
  and semantics). Any other pair, unknown names included, is illegal: the result is the all-zero
  vector, flags 0, ``error`` True, and no exception (operands are still checked as below). So is a
  legal ``widen``/``narrow`` pair with an ``fmt`` that is not narrower than the type, or an
  ``imm`` past the last part. Legal requests give ``error`` False.
* A malformed call raises an exact message: ``TypeError`` for a value of the wrong kind (an
  operand that is not a ``uint8`` array, an extra that is not an integer, a ``rand`` that is not
  an integer array), ``ValueError`` for one of the wrong size or value (no operand; an operand
  not of shape ``(64,)`` or ``(n, 64)``; operands of different shapes; a legal op given the
  wrong number of operands; an extra out of its field's range; a missing ``rand``, or one of
  the wrong shape or range, where stochastic rounding needs it).

The unit's state (sticky flags, 32 SR generators) lives in :class:`VectorUnitModel`, whose
``run(requests)`` answers a sequence of requests in issue order (:func:`run` for a fresh unit).

FP32 semantics (IEEE 754 binary32, round to nearest even, subnormals kept, tininess after
rounding, every NaN result the canonical quiet NaN 0x7FC00000):

* ``add``, ``sub``, ``mul``, ``fma`` (a·b + c), ``fms`` (a·b - c), ``fnma`` (-(a·b) + c) and
  ``fnms`` (-(a·b) - c) are the FMA model ``verif.fp.fma``: add is ``fma(a, 1, b)``, sub is
  ``fma(a, 1, -b)``, mul is ``fma(a, b, -0)`` and the negated forms flip the sign bit of ``a`` or
  ``c`` before one fused rounding. Flipping a sign is exact for every operand, NaNs included (a
  signaling NaN stays signaling), and ``x·1`` and ``x + (-0)`` are exact with the IEEE zero signs,
  so each equals the IEEE operation, flags included (checked against SoftFloat in
  ``tests/vector``). Denormal is raised when some operand lane is subnormal.
* ``min`` / ``max`` are IEEE 754-2019 ``minimumNumber`` / ``maximumNumber`` (RISC-V ``FMIN.S`` /
  ``FMAX.S``): -0 < +0; a NaN operand is ignored in favour of the other operand (returned bit for
  bit); two NaNs give 0x7FC00000; Invalid iff some operand is a signaling NaN. No other flag.
* ``abs`` and ``neg`` clear or flip the sign bit of every lane, NaNs included; no flag.
* ``eq``, ``lt``, ``le`` give a mask: all-ones lanes where true, zero lanes where false. Any NaN
  makes the comparison false; -0 == +0. ``eq`` is quiet (Invalid only for a signaling NaN);
  ``lt`` and ``le`` are signaling (Invalid for any NaN). No other flag.
* ``to_i32`` and ``to_i32_rtz`` convert FP32 lanes to INT32, rounding to nearest even or toward
  zero. A NaN gives INT_MAX, a value whose rounded result is above INT_MAX (+Inf included) gives
  INT_MAX, one below INT_MIN (-Inf included) gives INT_MIN; those raise Invalid only (RISC-V
  ``FCVT.W.S``). An in-range inexact conversion raises Inexact. A subnormal input also raises
  Denormal (as every FP32 input of ``verif.fp.formats.narrow``).
* ``to_f32`` on INT32 lanes: signed INT32 to FP32, rounding to nearest even; Inexact when rounded.
* Reductions put their result in lane 0 and zero in every other lane. ``redsum`` adds the 16 lanes
  in a pairwise tree: level 1 forms ``l0+l1, l2+l3, ..., l14+l15``, each next level adds adjacent
  pairs of the previous level's sums in the same way, until one sum is left (4 levels, 15
  additions); each addition is ``add`` above (rounded, RNE), and the flags of all 15 are OR-ed, so
  Denormal is raised by a subnormal lane or a subnormal intermediate sum. ``redmax`` / ``redmin``
  apply ``max`` / ``min`` in the same tree; the result is the maximumNumber (minimumNumber) of the
  lanes whatever the order, and Invalid is raised iff some lane is a signaling NaN.

BF16 semantics: ``add``, ``sub``, ``mul``, ``fma``, ``fms``, ``fnma``, ``fnms`` on 32 BF16 lanes,
the FP32 forms' definitions with one rounding to BF16 (``verif.vector.bf16.bf16_fma``).

Integer semantics (``int8``, ``int16``, ``int32``; no flag is ever raised):

* ``add``, ``sub``, ``mul`` (the low half of the product) wrap modulo 2**w.
* ``min``, ``max`` read the lanes signed; ``minu``, ``maxu`` unsigned.
* ``and``, ``or``, ``xor``, ``not`` are bitwise.
* ``sll``, ``srl``, ``sra`` shift lane ``i`` of ``a`` by lane ``i`` of ``b``, read unsigned and
  taken modulo the lane width ``w`` (only its low ``log2(w)`` bits count, as RISC-V); ``srl`` fills
  with zeros, ``sra`` with the sign bit.
* ``eq``, ``lt`` (signed), ``ltu`` (unsigned) give a mask as for FP32.
* ``redsum`` adds all lanes modulo 2**w (the lane width: 32 for ``int32``, 16 and 8 for the
  narrower types; signed and unsigned sums are the same bits) into lane 0; other lanes zero.

Every type: ``select`` (lane ``i`` is ``b[i]`` where the mask ``a[i]`` is nonzero, else ``c[i]``)
and the data movement ops ``bcast``, ``shuffle``, ``zip_lo``, ``zip_hi``, ``unzip_even``,
``unzip_odd`` (``transpose8`` on ``int8``); ``widen``/``narrow`` on ``fp32``/``bf16``;
``rdflags``, ``clrflags``, ``seed`` on ``int32``: docs/vector.md.
"""

from dataclasses import dataclass

import numpy as np

from hw.common.params import TAG_WIDTH_MAX
from hw.fp.formats import (
    BIAS_MAX,
    FLAG_DENORMAL,
    FLAG_INEXACT,
    FLAG_INVALID,
    FP32,
    SR_BITS,
    Flags,
    FormatCode,
    Round,
    format_for_code,
    get_format,
)
from hw.vector import isa
from hw.vector.isa import IMM_BITS, VecOp, VecType
from verif.fp.fma import f32_add, f32_mul, fma
from verif.fp.formats import narrow, parse_round, widen
from verif.fp.rng import XorShift32
from verif.pack import field_widths
from verif.params import check_index, check_int_array

from .bf16 import BF16_ONE, BF16_SIGN, bf16_fma

__all__ = [
    "VECTOR_BYTES", "LANE_BITS", "SR_GENERATORS", "SEED_STRIDE", "REQUEST_DTYPE",
    "RESPONSE_DTYPE", "OpSpec", "OPS", "lanes", "vector", "vectors_from_ints",
    "ints_from_vectors", "execute", "sr_seed_states", "as_requests", "VectorUnitModel", "run",
    "transpose8x8_by_zips",
]

#: Bytes in a vector.
VECTOR_BYTES = isa.VECTOR_BYTES
#: Lane width in bits of each lane type (``hw.vector.isa.LANE_BITS`` by lower-case name).
LANE_BITS = {t.name.lower(): bits for t, bits in isa.LANE_BITS.items()}
#: Stochastic-rounding generators (one per narrowing lane slot) and their seed stride.
SR_GENERATORS = isa.SR_GENERATORS
SEED_STRIDE = isa.SEED_STRIDE

_UINT = {8: np.uint8, 16: np.uint16, 32: np.uint32}
_SINT = {8: np.int8, 16: np.int16, 32: np.int32}
_SIGN = np.uint32(1 << FP32.sign_shift)
_QNAN = np.uint32(FP32.qnan_code)
_INF = FP32.inf_code
_QUIET_BIT = 1 << (FP32.man_bits - 1)
_INT32_MIN = -(1 << 31)
_INT32_MAX = (1 << 31) - 1
_MASK32 = (1 << 32) - 1
_FLAG_BITS = Flags.as_shape().size


def lanes(vec, bits):
    """The lanes of ``vec`` (``uint8``, last axis 64) as unsigned ``bits``-bit codes (8, 16 or
    32), little-endian, lane 0 first: shape ``(..., 512 // bits)``."""
    v = np.ascontiguousarray(vec, dtype=np.uint8)
    return v.view(np.dtype(_UINT[bits]).newbyteorder("<")).astype(_UINT[bits])


def vector(lane_codes, bits):
    """The vector (``uint8``, last axis 64) whose ``bits``-bit lanes are ``lane_codes``; the
    inverse of :func:`lanes`."""
    a = np.asarray(lane_codes).astype(np.dtype(_UINT[bits]).newbyteorder("<"))
    return np.ascontiguousarray(a).view(np.uint8)


def vectors_from_ints(words):
    """512-bit integers (a scalar or a sequence, bit ``8k`` = byte ``k``'s LSB) as vectors:
    ``(64,)`` or ``(n, 64)`` ``uint8``."""
    w = np.asarray(words, dtype=object)
    flat = [int(x).to_bytes(VECTOR_BYTES, "little") for x in w.ravel()]
    out = np.frombuffer(b"".join(flat), np.uint8).reshape(w.shape + (VECTOR_BYTES,))
    return out.copy()


def ints_from_vectors(vecs):
    """The inverse of :func:`vectors_from_ints`: a Python ``int`` per vector (an ``int`` for a
    ``(64,)`` vector, an object array for ``(n, 64)``)."""
    v = np.ascontiguousarray(vecs, dtype=np.uint8)
    if v.ndim == 1:
        return int.from_bytes(v.tobytes(), "little")
    return np.asarray([int.from_bytes(r.tobytes(), "little") for r in v], dtype=object)


def _sticky(flags):
    """OR of per-lane flags over the last axis: one ``uint8`` per vector."""
    return np.bitwise_or.reduce(np.asarray(flags, np.uint8), axis=-1)


def _mask(cond, bits):
    return np.where(cond, _UINT[bits]((1 << bits) - 1), _UINT[bits](0))


# --- FP32 ----------------------------------------------------------------------------------------

def _is_nan(x):
    return (x & ~_SIGN) > _INF


def _is_snan(x):
    return _is_nan(x) & ((x & _QUIET_BIT) == 0)


def _is_subnormal(x):
    return ((x & ~_SIGN) >> FP32.man_bits == 0) & ((x & ~_SIGN) != 0)


def _lane_flags(fn):
    """``fn`` returning per-lane flags, made to return one sticky flag byte per vector."""
    def run(*ops):
        z, f = fn(*ops)
        return z, _sticky(f)
    return run


def _fp_minmax(take_max):
    def run(a, b):
        # Monotonic unsigned key of the non-NaN values, with -0 below +0.
        ka = np.where(a & _SIGN, ~a, a | _SIGN)
        kb = np.where(b & _SIGN, ~b, b | _SIGN)
        pick_a = ka >= kb if take_max else ka <= kb
        na, nb = _is_nan(a), _is_nan(b)
        z = np.where(pick_a, a, b)
        z = np.where(na, b, np.where(nb, a, z))
        z = np.where(na & nb, _QNAN, z).astype(np.uint32)
        return z, _sticky(np.where(_is_snan(a) | _is_snan(b), FLAG_INVALID, 0))
    return run


def _fp_compare(rel, signaling):
    def run(a, b):
        with np.errstate(invalid="ignore"):
            cond = rel(a.view(np.float32), b.view(np.float32))
        bad = (_is_nan(a) | _is_nan(b)) if signaling else (_is_snan(a) | _is_snan(b))
        return _mask(cond, 32), _sticky(np.where(bad, FLAG_INVALID, 0))
    return run


def _to_i32(rounder):
    def run(a):
        with np.errstate(invalid="ignore"):
            x = a.view(np.float32).astype(np.float64)
            r = rounder(x)
            in_range = (r >= _INT32_MIN) & (r <= _INT32_MAX)
        sat = np.where(_is_nan(a) | ((a & _SIGN) == 0), _INT32_MAX, _INT32_MIN)
        z = np.where(in_range, np.where(in_range, r, 0).astype(np.int64), sat)
        flags = np.where(in_range, np.where(r != x, FLAG_INEXACT, 0), FLAG_INVALID)
        flags = flags | np.where(_is_subnormal(a), FLAG_DENORMAL, 0)
        return z.astype(np.int32).view(np.uint32), _sticky(flags)
    return run


def _to_f32(a):
    v = a.view(np.int32).astype(np.float64)
    z = v.astype(np.float32)
    return z.view(np.uint32), _sticky(np.where(z.astype(np.float64) != v, FLAG_INEXACT, 0))


def _tree(step):
    """A reduction over the last axis in the pairwise tree order, ``step`` combining lanes
    ``(0, 1), (2, 3), ...`` of each level; the result in lane 0, zero elsewhere."""
    def run(a):
        x = a
        flags = np.zeros(a.shape[:-1], np.uint8)
        while x.shape[-1] > 1:
            x, f = step(x[..., 0::2], x[..., 1::2])
            flags |= f
        return np.concatenate([x, np.zeros_like(a[..., 1:])], axis=-1), flags
    return run


_FP_OPS = {
    "add": (2, _lane_flags(f32_add)),
    "sub": (2, _lane_flags(lambda a, b: f32_add(a, b ^ _SIGN))),
    "mul": (2, _lane_flags(f32_mul)),
    "fma": (3, _lane_flags(fma)),
    "fms": (3, _lane_flags(lambda a, b, c: fma(a, b, c ^ _SIGN))),
    "fnma": (3, _lane_flags(lambda a, b, c: fma(a ^ _SIGN, b, c))),
    "fnms": (3, _lane_flags(lambda a, b, c: fma(a ^ _SIGN, b, c ^ _SIGN))),
    "min": (2, _fp_minmax(take_max=False)),
    "max": (2, _fp_minmax(take_max=True)),
    "abs": (1, lambda a: (a & ~_SIGN, None)),
    "neg": (1, lambda a: (a ^ _SIGN, None)),
    "eq": (2, _fp_compare(np.equal, signaling=False)),
    "lt": (2, _fp_compare(np.less, signaling=True)),
    "le": (2, _fp_compare(np.less_equal, signaling=True)),
    "to_i32": (1, _to_i32(np.rint)),
    "to_i32_rtz": (1, _to_i32(np.trunc)),
    "redsum": (1, _tree(_lane_flags(f32_add))),
    "redmax": (1, _tree(_fp_minmax(take_max=True))),
    "redmin": (1, _tree(_fp_minmax(take_max=False))),
}


# --- integers ------------------------------------------------------------------------------------

def _signed(fn, bits):
    s, u = _SINT[bits], _UINT[bits]
    return lambda a, b: fn(a.view(s), b.view(s)).view(u)


def _int_ops(bits):
    u = _UINT[bits]

    def amount(b):
        return b & u(bits - 1)

    def redsum(a):
        total = np.sum(a, axis=-1, dtype=np.uint64) & np.uint64((1 << bits) - 1)
        return np.concatenate([total[..., None].astype(u), np.zeros_like(a[..., 1:])], axis=-1)

    return {
        "add": (2, lambda a, b: a + b),
        "sub": (2, lambda a, b: a - b),
        "mul": (2, lambda a, b: a * b),
        "min": (2, _signed(np.minimum, bits)),
        "max": (2, _signed(np.maximum, bits)),
        "minu": (2, np.minimum),
        "maxu": (2, np.maximum),
        "and": (2, np.bitwise_and),
        "or": (2, np.bitwise_or),
        "xor": (2, np.bitwise_xor),
        "not": (1, np.invert),
        "sll": (2, lambda a, b: a << amount(b)),
        "srl": (2, lambda a, b: a >> amount(b)),
        "sra": (2, lambda a, b: (a.view(_SINT[bits]) >> amount(b).view(_SINT[bits])).view(u)),
        "eq": (2, lambda a, b: _mask(a == b, bits)),
        "lt": (2, lambda a, b: _mask(a.view(_SINT[bits]) < b.view(_SINT[bits]), bits)),
        "ltu": (2, lambda a, b: _mask(a < b, bits)),
        "redsum": (1, redsum),
    }


# --- BF16 ----------------------------------------------------------------------------------------

_BF16_OPS = {
    "add": (2, _lane_flags(lambda a, b: bf16_fma(a, BF16_ONE, b))),
    "sub": (2, _lane_flags(lambda a, b: bf16_fma(a, BF16_ONE, b ^ BF16_SIGN))),
    "mul": (2, _lane_flags(lambda a, b: bf16_fma(a, b, BF16_SIGN))),
    "fma": (3, _lane_flags(bf16_fma)),
    "fms": (3, _lane_flags(lambda a, b, c: bf16_fma(a, b, c ^ BF16_SIGN))),
    "fnma": (3, _lane_flags(lambda a, b, c: bf16_fma(a ^ BF16_SIGN, b, c))),
    "fnms": (3, _lane_flags(lambda a, b, c: bf16_fma(a ^ BF16_SIGN, b, c ^ BF16_SIGN))),
}


def _select(mask, a, b):
    return np.where(mask != 0, a, b), None


# --- conversions ---------------------------------------------------------------------------------

def _conv_format(wide_bits, fmt, imm):
    """The narrow format of a ``widen``/``narrow`` on ``wide_bits``-bit lanes, or ``None`` when
    ``fmt`` is not strictly narrower or ``imm`` is past the last part."""
    f = format_for_code(fmt)
    if f is None or f.width >= wide_bits:
        return None
    parts = 8 * VECTOR_BYTES // ((8 * VECTOR_BYTES // wide_bits) * f.width)
    return f if imm < parts else None


def _conv_bias(f, bias):
    return bias if f.configurable else None


def _widen(wide_bits):
    n = 8 * VECTOR_BYTES // wide_bits

    def run(a, *, fmt, bias, imm):
        f = _conv_format(wide_bits, fmt, imm)
        src = lanes(a, f.width)[..., imm * n:(imm + 1) * n]
        z, flags = widen(src, f, _conv_bias(f, bias))
        # A narrow code widened to BF16 is the upper half of its exact FP32 value (docs/vector.md).
        z = z >> np.uint32(32 - wide_bits)
        return vector(z, wide_bits), _sticky(flags)
    return run


def _narrow(wide_bits):
    n = 8 * VECTOR_BYTES // wide_bits

    def run(a, c, *, fmt, bias, imm, rnd, rand):
        f = _conv_format(wide_bits, fmt, imm)
        x = lanes(a, wide_bits).astype(np.uint32) << np.uint32(32 - wide_bits)  # exact FP32
        r = None if rnd == Round.RNE.value else rand[..., :n]
        codes, flags = narrow(x, f, _conv_bias(f, bias), Round(rnd), rand=r)
        out = lanes(c, f.width)
        out[..., imm * n:(imm + 1) * n] = codes
        return vector(out, f.width), _sticky(flags)
    return run


def _conv_legal(wide_bits):
    return lambda fmt, imm: _conv_format(wide_bits, fmt, imm) is not None


# --- data movement -------------------------------------------------------------------------------

def _bcast(a, *, imm):
    return np.repeat(a[..., imm % a.shape[-1], None], a.shape[-1], axis=-1), None


def _shuffle(a, b):
    return np.take_along_axis(a, (b % a.shape[-1]).astype(np.intp), axis=-1), None


def _zip(high):
    def run(a, b):
        h = a.shape[-1] // 2
        half = slice(h, None) if high else slice(None, h)
        return np.stack([a[..., half], b[..., half]], axis=-1).reshape(a.shape), None
    return run


def _unzip(odd):
    def run(a, b):
        return np.concatenate([a[..., odd::2], b[..., odd::2]], axis=-1), None
    return run


def _transpose8(a):
    return np.swapaxes(a.reshape(a.shape[:-1] + (8, 8)), -1, -2).reshape(a.shape), None


_MOVE_OPS = {
    "shuffle": _shuffle,
    "zip_lo": _zip(high=False),
    "zip_hi": _zip(high=True),
    "unzip_even": _unzip(odd=False),
    "unzip_odd": _unzip(odd=True),
}


# --- unit state ----------------------------------------------------------------------------------

def _read_flags(a, *, sticky):
    z = np.zeros_like(a)
    z[..., 0] = sticky
    return z, None


# --- the table -----------------------------------------------------------------------------------

_FIELDS = ("a", "b", "c")


@dataclass(frozen=True)
class OpSpec:
    """One legal (op, lane type) pair.

    ``fields``: the request vectors the op reads, in ``execute``'s positional order. ``fn`` maps
    them (as lanes of ``bits`` bits, or as ``uint8`` vectors when ``bits`` is ``None``) and the
    keyword ``extras`` it names to ``(result, sticky flags per vector or None for no flag)``.
    ``legal``, if given, decides from ``fmt`` and ``imm`` whether a request is legal.
    """
    fields: tuple
    fn: object
    bits: int | None
    extras: tuple = ()
    legal: object = None

    @property
    def arity(self):
        return len(self.fields)


def _lanewise(table, vtype):
    bits = LANE_BITS[vtype]
    return {(op, vtype): OpSpec(_FIELDS[:n], fn, bits) for op, (n, fn) in table.items()}


def _table():
    table = _lanewise(_FP_OPS, "fp32")
    table.update(_lanewise(_BF16_OPS, "bf16"))
    table[("to_f32", "int32")] = OpSpec(("a",), _to_f32, 32)
    for vtype in ("int8", "int16", "int32"):
        ops = {op: (n, lambda *v, _fn=fn: (_fn(*v), None))
               for op, (n, fn) in _int_ops(LANE_BITS[vtype]).items()}
        table.update(_lanewise(ops, vtype))
    for vtype, bits in LANE_BITS.items():
        table[("select", vtype)] = OpSpec(_FIELDS, _select, bits)
        table[("bcast", vtype)] = OpSpec(("a",), _bcast, bits, ("imm",))
        table.update(_lanewise({op: (2, fn) for op, fn in _MOVE_OPS.items()}, vtype))
    table[("transpose8", "int8")] = OpSpec(("a",), _transpose8, 8)
    for vtype in ("fp32", "bf16"):
        bits = LANE_BITS[vtype]
        table[("widen", vtype)] = OpSpec(
            ("a",), _widen(bits), None, ("fmt", "bias", "imm"), _conv_legal(bits))
        table[("narrow", vtype)] = OpSpec(
            ("a", "c"), _narrow(bits), None, ("fmt", "bias", "imm", "rnd", "rand"),
            _conv_legal(bits))
    for op in ("rdflags", "clrflags"):
        table[(op, "int32")] = OpSpec(("a",), _read_flags, 32, ("sticky",))
    table[("seed", "int32")] = OpSpec(("a",), lambda a: (np.zeros_like(a), None), 32)
    return table


#: Every legal (op, lane type) pair; docs/vector.md has each one's semantics.
OPS = _table()


# --- execute -------------------------------------------------------------------------------------

def _check(vectors):
    if not vectors:
        raise ValueError("execute needs at least one vector operand")
    out = []
    for i, v in enumerate(vectors):
        a = np.asarray(v)
        if a.dtype != np.uint8:
            raise TypeError(f"operand {i} must be a uint8 array, not an array of {a.dtype}")
        if a.ndim not in (1, 2) or a.shape[-1] != VECTOR_BYTES:
            raise ValueError(f"operand {i} must have shape ({VECTOR_BYTES},) or "
                             f"(n, {VECTOR_BYTES}), not {a.shape}")
        out.append(a)
    shapes = [a.shape for a in out]
    if len(set(shapes)) > 1:
        raise ValueError(
            f"operands must all have the same shape, not {', '.join(map(str, shapes))}")
    return out


def _field_int(name, value, bits):
    """``value`` as an int if it is an integer that fits the ``bits``-bit request field."""
    return check_index(name, value, 0, (1 << bits) - 1)


def _fmt_code(fmt):
    if isinstance(fmt, FormatCode):
        return fmt.value
    if isinstance(fmt, str):
        return get_format(fmt).code.value
    return _field_int("fmt", fmt, 3)


def _rnd_code(rnd):
    if isinstance(rnd, (Round, str)):
        return parse_round(rnd).value
    return _field_int("rnd", rnd, 1)


def _rand(rand, batch):
    shape = batch + (SR_GENERATORS,)
    if rand is None:
        raise ValueError(
            f"narrow with stochastic rounding needs rand: the {SR_GENERATORS} generators' "
            f"{SR_BITS}-bit words, shape {shape}")
    r = check_int_array("rand", rand)
    if r.shape != shape:
        raise ValueError(f"rand must have shape {shape}, not {r.shape}")
    r = r.astype(np.int64)
    bad = (r < 0) | (r >> SR_BITS != 0)
    if bad.any():
        raise ValueError(f"rand values must be in 0..{(1 << SR_BITS) - 1}, not {r[bad].flat[0]}")
    return r


def execute(op, vtype, *vectors, imm=0, fmt=0, bias=0, rnd=0, rand=None, sticky=0):
    """Run ``op`` on lane type ``vtype`` over ``vectors`` (the request fields of
    ``OPS[(op, vtype)].fields``, in order) with the request's scalar fields as keywords:
    ``(result, flags, error)`` as in the module docstring."""
    vs = _check(vectors)
    batch = vs[0].shape[:-1]
    extras = {"imm": _field_int("imm", imm, IMM_BITS), "fmt": _fmt_code(fmt),
              "bias": _field_int("bias", bias, BIAS_MAX.bit_length()), "rnd": _rnd_code(rnd),
              "sticky": _field_int("sticky", sticky, _FLAG_BITS)}
    spec = OPS.get((op, vtype))
    illegal = (np.zeros_like(vs[0]), np.zeros(batch, np.uint8), np.ones(batch, bool))
    if spec is None:
        return illegal
    if len(vs) != spec.arity:
        raise ValueError(
            f"{op} on {vtype} takes {spec.arity} vector operand(s), not {len(vs)}")
    if spec.legal is not None and not spec.legal(extras["fmt"], extras["imm"]):
        return illegal
    if "rand" in spec.extras:
        extras["rand"] = _rand(rand, batch) if extras["rnd"] == Round.SR.value else None
    kwargs = {k: extras[k] for k in spec.extras}
    if spec.bits is None:
        z, flags = spec.fn(*vs, **kwargs)
    else:
        z, flags = spec.fn(*(lanes(v, spec.bits) for v in vs), **kwargs)
        z = vector(z, spec.bits)
    if flags is None:
        flags = np.zeros(batch, np.uint8)
    return z, np.asarray(flags, np.uint8), np.zeros(batch, bool)


# --- the unit: sticky flags and SR generators over a sequence of requests ------------------------

#: A request: the fields of ``hw.vector.isa.request_layout`` (op, vtype, fmt, rnd as codes).
REQUEST_DTYPE = np.dtype([
    ("op", np.uint8), ("vtype", np.uint8), ("fmt", np.uint8), ("bias", np.uint8),
    ("rnd", np.uint8), ("imm", np.uint8), ("a", np.uint8, (VECTOR_BYTES,)),
    ("b", np.uint8, (VECTOR_BYTES,)), ("c", np.uint8, (VECTOR_BYTES,)), ("tag", np.uint64),
])
#: A response: the fields of ``hw.vector.isa.response_layout``.
RESPONSE_DTYPE = np.dtype([
    ("data", np.uint8, (VECTOR_BYTES,)), ("flags", np.uint8), ("error", np.uint8),
    ("tag", np.uint64),
])
#: Bits of each scalar request field (the layout's).
_FIELD_BITS = {name: width for name, (_, width)
               in field_widths(isa.request_layout(TAG_WIDTH_MAX)).items()
               if name not in _FIELDS}
_OP_NAMES = {op.value: op.name.lower() for op in VecOp}
_TYPE_NAMES = {t.value: t.name.lower() for t in VecType}


def sr_seed_states(seed):
    """The 32 generator states a ``seed`` op with lane-0 value ``seed`` loads (also the reset
    states, for ``seed = 0``): ``initial_state(seed ^ (j · SEED_STRIDE mod 2**32))``."""
    seed = _field_int("seed", seed, 32)
    return [XorShift32(seed ^ ((j * SEED_STRIDE) & _MASK32)).state for j in range(SR_GENERATORS)]


def _enum_code(name, value, enum_type):
    if isinstance(value, enum_type):
        return value.value
    if isinstance(value, str):
        try:
            return enum_type[value.upper()].value
        except KeyError:
            raise ValueError(f"unknown {name} {value!r}") from None
    return value


def _vector_field(name, value, k):
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        if not 0 <= int(value) < 1 << (8 * VECTOR_BYTES):
            too_wide = f"a {int(value).bit_length()}-bit integer" if value > 0 else value
            raise ValueError(f"request {k}: {name} must fit {8 * VECTOR_BYTES} bits, "
                             f"not {too_wide}")
        return vectors_from_ints(int(value))
    v = np.asarray(value)
    if v.dtype != np.uint8:
        raise TypeError(f"request {k}: {name} must be a {8 * VECTOR_BYTES}-bit integer or a "
                        f"uint8 array, not an array of {v.dtype}")
    if v.shape != (VECTOR_BYTES,):
        raise ValueError(f"request {k}: {name} must be a uint8 array of shape ({VECTOR_BYTES},), "
                         f"not {v.shape}")
    return v


def as_requests(requests):
    """``requests`` as a :data:`REQUEST_DTYPE` array, checked. Accepts such an array (or any
    structured array with a subset of its fields, the others zero) or a sequence of dicts whose
    missing fields are zero: ``op``/``vtype`` as codes, ``VecOp``/``VecType`` members or names;
    ``fmt`` as a code, ``FormatCode`` or format name; ``rnd`` as a code, ``Round``, ``"rne"`` or
    ``"sr"``; ``a``/``b``/``c`` as 512-bit integers or ``uint8`` arrays of shape (64,). A value
    of the wrong kind raises ``TypeError``, one outside its layout field ``ValueError``."""
    if isinstance(requests, np.ndarray) and requests.dtype.names is not None:
        unknown = set(requests.dtype.names) - set(REQUEST_DTYPE.names)
        if unknown:
            raise ValueError(f"unknown request field(s) {', '.join(sorted(unknown))}")
        out = np.zeros(requests.shape[0], REQUEST_DTYPE)
        for name in requests.dtype.names:
            col = requests[name]
            if name in _FIELDS:
                if col.dtype != np.uint8:
                    raise TypeError(f"request field {name} must be uint8 vectors, not {col.dtype}")
            elif col.dtype.kind not in "ui":
                raise TypeError(f"request field {name} must be integers, not {col.dtype}")
            elif col.size and (int(col.min()) < 0 or int(col.max()) >> _FIELD_BITS[name]):
                bad = int(col.min()) if int(col.min()) < 0 else int(col.max())
                raise ValueError(f"request field {name} must be in "
                                 f"0..{(1 << _FIELD_BITS[name]) - 1}, not {bad}")
            out[name] = col
    else:
        requests = list(requests)
        out = np.zeros(len(requests), REQUEST_DTYPE)
        for k, r in enumerate(requests):
            unknown = set(r) - set(REQUEST_DTYPE.names)
            if unknown:
                raise ValueError(f"request {k}: unknown field(s) {', '.join(sorted(unknown))}")
            for name, value in r.items():
                if name in _FIELDS:
                    out[name][k] = _vector_field(name, value, k)
                    continue
                if name == "op":
                    value = _enum_code(name, value, VecOp)
                elif name == "vtype":
                    value = _enum_code(name, value, VecType)
                elif name == "fmt":
                    value = _fmt_code(value)
                elif name == "rnd":
                    value = _rnd_code(value)
                out[name][k] = _field_int(f"request {k}: {name}", value, _FIELD_BITS[name])
    return out


class VectorUnitModel:
    """The vector unit as a sequence of requests: responses in issue order, bit-exact.

    State (docs/vector.md): the 6-bit sticky flags (reset 0) and the 32 xorshift32 SR generators
    (reset as a ``seed`` of 0). Every request steps every generator once, except a legal ``seed``,
    which loads them; a request's ``narrow`` with SR uses generator ``j``'s state after its step
    for lane ``j``. ``rdflags``/``clrflags`` read the OR of the flags of every earlier response
    since the last ``clrflags``.
    """

    def __init__(self):
        self.reset()

    def reset(self):
        """Back to the reset state."""
        self.sticky = 0
        self.generators = [XorShift32(s) for s in sr_seed_states(0)]

    def _randoms(self, seeds, n):
        """The generators' SR words for ``n`` requests, ``(n, 32)``; ``seeds`` maps the position of
        each legal ``seed`` request to its seed value (its row stays 0: it loads, not steps)."""
        rand = np.zeros((n, SR_GENERATORS), np.uint32)
        start = 0
        for stop in [*sorted(seeds), n]:
            if stop > start:
                for j, g in enumerate(self.generators):
                    rand[start:stop, j] = g.randoms(stop - start, SR_BITS)
            if stop < n:
                self.generators = [XorShift32(s) for s in sr_seed_states(seeds[stop])]
            start = stop + 1
        return rand

    def run(self, requests):
        """Answer ``requests`` (anything :func:`as_requests` takes) in order: a
        :data:`RESPONSE_DTYPE` array. The state carries over to the next call."""
        req = as_requests(requests)
        n = req.shape[0]
        out = np.zeros(n, RESPONSE_DTYPE)
        out["tag"] = req["tag"]
        out["error"] = 1
        ops = req["op"].astype(np.int64)
        vt = req["vtype"].astype(np.int64)
        seed_op = (ops == VecOp.SEED.value) & (vt == VecType.INT32.value)
        seeds = {int(k): int(lanes(req["a"][k], 32)[0]) for k in np.flatnonzero(seed_op)}
        rand = self._randoms(seeds, n)

        reads = []   # (positions, op name) of rdflags/clrflags, answered once the flags are known
        pair = ops * 8 + vt
        for p in np.unique(pair):
            sel = np.flatnonzero(pair == p)
            names = (_OP_NAMES.get(int(p) // 8), _TYPE_NAMES.get(int(p) % 8))
            spec = OPS.get(names)
            if spec is None:
                continue                  # illegal: data 0, flags 0, error 1
            if "sticky" in spec.extras:
                reads.append(sel)
                continue
            self._answer(req, out, sel, names, spec, rand)

        self._read_flags(req, out, reads)
        return out

    @staticmethod
    def _answer(req, out, sel, names, spec, rand):
        """Execute the requests ``sel`` of one legal pair, grouped by their scalar fields."""
        keys = np.zeros((sel.size, 4), np.int64)
        for col, name in enumerate(("imm", "fmt", "bias", "rnd")):
            if name in spec.extras:
                keys[:, col] = req[name][sel]
        if "bias" in spec.extras:         # fixed-bias formats ignore the field
            fixed = np.asarray([f is None or not f.configurable
                                for f in map(format_for_code, range(8))])
            keys[fixed[keys[:, 1]], 2] = 0
        uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
        for g, (imm, fmt, bias, rnd) in enumerate(uniq):
            idx = sel[inverse.ravel() == g]
            kw = {"imm": int(imm), "fmt": int(fmt), "bias": int(bias), "rnd": int(rnd)}
            if "rand" in spec.extras and rnd == Round.SR.value:
                kw["rand"] = rand[idx]
            z, f, err = execute(*names, *(req[name][idx] for name in spec.fields), **kw)
            out["data"][idx], out["flags"][idx], out["error"][idx] = z, f, err

    def _read_flags(self, req, out, reads):
        """The sticky flags through the sequence, and the rdflags/clrflags answers."""
        is_read = np.zeros(out.shape[0], bool)
        for sel in reads:
            is_read[sel] = True
        clear = is_read & (req["op"] == VecOp.CLRFLAGS.value)
        flags = out["flags"].tolist()
        value = np.zeros(out.shape[0], np.int64)
        s = self.sticky
        for k in np.flatnonzero(is_read | (out["flags"] != 0)).tolist():
            if is_read[k]:
                value[k] = s
                if clear[k]:
                    s = 0
            s |= flags[k]
        self.sticky = s
        for sel in reads:
            for v in np.unique(value[sel]):
                idx = sel[value[sel] == v]
                op = _OP_NAMES[int(req["op"][idx[0]])]
                z, f, err = execute(op, "int32", req["a"][idx], sticky=int(v))
                out["data"][idx], out["flags"][idx], out["error"][idx] = z, f, err


def run(requests):
    """The responses of a freshly reset unit to ``requests`` (:meth:`VectorUnitModel.run`)."""
    return VectorUnitModel().run(requests)


# --- the 8×8 transpose of 16- and 32-bit elements by ZIPs (docs/vector.md) -----------------------

def transpose8x8_by_zips(vectors, vtype, *, unzip=False):
    """Transpose the 8×8 block of ``vtype`` elements held row-major in ``vectors`` (4 for 32-bit
    types, 2 for 16-bit ones) by three rounds of ``zip_lo``/``zip_hi`` (or of
    ``unzip_even``/``unzip_odd``), as docs/vector.md describes. Returns ``(vectors, ops)``: the
    transposed block and the number of vector operations used."""
    bits = LANE_BITS.get(vtype)
    if bits not in (16, 32):
        raise ValueError(
            f"transpose8x8_by_zips needs a 16- or 32-bit lane type (int8 has transpose8), "
            f"not {vtype!r}")
    count = bits // 8
    if len(vectors) != count:
        raise ValueError(f"an 8x8 block of {vtype} fills {count} vectors, not {len(vectors)}")
    x = list(vectors)
    ops = 0
    half = count // 2
    for _ in range(3):
        y = [None] * count
        for k in range(half):
            if unzip:
                pair = (x[2 * k], x[2 * k + 1])
                y[k] = execute("unzip_even", vtype, *pair)[0]
                y[k + half] = execute("unzip_odd", vtype, *pair)[0]
            else:
                pair = (x[k], x[k + half])
                y[2 * k] = execute("zip_lo", vtype, *pair)[0]
                y[2 * k + 1] = execute("zip_hi", vtype, *pair)[0]
            ops += 2
        x = y
    return x, ops
