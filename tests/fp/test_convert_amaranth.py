"""Fast tests of the FP conversion unit (``hw/fp/convert.py``) in Amaranth's Python simulator.

Layers: construction and its error messages; the layouts and interface; the SR generator against
its model; a few known answers computed by hand; then random request streams (every op, format,
bias and rounding mode, specials, ties, denormals, unknown codes) with random input idles, output
backpressure and seed writes, checked bit for bit, in order and with tags, against the reference
model ``verif.fp.convert.convert_requests``.
"""

import random

import numpy as np
import pytest
from amaranth.hdl import Fragment, Shape
from amaranth.lib import data, stream
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from hw.fp.convert import ConvertUnit, ConvOp, request_layout, response_layout
from hw.fp.formats import (
    BIAS_MAX,
    FLAG_DENORMAL,
    FLAG_INEXACT,
    FLAG_INVALID,
    FLAG_OVERFLOW,
    FLAG_UNDERFLOW,
    FORMATS,
    FP32,
    SR_BITS,
    Flags,
    FormatCode,
    Round,
    get_format,
)
from hw.fp.rng import XorShift32
from tests.amaranth_sim import raises_unelaborated, receive, send
from verif.fcov.fp import sample_convert
from verif.fp.convert import convert_requests
from verif.fp.rng import sr_randoms

CONVERSION_FORMATS = [f for f in FORMATS.values() if f is not FP32]
UNKNOWN_CODES = (FP32.code.value, 6, 7)
_MAN_MASK = (1 << FP32.man_bits) - 1


# --- construction ------------------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"tag_width": -1}, ValueError, r"^tag_width must be in 0\.\.64, not -1$"),
    ({"tag_width": 65}, ValueError, r"^tag_width must be in 0\.\.64, not 65$"),
    ({"tag_width": "8"}, TypeError, r"^tag_width must be an integer, not '8'$"),
    ({"tag_width": True}, TypeError, r"^tag_width must be an integer, not True$"),
    ({"sr_bits": 0}, ValueError, r"^sr_bits must be in 1\.\.32, not 0$"),
    ({"sr_bits": 33}, ValueError, r"^sr_bits must be in 1\.\.32, not 33$"),
    ({"sr_bits": 1.0}, TypeError, r"^sr_bits must be an integer, not 1\.0$"),
    ({"formats": "bf16"}, TypeError,
     r"^formats must be a sequence of format names, not 'bf16'$"),
    ({"formats": 5}, TypeError, r"^formats must be a sequence of format names, not 5$"),
    ({"formats": ()}, ValueError, r"^formats must name at least one format$"),
    ({"formats": ("bf16", "fp32")}, ValueError,
     r"^ConvertUnit converts to and from FP32; 'fp32' is not a conversion format$"),
    ({"formats": ("uhp", "shp", "uhp")}, ValueError, r"^format 'uhp' is listed more than once$"),
    ({"formats": ("bf16", "fp16")}, ValueError,
     r"^unknown format 'fp16'; expected one of fp32, bf16, cfp8_143, cfp8_152, shp, uhp$"),
])
def test_construction_errors(kwargs, error, message):
    raises_unelaborated(error, message, ConvertUnit, **kwargs)


def test_layout_errors():
    with pytest.raises(ValueError, match=r"^tag_width must be in 0\.\.64, not 99$"):
        request_layout(99)
    with pytest.raises(TypeError, match=r"^tag_width must be an integer, not None$"):
        response_layout(None)


def test_interface():
    dut = ConvertUnit(tag_width=5, sr_bits=7, formats=("uhp", get_format("cfp8_143")))
    assert (dut.tag_width, dut.sr_bits, dut.formats) == (5, 7, ("uhp", "cfp8_143"))
    assert ConvertUnit.latency == dut.latency == 5
    assert dut.signature.members["i"] == In(stream.Signature(request_layout(5)))
    assert dut.signature.members["o"] == Out(stream.Signature(response_layout(5)))
    assert dut.signature.members["seed"] == In(stream.Signature(32))
    default = ConvertUnit()
    assert default.formats == ("bf16", "cfp8_143", "cfp8_152", "shp", "uhp")
    assert (default.tag_width, default.sr_bits) == (8, SR_BITS)
    assert (ConvOp.NARROW.value, ConvOp.WIDEN.value) == (0, 1)
    assert Shape.cast(ConvOp) == Shape(1)

    req = request_layout(5)
    assert isinstance(req, data.StructLayout)
    assert [(name, field.offset, field.width) for name, field in req] == [
        ("data", 0, 32), ("op", 32, 1), ("fmt", 33, 3), ("bias", 36, 6), ("rnd", 42, 1),
        ("tag", 43, 5)]
    assert req["op"].shape is ConvOp and req["fmt"].shape is FormatCode
    assert req["rnd"].shape is Round
    resp = response_layout(0)
    assert [(name, field.width) for name, field in resp] == [
        ("data", 32), ("flags", 6), ("tag", 0)]
    assert resp["flags"].shape is Flags
    Fragment.get(dut, None)  # a format subset elaborates
    Fragment.get(default, None)


# --- simulation harness ------------------------------------------------------------------------

def _pack(layout, **fields):
    """A payload as an integer, packed with ``layout`` (the only packing spec)."""
    bits = 0
    for name, value in fields.items():
        field = layout[name]
        bits |= (int(value) & ((1 << field.width) - 1)) << field.offset
    return bits


def _unpack(layout, bits):
    return {name: (bits >> field.offset) & ((1 << field.width) - 1) for name, field in layout}


class Requests:
    """Columns of a request stream, in acceptance order."""

    def __init__(self, rows):
        self.data, self.op, self.fmt, self.bias, self.rnd = (
            np.array(col, dtype=np.int64) for col in zip(*rows, strict=True))

    def __len__(self):
        return len(self.data)

    def slice(self, start, stop):
        return [col[start:stop] for col in (self.data, self.op, self.fmt, self.bias, self.rnd)]


def run_stream(dut, reqs, *, seeds=(), p_idle=0.3, p_stall=0.3, rng_seed=0):
    """Drive ``reqs`` through ``dut``; return the responses as (data, flags, tag) tuples.

    ``seeds`` is a list of ``(k, s)``: write seed ``s`` after request ``k - 1`` is accepted and
    before request ``k`` is offered. Also checks the stream rules on ``o``: once valid, the
    response holds until taken.
    """
    rnd = random.Random(rng_seed)
    req_layout = request_layout(dut.tag_width)
    resp_layout = response_layout(dut.tag_width)
    tag_mask = (1 << dut.tag_width) - 1
    seeds = dict(seeds)
    got = []

    async def producer(ctx):
        for k in range(len(reqs)):
            if k in seeds:
                ctx.set(dut.seed.valid, 1)
                ctx.set(dut.seed.payload, seeds[k])
                await ctx.tick()
                ctx.set(dut.seed.valid, 0)
            await send(ctx, dut.i, [_pack(req_layout, data=reqs.data[k], op=reqs.op[k],
                                          fmt=reqs.fmt[k], bias=reqs.bias[k], rnd=reqs.rnd[k],
                                          tag=k & tag_mask)], rnd=rnd, p_idle=p_idle)

    async def consumer(ctx):
        payloads, _ = await receive(ctx, dut.o, len(reqs), rnd=rnd, p_stall=p_stall)
        for payload in payloads:
            fields = _unpack(resp_layout, payload)
            got.append((fields["data"], fields["flags"], fields["tag"]))
        # Nothing more may come out.
        ctx.set(dut.o.ready, 1)
        for _ in range(dut.latency + 2):
            assert not ctx.get(dut.o.valid)
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run()
    return got


def expected_stream(dut, reqs, seeds=()):
    """The model's responses for ``reqs`` with seed writes ``seeds`` (see :func:`run_stream`)."""
    cuts = [0, *[k for k, _ in seeds], len(reqs)]
    seed_values = [0, *[s for _, s in seeds]]
    built = {get_format(name).code.value for name in dut.formats}
    results, flags = [], []
    for (start, stop), seed in zip(zip(cuts, cuts[1:], strict=False), seed_values, strict=True):
        d, op, fmt, bias, rnd = reqs.slice(start, stop)
        # A format the unit was not built with is not a conversion, like an unknown code.
        fmt = np.where(np.isin(fmt, list(built)), fmt, 7)
        res, fl = convert_requests(d, op, fmt, bias, rnd, seed=seed, sr_bits=dut.sr_bits)
        results += [int(v) for v in res]
        flags += [int(v) for v in fl]
    tag_mask = (1 << dut.tag_width) - 1
    return [(r, f, k & tag_mask) for k, (r, f) in enumerate(zip(results, flags, strict=True))]


def check_stream(dut, reqs, **kwargs):
    got = run_stream(dut, reqs, **kwargs)
    want = expected_stream(dut, reqs, kwargs.get("seeds", ()))
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        if g != w:
            fmt = FORMATS.get(next((n for n, f in FORMATS.items()
                                    if f.code.value == reqs.fmt[k]), None))
            pytest.fail(
                f"request {k}: data={reqs.data[k]:#010x} op={ConvOp(int(reqs.op[k])).name} "
                f"fmt={fmt.name if fmt else int(reqs.fmt[k])} bias={reqs.bias[k]} "
                f"rnd={Round(int(reqs.rnd[k])).name}: got (data, flags, tag) = "
                f"({g[0]:#x}, {g[1]:#04x}, {g[2]}), want ({w[0]:#x}, {w[1]:#04x}, {w[2]})")
    # Functional coverage (with D1CORE_FCOV only): the requests and the flags the unit gave.
    sample_convert({"data": reqs.data, "op": reqs.op, "fmt": reqs.fmt, "bias": reqs.bias,
                    "rnd": reqs.rnd}, np.array([g[1] for g in got]))


# --- stimulus ----------------------------------------------------------------------------------

def _fp32(sign, exp, man):
    return (sign << FP32.sign_shift) | (exp << FP32.man_bits) | man


def _narrow_operand(rnd, fmt, bias):
    """An FP32 operand aimed at ``fmt``'s interesting places: its range edges, ties, specials."""
    kind = rnd.random()
    sign = rnd.getrandbits(1)
    man = rnd.getrandbits(FP32.man_bits)
    if kind < 0.08:
        return rnd.choice([
            _fp32(sign, 0, 0), _fp32(sign, 0xFF, 0),                       # ±0, ±Inf
            _fp32(sign, 0xFF, 1 << 22 | man >> 1), _fp32(sign, 0xFF, max(man >> 1, 1)),  # NaNs
            _fp32(sign, 0, max(man, 1)), _fp32(sign, 0, 1), _fp32(sign, 0, _MAN_MASK),  # subnormals
            _fp32(sign, 0xFE, _MAN_MASK), _fp32(sign, 1, 0)])                  # max, min normal
    if kind < 0.2:
        return rnd.getrandbits(32)
    # An exponent from just below the smallest denormal to just above the largest binade.
    b = fmt.check_bias(bias if fmt.configurable else None)
    lo = FP32.bias + 1 - b - fmt.man_bits - 3
    hi = FP32.bias + fmt.max_exp_field - b + 2
    exp = min(max(rnd.randint(lo, hi), 0), 0xFE)
    if rnd.random() < 0.5:
        # Ties and near-ties: a chosen pattern below a random position (the destination LSB for
        # some exponent).
        k = rnd.randint(1, FP32.man_bits)
        half = 1 << (k - 1)
        low = rnd.choice([0, half, half - 1, half + 1, (1 << k) - 1])
        man = (man >> k << k) | low
    return _fp32(sign, exp, man)


def _widen_operand(rnd, fmt):
    code = rnd.getrandbits(fmt.width)
    kind = rnd.random()
    if kind < 0.15:
        code = rnd.choice([0, fmt.max_code, 1, (1 << fmt.man_bits) - 1])
        if fmt.signed and rnd.getrandbits(1):
            code |= 1 << fmt.sign_shift
    elif kind < 0.3:
        code &= ~(((1 << fmt.exp_bits) - 1) << fmt.man_bits)  # a denormal (or zero)
    # Garbage above the format's width must be ignored.
    return code | (rnd.getrandbits(32 - fmt.width) << fmt.width if rnd.random() < 0.5 else 0)


def random_requests(n, formats, *, seed, p_widen=0.3, p_unknown=0.03):
    rnd = random.Random(seed)
    rows = []
    for _ in range(n):
        bias = rnd.choice([0, BIAS_MAX, rnd.randint(0, BIAS_MAX), rnd.randint(0, BIAS_MAX)])
        rnd_mode = rnd.choice([Round.RNE, Round.SR]).value
        if rnd.random() < p_unknown:
            code = rnd.choice(UNKNOWN_CODES)
            rows.append((rnd.getrandbits(32), rnd.getrandbits(1), code, bias, rnd_mode))
            continue
        fmt = rnd.choice(formats)
        if rnd.random() < p_widen:
            rows.append((_widen_operand(rnd, fmt), ConvOp.WIDEN.value, fmt.code.value, bias,
                         rnd_mode))
        else:
            rows.append((_narrow_operand(rnd, fmt, bias), ConvOp.NARROW.value, fmt.code.value,
                         bias, rnd_mode))
    return Requests(rows)


# --- tests -------------------------------------------------------------------------------------

def test_xorshift_matches_model():
    dut = XorShift32()
    n = 40
    seen = []

    async def testbench(ctx):
        for k in range(n):
            if k == 20:  # reload mid-way; 0 means XORSHIFT_ZERO_SEED
                ctx.set(dut.seed.valid, 1)
                ctx.set(dut.seed.payload, 0xDEADBEEF)
                await ctx.tick()
                ctx.set(dut.seed.valid, 0)
            assert ctx.get(dut.seed.ready)
            ctx.set(dut.advance, k % 3 != 2)
            if k % 3 != 2:
                seen.append(ctx.get(dut.random))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_testbench(testbench)
    sim.run()
    uses = sum(k % 3 != 2 for k in range(20))
    want = [*sr_randoms(0, uses, 32), *sr_randoms(0xDEADBEEF, len(seen) - uses, 32)]
    assert seen == [int(v) for v in want]


# Known answers worked out by hand from docs/formats.md, independent of the reference model:
# (fp32 in, op, fmt, bias, result, flags)
KNOWN_ANSWERS = [
    (0x3F800000, ConvOp.NARROW, "bf16", 0, 0x3F80, 0),                    # 1.0
    (0x3F808000, ConvOp.NARROW, "bf16", 0, 0x3F80, FLAG_INEXACT),         # tie to even
    (0x3F818000, ConvOp.NARROW, "bf16", 0, 0x3F82, FLAG_INEXACT),         # tie to even, up
    (0x7F7FFFFF, ConvOp.NARROW, "bf16", 0, 0x7F80, FLAG_OVERFLOW | FLAG_INEXACT),
    (0xFF800000, ConvOp.NARROW, "bf16", 0, 0xFF80, 0),                    # -Inf
    (0x7F800001, ConvOp.NARROW, "bf16", 0, 0x7FC0, FLAG_INVALID),         # sNaN
    (0x00010000, ConvOp.NARROW, "bf16", 0, 0x0001, FLAG_DENORMAL),        # subnormal, exact
    (0x43F00000, ConvOp.NARROW, "cfp8_143", 7, 0x7F, 0),                  # 480 = max at bias 7
    (0x43F80000, ConvOp.NARROW, "cfp8_143", 7, 0x7F, FLAG_OVERFLOW | FLAG_INEXACT),  # 496
    (0x3F800000, ConvOp.NARROW, "cfp8_143", 7, 0x38, 0),                  # 1.0
    (0xBB000000, ConvOp.NARROW, "cfp8_143", 7, 0x81, 0),                  # -2**-9: min denormal
    (0xBC000000, ConvOp.NARROW, "cfp8_143", 7, 0x84, 0),                  # -2**-7: denormal
    (0x3A800000, ConvOp.NARROW, "cfp8_143", 7, 0x00, FLAG_UNDERFLOW | FLAG_INEXACT),  # 2**-10
    (0x3AC00000, ConvOp.NARROW, "cfp8_143", 7, 0x01, FLAG_UNDERFLOW | FLAG_INEXACT),
    (0xFF800000, ConvOp.NARROW, "cfp8_152", 15, 0xFF, FLAG_OVERFLOW | FLAG_INEXACT),  # -Inf
    (0x47E00000, ConvOp.NARROW, "cfp8_152", 15, 0x7F, 0),                 # 114688 = max
    (0xFFC00000, ConvOp.NARROW, "shp", 15, 0xFFFF, FLAG_INVALID),         # -NaN -> -max
    (0x477FE000, ConvOp.NARROW, "shp", 15, 0x7BFF, 0),                    # 65504
    (0xBF800000, ConvOp.NARROW, "uhp", 0, 0x0000, FLAG_INVALID),          # -1.0
    (0x80000000, ConvOp.NARROW, "uhp", 0, 0x0000, 0),                     # -0
    (0x7FC00000, ConvOp.NARROW, "uhp", 0, 0xFFFF, FLAG_INVALID),          # NaN -> max
    (0x3F800000, ConvOp.NARROW, "uhp", 0, 0x7C00, 0),                     # 1.0: field 31
    (0x00000001, ConvOp.WIDEN, "cfp8_143", 7, 0x3B000000, FLAG_DENORMAL),  # 2**-9
    (0xFF, ConvOp.WIDEN, "cfp8_143", 0, 0xC7700000, 0),                   # -61440
    (0x7F81, ConvOp.WIDEN, "bf16", 0, 0x7FC00000, FLAG_INVALID),          # sNaN
    (0xFF80, ConvOp.WIDEN, "bf16", 0, 0xFF800000, 0),                     # -Inf
    (0x12340001, ConvOp.WIDEN, "bf16", 0, 0x00010000, FLAG_DENORMAL),     # upper bits ignored
    (0xFFFF, ConvOp.WIDEN, "uhp", 0, 0x4FFFE000, 0),                      # UHP max: 2**33 - 2**22
    (0x3F800000, ConvOp.NARROW, "fp32", 0, 0, FLAG_INVALID),              # not a conversion
    (0x3F800000, ConvOp.WIDEN, "fp32", 0, FP32.qnan_code, FLAG_INVALID),
]


def test_known_answers():
    rows = [(d, op.value, get_format(f).code.value, b, Round.RNE.value)
            for d, op, f, b, _, _ in KNOWN_ANSWERS]
    got = run_stream(ConvertUnit(), Requests(rows), p_idle=0, p_stall=0)
    assert [(d, fl) for d, fl, _ in got] == [(r, fl) for *_, r, fl in KNOWN_ANSWERS]


def test_unknown_codes():
    rows = [(0x3F800000, op, code, 3, rnd) for code in UNKNOWN_CODES for op in (0, 1)
            for rnd in (0, 1)]
    got = run_stream(ConvertUnit(), Requests(rows), p_idle=0.2, p_stall=0.2)
    assert [(d, fl) for d, fl, _ in got] == [
        (FP32.qnan_code if op else 0, FLAG_INVALID) for _, op, *_ in rows]


def test_latency_and_throughput():
    """A lone request answers after exactly ``latency`` cycles; a burst flows one per cycle."""
    dut = ConvertUnit()
    n = 20
    accepted, answered = [], []

    async def producer(ctx):
        layout = request_layout(dut.tag_width)
        for k in range(n):
            ctx.set(dut.i.payload.as_value(), _pack(layout, data=0x3F800000, fmt=1, tag=k))
            ctx.set(dut.i.valid, 1)
            _, _, ready = await ctx.tick().sample(dut.i.ready)
            assert ready  # never stalls: the output is always taken
            accepted.append(k)
            ctx.set(dut.i.valid, 0)
            if k == 0:  # the lone request
                for _ in range(dut.latency + 1):
                    await ctx.tick()

    async def consumer(ctx):
        ctx.set(dut.o.ready, 1)
        cycle = 0
        while len(answered) < n:
            _, _, valid, tag = await ctx.tick().sample(dut.o.valid, dut.o.payload.tag)
            cycle += 1
            if valid:
                answered.append((tag, cycle))

    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run()
    assert [t for t, _ in answered] == list(range(n))
    # Request 0 is offered in cycle 0 and accepted at the edge ending it; its response is valid in
    # cycle ``latency`` (sampled at the edge ending that cycle, the consumer's tick ``latency+1``).
    assert answered[0][1] == dut.latency + 1
    cycles = [c for _, c in answered[1:]]
    assert cycles == list(range(cycles[0], cycles[0] + n - 1))  # back to back


def _boundary_operands(fmt, bias):
    """FP32 codes at ``fmt``'s edges: the tininess bound, the denormal and overflow ties."""
    b = fmt.check_bias(bias if fmt.configurable else None)
    emin, m = 1 - b, fmt.man_bits
    top = float(np.ldexp(2.0 - 2.0 ** -m, fmt.emax(b)))  # the largest finite magnitude
    ulp_top = float(np.ldexp(1.0, fmt.emax(b) - m))
    points = [
        np.ldexp(1.0, emin) - np.ldexp(1.0, emin - m - 2),  # tiny below, not tiny at or above
        np.ldexp(1.0, emin) - np.ldexp(1.0, emin - m - 1),  # largest denormal + half an LSB
        np.ldexp(1.0, emin),                                # smallest normal
        np.ldexp(1.0, emin - m - 1),                        # half the smallest denormal
        np.ldexp(3.0, emin - m - 2),                        # 3/4 of the smallest denormal
        top, top + ulp_top / 2, top + ulp_top / 4, top + ulp_top,
    ]
    codes = []
    for p in points:
        if p > float(np.finfo(np.float32).max):  # BF16's max + 1 ulp is beyond FP32
            continue
        c = int(np.float32(p).view(np.uint32))
        codes += [c - 1, c, c + 1, c | 1 << FP32.sign_shift]
    return [c for c in codes if (c >> FP32.man_bits) & 0xFF < 0xFF]


def test_boundaries():
    """Every format at both ends of its range, by both rounding modes, at several biases."""
    rows = []
    for fmt in CONVERSION_FORMATS:
        for bias in ((0, 1, 7, 15, 31, BIAS_MAX) if fmt.configurable else (0,)):
            for code in _boundary_operands(fmt, bias):
                for rnd_mode in (Round.RNE, Round.SR, Round.SR):
                    rows.append((code, ConvOp.NARROW.value, fmt.code.value, bias, rnd_mode.value))
    check_stream(ConvertUnit(), Requests(rows), p_idle=0.1, p_stall=0.1)


@pytest.mark.parametrize("p_idle, p_stall, seed", [(0.25, 0.3, 1), (0.0, 0.0, 2), (0.5, 0.7, 3)])
def test_random_stream(p_idle, p_stall, seed):
    """Every op, format, bias and rounding mode with idles, backpressure and seed writes."""
    n = 2000
    reqs = random_requests(n, CONVERSION_FORMATS, seed=seed)
    seeds = [(n // 3, 0x1234567 * seed), (2 * n // 3, 0)]
    check_stream(ConvertUnit(), reqs, seeds=seeds, p_idle=p_idle, p_stall=p_stall, rng_seed=seed)


@pytest.mark.parametrize("formats, sr_bits, tag_width", [
    (("cfp8_143", "uhp"), 1, 0),
    (("bf16",), 2, 3),
    (("shp", "cfp8_152"), 32, 64),
])
def test_configurations(formats, sr_bits, tag_width):
    """Other generator widths, tag widths and format subsets (the rest are not conversions)."""
    dut = ConvertUnit(formats=formats, sr_bits=sr_bits, tag_width=tag_width)
    reqs = random_requests(500, CONVERSION_FORMATS, seed=sr_bits)
    check_stream(dut, reqs, seeds=[(250, 99)], p_idle=0.2, p_stall=0.3, rng_seed=sr_bits)
