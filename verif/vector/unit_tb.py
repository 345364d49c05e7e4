"""Testbench of the vector unit (``hw/vector/unit.py``): stimulus, packing, and the check of every
response against the sequence model ``verif.vector.model.VectorUnitModel``.

Requests are structured arrays of ``verif.vector.model.REQUEST_DTYPE`` (the fields of
``hw.vector.isa.request_layout``). :class:`VectorTB` packs them with the unit's layout
(``verif/pack.py``), streams them through the bulk harness (``verif/harness.py``: random idles
and backpressure, stream-rule and hang checks) and compares data, flags, error and tag of every
response, in order, with the model run over the same sequence (sticky flags and the SR
generators carry over from one batch to the next, as in the unit).
"""

import numpy as np

from hw.fp.formats import BIAS_MAX, FormatCode, Round
from hw.vector.isa import VecOp, VecType, request_layout, response_layout
from verif.fcov.vector import sample_vector
from verif.fp.fma_tb import _random_fp32
from verif.vector import model
from verif.vector.model import REQUEST_DTYPE, VectorUnitModel, ints_from_vectors

__all__ = ["TAG_WIDTH", "LEGAL_PAIRS", "requests", "concat", "random_vectors",
           "random_requests", "STATE_MIX", "state_requests", "illegal_requests",
           "pack_requests", "VectorTB"]

#: The tag width of the unit the tests and the commands build.
TAG_WIDTH = 8
#: Every legal (op, type) pair, as enum members.
LEGAL_PAIRS = sorted(((VecOp[op.upper()], VecType[t.upper()]) for op, t in model.OPS),
                     key=lambda p: (p[0].value, p[1].value))


def one_pair_per_op(pairs=None):
    """One legal pair of every op of ``pairs`` (default :data:`LEGAL_PAIRS`), the ``i``-th op
    (in op order) with the ``i % n``-th of its ``n`` types: every op once, the types taken in
    turn so that each type still appears (Icarus's ``every_pair``, tests/vector/test_vector.py)."""
    by_op = {}
    for op, t in LEGAL_PAIRS if pairs is None else pairs:
        by_op.setdefault(op, []).append(t)
    return [(op, ts[i % len(ts)]) for i, (op, ts) in enumerate(by_op.items())]


_CONV_OPS = (VecOp.WIDEN, VecOp.NARROW)
_STATE_OPS = (VecOp.RDFLAGS, VecOp.CLRFLAGS, VecOp.SEED)
#: (wide type, narrow format, parts) of the conversions (docs/vector.md).
_CONV_PAIRS = [(VecType.FP32, f, 2) for f in (FormatCode.BF16, FormatCode.SHP, FormatCode.UHP)] \
    + [(VecType.FP32, f, 4) for f in (FormatCode.CFP8_143, FormatCode.CFP8_152)] \
    + [(VecType.BF16, f, 2) for f in (FormatCode.CFP8_143, FormatCode.CFP8_152)]


def requests(n):
    """``n`` zero requests."""
    return np.zeros(n, REQUEST_DTYPE)


def concat(*parts):
    return np.concatenate(parts)


def _lanes_to_vectors(lanes, bits):
    return model.vector(np.asarray(lanes).astype(np.uint64), bits)


def random_vectors(rng, n, vtype):
    """``n`` random vectors for lane type ``vtype``: for FP32 and BF16 every binade,
    subnormals, specials and short mantissas (exact ties and cancellations); for integers
    uniform bits with extremes and small values mixed in."""
    vtype = VecType(vtype)
    if vtype is VecType.FP32:
        return _lanes_to_vectors(_random_fp32(rng, n * 16).reshape(n, 16), 32)
    if vtype is VecType.BF16:
        return _lanes_to_vectors((_random_fp32(rng, n * 32) >> np.uint64(16)).reshape(n, 32), 16)
    bits = {VecType.INT8: 8, VecType.INT16: 16, VecType.INT32: 32}[vtype]
    k = 512 // bits
    x = rng.integers(0, 1 << bits, (n, k), dtype=np.uint64)
    special = np.array([0, 1, (1 << bits) - 1, 1 << (bits - 1), (1 << (bits - 1)) - 1, 2, bits],
                       dtype=np.uint64)
    kind = rng.random((n, k))
    x = np.where(kind < 0.15, special[rng.integers(0, len(special), (n, k))], x)
    x = np.where((kind >= 0.15) & (kind < 0.3), rng.integers(0, 40, (n, k)), x)
    return _lanes_to_vectors(x, bits)


def _conversion_fields(rng, req, legal=True):
    """``vtype``, ``fmt``, ``bias``, ``imm``, ``rnd`` of conversion requests, legal ones."""
    pick = rng.integers(0, len(_CONV_PAIRS), len(req))
    for k, p in enumerate(pick):
        vtype, fmt, parts = _CONV_PAIRS[p]
        req["vtype"][k] = vtype.value
        req["fmt"][k] = fmt.value
        req["imm"][k] = rng.integers(0, parts)
    req["bias"] = np.where(rng.random(len(req)) < 0.5, rng.choice([0, 7, 15, BIAS_MAX], len(req)),
                           rng.integers(0, BIAS_MAX + 1, len(req)))
    req["rnd"] = rng.integers(0, 2, len(req))


def random_requests(rng, n, *, pairs=None, seed_fraction=0.01):
    """``n`` legal requests of ``pairs`` (default every legal pair) with random operands of the
    type (and random unused fields: the unit must ignore them)."""
    pairs = LEGAL_PAIRS if pairs is None else list(pairs)
    req = requests(n)
    which = rng.integers(0, len(pairs), n)
    req["op"] = [pairs[w][0].value for w in which]
    req["vtype"] = [pairs[w][1].value for w in which]
    req["imm"] = rng.integers(0, 64, n)
    req["fmt"] = rng.integers(0, 8, n)
    req["bias"] = rng.integers(0, BIAS_MAX + 1, n)
    req["rnd"] = rng.integers(0, 2, n)
    conv = np.isin(req["op"], [o.value for o in _CONV_OPS])
    if conv.any():
        sub = req[conv]
        _conversion_fields(rng, sub)
        req[conv] = sub
    # SEED is rare: it resets the generators' sequence.
    seed = req["op"] == VecOp.SEED.value
    drop = seed & (rng.random(n) >= seed_fraction * len(pairs))
    req["op"][drop] = VecOp.RDFLAGS.value
    for vt in VecType:
        sel = req["vtype"] == vt.value
        for name in ("a", "b", "c"):
            req[name][sel] = random_vectors(rng, int(sel.sum()), vt)
    # Operands of the other types too: a select's mask of FP lanes, a shuffle's indices.
    mix = rng.random(n) < 0.1
    req["a"][mix] = rng.integers(0, 256, (int(mix.sum()), 64), dtype=np.uint8)
    return req


#: The pairs of :func:`state_requests`.
STATE_MIX = [(VecOp.ADD, VecType.FP32), (VecOp.MUL, VecType.BF16), (VecOp.TO_I32, VecType.FP32),
             (VecOp.RDFLAGS, VecType.INT32), (VecOp.CLRFLAGS, VecType.INT32),
             (VecOp.SEED, VecType.INT32), (VecOp.NARROW, VecType.FP32),
             (VecOp.NARROW, VecType.BF16), (VecOp.ADD, VecType.INT8)]


def state_requests(rng, n, *, within=None):
    """A mix aimed at the sticky flags and the SR generators: flag-raising FP ops, rdflags,
    clrflags, seeds and SR narrowings, interleaved (the pairs of :data:`STATE_MIX` that are in
    ``within``, if given)."""
    pairs = [p for p in STATE_MIX if within is None or p in within]
    req = random_requests(rng, n, pairs=pairs, seed_fraction=0.1)
    narrow = req["op"] == VecOp.NARROW.value
    req["rnd"][narrow] = Round.SR.value
    return req


def illegal_requests(rng, n):
    """Illegal requests: unknown op codes (43..63), unknown types (5..7), legal ops with a type
    they lack, conversions with an impossible ``fmt`` or ``imm``; random operands."""
    req = random_requests(rng, n)
    legal = {(o.value, t.value) for o, t in LEGAL_PAIRS}
    kind = rng.integers(0, 4, n)
    for k in range(n):
        if kind[k] == 0:
            req["op"][k] = rng.integers(len(VecOp), 64)
        elif kind[k] == 1:
            req["vtype"][k] = rng.integers(len(VecType), 8)
        elif kind[k] == 2:
            while (int(req["op"][k]), int(req["vtype"][k])) in legal:
                req["op"][k] = rng.integers(0, len(VecOp))
                req["vtype"][k] = rng.integers(0, len(VecType))
        else:
            vtype, fmt, parts = _CONV_PAIRS[rng.integers(0, len(_CONV_PAIRS))]
            req["op"][k] = rng.choice([o.value for o in _CONV_OPS])
            req["vtype"][k] = vtype.value
            if rng.random() < 0.5:
                req["fmt"][k] = fmt.value
                req["imm"][k] = rng.integers(parts, 64)
            else:   # a format that is not narrower, or an unknown code
                req["fmt"][k] = rng.choice([0, 6, 7] + ([1, 4, 5] if vtype is VecType.BF16
                                                       else []))
    return req


def pack_requests(req, tags, tag_width=TAG_WIDTH):
    """Payload words (Python ints) of ``req`` tagged with ``tags``."""
    from ..pack import pack

    fields = {name: req[name].astype(np.uint64) for name in ("op", "vtype", "fmt", "bias",
                                                             "rnd", "imm")}
    vectors = {name: ints_from_vectors(req[name]) for name in ("a", "b", "c")}
    return pack(request_layout(tag_width), n=len(req), tag=tags, **fields, **vectors)


def _describe(req, i, exp, got):
    def hexv(v):
        return f"{int(v):0128x}"
    op = VecOp(int(req["op"][i])).name if int(req["op"][i]) < len(VecOp) else req["op"][i]
    vt = VecType(int(req["vtype"][i])).name if int(req["vtype"][i]) < len(VecType) \
        else req["vtype"][i]
    from ..scoreboard import flags_str
    return (f"#{i} {op}/{vt} fmt {int(req['fmt'][i])} bias {int(req['bias'][i])} "
            f"rnd {int(req['rnd'][i])} imm {int(req['imm'][i])}\n"
            f"      a {hexv(ints_from_vectors(req['a'][i]))}\n"
            f"      b {hexv(ints_from_vectors(req['b'][i]))}\n"
            f"      c {hexv(ints_from_vectors(req['c'][i]))}\n"
            f"    exp {hexv(exp['data'][i])} {flags_str(exp['flags'][i])} err "
            f"{int(exp['error'][i])} tag {int(exp['tag'][i])}\n"
            f"    got {hexv(got['data'][i])} {flags_str(got['flags'][i])} err "
            f"{int(got['error'][i])} tag {int(got['tag'][i])}")


class VectorTB:
    """Drive a harness-wrapped ``VectorUnit``: pack requests, run them through the bulk harness,
    compare every response with :class:`VectorUnitModel` over the same sequence."""

    def __init__(self, dut, *, tag_width=TAG_WIDTH):
        from ..harness import StreamHarness

        self.harness = StreamHarness(dut)
        self.tag_width = tag_width
        self.model = VectorUnitModel()
        self.checked = 0
        self.sent = 0

    async def reset(self):
        await self.harness.reset()
        self.model.reset()

    async def check(self, req, *, idle=0, stall=0, seed=1, what="requests", timeout=10_000):
        """Run ``req``; compare data, flags, error and tag of every response, in order."""
        from ..pack import unpack
        from ..scoreboard import compare

        n = len(req)
        tags = (np.arange(self.sent, self.sent + n, dtype=np.uint64)
                % np.uint64(1 << self.tag_width))
        self.sent += n
        req = req.copy()
        req["tag"] = tags
        out = await self.harness.run(pack_requests(req, tags, self.tag_width), idle=idle,
                                     stall=stall, seed=seed, timeout=timeout)
        got = unpack(response_layout(self.tag_width), np.array(out, dtype=object))
        resp = self.model.run(req)
        exp = {"data": ints_from_vectors(resp["data"]), "flags": resp["flags"],
               "error": resp["error"], "tag": tags}
        compare(exp, got, what=what, describe=lambda i: _describe(req, i, exp, got), limit=4)
        # Functional coverage (off unless D1CORE_FCOV is set): what the unit was seen to do.
        sample_vector(req, got["flags"], got["error"])
        self.checked += n
        return n
