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

from hw.vector.isa import VecOp, VecType
from sim.flow.runner import tb_args
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
    dut._log.info("checked %d requests of %d pairs", tb.checked, len(pairs))


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
