"""Fast tests of the vector unit's integer, data-movement and conversion pipes
(``hw/vector/intpipe.py``, ``movepipe.py``, ``convpipe.py``) in Amaranth's Python simulator.

Each pipe runs a stream of random requests (every op it implements, on every type, random
operands with edge lanes mixed in) with random cycles of ``en`` low; every result must appear
exactly ``latency`` advances after its request entered, hold while ``en`` is low, and equal the
reference model ``verif.vector.model`` bit for bit (data and flags).
"""

import random

import numpy as np
import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from hw.fp.formats import SR_BITS, FormatCode, Round
from hw.fp.rng import XorShift32
from hw.vector.convpipe import SR_LANES, ConvPipe, reset_state, seed_for_lane
from hw.vector.intpipe import _SUBTRACTS, INT_OPS, IntPipe, _decode
from hw.vector.isa import VecOp, VecType, request_layout
from hw.vector.movepipe import MOVE_OPS, MovePipe
from tests.amaranth_sim import raises_unelaborated
from verif.fp.rng import initial_state, next_state
from verif.pack import pack
from verif.vector import model

INT_TYPES = (VecType.INT8, VecType.INT16, VecType.INT32)
ALL_TYPES = tuple(VecType)
_EDGE = {8: [0, 1, 0x7F, 0x80, 0xFF], 16: [0, 1, 0x7FFF, 0x8000, 0xFFFF],
         32: [0, 1, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF]}


def _name(enum_member):
    return enum_member.name.lower()


def random_vectors(rng, n, bits=None):
    """``n`` random vectors (uint8, shape (n, 64)); with ``bits``, about a quarter of the lanes
    of that width replaced by edge values (0, 1, the extremes) and some lanes made equal."""
    v = rng.integers(0, 256, size=(n, 64), dtype=np.uint8)
    if bits is None:
        return v
    lanes = model.lanes(v, bits).copy()
    edge = rng.random(lanes.shape) < 0.25
    lanes[edge] = rng.choice(np.array(_EDGE[bits], dtype=lanes.dtype), size=int(edge.sum()))
    return model.vector(lanes, bits)


def to_int(vec):
    return int.from_bytes(bytes(np.asarray(vec, np.uint8)), "little")


def from_int(x):
    return np.frombuffer(int(x).to_bytes(64, "little"), np.uint8)


def request_words(requests):
    """The packed ``request_layout(0)`` words of ``requests`` (dicts; a ``seed`` key is not a
    request field and is left out)."""
    words = []
    for r in requests:
        fields = {k: (to_int(v) if isinstance(v, np.ndarray) else int(getattr(v, "value", v)))
                  for k, v in r.items() if k != "seed"}
        words.append(int(pack(request_layout(0), 1, **fields)[0]))
    return words


class Tracker:
    """The bookkeeping of a handshake-free pipe of ``latency`` fed ``n`` requests: which request
    enters in a cycle, which result leaves, and the check that the output holds while ``en`` is
    low. ``results[i]`` is request ``i``'s output, read exactly ``latency`` advances after it
    entered."""

    def __init__(self, latency, n):
        self.latency, self.n = latency, n
        self.results = [None] * n
        self._next, self._inflight, self._prev = 0, [], None

    @property
    def done(self):
        return self._next == self.n and not self._inflight

    def entering(self, en):
        """The index of the request that enters in a cycle with ``en``, or None."""
        return self._next if en and self._next < self.n else None

    def output(self, en, out):
        """Record the pipe's output ``out`` after the clock edge of a cycle with ``en``."""
        if not en:
            assert self._prev is None or out == self._prev, "output changed while en was 0"
        else:
            if self._next < self.n:
                self._inflight.append([self._next, 0])
                self._next += 1
            for item in self._inflight:
                item[1] += 1
            if self._inflight and self._inflight[0][1] == self.latency:
                self.results[self._inflight.pop(0)[0]] = out
        self._prev = out


def run_pipe(pipe, requests, *, seed=0, p_hold=0.25, extra_ports=None):
    """Drive ``requests`` (dicts of request fields; vectors as uint8 arrays) through ``pipe``,
    one per advance, with ``en`` low in random cycles; return ``(data, flags)`` per request, each
    read exactly ``pipe.latency`` advances after it entered. Checks that the output holds while
    ``en`` is low. ``extra_ports(ctx, i)`` may drive other inputs when request ``i`` enters."""
    words = request_words(requests)
    rnd = random.Random(seed)
    track = Tracker(pipe.latency, len(requests))

    async def bench(ctx):
        while not track.done:
            en = rnd.random() >= p_hold
            ctx.set(pipe.en, en)
            entering = track.entering(en)
            ctx.set(pipe.i.valid, entering is not None)
            if entering is not None:
                ctx.set(pipe.i.payload.as_value(), words[entering])
            if extra_ports:
                extra_ports(ctx, entering)
            await ctx.tick()
            out = pipe.o.payload
            track.output(en, (ctx.get(out.data), ctx.get(out.flags.as_value())))

    sim = Simulator(pipe)
    sim.add_clock(1e-9)
    sim.add_testbench(bench)
    sim.run()
    return track.results


def check_against_model(requests, results, fields_of):
    """Compare each result with ``model.execute`` on the request's operands
    (``fields_of(request)`` gives the operand names in order and the keyword extras)."""
    for r, (data, flags) in zip(requests, results, strict=True):
        names, extras = fields_of(r)
        want, want_flags, error = model.execute(
            _name(r["op"]), _name(r["vtype"]), *(r[k] for k in names), **extras)
        assert not error, f"{r['op']} {r['vtype']} is not legal in the model"
        got = from_int(data)
        assert np.array_equal(got, want) and flags == int(want_flags), (
            f"{r['op'].name} {r['vtype'].name}: a={to_int(r['a']):#x} b={to_int(r['b']):#x} "
            f"c={to_int(r['c']):#x}\n got {data:#x} flags {flags:#x}\nwant {to_int(want):#x} "
            f"flags {int(want_flags):#x}")


# --- integer pipe ------------------------------------------------------------------------------

def _int_fields(r):
    return model.OPS[(_name(r["op"]), _name(r["vtype"]))].fields, {}


def _int_requests(rng, per_pair):
    pairs = [(op, t) for op in INT_OPS for t in INT_TYPES] + \
        [(VecOp.SELECT, t) for t in (VecType.FP32, VecType.BF16)]
    reqs = []
    for op, t in pairs:
        bits = model.LANE_BITS.get(_name(t), 16)
        a, b, c = (random_vectors(rng, per_pair, bits) for _ in range(3))
        if op == VecOp.SELECT:
            # Mask lanes: zero, all ones, or a random nonzero value.
            mask = model.lanes(a, bits).copy()
            kind = rng.integers(0, 3, size=mask.shape)
            mask[kind == 0] = 0
            mask[kind == 1] = (1 << bits) - 1
            a = model.vector(mask, bits)
        for k in range(per_pair):
            reqs.append({"op": op, "vtype": t, "a": a[k], "b": b[k], "c": c[k]})
    order = rng.permutation(len(reqs))
    return [reqs[k] for k in order]


def _shift_requests(rng):
    """Shifts by every amount 0..w-1 and by amounts with higher bits set (taken modulo w)."""
    reqs = []
    for vtype in INT_TYPES:
        bits = model.LANE_BITS[_name(vtype)]
        n = 512 // bits
        for op in (VecOp.SLL, VecOp.SRL, VecOp.SRA):
            for base in range(0, 2 * bits, n):
                amounts = np.arange(base, base + n, dtype=np.uint64) % (2 * bits)
                if bits > 8:
                    amounts |= rng.integers(0, 1 << (bits - 6), n).astype(np.uint64) << 6
                reqs.append({"op": op, "vtype": vtype, "a": random_vectors(rng, 1, bits)[0],
                             "b": model.vector(amounts, bits), "c": np.zeros(64, np.uint8)})
    return reqs


def test_intpipe_matches_model():
    """Every integer op on every integer type (and select on every type), random and edge lanes,
    and shifts by every amount (higher bits of the amount ignored), equal the model bit for bit,
    in order, exactly ``latency`` advances after entry, the output holding while ``en`` is
    low."""
    rng = np.random.default_rng(1)
    reqs = _int_requests(rng, 2) + _shift_requests(rng)
    check_against_model(reqs, run_pipe(IntPipe(), reqs, seed=1), _int_fields)



@pytest.mark.parametrize(("ones", "zeros"), [
    (_SUBTRACTS, [VecOp.ADD]),
    ([VecOp.MUL], [o for o in INT_OPS if o != VecOp.MUL]),
    ([VecOp.REDSUM], [o for o in INT_OPS if o != VecOp.REDSUM]),
])
def test_op_decode(ones, zeros):
    """The integer pipe's op decodes (a match on the fewest op bits that tell ``ones`` from
    ``zeros``) are 1 on every op of ``ones`` and 0 on every op of ``zeros``."""
    m = Module()
    op, hit = Signal(VecOp), Signal()
    m.d.comb += hit.eq(_decode(op, ones, zeros))
    sim = Simulator(m)

    async def bench(ctx):
        for o in (*ones, *zeros):
            ctx.set(op, o)
            assert ctx.get(hit) == (o in ones), o

    sim.add_testbench(bench)
    sim.run()


def test_op_decode_refuses_overlapping_sets():
    with pytest.raises(ValueError, match=r"^ops \[<VecOp.ADD: 0>\] and \[<VecOp.ADD: 0>\] "
                                         r"overlap$"):
        _decode(Signal(VecOp), [VecOp.ADD], [VecOp.ADD])


# --- data-movement pipe ------------------------------------------------------------------------

def _move_fields(r):
    return (model.OPS[(_name(r["op"]), _name(r["vtype"]))].fields,
            {"imm": r.get("imm", 0)})


def test_movepipe_matches_model():
    """Every data-movement op on every lane type (transpose8 on int8): random operands, every
    ``imm`` of a broadcast, shuffle indices with high bits set (taken modulo the lane count);
    equal the model bit for bit, exactly ``latency`` advances after entry, holding while ``en``
    is low."""
    rng = np.random.default_rng(4)
    reqs = _move_requests(rng, 4)
    reqs += [{"op": VecOp.BCAST, "vtype": t, "a": random_vectors(rng, 1)[0],
              "b": np.zeros(64, np.uint8), "c": np.zeros(64, np.uint8), "imm": imm}
             for t in (VecType.INT8, VecType.BF16, VecType.FP32) for imm in range(64)]
    order = rng.permutation(len(reqs))
    reqs = [reqs[k] for k in order]
    check_against_model(reqs, run_pipe(MovePipe(), reqs, seed=4), _move_fields)


def _move_requests(rng, per_pair):
    """``per_pair`` requests of every data-movement (op, type) pair, random operands and imm."""
    reqs = []
    for op in MOVE_OPS:
        for t in ALL_TYPES:
            if (_name(op), _name(t)) not in model.OPS:
                continue
            for _ in range(per_pair):
                a, b, c = random_vectors(rng, 3)
                reqs.append({"op": op, "vtype": t, "a": a, "b": b, "c": c,
                             "imm": int(rng.integers(0, 64))})
    return reqs


# --- conversion pipe ---------------------------------------------------------------------------

#: (wide type, narrow format, parts): the legal conversions (docs/vector.md).
CONVERSIONS = [(VecType.FP32, f, 4) for f in (FormatCode.CFP8_143, FormatCode.CFP8_152)] + \
    [(VecType.FP32, f, 2) for f in (FormatCode.BF16, FormatCode.SHP, FormatCode.UHP)] + \
    [(VecType.BF16, f, 2) for f in (FormatCode.CFP8_143, FormatCode.CFP8_152)]


def _wide_values(rng, n):
    """``n`` vectors of FP32 lanes: scaled normals across the storage formats' ranges, zeros,
    specials and raw bit patterns."""
    x = (rng.standard_normal((n, 16)) * np.exp2(rng.integers(-70, 40, (n, 16)))).astype(np.float32)
    codes = x.view(np.uint32)
    raw = rng.random((n, 16)) < 0.15
    codes[raw] = rng.integers(0, 1 << 32, int(raw.sum()), dtype=np.uint64).astype(np.uint32)
    special = rng.random((n, 16)) < 0.1
    codes[special] = rng.choice(np.array([0, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000,
                                          0x7F800001, 0x00000001, 0x807FFFFF], np.uint32),
                                int(special.sum()))
    return model.vector(codes, 32)


def _conv_requests(rng, per_conv):
    """Random WIDEN and NARROW requests of every legal kind, every part, both roundings,
    random biases; between them requests of other ops (which only step the generators) and
    ``seed`` requests with their lane-0 seed."""
    reqs = []
    for vtype, fmt, n_parts in CONVERSIONS:
        for op in (VecOp.WIDEN, VecOp.NARROW):
            for k in range(per_conv):
                a = _wide_values(rng, 1)[0]
                if op == VecOp.NARROW and vtype == VecType.BF16:
                    # BF16 lanes: the upper halves of FP32 values, and raw halves.
                    a = model.vector(np.concatenate([model.lanes(a, 32) >> 16,
                                                     model.lanes(random_vectors(rng, 1), 32)[0]
                                                     & 0xFFFF]), 16)
                elif op == VecOp.WIDEN:
                    a = random_vectors(rng, 1)[0]
                reqs.append({"op": op, "vtype": vtype, "fmt": fmt,
                             "bias": int(rng.integers(0, 64)), "rnd": int(rng.integers(0, 2)),
                             "imm": k % n_parts, "a": a, "b": random_vectors(rng, 1)[0],
                             "c": random_vectors(rng, 1)[0]})
    order = rng.permutation(len(reqs))
    reqs = [reqs[k] for k in order]
    for pos in sorted(rng.choice(len(reqs), 6, replace=False), reverse=True):
        other = {"op": VecOp.ADD, "vtype": VecType.INT8}
        if pos % 2:
            seed = int(rng.choice([0, 1, 0xDEADBEEF, int(rng.integers(0, 1 << 32))]))
            other = {"op": VecOp.SEED, "vtype": VecType.INT32, "seed": seed}
        a, b, c = random_vectors(rng, 3)
        reqs.insert(pos, {"a": a, "b": b, "c": c, **other})
    return reqs


def _generator_words(reqs):
    """The 32 SR words of each request: every generator steps once per request, a ``seed``
    request loads ``initial_state(seed ^ j·φ)`` instead (docs/vector.md)."""
    states = [reset_state(j) for j in range(SR_LANES)]
    words = []
    for r in reqs:
        if r["op"] == VecOp.SEED:
            states = [initial_state(seed_for_lane(r["seed"], j)) for j in range(SR_LANES)]
            words.append(None)
            continue
        states = [next_state(x) for x in states]
        words.append(np.array(states, np.uint32) >> np.uint32(32 - SR_BITS))
    return words


@pytest.mark.parametrize(("init", "error", "message"), [
    (0, ValueError, r"^init must be in 1\.\.4294967295, not 0$"),
    (1 << 32, ValueError, r"^init must be in 1\.\.4294967295, not 4294967296$"),
    ("1", TypeError, r"^init must be an integer, not '1'$"),
])
def test_generator_init_errors(init, error, message):
    """The generators' reset-state parameter is checked with an exact message."""
    raises_unelaborated(error, message, XorShift32, init=init)


def test_conv_reset_and_seed_derivation_match_model():
    """The generators' reset states and seed derivation are the model's."""
    assert [reset_state(j) for j in range(SR_LANES)] == model.sr_seed_states(0)
    for seed in (1, 0x9E3779B9, 0xDEADBEEF):
        assert [initial_state(seed_for_lane(seed, j)) for j in range(SR_LANES)] == \
            model.sr_seed_states(seed)


def test_convpipe_matches_model():
    """Every legal WIDEN and NARROW (fp32 and bf16, every format, every part, RNE and SR,
    random biases, packing into ``c``) equals the model bit for bit, data and flags, with the
    32 generators stepping on every request (other ops included) and reloading on ``seed``
    requests mid-stream; exactly ``latency`` advances, holding while ``en`` is low."""
    rng = np.random.default_rng(7)
    reqs = _conv_requests(rng, 4)
    pipe = ConvPipe()

    def seed_port(ctx, i):
        r = reqs[i] if i is not None else {}
        ctx.set(pipe.seed_we, r.get("op") == VecOp.SEED)
        ctx.set(pipe.seed, r.get("seed", 0))

    results = run_pipe(pipe, reqs, seed=7, extra_ports=seed_port)
    words = _generator_words(reqs)
    checked = [(r, res, w) for r, res, w in zip(reqs, results, words, strict=True)
               if r["op"] in (VecOp.WIDEN, VecOp.NARROW)]
    assert any(r["rnd"] == Round.SR.value and r["op"] == VecOp.NARROW for r, _, _ in checked)

    def conv_fields(item):
        r, _, w = item
        return (model.OPS[(_name(r["op"]), _name(r["vtype"]))].fields,
                {"imm": r["imm"], "fmt": r["fmt"].value, "bias": r["bias"], "rnd": r["rnd"],
                 "rand": w})

    items = iter(checked)
    check_against_model([r for r, _, _ in checked], [res for _, res, _ in checked],
                        lambda r: conv_fields(next(items)))
