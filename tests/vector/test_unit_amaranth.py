"""Fast tests of the vector unit's parts in Amaranth's Python simulator, and its construction.

Layers: construction errors; the legality decode against the model's op table (every op code
and type code, every conversion format and part); one FP lane (``hw/vector/lane.py``: 32 bits
of every FP operation) against ``verif/vector/model.py`` for each of its pairs, with ``en``
dropped at random (the pipeline must hold); the FMA's round-to-odd mode (``hw/fp/fma.py``)
against an independent round-to-odd of the exact result. The whole unit is tested in RTL
simulation (tests/vector/test_vector.py).
"""

import os
import subprocess
import sys

import numpy as np
import pytest
from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.sim import Simulator

from hw.fp.fma import FMAPipe
from hw.fp.formats import FormatCode
from hw.vector.isa import IMM_BITS, VecOp, VecType
from hw.vector.lane import LANE_OPS, FPLane
from hw.vector.unit import UNIT_OPS, Source, VectorUnit, decode
from tests.amaranth_sim import raises_unelaborated
from verif.fp.fma import fma, fma_odd53
from verif.fp.fma_tb import _random_fp32
from verif.vector import model
from verif.vector.bf16 import _odd_f32
from verif.vector.unit_tb import random_requests


@pytest.mark.parametrize(("factory", "kwargs", "error", "message"), [
    (VectorUnit, {"tag_width": -1}, ValueError,
     r"^tag_width must be in 0\.\.64, not -1$"),
    (VectorUnit, {"tag_width": 65}, ValueError,
     r"^tag_width must be in 0\.\.64, not 65$"),
    (VectorUnit, {"tag_width": "8"}, TypeError,
     r"^tag_width must be an integer, not '8'$"),
    (FMAPipe, {"round_to_odd": 1}, TypeError, r"^round_to_odd must be a bool, not 1$"),
])
def test_construction_errors(factory, kwargs, error, message):
    raises_unelaborated(error, message, factory, **kwargs)


def test_legal_pairs_are_the_models():
    """The unit's table of legal (op, type) pairs is exactly the model's."""
    model_pairs = {(VecOp[o.upper()], VecType[t.upper()]) for o, t in model.OPS}
    assert set(UNIT_OPS) == model_pairs


class _Decode(Elaboratable):
    def __init__(self):
        self.op, self.vtype = Signal(6), Signal(3)
        self.fmt, self.imm = Signal(3), Signal(IMM_BITS)
        self.hit = {}

    def elaborate(self, platform):
        m = Module()
        self.hit.update(decode(m, self.op, self.vtype, self.fmt, self.imm))
        return m


def _model_error(op, vtype, fmt, imm):
    zero = np.zeros(64, np.uint8)
    name = model._OP_NAMES.get(op, "unknown"), model._TYPE_NAMES.get(vtype, "unknown")
    spec = model.OPS.get(name)
    if spec is None:
        return True
    _, _, err = model.execute(*name, *([zero] * len(spec.fields)), fmt=fmt, imm=imm)
    return bool(err)


def test_decode_matches_model_errors():
    """For every op code (0..63) and type code (0..7), and for the conversions every format and
    part, the RTL decode finds a source exactly when the model raises no error, and the source
    is the table's."""
    dut = _Decode()
    cases = [(op, vt, 0, 0) for op in range(64) for vt in range(8)]
    cases += [(op.value, vt.value, fmt, imm) for op in (VecOp.WIDEN, VecOp.NARROW)
              for vt in (VecType.FP32, VecType.BF16) for fmt in range(8)
              for imm in (0, 1, 2, 3, 4, 63)]
    mismatches = []

    async def bench(ctx):
        for op, vt, fmt, imm in cases:
            ctx.set(dut.op, op)
            ctx.set(dut.vtype, vt)
            ctx.set(dut.fmt, fmt)
            ctx.set(dut.imm, imm)
            await ctx.delay(1e-9)
            hits = [src for src, sig in dut.hit.items() if ctx.get(sig)]
            legal = not _model_error(op, vt, fmt, imm)
            want = [UNIT_OPS[(VecOp(op), VecType(vt))]] if legal else []
            if hits != want:
                mismatches.append((op, vt, fmt, imm, hits, want))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    assert not mismatches, mismatches[:5]
    assert len(cases) > 600


def _run_lane(req, *, hold_rng):
    """Push ``req`` (one 32-bit slice of each request's operands) through an FPLane; ``en``
    drops at random cycles. Returns ``[(z, flags)]`` in order."""
    dut = FPLane()
    n, latency = len(req["op"]), dut.latency
    out = []

    async def bench(ctx):
        k = advanced = 0
        while len(out) < n:
            en = hold_rng.random() >= 0.25
            ctx.set(dut.en, en)
            ctx.set(dut.i.valid, k < n)
            if k < n:
                ctx.set(dut.i.payload.op, int(req["op"][k]))
                ctx.set(dut.i.payload.vtype, int(req["vtype"][k]))
                for name in "abc":
                    ctx.set(getattr(dut.i.payload, name), int(req[name][k]))
            await ctx.tick()
            if en:
                k += 1
                advanced += 1
                if advanced >= latency:
                    assert ctx.get(dut.o.valid)
                    out.append((ctx.get(dut.o.payload.z), ctx.get(dut.o.payload.flags.as_value())))

    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_testbench(bench)
    sim.run()
    return out


def _slice_requests(pairs, per_pair, seed):
    """Requests of ``pairs`` and their expected lane-0 results: the model on vectors whose 16
    lanes all repeat lane 0 (so the vector's flags are lane 0's)."""
    rng = np.random.default_rng(seed)
    req = random_requests(rng, per_pair * len(pairs), pairs=pairs, seed_fraction=0)
    for name in "abc":
        req[name] = np.tile(req[name][:, :4], 16)
    exp = []
    for r in req:
        op, vt = model._OP_NAMES[int(r["op"])], model._TYPE_NAMES[int(r["vtype"])]
        spec = model.OPS[(op, vt)]
        z, f, _ = model.execute(op, vt, *(r[name] for name in spec.fields))
        exp.append((int(model.lanes(z, 32)[0]), int(f)))
    lane = {name: model.lanes(req[name], 32)[:, 0] for name in "abc"}
    return {"op": req["op"], "vtype": req["vtype"], **lane}, exp


@pytest.mark.parametrize("vtype", [VecType.FP32, VecType.BF16, VecType.INT32])
def test_lane_against_model(vtype):
    """Every pair of the lane on one type (FP32: the FMA forms, min/max, compares, to_i32; BF16:
    the FMA forms on two lanes; INT32: to_f32), 8 random requests each, with pipeline holds:
    result and flags equal the model's."""
    pairs = sorted((p for p in LANE_OPS if p[1] is vtype), key=lambda p: p[0].value)
    req, exp = _slice_requests(pairs, 8, seed=vtype.value)
    got = _run_lane(req, hold_rng=np.random.default_rng(7))
    bad = [(VecOp(int(req["op"][i])).name, hex(int(req["a"][i])), hex(int(req["b"][i])),
            hex(int(req["c"][i])), hex(g[0]), g[1], hex(e[0]), e[1])
           for i, (g, e) in enumerate(zip(got, exp, strict=True)) if g != e]
    assert not bad, bad[:4]


def test_lane_pairs_belong_to_lanes():
    assert {p for p, src in UNIT_OPS.items() if src is Source.LANES} == LANE_OPS


def test_unit_ops_order_does_not_depend_on_the_hash_seed():
    """UNIT_OPS's order is the order of the decoder's cases in the Verilog: it must be the same
    under every PYTHONHASHSEED (it began with LANE_OPS, a set, whose order changed with the seed,
    and so did the vector unit's Verilog and its synthesis figures)."""
    code = ("from hw.vector.unit import UNIT_OPS; "
            "print([(op.value, t.value) for op, t in UNIT_OPS])")
    orders = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
              for seed in ("1", "2", "3")}
    assert len(orders) == 1, orders


def test_fma_round_to_odd():
    """FMAPipe with ``rto``: FP32 a·b + c rounded to odd (saturating at the largest finite
    value) equals the round-to-odd of the exact result (``fma_odd53`` at 53 bits, then to odd at
    24), including subnormal results and overflow; with ``rto`` low the same pipe rounds to
    nearest even as before."""
    rng = np.random.default_rng(11)
    n = 160
    a, b, c = (_random_fp32(rng, n).astype(np.uint32) for _ in range(3))
    rto = rng.integers(0, 2, n)
    with np.errstate(invalid="ignore", over="ignore"):  # signaling NaNs widen quietly
        exact, _ = fma_odd53(*(x.view(np.float32).astype(np.float64) for x in (a, b, c)))
        odd = _odd_f32(np.where(np.isnan(exact), 0, exact))
    rne, _ = fma(a, b, c)
    dut = FMAPipe(ab_formats=("fp32",), round_to_odd=True)
    got = []

    async def bench(ctx):
        ctx.set(dut.en, 1)
        ctx.set(dut.i.payload.a_fmt, FormatCode.FP32)
        ctx.set(dut.i.payload.b_fmt, FormatCode.FP32)
        for k in range(n + dut.latency):
            if k < n:
                ctx.set(dut.i.payload.a, int(a[k]))
                ctx.set(dut.i.payload.b, int(b[k]))
            j = k - dut.c_delay
            if 0 <= j < n:
                ctx.set(dut.c, int(c[j]))
                ctx.set(dut.rto, int(rto[j]))
            await ctx.tick()
            if k >= dut.latency - 1 and len(got) < n:
                got.append(ctx.get(dut.o.payload.z))

    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_testbench(bench)
    sim.run()
    nan = rne == 0x7FC00000             # a NaN result, whose code the FMA makes canonical
    want = np.where(rto == 1, odd, rne)
    got = np.array(got, np.uint32)
    ok = (got == want) | (nan & (got == 0x7FC00000))
    assert ok.all(), [(hex(a[i]), hex(b[i]), hex(c[i]), rto[i], hex(got[i]), hex(want[i]))
                      for i in np.flatnonzero(~ok)[:4]]
