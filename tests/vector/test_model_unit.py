"""Tests of the vector model's unit state: ``VectorUnitModel`` / ``run`` (docs/vector.md).

Oracles: a request-by-request loop written here from the document (one ``execute`` call per
request, the 32 generators stepped with ``verif.fp.rng.next_state`` and seeded with the
document's derivation, the sticky flags OR-ed in issue order), which ``run``'s batched evaluation
must equal; the conversion unit's model (``verif.fp.convert``), one per generator, which must
reproduce every stochastically rounded lane; hand-written sequences with known flags.
"""

import numpy as np
import pytest

from hw.fp.formats import (
    FLAG_INEXACT,
    FLAG_INVALID,
    FLAG_OVERFLOW,
    FormatCode,
    Round,
)
from hw.vector.isa import VecOp, VecType, request_layout
from verif.fp.convert import NARROW, WIDEN, convert_requests
from verif.fp.rng import initial_state, next_state
from verif.pack import pack, unpack
from verif.vector.model import (
    OPS,
    REQUEST_DTYPE,
    VectorUnitModel,
    as_requests,
    execute,
    ints_from_vectors,
    lanes,
    run,
    sr_seed_states,
    vector,
    vectors_from_ints,
)

I, O, V = FLAG_INEXACT, FLAG_OVERFLOW, FLAG_INVALID
PHI = 0x9E3779B9
LEGAL = sorted(OPS)


def derived_seeds(s):
    """docs/vector.md: generator j starts from initial_state(s XOR (j · 0x9E3779B9 mod 2**32))."""
    return [initial_state(s ^ ((j * PHI) & 0xFFFFFFFF)) for j in range(32)]


def reference(req, sticky=0, states=None):
    """The unit request by request, from the document: ``(data, flags, error)`` lists."""
    states = derived_seeds(0) if states is None else states
    out = []
    for r in req:
        op = VecOp(int(r["op"])).name.lower() if int(r["op"]) in VecOp._value2member_map_ else "?"
        vt = (VecType(int(r["vtype"])).name.lower()
              if int(r["vtype"]) in VecType._value2member_map_ else "?")
        spec = OPS.get((op, vt))
        if (op, vt) == ("seed", "int32"):
            states = derived_seeds(int(lanes(r["a"], 32)[0]))
        else:
            states = [next_state(x) for x in states]
        rand = np.asarray([x >> 16 for x in states])
        fields = spec.fields if spec else ("a",)
        z, f, err = execute(op, vt, *(r[name] for name in fields), imm=int(r["imm"]),
                            fmt=int(r["fmt"]), bias=int(r["bias"]), rnd=int(r["rnd"]),
                            rand=rand, sticky=sticky)
        if op == "clrflags" and vt == "int32":
            sticky = 0
        sticky |= int(f)
        out.append((z, int(f), int(err)))
    return out


def random_requests(rng, n, illegal=0.05):
    """Random requests: legal pairs drawn uniformly (conversions with mostly legal fmt/imm), some
    unknown op or type codes, random operands, fields and tags."""
    req = np.zeros(n, REQUEST_DTYPE)
    pick = rng.integers(0, len(LEGAL), n)
    req["op"] = [VecOp[LEGAL[i][0].upper()].value for i in pick]
    req["vtype"] = [VecType[LEGAL[i][1].upper()].value for i in pick]
    bad = rng.random(n) < illegal
    req["op"][bad] = rng.integers(0, 64, bad.sum())
    req["vtype"][bad] = rng.integers(0, 8, bad.sum())
    req["fmt"] = rng.integers(1, 6, n)
    req["fmt"][rng.random(n) < 0.05] = rng.choice([0, 6, 7])
    req["bias"] = rng.integers(0, 64, n)
    req["rnd"] = rng.integers(0, 2, n)
    req["imm"] = np.where(rng.random(n) < 0.9, rng.integers(0, 4, n), rng.integers(0, 64, n))
    for f in "abc":
        req[f] = rng.integers(0, 256, (n, 64), dtype=np.uint8)
    req["tag"] = rng.integers(0, 1 << 63, n, dtype=np.uint64)
    return req


def check_equal(out, want):
    np.testing.assert_array_equal(out["data"], np.stack([w[0] for w in want]))
    np.testing.assert_array_equal(out["flags"], [w[1] for w in want])
    np.testing.assert_array_equal(out["error"], [w[2] for w in want])


def test_run_equals_request_by_request_reference():
    """run() (batched by op and fields) gives, response by response, what the request-by-request
    reference gives, on 3000 random requests of every legal pair with seeds, flag reads and
    clears, stochastic narrowing and illegal codes mixed in; tags pass through; the state carries
    across calls (the same requests split over three run() calls give the same responses)."""
    rng = np.random.default_rng(2024)
    req = random_requests(rng, 3000)
    want = reference(req)
    out = run(req)
    check_equal(out, want)
    np.testing.assert_array_equal(out["tag"], req["tag"])
    kinds = {(int(o), int(t)) for o, t in zip(req["op"], req["vtype"], strict=True)}
    assert (VecOp.SEED.value, VecType.INT32.value) in kinds
    assert out["error"].any() and (out["flags"] != 0).any()
    unit = VectorUnitModel()
    parts = [unit.run(req[:1000]), unit.run(req[1000:1001]), unit.run(req[1001:])]
    for name in ("data", "flags", "error", "tag"):
        np.testing.assert_array_equal(np.concatenate([p[name] for p in parts]), out[name])


def narrow_request(x, *, vtype="fp32", fmt="bf16", rnd=Round.SR):
    bits = 32 if vtype == "fp32" else 16
    return {"op": "narrow", "vtype": vtype, "fmt": fmt, "rnd": rnd, "a": vector(x, bits)}


@pytest.mark.parametrize(("vtype", "fmt", "bias"), [("fp32", "bf16", 0), ("bf16", "cfp8_143", 9),
                                                   ("fp32", "shp", 20)])
def test_generators_are_conversion_units(vtype, fmt, bias):
    """Advance rule and seeding: lane j of every stochastic narrowing equals a conversion unit
    (verif.fp.convert) seeded as generator j and fed one request for EVERY vector request (a
    narrowing of lane j's value where the vector request narrows, a dummy widen elsewhere: adds,
    flag reads, illegal requests, RNE narrowings); a SEED request restarts every unit with the
    derived seeds and is not itself a step."""
    rng = np.random.default_rng(7)
    bits, n_lanes = (32, 16) if vtype == "fp32" else (16, 32)
    reqs, values, seeds_at = [], [], {}
    for k in range(400):
        kind = rng.integers(0, 6)
        if k in (150, 300):
            s = int(rng.integers(0, 1 << 32)) if k == 150 else 0
            seeds_at[k] = s
            reqs.append({"op": "seed", "vtype": "int32", "a": vector([s] + [7] * 15, 32)})
        elif kind < 3:
            x = rng.integers(0, 1 << 32, n_lanes, dtype=np.uint64) >> np.uint64(32 - bits)
            x = np.where(rng.random(n_lanes) < 0.8, x, 0x3F808040 >> (32 - bits))
            r = narrow_request(x, vtype=vtype, fmt=fmt)
            r["bias"] = bias
            values.append((k, x))
            reqs.append(r)
        elif kind == 3:
            reqs.append({"op": "add", "vtype": "fp32", "a": 1, "b": 2})
        elif kind == 4:
            reqs.append({"op": int(rng.integers(43, 64)), "vtype": 0})
        else:
            reqs.append(narrow_request(np.zeros(n_lanes, np.int64), vtype=vtype, rnd=Round.RNE,
                                       fmt=fmt))
    out = run(reqs)
    width = 16 if fmt in ("bf16", "shp") else 8
    # Segments between SEED requests, each with its own seeds.
    bounds = [(0, 0)] + [(k + 1, s) for k, s in sorted(seeds_at.items())]
    for j in range(n_lanes):
        for (start, s), stop in zip(bounds, [k for k in sorted(seeds_at)] + [len(reqs)],
                                    strict=True):
            seg = [(k, x) for k, x in values if start <= k < stop]
            op = np.full(stop - start, WIDEN)
            data = np.zeros(stop - start, np.int64)
            for k, x in seg:
                op[k - start] = NARROW
                data[k - start] = int(x[j]) << (32 - bits)
            res, _ = convert_requests(data, op, FormatCode[fmt.upper()].value, bias, Round.SR,
                                      seed=derived_seeds(s)[j])
            for k, _ in seg:
                assert int(lanes(out["data"][k], width)[j]) == int(res[k - start]), (j, k)


def test_sr_words_depend_on_seed_only():
    """Stochastic results are reproducible per seed: the same sequence after SEED(s) gives the same
    results wherever it runs (fresh unit, or after unrelated requests), a different seed gives
    different results, SEED(0) is the reset state, and only lane 0 of a is the seed."""
    rng = np.random.default_rng(3)
    body = [narrow_request(rng.integers(0, 1 << 32, 16, dtype=np.uint64)) for _ in range(20)]

    def seeded(s, prefix=(), other_lanes=0):
        a = vector([s] + [other_lanes] * 15, 32)
        out = run([*prefix, {"op": "seed", "vtype": "int32", "a": a}, *body])
        return out["data"][len(prefix) + 1:]

    fresh = run(body)["data"]
    np.testing.assert_array_equal(seeded(0), fresh)
    noise = [{"op": "add", "vtype": "fp32"}] * 5 + body[:3]
    np.testing.assert_array_equal(seeded(12345, noise), seeded(12345))
    np.testing.assert_array_equal(seeded(12345, other_lanes=0xFFFFFFFF), seeded(12345))
    assert not np.array_equal(seeded(12345), seeded(12346))
    assert not np.array_equal(seeded(12345), fresh)


def test_seed_states_known_answers():
    """The seed derivation: generator 0 gets the seed itself (XORSHIFT_ZERO_SEED for 0), generator
    j the seed XOR j·0x9E3779B9 mod 2**32; reset is seed 0."""
    assert sr_seed_states(0)[:3] == [0x2545F491, 0x9E3779B9, 0x3C6EF372]
    assert sr_seed_states(1)[:2] == [1, 0x9E3779B8]
    assert sr_seed_states(0x9E3779B9)[1] == 0x2545F491   # a zero derived seed is replaced
    assert [g.state for g in VectorUnitModel().generators] == sr_seed_states(0)
    with pytest.raises(ValueError, match=r"^seed must be in 0\.\.4294967295, not -1$"):
        sr_seed_states(-1)
    with pytest.raises(TypeError, match=r"^seed must be an integer, not 1\.0$"):
        sr_seed_states(1.0)


def test_illegal_seed_steps_and_does_not_load():
    """A SEED with a type other than int32 is illegal (error, zero data): it does not load the
    generators, and it steps them like any request."""
    x = np.full(16, 0x3F808040)
    body = [narrow_request(x)]
    bad_seed = {"op": "seed", "vtype": "fp32", "a": vector([99] * 16, 32)}
    out = run([bad_seed, *body])
    assert out["error"].tolist() == [1, 0] and not out["data"][0].any()
    stepped = run([{"op": "add", "vtype": "fp32"}, *body])["data"][1]
    np.testing.assert_array_equal(out["data"][1], stepped)


def test_sticky_flags_in_issue_order():
    """The sticky flags are the OR of the responses' flags in issue order: RDFLAGS sees every
    earlier request since the last CLRFLAGS and none of its own or later ones, CLRFLAGS returns
    the value before clearing, illegal requests (error) and the state ops add nothing, RDFLAGS on
    another type is illegal and changes nothing; the result is lane 0 as INT32, other lanes 0."""
    one = 0x3F800000
    seq = [
        ({"op": "add", "vtype": "fp32", "a": vector([one] * 16, 32),
          "b": vector([0x30800000] * 16, 32)}, I, None),                 # 1 + 2**-30: inexact
        ({"op": "rdflags", "vtype": "int32"}, 0, I),
        ({"op": "mul", "vtype": "fp32", "a": vector([0x7F7FFFFF] * 16, 32),
          "b": vector([0x40000000] * 16, 32)}, O | I, None),             # max · 2: overflow
        ({"op": 63, "vtype": "fp32"}, 0, None),                          # illegal
        ({"op": "rdflags", "vtype": "int32"}, 0, O | I),
        ({"op": "clrflags", "vtype": "int32"}, 0, O | I),
        ({"op": "rdflags", "vtype": "int32"}, 0, 0),
        ({"op": "add", "vtype": "int8", "a": 255, "b": 1}, 0, None),
        ({"op": "widen", "vtype": "fp32", "fmt": "bf16", "a": 0x7F81}, V, None),   # sNaN
        ({"op": "rdflags", "vtype": "int8"}, 0, None),                   # illegal
        ({"op": "clrflags", "vtype": "fp32"}, 0, None),                  # illegal: no clear
        ({"op": "clrflags", "vtype": "int32"}, 0, V),
        ({"op": "clrflags", "vtype": "int32"}, 0, 0),
    ]
    for split in (len(seq), 5):   # one call, or two calls sharing the state
        unit = VectorUnitModel()
        out = np.concatenate([unit.run([r for r, _, _ in seq[:split]]),
                              unit.run([r for r, _, _ in seq[split:]])])
        for k, (_, flags, read) in enumerate(seq):
            assert int(out["flags"][k]) == flags, k
            if read is not None:
                assert lanes(out["data"][k], 32).tolist() == [read] + [0] * 15, k
        assert out["error"].tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0]
        assert unit.sticky == 0


def test_unknown_codes_through_run():
    """Every op code 43..63 with every type code, and every legal op with the type codes 5..7: data
    0, flags 0, error 1, tags passed through, nothing raised."""
    pairs = [(o, t) for o in range(43, 64) for t in range(8)]
    pairs += [(o.value, t) for o in VecOp for t in range(5, 8)]
    req = np.zeros(len(pairs), REQUEST_DTYPE)
    req["op"], req["vtype"] = zip(*pairs, strict=True)
    req["a"] = req["b"] = req["c"] = 0x55
    req["tag"] = np.arange(len(pairs)) + 1000
    out = run(req)
    assert not out["data"].any() and not out["flags"].any() and out["error"].all()
    np.testing.assert_array_equal(out["tag"], req["tag"])


def test_pack_refuses_a_value_too_wide():
    """verif.pack does not let a value spill into its neighbour field."""
    with pytest.raises(ValueError, match=r"^field 'imm' must fit 6 bits, not 0x40$"):
        pack(request_layout(8), imm=[1, 64])


def test_requests_from_dicts_and_layout_ints():
    """as_requests: dicts with names, enum members, codes and 512-bit integers give the same
    structured requests as the codes; vectors_from_ints agrees with the layout packing
    (verif.pack: vector field a, byte k = bits 8k..8k+7) and ints_from_vectors inverts it."""
    rng = np.random.default_rng(6)
    a = rng.integers(0, 256, 64, dtype=np.uint8)
    a_int = ints_from_vectors(a)
    word = pack(request_layout(8), op=VecOp.NARROW.value, a=np.asarray([a_int], dtype=object))
    assert unpack(request_layout(8), word)["a"][0] == a_int
    np.testing.assert_array_equal(vectors_from_ints(a_int), a)
    np.testing.assert_array_equal(vectors_from_ints([a_int, 5])[1], [5] + [0] * 63)
    forms = [
        {"op": "narrow", "vtype": "bf16", "fmt": "cfp8_152", "rnd": "sr", "a": a_int, "tag": 9},
        {"op": VecOp.NARROW, "vtype": VecType.BF16, "fmt": FormatCode.CFP8_152, "rnd": Round.SR,
         "a": a, "tag": 9},
        {"op": 29, "vtype": 1, "fmt": 3, "rnd": 1, "a": a, "tag": 9},
    ]
    reqs = [as_requests([f]) for f in forms]
    for r in reqs[1:]:
        assert r.tobytes() == reqs[0].tobytes()
    assert as_requests(reqs[0]).tobytes() == reqs[0].tobytes()


@pytest.mark.parametrize(("requests", "error", "message"), [
    ([{"opcode": 1}], ValueError, "request 0: unknown field(s) opcode"),
    ([{}, {"op": "frobnicate"}], ValueError, "unknown op 'frobnicate'"),
    ([{"bias": 64}], ValueError, "request 0: bias must be in 0..63, not 64"),
    ([{"bias": 1.0}], TypeError, "request 0: bias must be an integer, not 1.0"),
    ([{"tag": 1 << 64}], ValueError,
     "request 0: tag must be in 0..18446744073709551615, not 18446744073709551616"),
    ([{"a": 1 << 512}], ValueError, "request 0: a must fit 512 bits, not a 513-bit integer"),
    ([{"a": -1}], ValueError, "request 0: a must fit 512 bits, not -1"),
    ([{"b": np.zeros(32, np.uint8)}], ValueError,
     "request 0: b must be a uint8 array of shape (64,), not (32,)"),
    ([{"c": np.zeros(64, np.int16)}], TypeError,
     "request 0: c must be a 512-bit integer or a uint8 array, not an array of int16"),
    (np.zeros(2, [("op", np.uint8), ("x", np.uint8)]), ValueError, "unknown request field(s) x"),
    (np.asarray([(70,)], [("op", np.uint8)]), ValueError,
     "request field op must be in 0..63, not 70"),
    (np.asarray([(-1,)], [("imm", np.int8)]), ValueError,
     "request field imm must be in 0..63, not -1"),
    (np.asarray([(1.0,)], [("imm", np.float32)]), TypeError,
     "request field imm must be integers, not float32"),
    (np.zeros(1, [("a", np.int16, (64,))]), TypeError,
     "request field a must be uint8 vectors, not int16"),
])
def test_malformed_requests(requests, error, message):
    """Requests that no layout can carry raise TypeError (wrong kind) or ValueError (wrong value)
    with exact messages."""
    with pytest.raises(error) as e:
        run(requests)
    assert str(e.value) == message


def test_one_pair_per_op_covers_every_op_and_type():
    """Icarus's ``every_pair`` sample (``unit_tb.one_pair_per_op``): each op exactly once, each
    pair legal, and every type of the legal pairs in some pair (a sample that dropped an op or a
    type, or made up a pair, would narrow what Icarus checks without anyone seeing it)."""
    from verif.vector.unit_tb import LEGAL_PAIRS, one_pair_per_op

    sample = one_pair_per_op()
    ops = [op for op, _ in sample]
    assert set(ops) == {op for op, _ in LEGAL_PAIRS} and len(ops) == len(set(ops))
    assert set(sample) <= set(LEGAL_PAIRS)
    assert {t for _, t in sample} == {t for _, t in LEGAL_PAIRS}
