"""Fast tests of the FMA (``hw/fp/fma.py``, ``hw/fp/mul.py``) in Amaranth's Python simulator.

Layers: construction and its error messages; layouts, interface and derived sizes; the helper
adders and the multiplier against Python integers; known answers worked out by hand; then
``FMAPipe`` in both configurations (with FP32 multiplicands, and the matrix units' BF16/CFP8 one)
and ``FMAUnit`` under random idles and backpressure, checked bit for bit against the reference
model ``verif.fp.fma`` (through ``verif.fp.fma_tb.expected``); latency, ``c_delay`` and the
accumulation loop ``z -> c`` measured.
"""

import gc
import random
import warnings

import numpy as np
import pytest
from amaranth.hdl import Cat, Fragment, Module, Signal, UnusedElaboratable
from amaranth.lib import data, stream
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from hw.common.arith import add_many, count_leading_zeros, prefix_add, prefix_sub, shift_left
from hw.fp.fma import (
    FMA_FORMATS,
    MATRIX_FORMATS,
    FMAGeometry,
    FMAPipe,
    FMAUnit,
    fma_operand_layout,
    fma_request_layout,
    fma_response_layout,
)
from hw.fp.formats import (
    FLAG_DENORMAL,
    FLAG_INEXACT,
    FLAG_INVALID,
    FLAG_OVERFLOW,
    FLAG_UNDERFLOW,
    FP32,
    Flags,
    FormatCode,
    get_format,
)
from hw.fp.mul import Multiplier
from tests.amaranth_sim import raises_unelaborated, receive, send
from verif.fcov.fp import sample_fma
from verif.fp import fma_tb as st
from verif.fp.fma import fma

QNAN = FP32.qnan_code
I, U, O, X, D = FLAG_INVALID, FLAG_UNDERFLOW, FLAG_OVERFLOW, FLAG_INEXACT, FLAG_DENORMAL


# --- construction ------------------------------------------------------------------------------

@pytest.mark.parametrize(("cls", "kwargs", "error", "message"), [
    (FMAPipe, {"ab_formats": ("bf16", "shp")}, ValueError,
     r"^FMAPipe operands are fp32, bf16, cfp8_143 or cfp8_152, not 'shp'$"),
    (FMAPipe, {"ab_formats": ("uhp",)}, ValueError,
     r"^FMAPipe operands are fp32, bf16, cfp8_143 or cfp8_152, not 'uhp'$"),
    (FMAPipe, {"ab_formats": ("bf16", "fp16")}, ValueError,
     r"^unknown format 'fp16'; expected one of fp32, bf16, cfp8_143, cfp8_152, shp, uhp$"),
    (FMAPipe, {"ab_formats": ()}, ValueError, r"^ab_formats must name at least one format$"),
    (FMAPipe, {"ab_formats": ("bf16", "cfp8_143", "bf16")}, ValueError,
     r"^format 'bf16' is listed more than once$"),
    (FMAPipe, {"ab_formats": "bf16"}, TypeError,
     r"^ab_formats must be a sequence of format names, not 'bf16'$"),
    (FMAPipe, {"ab_formats": 3}, TypeError,
     r"^ab_formats must be a sequence of format names, not 3$"),
    (FMAUnit, {"tag_width": -1}, ValueError, r"^tag_width must be in 0\.\.64, not -1$"),
    (FMAUnit, {"tag_width": 65}, ValueError, r"^tag_width must be in 0\.\.64, not 65$"),
    (FMAUnit, {"tag_width": "8"}, TypeError, r"^tag_width must be an integer, not '8'$"),
    (FMAUnit, {"ab_formats": ("fp32", "shp")}, ValueError,
     r"^FMAPipe operands are fp32, bf16, cfp8_143 or cfp8_152, not 'shp'$"),
    (Multiplier, {"width": 1}, ValueError, r"^width must be in 2\.\.24, not 1$"),
    (Multiplier, {"width": 25}, ValueError, r"^width must be in 2\.\.24, not 25$"),
    (Multiplier, {"width": 8.0}, TypeError, r"^width must be an integer, not 8\.0$"),
])
def test_construction_errors(cls, kwargs, error, message):
    raises_unelaborated(error, message, cls, **kwargs)


def test_positional_parameters_refused():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        for cls in (FMAPipe, FMAUnit, Multiplier):
            with pytest.raises(TypeError):
                cls(8)  # keyword-only
        gc.collect()


def test_layouts_and_interface():
    req = fma_request_layout(5)
    assert isinstance(req, data.StructLayout)
    assert [(name, f.offset, f.width) for name, f in req] == [
        ("a", 0, 32), ("b", 32, 32), ("c", 64, 32), ("a_fmt", 96, 3), ("a_bias", 99, 6),
        ("b_fmt", 105, 3), ("b_bias", 108, 6), ("tag", 114, 5)]
    assert req["a_fmt"].shape is FormatCode and req["b_fmt"].shape is FormatCode
    resp = fma_response_layout(0)
    assert [(name, f.width) for name, f in resp] == [("z", 32), ("flags", 6), ("tag", 0)]
    assert resp["flags"].shape is Flags
    with pytest.raises(ValueError, match=r"^tag_width must be in 0\.\.64, not 99$"):
        fma_request_layout(99)

    unit = FMAUnit(tag_width=5)
    assert unit.signature.members["i"] == In(stream.Signature(fma_request_layout(5)))
    assert unit.signature.members["o"] == Out(stream.Signature(fma_response_layout(5)))
    assert (unit.tag_width, unit.ab_formats) == (5, FMA_FORMATS)
    pipe = FMAPipe()
    assert set(pipe.signature.members) == {"en", "i", "c", "o"}
    assert pipe.signature.members["i"] == In(stream.Signature(fma_operand_layout(0),
                                                              always_ready=True))
    assert pipe.signature.members["o"] == Out(stream.Signature(fma_response_layout(0),
                                                               always_ready=True))
    assert set(FMAPipe(round_to_odd=True).signature.members) == {"en", "i", "c", "rto", "o"}
    assert FMAPipe(tag_width=5).tag_width == 5
    Fragment.get(unit, None)
    Fragment.get(pipe, None)


def test_geometry():
    """The multiplier and the window follow the formats; the loop z -> c is four stages."""
    full, matrix = FMAPipe(), FMAPipe(ab_formats=MATRIX_FORMATS)
    assert (full.geometry.mul_width, matrix.geometry.mul_width) == (24, 8)
    assert (full.geometry.window, matrix.geometry.window) == (75, 54)
    small = FMAPipe(ab_formats=("cfp8_152",))
    assert small.geometry.mul_width == 3
    for pipe in (full, matrix, small):
        assert (pipe.latency, pipe.c_delay, pipe.latency - pipe.c_delay) == (7, 3, 4)
        Fragment.get(pipe, None)
    unit = FMAUnit()
    assert unit.latency == 7
    Fragment.get(unit, None)
    assert FMAGeometry.of(("bf16", "fp32")).formats == (get_format("bf16"), FP32)


# --- helpers against Python integers ---------------------------------------------------------

def _comb_check(build, inputs, check, n=300, seed=0):
    """Drive random ``inputs`` (signals) into the combinational ``build`` outputs; ``check``
    compares each sample."""
    rnd = random.Random(seed)
    m = Module()
    outputs = build(m)

    async def tb(ctx):
        for _ in range(n):
            values = [rnd.getrandbits(len(s)) for s in inputs]
            for s, v in zip(inputs, values, strict=True):
                ctx.set(s, v)
            check(values, [ctx.get(o) for o in outputs])

    sim = Simulator(m)
    sim.add_testbench(tb)
    sim.run()


@pytest.mark.parametrize("width", [1, 2, 7, 33, 75])
def test_prefix_add(width):
    x, y, cin = Signal(width), Signal(width), Signal()
    mask = (1 << width) - 1

    def build(m):
        s, co = prefix_add(m, x, y, carry_in=cin)
        s0, co0, s1, co1 = prefix_add(m, x, y, width=width, both=True, name="both")
        d, nb = prefix_sub(m, x, y, width=width, name="sub")
        return [s, co, s0, co0, s1, co1, d, nb]

    def check(v, got):
        a, b, c = v
        assert got == [(a + b + c) & mask, (a + b + c) >> width, (a + b) & mask,
                       (a + b) >> width, (a + b + 1) & mask, (a + b + 1) >> width,
                       (a - b) & mask, int(a >= b)]

    _comb_check(build, [x, y, cin], check)


def test_add_many():
    a, b = Signal(9), Signal(5)
    sa = a.as_signed()

    def build(m):
        return [add_many(m, [sa, b, -7, sa], width=12)]

    def check(v, got):
        av = v[0] - (1 << 9) if v[0] >> 8 else v[0]
        assert got[0] == (2 * av + v[1] - 7) % (1 << 12)

    _comb_check(build, [a, b], check)


@pytest.mark.parametrize("width", [1, 2, 5, 24, 75])
def test_count_leading_zeros_and_shift_left(width):
    """The leading-zero tree (``hw/fp/unpack.py``) and the MSB-first shifter normalize any
    value, every leading-zero count included: the result's top bit is set unless it is zero."""
    x = Signal(width)
    m = Module()
    lz = count_leading_zeros(m, x)
    norm = shift_left(m, x, lz)
    rnd = random.Random(width)
    values = [0] + [rnd.getrandbits(width) >> rnd.randrange(width + 1) for _ in range(300)]

    async def tb(ctx):
        for v in values:
            ctx.set(x, v)
            want = width - v.bit_length()
            assert (ctx.get(lz), ctx.get(norm)) == (want, (v << want) & ((1 << width) - 1))

    sim = Simulator(m)
    sim.add_testbench(tb)
    sim.run()


@pytest.mark.parametrize("width", [3, 8, 24])
def test_multiplier(width):
    """Exact products, back to back, with the enable dropping (everything holds)."""
    dut = Multiplier(width=width)
    rnd = random.Random(width)
    ops = [(rnd.getrandbits(width), rnd.getrandbits(width)) for _ in range(60)]
    ops += [((1 << width) - 1, (1 << width) - 1), (0, 5 % (1 << width)), (1, 1)]
    got = []

    async def tb(ctx):
        k = 0
        pending = []
        while len(got) < len(ops):
            en = rnd.random() < 0.7
            a, b = ops[k] if k < len(ops) else (0, 0)
            ctx.set(Cat(dut.a, dut.b, dut.en), a | b << width | int(en) << 2 * width)
            await ctx.tick()
            if en:
                pending.append(k)
                k += 1
                if len(pending) >= dut.latency:
                    idx = pending.pop(0)
                    if idx < len(ops):
                        got.append((idx, ctx.get(dut.p)))

    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_testbench(tb)
    sim.run()
    assert [p for _, p in got] == [a * b for a, b in ops]


# --- FMAPipe -----------------------------------------------------------------------------------

def _pipe_inputs(dut):
    req = dut.i.payload
    return Cat(req.a, req.b, dut.c, req.a_fmt, req.a_bias, req.b_fmt, req.b_bias, dut.en)


def _pipe_word(req, k, c_from, en):
    """The input word for cycle: operands of request ``k`` (or zeros), ``c`` of ``c_from``."""
    def get(name, i):
        width = {"a_fmt": 3, "b_fmt": 3, "a_bias": 6, "b_bias": 6}.get(name, 32)
        value = int(req[name][i]) if 0 <= i < len(req["a"]) else 0
        assert value >> width == 0, f"{name} {value} does not fit"
        return value
    return (get("a", k) | get("b", k) << 32 | get("c", c_from) << 64 | get("a_fmt", k) << 96
            | get("a_bias", k) << 99 | get("b_fmt", k) << 105 | get("b_bias", k) << 108
            | int(en) << 114)


def run_pipe(dut, req, *, p_hold=0.0, seed=0):
    """Drive ``FMAPipe`` with requests, ``en`` low in a fraction ``p_hold`` of cycles; ``c`` of
    each request is presented ``c_delay`` en-cycles after its ``a`` and ``b``. Returns
    ``(z, flags)`` arrays read ``latency`` en-cycles after each request."""
    rnd = random.Random(seed)
    n = len(req["a"])
    inputs = _pipe_inputs(dut)
    z, flags = [], []

    async def tb(ctx):
        advanced = 0  # en-cycles so far: request k enters at en-cycle k
        while len(z) < n:
            en = rnd.random() >= p_hold
            ctx.set(inputs, _pipe_word(req, advanced, advanced - dut.c_delay, en))
            await ctx.tick()
            if en:
                advanced += 1
                k = advanced - dut.latency
                if 0 <= k < n:
                    z.append(ctx.get(dut.o.payload.z))
                    flags.append(ctx.get(dut.o.payload.flags.as_value()))
            else:  # held: the output must not change
                if advanced >= dut.latency and z:
                    out = dut.o.payload
                    assert (ctx.get(out.z), ctx.get(out.flags.as_value())) == (z[-1], flags[-1])

    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_testbench(tb)
    sim.run()
    return np.array(z, dtype=np.uint64), np.array(flags, dtype=np.uint64)


def check_pipe(dut, req, **kwargs):
    z, flags = run_pipe(dut, req, **kwargs)
    exp_z, exp_flags = st.expected(req, dut.ab_formats)
    bad = np.flatnonzero((z != exp_z) | (flags != exp_flags))
    if len(bad):
        lines = "\n".join(st.describe(req, int(i), exp_z, exp_flags, z, flags) for i in bad[:8])
        pytest.fail(f"{len(bad)} of {len(z)} differ from the model:\n{lines}")
    sample_fma(req, z, flags, dut.ab_formats)  # functional coverage, with D1CORE_FCOV only


def _f32(x):
    return int(np.float32(x).view(np.uint32))


# (a, b, c, z, flags), FP32, worked out by hand from the contract.
KNOWN_ANSWERS = [
    (_f32(1.0), _f32(1.0), 0, _f32(1.0), 0),
    (_f32(2.0), _f32(3.0), _f32(1.0), _f32(7.0), 0),
    (_f32(1.5), _f32(1.5), 0, _f32(2.25), 0),
    (_f32(1.0), _f32(1.0), _f32(-1.0), 0, 0),                          # exact zero: +0
    (0x80000000, _f32(1.0), 0x80000000, 0x80000000, 0),                # -0 + -0 = -0
    (0x80000000, _f32(1.0), 0, 0, 0),                                  # -0 + +0 = +0
    (_f32(1.0), _f32(1.0), 0x4B800000, 0x4B800000, X),                 # 2**24 + 1: tie, even
    (_f32(3.0), _f32(1.0), 0x4B800000, 0x4B800002, X),                 # 2**24 + 3: tie, up
    (0x3F800001, 0x3F800001, 0xBF800002, 0x28800000, 0),               # (1+u)^2 - (1+2u) = u^2
    (0x7F7FFFFF, _f32(2.0), 0, 0x7F800000, O | X),                     # overflow
    (0xFF7FFFFF, _f32(2.0), 0, 0xFF800000, O | X),
    (0x00800000, _f32(0.5), 0, 0x00400000, 0),                         # exact subnormal
    (0x00800001, _f32(0.5), 0, 0x00400000, U | X),                     # tiny, inexact: even
    (0x00800003, _f32(0.5), 0, 0x00400002, U | X),                     # tie up
    (0x00FFFFFF, _f32(0.5), 0, 0x00800000, U | X),                     # to 2**-126, yet tiny
    (0x1A000000, 0x99800000, 0x00800000, 0x00800000, X),               # 2**-126 - 2**-151: not

    (0x00000001, _f32(1.0), 0x00000001, 0x00000002, D),                # subnormal sum, exact
    (0x00000001, 0x00000001, 0, 0, U | X | D),                         # far below: +0
    (0x80000001, 0x00000001, 0, 0x80000000, U | X | D),
    (0x7F800000, 0, _f32(1.0), QNAN, I),                               # inf * 0
    (0x7F800000, 0, 0x7FC00000, QNAN, I),                              # inf * 0 + qNaN
    (0x7F800000, _f32(1.0), 0xFF800000, QNAN, I),                      # inf - inf
    (0x7F800000, _f32(-1.0), 0xFF800000, 0xFF800000, 0),
    (_f32(1.0), _f32(1.0), 0xFF800000, 0xFF800000, 0),
    (0x7FC00001, 0, 0x7F800000, QNAN, 0),                              # NaN propagates first
    (0x7F800001, _f32(1.0), 0, QNAN, I),                               # sNaN
    (_f32(1.0), _f32(1.0), 0x7F800001, QNAN, I),
    (0x00000001, 0x7FC00000, 0, QNAN, D),                              # Denormal whatever
]


def test_known_answers():
    a, b, c, z, fl = (np.array(col, dtype=np.uint64) for col in zip(*KNOWN_ANSWERS, strict=True))
    req = st.requests(a, b, c)
    got_z, got_flags = run_pipe(FMAPipe(), req)
    assert [(int(x), int(y)) for x, y in zip(got_z, got_flags, strict=True)] == \
        [(int(x), int(y)) for x, y in zip(z, fl, strict=True)]
    # The model agrees with the hand answers too.
    mz, mf = fma(a, b, c)
    assert list(mz) == list(z) and list(mf) == list(fl)


def test_narrow_known_answers():
    """BF16 and CFP8 multiplicands, worked out by hand."""
    req = st.concat(
        st.requests(0x3FC0, 0x4040, _f32(0.25), "bf16", 0, "bf16", 0),          # 1.5*3+.25
        st.requests(0x38, 0x38, 0, "cfp8_143", 7, "cfp8_143", 7),               # 1*1
        st.requests(0x01, 0x01, 0, "cfp8_143", 63, "cfp8_143", 63),             # 2**-130
        st.requests(0x7F, 0x7F, 0, "cfp8_152", 0, "cfp8_152", 0),               # 1.75**2·2**62
        st.requests(0xFFFF3F80, 0x12340038, 0, "bf16", 0, "cfp8_143", 7),       # junk ignored
    )
    z, flags = run_pipe(FMAPipe(), req)
    assert [hex(v) for v in z] == [hex(_f32(4.75)), hex(_f32(1.0)), "0x80000",
                                   hex(_f32(1.75 ** 2 * 2.0 ** 62)), hex(_f32(1.0))]
    assert list(flags) == [0, 0, D, 0, 0]


def test_unknown_formats():
    """SHP, UHP, 6, 7, and FP32 where excluded: 0x7FC00000 with Invalid only."""
    rng = np.random.default_rng(1)
    for formats in (FMA_FORMATS, MATRIX_FORMATS):
        dut = FMAPipe(ab_formats=formats)
        req = st.unknown_code_requests(rng, 40, formats)
        z, flags = run_pipe(dut, req)
        assert set(z.tolist()) == {QNAN} and set(flags.tolist()) == {I}


@pytest.mark.parametrize("formats", [FMA_FORMATS, MATRIX_FORMATS], ids=["full", "matrix"])
def test_pipe_random(formats):
    """Random requests mixing the built formats, plus hard FP32 cases where FP32 is built, with
    the enable dropping at random."""
    rng = np.random.default_rng(7)
    dut = FMAPipe(ab_formats=formats)
    parts = [st.random_requests(rng, 700, formats=formats)]
    if "fp32" in formats:
        parts.append(st.hard_requests(rng, 250))
    check_pipe(dut, st.concat(*parts), p_hold=0.2, seed=3)


@pytest.mark.parametrize("a_bias, b_bias", [(0, 0), (63, 63), (0, 63)])
def test_pipe_cfp8_biases(a_bias, b_bias):
    """CFP8 pairs at the extreme biases on the matrix configuration: products from 2**-130
    (FP32 subnormals, the product pre-shift) to 2**62."""
    rng = np.random.default_rng(a_bias + 2 * b_bias)
    req = st.concat(
        st.exhaustive_pair_requests(rng, "cfp8_143", a_bias, "cfp8_152", b_bias, stride=479),
        st.exhaustive_pair_requests(rng, "cfp8_152", a_bias, "cfp8_143", b_bias, stride=479),
        st.exhaustive_pair_requests(rng, "cfp8_143", a_bias, "cfp8_143", b_bias, stride=479))
    check_pipe(FMAPipe(ab_formats=MATRIX_FORMATS), req)


def test_pipe_specials():
    """Special and boundary values of every format (a sample of the full cross product, which
    the cocotb tests run)."""
    req = st.special_requests()
    idx = np.random.default_rng(2).choice(len(req["a"]), 600, replace=False)
    check_pipe(FMAPipe(), {k: v[idx] for k, v in req.items()})


def test_pipe_latency_and_c_delay():
    """z follows a/b by exactly ``latency`` en-cycles and c by ``latency - c_delay``: a single
    operation among zeros, with c presented alone at its cycle."""
    dut = FMAPipe()
    seen = []

    async def tb(ctx):
        for t in range(dut.latency + 3):
            a = _f32(2.0) if t == 0 else 0
            c = _f32(1.0) if t == dut.c_delay else 0
            ctx.set(_pipe_inputs(dut), a | _f32(3.0) << 32 | c << 64 | 1 << 114)
            await ctx.tick()
            seen.append(ctx.get(dut.o.payload.z))

    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_testbench(tb)
    sim.run()
    # After tick t + 1 the outputs hold the operation that entered at cycle t + 1 - latency.
    assert seen[dut.latency - 1] == _f32(7.0)
    assert seen[:dut.latency - 1] == [0] * (dut.latency - 1)
    assert seen[dut.latency:] == [0] * 3


@pytest.mark.parametrize("formats", [FMA_FORMATS, MATRIX_FORMATS], ids=["full", "matrix"])
def test_accumulation_loop(formats):
    """Interleaved accumulators, ``acc = RNE(acc + a·b)``, with z fed straight back to c: as many
    accumulators as the loop is deep, each bit-exact against the model step by step."""
    dut = FMAPipe(ab_formats=formats)
    depth = dut.latency - dut.c_delay
    rng = np.random.default_rng(4)
    steps = 30
    fmt = formats[0]
    codes = st.random_requests(rng, depth * steps, formats=(fmt,))
    a, b = codes["a"], codes["b"]
    code, bias = int(codes["a_fmt"][0]), codes["a_bias"]
    outs = []

    async def tb(ctx):
        z_hist = {}
        for t in range(depth * steps + dut.latency):
            # Operation t enters now; its c is taken c_delay cycles later: the z that comes out
            # in that cycle, from operation t + c_delay - latency = t - depth (same accumulator).
            k = t
            word = 1 << 114
            if k < depth * steps:
                word |= (int(a[k]) | int(b[k]) << 32 | code << 96 | int(bias[k]) << 99
                         | code << 105 | int(bias[k]) << 108)
            src = t - dut.c_delay - depth  # the operation whose z is fed back now
            word |= (z_hist.get(src, 0)) << 64
            ctx.set(_pipe_inputs(dut), word)
            await ctx.tick()
            done = t + 1 - dut.latency
            if done >= 0:
                z_hist[done] = ctx.get(dut.o.payload.z)
                outs.append(ctx.get(dut.o.payload.z))

    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_testbench(tb)
    sim.run()
    # The model, accumulator by accumulator (each starts from +0).
    acc = np.zeros(depth, dtype=np.uint32)
    want = []
    for k in range(depth * steps):
        r = {"a": a[k:k + 1], "b": b[k:k + 1], "c": np.array([acc[k % depth]], np.uint64),
             "a_fmt": codes["a_fmt"][k:k + 1], "a_bias": bias[k:k + 1],
             "b_fmt": codes["a_fmt"][k:k + 1], "b_bias": bias[k:k + 1]}
        z, _ = st.expected(r, formats)
        acc[k % depth] = z[0]
        want.append(int(z[0]))
    assert outs[:depth * steps] == want


# --- FMAUnit -----------------------------------------------------------------------------------

def run_unit(dut, req, *, p_idle=0.3, p_stall=0.3, seed=0):
    """Drive ``req`` through ``FMAUnit``; return ``(z, flags, tag)`` arrays. Checks the stream
    rules on ``o``: once valid, the response holds until taken."""
    rnd = random.Random(seed)
    layout = fma_request_layout(dut.tag_width)
    resp = fma_response_layout(dut.tag_width)
    n = len(req["a"])
    got = []

    def word(k):
        bits = 0
        for name in st.FIELDS:
            bits |= int(req[name][k]) << layout[name].offset
        return bits | (k % (1 << dut.tag_width)) << layout["tag"].offset

    async def producer(ctx):
        await send(ctx, dut.i, [word(k) for k in range(n)], rnd=rnd, p_idle=p_idle)

    async def consumer(ctx):
        got.extend((await receive(ctx, dut.o, n, rnd=rnd, p_stall=p_stall))[0])
        ctx.set(dut.o.ready, 1)
        for _ in range(dut.latency + 2):
            assert not ctx.get(dut.o.valid)
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run()

    def field(name):
        f = resp[name]
        return np.array([(w >> f.offset) & ((1 << f.width) - 1) for w in got], dtype=np.uint64)
    return field("z"), field("flags"), field("tag")


@pytest.mark.parametrize("p_idle, p_stall, tag_width", [(0.0, 0.0, 8), (0.3, 0.4, 3),
                                                        (0.6, 0.8, 0)])
def test_unit_stream(p_idle, p_stall, tag_width):
    """Requests in order, with tags, under idles and backpressure; nothing lost or repeated."""
    rng = np.random.default_rng(tag_width)
    dut = FMAUnit(tag_width=tag_width)
    req = st.concat(st.random_requests(rng, 300), st.unknown_code_requests(rng, 10))
    z, flags, tag = run_unit(dut, req, p_idle=p_idle, p_stall=p_stall, seed=tag_width)
    exp_z, exp_flags = st.expected(req)
    assert list(tag) == [k % (1 << tag_width) for k in range(len(req["a"]))]
    bad = np.flatnonzero((z != exp_z) | (flags != exp_flags))
    assert not len(bad), "\n".join(st.describe(req, int(i), exp_z, exp_flags, z, flags)
                                   for i in bad[:8])


def test_unit_latency_and_throughput():
    """A lone request answers after exactly ``latency`` cycles; a burst flows one per cycle."""
    dut = FMAUnit()
    n = 12
    answered = []
    layout = fma_request_layout(8)

    async def producer(ctx):
        for k in range(n):
            ctx.set(dut.i.payload.as_value(),
                    _f32(1.0) | _f32(2.0) << 32 | k << layout["tag"].offset)
            ctx.set(dut.i.valid, 1)
            _, _, ready = await ctx.tick().sample(dut.i.ready)
            assert ready
            ctx.set(dut.i.valid, 0)
            if k == 0:
                for _ in range(dut.latency + 1):
                    await ctx.tick()

    async def consumer(ctx):
        ctx.set(dut.o.ready, 1)
        cycle = 0
        while len(answered) < n:
            _, _, valid, tag, z = await ctx.tick().sample(dut.o.valid, dut.o.payload.tag,
                                                          dut.o.payload.z)
            cycle += 1
            if valid:
                assert z == _f32(2.0)
                answered.append((tag, cycle))

    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run()
    assert [t for t, _ in answered] == list(range(n))
    assert answered[0][1] == dut.latency + 1
    cycles = [c for _, c in answered[1:]]
    assert cycles == list(range(cycles[0], cycles[0] + n - 1))
