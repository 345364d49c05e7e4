"""Functional coverage of the vector unit (block ``vector.unit``, sampled by the tests of
``vector.lane``, the unit's tests; docs/vector.md): every legal (operation, type) pair
with the special operands of its type and the flags its row of the contract allows, and every
kind of illegal request.

A sample is one request the testbench drove and the response the unit gave
(:func:`sample_vector`, called by ``verif/vector/unit_tb.py``'s scoreboard once the responses
equal the model's). The bins:

* ``pair``: every legal pair (``OPS`` of the model, the executable form of the contract's
  tables; ``error`` 0 observed).
* ``operand``: the classes of the lanes the op reads (``a``, ``b``, ``c`` as its row says):
  for FP32 and BF16 lanes ``zero``, ``subnormal``, ``normal``, ``infinity``, ``nan``; for
  integer lanes ``int zero``, ``int -1`` (all ones), ``int min`` (only the sign bit), ``int max``
  (all ones but the sign bit), ``int other``. Crossed with the pair: an FP class is no bin of an
  integer pair and the other way round; ``widen`` (its input is a storage format: the
  conversion unit's bins) and the state ops (``rdflags``, ``clrflags``, ``seed``: their operand
  is ignored or a seed) have none.
* ``flags``: crossed with the pair, only the flags of the pair's row (docs/vector.md: ``add`` and
  ``sub`` never underflow, nor does ``redsum``, a tree of adds, though its row lists U;
  ``min``/``max``/compares/``redmax``/``redmin`` raise only Invalid, ``to_i32`` Inexact, Invalid
  and Denormal, ``to_f32`` Inexact, ``widen`` Denormal and (from BF16) Invalid; integer,
  bitwise, movement, select and state ops none).
* ``illegal``: an illegal request answered with ``error`` 1, by kind: an unknown op code, an
  unknown type code, an op with a type it lacks, a conversion with an impossible ``fmt`` or
  ``imm``.
"""

import numpy as np

from hw.vector.isa import VecOp, VecType

from . import FLAG_BINS, Cross, Group, Point, record, requested
from .fp import CODE_CLASSES, code_class, flag_labels

__all__ = ["VECTOR", "GROUPS", "PAIRS", "sample_vector"]


def _pairs():
    from verif.vector import model

    return tuple(f"{op} {t}" for op, t in sorted(
        model.OPS, key=lambda p: (VecOp[p[0].upper()].value, VecType[p[1].upper()].value)))


PAIRS = _pairs()
FP_CLASSES = ("zero", "subnormal", "normal", "infinity", "nan")
INT_CLASSES = ("int zero", "int -1", "int min", "int max", "int other")
ILLEGAL = ("unknown op", "unknown type", "op lacks type", "bad conversion")
_STATE = ("rdflags", "clrflags", "seed")
_FP_TYPES = ("fp32", "bf16")

#: The flags each op's row allows (docs/vector.md), for FP32/BF16 types; None: see _flags.
_FLAGS = {
    "add": "IOVD", "sub": "IOVD", "mul": "IUOVD", "fma": "IUOVD", "fms": "IUOVD",
    "fnma": "IUOVD", "fnms": "IUOVD", "min": "V", "max": "V", "abs": "", "neg": "",
    "eq": "V", "lt": "V", "le": "V", "to_i32": "IVD", "to_i32_rtz": "IVD", "to_f32": "I",
    # redsum is a tree of adds: like add, it never underflows (a tiny sum of two FP32 values
    # is exact), though its row lists U.
    "redsum": "IOVD", "redmax": "V", "redmin": "V", "narrow": "IUOVD",
}
_LETTER = {"I": "inexact", "U": "underflow", "O": "overflow", "V": "invalid", "D": "denormal"}


def _allowed(op, vtype):
    """The flag bins a pair can raise."""
    if op == "widen":
        letters = "VD" if vtype == "fp32" else "D"
    elif op in _FLAGS and (vtype in _FP_TYPES or op == "to_f32"):
        letters = _FLAGS[op]
    else:
        letters = ""
    return {"none"} | {_LETTER[c] for c in letters}


def _pair_operand(c):
    op, vtype = c["pair"].split()
    if op == "widen":
        return "widen reads a storage format (the conversion unit's bins)"
    if op in _STATE:
        return "a state op's operand is ignored or a seed"
    fp = vtype in _FP_TYPES
    if (c["operand"] in FP_CLASSES) != fp:
        return "an FP class of an integer pair, or an integer class of an FP pair"
    return None


def _pair_flags(c):
    op, vtype = c["pair"].split()
    return None if c["flags"] in _allowed(op, vtype) else \
        "the flags of the pair's row in docs/vector.md only"


VECTOR = Group(
    "vector.unit",
    "one request of the vector unit (op, type, operands, fmt, imm) and the unit's response "
    "(flags, error), as the scoreboard of verif/vector/unit_tb.py saw them",
    points=(
        Point("pair", PAIRS, "a legal (op, type) pair, answered without error"),
        Point("operand", FP_CLASSES + INT_CLASSES,
              "the classes of the lanes the op reads", multi=True),
        Point("flags", FLAG_BINS, "the response's flags", multi=True),
        Point("illegal", ILLEGAL, "an illegal request answered with error"),
    ),
    crosses=(
        Cross("pair_operand", ("pair", "operand"), "every pair with the special lanes of its type",
              _pair_operand),
        Cross("pair_flags", ("pair", "flags"), "every pair with the flags its row allows",
              _pair_flags),
    ),
    selection="vector.lane",
)


def _int_classes(lanes, bits):
    lanes = lanes.astype(np.uint64)
    top = np.uint64(1 << (bits - 1))
    ones = np.uint64((1 << bits) - 1)
    return np.select([lanes == 0, lanes == ones, lanes == top, lanes == ones ^ top],
                     [0, 1, 2, 3], 4)


def _classes(req, op, vtype):
    """The set of operand class labels of each request (all of one legal pair)."""
    from verif.vector import model

    spec = model.OPS[(op, vtype)]
    bits = model.LANE_BITS[vtype]
    n = len(req)
    found = np.zeros((n, 5), dtype=bool)
    for f in spec.fields:
        lanes = model.lanes(req[f], bits).reshape(n, -1)
        if vtype in _FP_TYPES:
            k = code_class(lanes.reshape(-1), vtype, None).reshape(lanes.shape)
            # CODE_CLASSES has an "edge" (±max) class: a normal lane here.
            k = np.array([FP_CLASSES.index(c if c != "edge" else "normal")
                          for c in CODE_CLASSES])[k]
        else:
            k = _int_classes(lanes, bits)
        for j in range(5):
            found[:, j] |= (k == j).any(axis=1)
    labels = FP_CLASSES if vtype in _FP_TYPES else INT_CLASSES
    return [frozenset(labels[j] for j in range(5) if row[j]) for row in found]


def _illegal_kind(op, vtype):
    from verif.vector import model

    ops = {o.value: o.name.lower() for o in VecOp}
    types = {t.value: t.name.lower() for t in VecType}
    if op not in ops:
        return "unknown op"
    if vtype not in types:
        return "unknown type"
    if (ops[op], types[vtype]) not in model.OPS:
        return "op lacks type"
    return "bad conversion"


def sample_vector(req, flags, error):
    """Sample vector requests ``req`` (``verif.vector.model.REQUEST_DTYPE``) and the ``flags``
    and ``error`` the unit returned. Does nothing unless functional coverage is on."""
    if requested() is None:
        return
    flags = np.asarray(flags).astype(np.int64)
    error = np.asarray(error).astype(np.int64)
    ops = {o.value: o.name.lower() for o in VecOp}
    types = {t.value: t.name.lower() for t in VecType}
    samples = set()
    bad = error != 0
    for k in np.flatnonzero(bad):
        samples.add((None, None, None, _illegal_kind(int(req["op"][k]), int(req["vtype"][k]))))
    keys = np.stack([req["op"].astype(np.int64), req["vtype"].astype(np.int64)], axis=1)
    for o, t in np.unique(keys[~bad], axis=0):
        sel = np.flatnonzero(~bad & (keys[:, 0] == o) & (keys[:, 1] == t))
        op, vtype = ops[int(o)], types[int(t)]
        pair = f"{op} {vtype}"
        # widen's input is a storage format and a state op's operand is no data: no class.
        classes = ([None] * len(sel) if op == "widen" or op in _STATE
                   else _classes(req[sel], op, vtype))
        for cls, fl in zip(classes, flags[sel], strict=True):
            samples.add((pair, cls, flag_labels(fl), None))
    record(VECTOR, sorted(samples, key=repr))


GROUPS = (VECTOR,)
