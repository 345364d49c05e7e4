"""cocotb tests of the vector unit (run by tests/vector/test_vector.py on both simulators).

Every test reads its sizes from ``tb_args()`` (Icarus runs fewer requests than Verilator) and
checks every response (data, flags, error, tag, order) against the sequence model
``verif.vector.model.VectorUnitModel`` through ``verif.vector.unit_tb.VectorTB``. The pairs a
test covers can be narrowed with ``args["pairs"]`` (a list of ``[op, type]`` names), except
``every_pair``'s: it runs every legal pair, or with ``args["one_type_per_op"]`` one pair of
every op (``unit_tb.one_pair_per_op``).
"""

import cocotb
import numpy as np

from hw.fp.formats import FormatCode
from hw.vector.isa import VecOp, VecType
from sim.flow.runner import tb_args
from verif.vector import model
from verif.vector import unit_tb as vt


async def _tb(dut):
    args = tb_args()
    tb = vt.VectorTB(dut)
    await tb.reset()
    pairs = args.get("pairs")
    if pairs is not None:
        pairs = [(VecOp[o.upper()], VecType[t.upper()]) for o, t in pairs]
    return tb, args, pairs


@cocotb.test()
async def every_pair(dut):
    """``per_pair`` random requests of every legal (op, type) pair (with ``one_type_per_op``:
    of one pair of every op, each type in some), one batch per pair in a shuffled order,
    without idles or stalls, against the model."""
    tb, args, _ = await _tb(dut)
    rng = np.random.default_rng(args.get("seed", 1))
    pairs = vt.one_pair_per_op() if args.get("one_type_per_op") else vt.LEGAL_PAIRS
    req = vt.concat(*(vt.random_requests(rng, args["per_pair"], pairs=[p], seed_fraction=1)
                      for p in pairs))
    await tb.check(req[rng.permutation(len(req))], what="requests of every pair")
    if not args.get("one_type_per_op"):
        await tb.check(_flag_corners(), what="exact and edge requests")
    dut._log.info("checked %d requests of %d pairs", tb.checked, len(pairs))


def _flag_corners():
    """Requests the random operands rarely make (functional coverage's holes,
    verif/fcov/vector.py): every FP op on lanes of 1.0, which raises no flag (random lanes
    always hold some special); add and sub overflowing at ±max; redsum and zip_hi of
    infinities; widen of BF16 signaling NaNs (Invalid)."""
    one = {VecType.FP32: 0x3F800000, VecType.BF16: 0x3F80, VecType.INT32: 1}
    top = {VecType.FP32: 0x7F7FFFFF, VecType.BF16: 0x7F7F}
    sign = {VecType.FP32: 0x80000000, VecType.BF16: 0x8000}
    bits = {VecType.FP32: 32, VecType.BF16: 16, VecType.INT32: 32}
    fp_ops = [VecOp.ADD, VecOp.SUB, VecOp.MUL, VecOp.FMA, VecOp.FMS, VecOp.FNMA, VecOp.FNMS,
              VecOp.REDSUM, VecOp.TO_I32, VecOp.TO_I32_RTZ, VecOp.NARROW]
    rows = [(op, t, one[t], one[t], (FormatCode.BF16 if t is VecType.FP32
                                     else FormatCode.CFP8_143).value)
            for op, t in vt.LEGAL_PAIRS if op in fp_ops and t in top]
    rows.append((VecOp.TO_F32, VecType.INT32, 1, 1, 0))
    rows += [(op, t, top[t], top[t] | (sign[t] if op is VecOp.SUB else 0), 0)
             for op in (VecOp.ADD, VecOp.SUB) for t in (VecType.FP32, VecType.BF16)]
    rows += [(op, VecType.FP32, 0x7F800000, 0x7F800000, 0) for op in (VecOp.REDSUM,
                                                                      VecOp.ZIP_HI)]
    req = vt.requests(len(rows) + 1)
    for k, (op, t, a, b, fmt) in enumerate(rows):
        req["op"][k], req["vtype"][k], req["fmt"][k], req["bias"][k] = op.value, t.value, fmt, 7
        n = 512 // bits[t]
        req["a"][k] = model.vector(np.full(n, a, dtype=np.uint64), bits[t])
        req["b"][k] = req["c"][k] = model.vector(np.full(n, b, dtype=np.uint64), bits[t])
    k = len(rows)
    req["op"][k], req["vtype"][k], req["fmt"][k] = (VecOp.WIDEN.value, VecType.FP32.value,
                                                    FormatCode.BF16.value)
    req["a"][k] = model.vector(np.full(32, 0x7F81, dtype=np.uint64), 16)
    return req


@cocotb.test()
async def random_mix(dut):
    """Random legal requests of every pair interleaved, with random idle input cycles and output
    backpressure (``idle``/``stall`` in 256ths)."""
    tb, args, pairs = await _tb(dut)
    rng = np.random.default_rng(args.get("seed", 2))
    for k in range(args.get("batches", 1)):
        await tb.check(vt.random_requests(rng, args["n"], pairs=pairs), idle=args["idle"],
                       stall=args["stall"], seed=k + 1, what="random requests")
    dut._log.info("checked %d requests", tb.checked)


@cocotb.test()
async def illegal(dut):
    """Illegal requests (unknown op or type codes, pairs that do not exist, conversions with an
    impossible format or part) mixed with legal ones: zero data, flags 0, error 1, tags in
    order, no hang, no effect on the sticky flags."""
    tb, args, pairs = await _tb(dut)
    rng = np.random.default_rng(args.get("seed", 3))
    n = args["n"]
    req = vt.concat(vt.illegal_requests(rng, n), vt.state_requests(rng, n, within=pairs))
    await tb.check(req[rng.permutation(len(req))], idle=20, stall=20, seed=3,
                   what="illegal and legal requests")


@cocotb.test()
async def sticky_flags(dut):
    """rdflags/clrflags/seed interleaved with flag-raising ops and SR narrowings, under heavy
    backpressure: the flags each read sees are those of exactly the earlier requests, and the
    SR generators follow the model across seeds."""
    tb, args, pairs = await _tb(dut)
    rng = np.random.default_rng(args.get("seed", 4))
    for k in range(args.get("batches", 2)):
        await tb.check(vt.state_requests(rng, args["n"], within=pairs), idle=60, stall=120,
                       seed=10 + k, what="sticky flags and seeds")
