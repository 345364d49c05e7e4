"""Bit-exact numpy model of d1core's vector unit: the FP32 and integer operations.

A vector is 64 bytes: a numpy ``uint8`` array of shape ``(64,)``, or ``(n, 64)`` for a batch of
``n`` independent vectors. Its lanes are little-endian: lane 0 is bytes 0.., lane ``i`` of a
``w``-bit type is bytes ``i·w/8 .. (i+1)·w/8 - 1`` read little-endian. :func:`lanes` and
:func:`vector` convert between the bytes and the lanes (16 × 32-bit, 32 × 16-bit, 64 × 8-bit
unsigned codes). Lane types (:data:`LANE_BITS`): ``fp32`` (FP32 codes), ``int8``, ``int16``,
``int32`` (two's complement; an operation decides whether it reads them signed or unsigned).

Calling convention: ``execute(op, vtype, *vectors)`` returns ``(result, flags, error)``.
``result`` is a vector of the operands' shape; ``flags`` is one ``uint8`` per vector (shape ``()``
or ``(n,)``), the OR over the lanes (and over the steps of a reduction) of the flag bits of
``hw.fp.formats`` (sticky flags); ``error`` is a ``bool`` array of the same shape.

* Legal pairs are the keys of :data:`OPS` (op name, lane type) -> :class:`OpSpec` (arity and
  semantics). Any other pair, unknown names included, is illegal: the result is the all-zero vector,
  flags 0, ``error`` True, and no exception (operands are still checked as below). Legal pairs give
  ``error`` False.
* A malformed call raises ``ValueError`` with an exact message: no operand; an operand that is not
  a ``uint8`` array of shape ``(64,)`` or ``(n, 64)``; operands of different shapes; a legal op
  given the wrong number of operands.

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
* ``select`` (mask, a, b): lane ``i`` is ``a[i]`` where ``mask[i]`` is nonzero, else ``b[i]``
  (defined for every lane type; any nonzero mask lane selects ``a``); no flag.
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

Integer semantics (``int8``, ``int16``, ``int32``; no flag is ever raised):

* ``add``, ``sub``, ``mul`` (the low half of the product) wrap modulo 2**w.
* ``min``, ``max`` read the lanes signed; ``minu``, ``maxu`` unsigned.
* ``and``, ``or``, ``xor``, ``not`` are bitwise.
* ``sll``, ``srl``, ``sra`` shift lane ``i`` of ``a`` by lane ``i`` of ``b``, read unsigned and
  taken modulo the lane width ``w`` (only its low ``log2(w)`` bits count, as RISC-V); ``srl`` fills
  with zeros, ``sra`` with the sign bit.
* ``eq``, ``lt`` (signed), ``ltu`` (unsigned) give a mask as for FP32.
* ``select`` as for FP32.
* ``redsum`` adds all lanes modulo 2**w (the lane width: 32 for ``int32``, 16 and 8 for the
  narrower types; signed and unsigned sums are the same bits) into lane 0; other lanes zero.
"""

from dataclasses import dataclass

import numpy as np

from hw.fp.formats import FLAG_DENORMAL, FLAG_INEXACT, FLAG_INVALID, FP32
from verif.fp.fma import f32_add, f32_mul, fma

__all__ = [
    "VECTOR_BYTES", "LANE_BITS", "OpSpec", "OPS", "lanes", "vector", "execute",
]

#: Bytes in a vector.
VECTOR_BYTES = 64
#: Lane width in bits of each lane type.
LANE_BITS = {"fp32": 32, "int8": 8, "int16": 16, "int32": 32}

_UINT = {8: np.uint8, 16: np.uint16, 32: np.uint32}
_SINT = {8: np.int8, 16: np.int16, 32: np.int32}
_SIGN = np.uint32(1 << FP32.sign_shift)
_QNAN = np.uint32(FP32.qnan_code)
_INF = FP32.inf_code
_QUIET_BIT = 1 << (FP32.man_bits - 1)
_INT32_MIN = -(1 << 31)
_INT32_MAX = (1 << 31) - 1


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


def _f32(fn):
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
    "add": (2, _f32(f32_add)),
    "sub": (2, _f32(lambda a, b: f32_add(a, b ^ _SIGN))),
    "mul": (2, _f32(f32_mul)),
    "fma": (3, _f32(fma)),
    "fms": (3, _f32(lambda a, b, c: fma(a, b, c ^ _SIGN))),
    "fnma": (3, _f32(lambda a, b, c: fma(a ^ _SIGN, b, c))),
    "fnms": (3, _f32(lambda a, b, c: fma(a ^ _SIGN, b, c ^ _SIGN))),
    "min": (2, _fp_minmax(take_max=False)),
    "max": (2, _fp_minmax(take_max=True)),
    "abs": (1, lambda a: (a & ~_SIGN, None)),
    "neg": (1, lambda a: (a ^ _SIGN, None)),
    "eq": (2, _fp_compare(np.equal, signaling=False)),
    "lt": (2, _fp_compare(np.less, signaling=True)),
    "le": (2, _fp_compare(np.less_equal, signaling=True)),
    "to_i32": (1, _to_i32(np.rint)),
    "to_i32_rtz": (1, _to_i32(np.trunc)),
    "redsum": (1, _tree(_f32(f32_add))),
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


def _select(mask, a, b):
    return np.where(mask != 0, a, b), None


@dataclass(frozen=True)
class OpSpec:
    """One legal (op, lane type) pair: ``arity`` vector operands; ``fn`` maps lane arrays to
    ``(result lanes, sticky flags per vector or None for no flag)``."""
    arity: int
    fn: object


def _table():
    table = {(op, "fp32"): OpSpec(n, fn) for op, (n, fn) in _FP_OPS.items()}
    table[("to_f32", "int32")] = OpSpec(1, _to_f32)
    for vtype in ("int8", "int16", "int32"):
        for op, (n, fn) in _int_ops(LANE_BITS[vtype]).items():
            table[(op, vtype)] = OpSpec(n, lambda *ops, _fn=fn: (_fn(*ops), None))
    for vtype in LANE_BITS:
        table[("select", vtype)] = OpSpec(3, _select)
    return table


#: Every legal (op, lane type) pair; see the module docstring for each one's semantics.
OPS = _table()


def _check(vectors):
    if not vectors:
        raise ValueError("execute needs at least one vector operand")
    out = []
    for i, v in enumerate(vectors):
        a = np.asarray(v)
        if a.dtype != np.uint8 or a.ndim not in (1, 2) or a.shape[-1] != VECTOR_BYTES:
            raise ValueError(
                f"operand {i} must be a uint8 array of shape ({VECTOR_BYTES},) or "
                f"(n, {VECTOR_BYTES}), got a {a.dtype} array of shape {a.shape}")
        out.append(a)
    shapes = [a.shape for a in out]
    if len(set(shapes)) > 1:
        raise ValueError(
            f"operands must all have the same shape, got {', '.join(map(str, shapes))}")
    return out


def execute(op, vtype, *vectors):
    """Run ``op`` on lane type ``vtype`` over ``vectors``: ``(result, flags, error)`` as in the
    module docstring."""
    vs = _check(vectors)
    batch = vs[0].shape[:-1]
    spec = OPS.get((op, vtype))
    if spec is None:
        return np.zeros_like(vs[0]), np.zeros(batch, np.uint8), np.ones(batch, bool)
    if len(vs) != spec.arity:
        raise ValueError(
            f"{op} on {vtype} takes {spec.arity} vector operand(s), got {len(vs)}")
    bits = LANE_BITS[vtype]
    z, flags = spec.fn(*(lanes(v, bits) for v in vs))
    if flags is None:
        flags = np.zeros(batch, np.uint8)
    return vector(z, bits), np.asarray(flags, np.uint8), np.zeros(batch, bool)
