"""Tests of functional coverage (``verif/fcov``): the bins, the sampling, the databases.

Layers: the generic machinery on a small group of this file's own (a sample lands in the bins it
should; a multi point hits each of its labels; an excluded combination is no bin; distinct
samples only; nothing is recorded or written without ``D1CORE_FCOV``; the merge adds hits and
takes items that only one file has; a database of other definitions is refused); then the
number formats' bins: the classes of operand at their edges, the exclusions against the contract
table (an illegal pair is no bin), and the reference models over the stimulus of the RTL tests,
none of whose results may fall in an excluded combination (a wrong exclusion would hide a bin).
"""

import numpy as np
import pytest

from hw.fp.formats import FLAG_DENORMAL, FLAG_INEXACT, FLAG_INVALID, FLAG_UNDERFLOW, get_format
from verif import fcov
from verif.fcov import fp as F
from verif.fp import fma_tb
from verif.fp import stimulus as st
from verif.fp.convert import convert_requests
from verif.fp.formats import max_value

# --- the machinery, on a group of this file's own ---------------------------------------------


def _group(block):
    return fcov.Group(
        block, "a test sample",
        points=(fcov.Point("op", ("add", "sub"), "the operation"),
                fcov.Point("flags", ("none", "x", "y"), "flags", multi=True)),
        crosses=(fcov.Cross("op_flags", ("op", "flags"), "op and flags",
                            lambda c: "sub never raises y" if c == {"op": "sub", "flags": "y"}
                            else None),))


def test_cross_bins_leave_out_the_excluded_combinations():
    g = _group("t.bins")
    c = g.crosses[0]
    assert c.bins(g) == [("add", "none"), ("add", "x"), ("add", "y"), ("sub", "none"),
                         ("sub", "x")]
    assert c.excluded(g) == {"sub never raises y": [("sub", "y")]}
    assert g.size() == (5, 5)


def test_point_hits():
    p = fcov.Point("flags", ("none", "x", "y"), "flags", multi=True)
    assert p.hits(frozenset({"x", "y"})) == ("x", "y")
    assert p.hits(None) == ()
    q = fcov.Point("op", ("add", "sub"), "op")
    assert q.hits("add") == ("add",) and q.hits("mul") == ()


def test_samples_land_in_their_bins_and_are_saved(tmp_path, monkeypatch):
    monkeypatch.setenv(fcov.FCOV_ENV, str(tmp_path))
    g = _group("t.sample")
    fcov.record(g, [("add", frozenset({"x", "y"})), ("sub", frozenset({"y"})),
                    ("sub", frozenset({"y"})), (None, frozenset({"none"}))])
    files = list(tmp_path.glob("fcov-*.yml"))
    assert len(files) == 1
    rep = fcov.block_report(g, fcov.load(files[0]))
    # ("sub", "y") hits the flags point but no cross bin: it is excluded.
    assert rep["items"]["op"] == {"kind": "point", "bins": 2, "hit": 2, "holes": []}
    assert rep["items"]["flags"]["holes"] == []
    assert rep["items"]["op_flags"]["holes"] == [("add", "none"), ("sub", "none"),
                                                  ("sub", "x")]
    assert (rep["bins"], rep["hit"]) == (10, 7)
    data = fcov.load(files[0])
    # The repeated sample was given to the library once: counts are distinct samples.
    assert data["d1core.t.sample.op"]["bins:_hits"] == {"add": 1, "sub": 1}
    with pytest.raises(ValueError, match=r"^a sample of t\.sample has 1 values, not 2$"):
        fcov.record(g, [("add",)])


def test_nothing_is_recorded_when_off(tmp_path, monkeypatch):
    monkeypatch.delenv(fcov.FCOV_ENV, raising=False)
    g = _group("t.off")
    fcov.record(g, [("add", frozenset({"x"}))])
    assert g._sampler is None and not g._seen
    assert fcov.save() is None
    F.sample_convert(st.unknown_code_requests(), np.zeros(24))  # returns at once
    assert fcov.requested() is None


def test_relative_directory_is_taken_from_the_repository(monkeypatch):
    monkeypatch.setenv(fcov.FCOV_ENV, "build/x")
    assert fcov.requested() == fcov._REPO / "build" / "x"


def test_merge_adds_hits_and_takes_new_items(tmp_path):
    import yaml

    def db(path, hits, extra=False):
        data = {"d1core": {"size": 2, "coverage": sum(v > 0 for v in hits.values())},
                "d1core.m": {"size": 2, "coverage": sum(v > 0 for v in hits.values())},
                "d1core.m.op": {"size": 2, "coverage": sum(v > 0 for v in hits.values()),
                                "weight": 1, "at_least": 1, "cover_percentage": 0.0,
                                "bins:_hits": hits}}
        if extra:
            data["d1core.n"] = {"size": 1, "coverage": 1}
            data["d1core.n.p"] = {"size": 1, "coverage": 1, "weight": 1, "at_least": 1,
                                  "cover_percentage": 100.0, "bins:_hits": {"z": 3}}
        path.write_text(yaml.dump(data))
        return path

    a = db(tmp_path / "a.yml", {"add": 2, "sub": 0})
    b = db(tmp_path / "b.yml", {"add": 1, "sub": 4}, extra=True)
    out = fcov.merge([a, b], tmp_path / "m.yml")
    m = fcov.load(out)
    assert m["d1core.m.op"]["bins:_hits"] == {"add": 3, "sub": 4}
    assert m["d1core.m.op"]["coverage"] == 2
    assert m["d1core.n.p"]["bins:_hits"] == {"z": 3}


def test_merge_and_load_refuse_bad_input(tmp_path):
    with pytest.raises(ValueError, match="^no functional coverage databases to merge$"):
        fcov.merge([], tmp_path / "m.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(ValueError, match=r"bad\.yml: not a YAML coverage database \(Parser"):
        fcov.load(bad)
    bad.write_text("- 1\n")
    with pytest.raises(ValueError, match=r"bad\.yml: not a YAML coverage database \(no mapping"):
        fcov.load(bad)
    other = tmp_path / "other.yml"
    other.write_text("top: {size: 1}\n")
    with pytest.raises(ValueError, match=r"other\.yml: not a d1core functional coverage "
                                         r"database \(no 'd1core' items\)$"):
        fcov.merge([other], tmp_path / "m.yml")


def test_report_refuses_a_database_of_other_definitions():
    g = _group("t.stale")
    data = {"d1core.t.stale.op": {"bins:_hits": {"add": 1, "mul": 0}}}
    with pytest.raises(ValueError, match=r"^the database's bins of d1core\.t\.stale\.op are not "
                                         r"the definitions' \(2 bins, 2 defined\)"):
        fcov.block_report(g, data)


def test_group_lookup():
    assert fcov.group("fp.fma") is F.FMA
    with pytest.raises(ValueError, match=r"^no functional coverage for block 'fp\.x'; expected "
                                         r"one of fp\.convert, fp\.fma"):
        fcov.group("fp.x")


# --- the number formats' bins -----------------------------------------------------------------


def _f32(x):
    return int(np.float32(x).view(np.uint32))


def test_narrow_classes_at_their_edges():
    top = max_value("cfp8_143", 7)            # 480, ulp 32
    cases = {0: "zero", 0x80000000: "zero", 1: "subnormal", _f32(2.0 ** -7): "tiny",
             _f32(2.0 ** -6): "normal", _f32(479.0): "normal", _f32(top): "edge",
             _f32(top + 15.9): "edge", _f32(top + 16): "overflow", 0x7F800000: "infinity",
             0xFF800000: "infinity", 0x7FC00000: "nan", 0x7F800001: "nan"}
    got = F.narrow_class(np.array(list(cases), dtype=np.uint64), "cfp8_143", 7)
    assert [F.NARROW_CLASSES[k] for k in got] == list(cases.values())
    # BF16: FP32's smallest normal is BF16's, so an FP32 normal is never tiny.
    assert F.NARROW_CLASSES[F.narrow_class(np.array([0x00800000]), "bf16", 0)[0]] == "normal"


def test_code_classes():
    f = get_format("cfp8_152")
    codes = [0x00, 0x80, 0x01, 0x04, 0x7F, 0xFF, 0x7E]
    got = [F.CODE_CLASSES[k] for k in F.code_class(np.array(codes), f, 16)]
    assert got == ["zero", "zero", "subnormal", "normal", "edge", "edge", "normal"]
    bf = [0x7F80, 0xFF81, 0x7F7F, 0x0001]
    assert [F.CODE_CLASSES[k] for k in F.code_class(np.array(bf), "bf16", None)] == [
        "infinity", "nan", "edge", "subnormal"]


def test_flag_labels():
    assert F.flag_labels(0) == {"none"}
    assert F.flag_labels(FLAG_INEXACT | FLAG_UNDERFLOW | FLAG_DENORMAL) == {
        "inexact", "underflow", "denormal"}


def _cross(group, name):
    return next(c for c in group.crosses if c.name == name)


def test_illegal_combinations_are_no_bins():
    g = F.CONVERT
    narrow = _cross(g, "narrow_class_round_flags").bins(g)
    assert ("narrow bf16", "tiny", "rne", "none") not in narrow      # no tiny class for BF16
    assert ("narrow cfp8_143", "zero", "rne", "inexact") not in narrow  # zero raises nothing
    assert ("narrow shp", "edge", "rne", "overflow") not in narrow   # RNE rounds the edge to max
    assert ("narrow shp", "edge", "sr", "overflow") in narrow        # SR may round it up
    assert ("narrow bf16", "infinity", "rne", "none") in narrow
    assert ("narrow shp", "infinity", "rne", "none") not in narrow   # saturates, Overflow
    assert ("narrow uhp", "normal", "sr", "invalid") in narrow       # a negative into UHP
    assert ("narrow shp", "normal", "sr", "invalid") not in narrow
    widen = _cross(g, "widen_class").bins(g)
    assert ("widen bf16", "nan") in widen and ("widen shp", "nan") not in widen
    assert ("widen uhp", "tiny") not in widen
    assert _cross(g, "unknown_flags").bins(g) == [(f"{op} code {k}", "invalid")
                                                   for op in ("narrow", "widen")
                                                   for k in (0, 6, 7)]
    assert _cross(g, "narrow_bias").bins(g) == [(f"narrow {f}", b) for f in
                                                ("cfp8_143", "cfp8_152", "shp")
                                                for b in ("0", "1..62", "63")]
    h = F.FMA
    assert ("cfp8_143", "infinity") not in _cross(h, "a_format_class").bins(h)
    flags = _cross(h, "operation_result_flags").bins(h)
    assert ("add", "nan", "none") not in flags and ("subtract", "nan", "invalid") in flags
    assert ("add", "infinity", "underflow") not in flags
    pairs = _cross(h, "formats_flags").bins(h)
    assert ("cfp8_143*cfp8_152", "overflow") not in pairs and ("bf16*cfp8_152", "overflow") in pairs
    assert F.CONVERT.size() == (35, 318) and F.FMA.size() == (56, 386)


def _illegal(group, samples):
    """The samples that fall in an excluded combination of a cross of ``group``."""
    out = []
    for s in samples:
        value = dict(zip([p.name for p in group.points], s, strict=True))
        for c in group.crosses:
            for combo in __import__("itertools").product(
                    *(group.point(i).hits(value[i]) for i in c.items)):
                why = c._why(combo)
                if why is not None:
                    out.append((c.name, combo, why))
    return out


@pytest.fixture
def captured(monkeypatch, tmp_path):
    """The samples :func:`verif.fcov.record` is given, per group."""
    monkeypatch.setenv(fcov.FCOV_ENV, str(tmp_path))
    got = {}
    monkeypatch.setattr(F, "record", lambda g, samples: got.setdefault(g.block, []).extend(
        samples))
    return got


def test_models_never_fall_in_an_excluded_convert_combination(captured):
    rng = np.random.default_rng(7)
    parts = [st.corner_requests(n, b) for n in st.CONVERSION_FORMATS for b in (0, 1, 7, 31, 63)]
    # Every CFP8 code, every 16th 16-bit code, widened at both bias edges.
    parts += [{k: v[::1 if len(v) <= 256 else 16] for k, v in st.exhaustive_widening(n, b).items()}
              for n in st.CONVERSION_FORMATS for b in (0, 63)]
    req = st.concat(st.random_requests(rng, 30_000), *parts, st.unknown_code_requests())
    _, flags = convert_requests(req["data"], req["op"], req["fmt"], req["bias"], req["rnd"],
                                seed=5)
    F.sample_convert(req, flags)
    assert _illegal(F.CONVERT, captured["fp.convert"]) == []


def test_models_never_fall_in_an_excluded_fma_combination(captured):
    rng = np.random.default_rng(8)
    req = fma_tb.concat(fma_tb.random_requests(rng, 30_000), fma_tb.hard_requests(rng, 10_000),
                        fma_tb.special_requests())
    z, flags = fma_tb.expected(req)
    F.sample_fma(req, z, flags)
    assert _illegal(F.FMA, captured["fp.fma"]) == []


def test_fma_sample_of_one_request(captured):
    req = fma_tb.requests([_f32(-2.0)], [0x80], [_f32(np.inf)], a_fmt="fp32", b_fmt="cfp8_143",
                          b_bias=7)
    F.sample_fma(req, np.array([0x7F800000]), np.array([0]))
    # -2 * -0 + inf: the product's sign (+) agrees with c's: an addition.
    assert captured["fp.fma"] == [("fp32*cfp8_143", "fp32", "cfp8_143", "normal", "zero",
                                   "infinity", "add", "infinity", frozenset({"none"}))]
    captured.clear()
    unknown = fma_tb.requests([0], [0], [0], a_fmt=6, b_fmt="fp32")
    F.sample_fma(unknown, np.array([0x7FC00000]), np.array([FLAG_INVALID]))
    assert captured["fp.fma"] == []  # a format the unit was not built for: no sample


# --- the SECDED decoder's bins ----------------------------------------------------------------


def test_ecc_samples_land_in_their_bins(monkeypatch, tmp_path):
    from verif.fcov import sram as S
    from verif.sram.ecc import decode, encode, syndrome_position

    monkeypatch.setenv(fcov.FCOV_ENV, str(tmp_path))
    got = []
    monkeypatch.setattr(S, "record", lambda g, samples: got.extend(samples))
    sent = np.array([0x1234, 0x1234, 0x1234, 0x1234], dtype=np.uint64)
    check = encode(sent)
    data, chk = sent.copy(), check.copy()
    data[1] ^= np.uint64(1 << 5)                       # single: data bit 5
    chk[2] ^= np.uint8(1 << 3)                         # single: check bit 3 (codeword bit 67)
    data[3] ^= np.uint64(1 << 63)                      # double: d63 and c0
    chk[3] ^= np.uint8(1)
    _, status, syndrome = decode(data, chk)
    position = np.where(status == 1, syndrome_position(syndrome), 0)
    S.sample_ecc_decoder(sent, check, data, chk, status, position)
    assert sorted(got, key=repr) == sorted([
        ("ok", "none", None, None), ("corrected", "single", "d5", None),
        ("corrected", "single", "c3", None),
        ("uncorrectable", "double", None, frozenset({"d63", "c0"}))], key=repr)
    g = S.ECC_DECODER
    assert g.crosses[0].bins(g) == [("none", "ok"), ("single", "corrected"),
                                    ("double", "uncorrectable"), ("more", "ok"),
                                    ("more", "corrected"), ("more", "uncorrectable")]
    assert g.size() == (151, 6)


# --- the scratchpad's bins --------------------------------------------------------------------


def test_scratchpad_samples_and_the_models_conflict_log(monkeypatch, tmp_path):
    from hw.sram.config import TINY
    from verif.fcov import sram as S
    from verif.sram.model import Request, ScratchpadModel

    monkeypatch.setenv(fcov.FCOV_ENV, str(tmp_path))
    got = []
    monkeypatch.setattr(S, "record", lambda g, samples: got.extend(samples))
    # vr0 and vr1 read line 0 in the same cycle: one of them waits for the other.
    m = ScratchpadModel(TINY)
    m.run([[Request(0)], [Request(0)], [], [], [], [], []], [[0], [0], [], [], [], [], []],
          [[5], [6], [], [], [], [], []])
    patterns = {(k, c) for cycle in m.conflict_log for k, c in enumerate(cycle) if c}
    assert patterns == {(0, "won"), (1, "lost"), (1, "alone")}
    S.sample_scratchpad(m.conflict_log, {0: [0], 6: [4]})
    assert sorted(got, key=repr) == sorted([
        ("vr0", "won", None, None), ("vr1", "lost", None, None), ("vr1", "alone", None, None),
        (None, None, "vr0", "ok"), (None, None, "fetch", "out_of_range")], key=repr)
    assert S.SLICE.size() == (24, 67)


# --- the vector unit's bins -------------------------------------------------------------------


def test_vector_bins_and_the_model_against_the_exclusions(monkeypatch, tmp_path):
    from verif.fcov import vector as V
    from verif.vector import unit_tb as vt
    from verif.vector.model import VectorUnitModel

    g = V.VECTOR
    flags = next(c for c in g.crosses if c.name == "pair_flags").bins(g)
    assert ("add fp32", "underflow") not in flags and ("mul fp32", "underflow") in flags
    assert ("redsum fp32", "underflow") not in flags   # a tree of adds
    assert ("min fp32", "invalid") in flags and ("min fp32", "inexact") not in flags
    assert ("widen fp32", "invalid") in flags and ("widen bf16", "invalid") not in flags
    assert ("and int8", "none") in flags and ("and int8", "inexact") not in flags
    operands = next(c for c in g.crosses if c.name == "pair_operand").bins(g)
    assert ("fma bf16", "nan") in operands and ("fma bf16", "int min") not in operands
    assert ("sra int16", "int min") in operands and ("sra int16", "nan") not in operands
    assert not any(b[0].startswith(("widen", "rdflags", "clrflags", "seed")) for b in operands)
    assert len(V.PAIRS) == 124
    monkeypatch.setenv(fcov.FCOV_ENV, str(tmp_path))
    got = []
    monkeypatch.setattr(V, "record", lambda grp, samples: got.extend(samples))
    rng = np.random.default_rng(4)
    req = vt.concat(*(vt.random_requests(rng, 10, pairs=[p], seed_fraction=1)
                      for p in vt.LEGAL_PAIRS), vt.illegal_requests(rng, 100),
                    vt.state_requests(rng, 200))
    resp = VectorUnitModel().run(req)
    V.sample_vector(req, resp["flags"], resp["error"])
    assert _illegal(g, got) == []
    assert {s[3] for s in got if s[3]} == set(V.ILLEGAL)
    assert {s[0] for s in got if s[0]} == set(V.PAIRS)


# --- the scalar core's bins -------------------------------------------------------------------


def test_scalar_instruction_names_and_samples(monkeypatch, tmp_path):
    from verif.fcov import scalar as S
    from verif.scalar import asm
    from verif.scalar.iss import Retire

    words = {"addi": asm.addi(1, 2, 3), "sub": asm.sub(1, 2, 3), "srai": asm.srai(1, 2, 3),
             "sraw": asm.sraw(1, 2, 3), "mulw": asm.mulw(1, 2, 3), "divu": asm.divu(1, 2, 3),
             "lwu": asm.lwu(1, 2, 8), "sd": asm.sd(1, 2, 8), "bgeu": asm.bgeu(1, 2, 8),
             "ecall": 0x73, "mret": 0x30200073, "fence.i": 0x100F, "custom": 0x0000000B,
             "illegal": 0xFFFFFFFF}
    assert {n: S.instruction_name(w) for n, w in words.items()} == {n: n for n in words}
    monkeypatch.setenv(fcov.FCOV_ENV, str(tmp_path))
    got = []
    monkeypatch.setattr(S, "record", lambda g, samples: got.extend(samples))
    S.sample_retires([Retire(2, 0, words["sub"], 1, 5, None),
                      Retire(3, 4, words["lwu"], None, None, 5),
                      Retire(0, 8, None, None, None, 1)])
    assert sorted(got, key=repr) == sorted([
        ("sub", "2", None, None), (None, "3", "load_fault", "lwu"),
        (None, "0", "fetch_fault", "fetch")], key=repr)
    g = S.SCALAR
    causes = next(c for c in g.crosses if c.name == "instruction_cause").bins(g)
    assert ("lwu", "load_fault") in causes and ("lwu", "store_fault") not in causes
    assert ("fetch", "fetch_fault") in causes and ("add", "illegal") not in causes
    assert ("jalr", "fetch_misaligned") in causes and ("csrrw", "illegal") in causes
    assert _illegal(g, got) == []
