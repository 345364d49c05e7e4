"""cocotb tests of the matrix engine (run by tests/matmul/test_engine.py on both simulators).

Every test builds its GEMMs from ``tb_args()`` (the engine's configuration and the sizes, scaled
per simulator by the pytest side) and checks every element of every GEMM, values and sticky flags,
bit for bit against ``verif.matmul.model.matmul``, plus the order of the output rows.
"""

import itertools

import cocotb
import numpy as np

from hw.matmul.config import MATMUL_FORMATS, MatmulConfig
from sim.flow.runner import tb_args
from verif.matmul.engine_tb import KINDS, EngineTB, operands

#: Every (A format, B format) pair.
PAIRS = list(itertools.product(MATMUL_FORMATS, repeat=2))


async def _tb(dut):
    args = tb_args()
    tb = EngineTB(dut, MatmulConfig(**args["config"]))
    await tb.reset()
    return tb, args


def _bias(rng, fmt, choice):
    """A bias for ``fmt``: ``None`` for BF16; else ``choice`` (an int), or random if None."""
    if fmt == "bf16":
        return None
    return int(rng.integers(0, 64)) if choice is None else choice


@cocotb.test()
async def shapes(dut):
    """Random GEMMs of the given shapes (M and N not multiples of the tile, K from 1), cycling
    through every format pair, with and without C, with random idles and backpressure."""
    tb, args = await _tb(dut)
    rng = np.random.default_rng(args.get("seed", 1))
    for i, (m, n, k) in enumerate(args["shapes"]):
        a_fmt, b_fmt = PAIRS[i % len(PAIRS)]
        a_bias, b_bias = _bias(rng, a_fmt, None), _bias(rng, b_fmt, None)
        a, b, c = operands(rng, m, n, k, a_fmt=a_fmt, a_bias=a_bias, b_fmt=b_fmt, b_bias=b_bias,
                           with_c=i % 3 != 2)
        await tb.check(a, b, c, a_fmt=a_fmt, a_bias=a_bias, b_fmt=b_fmt, b_bias=b_bias,
                       idle=args.get("idle", 24), stall=args.get("stall", 24), seed=i + 1)
    dut._log.info("%d GEMMs, %d MACs in %d cycles", len(args["shapes"]), tb.macs, tb.cycles)


@cocotb.test()
async def formats(dut):
    """Every format pair, CFP8 at biases 0 and 63 (and a random one), ordinary values and raw
    bit patterns."""
    tb, args = await _tb(dut)
    rng = np.random.default_rng(7)
    m, n, k = args["shape"]
    for (a_fmt, b_fmt), bias, kind in itertools.product(PAIRS, args["biases"], ("normal", "raw")):
        a_bias, b_bias = _bias(rng, a_fmt, bias), _bias(rng, b_fmt, bias)
        a, b, c = operands(rng, m, n, k, a_fmt=a_fmt, a_bias=a_bias, b_fmt=b_fmt, b_bias=b_bias,
                           kind=kind)
        await tb.check(a, b, c, a_fmt=a_fmt, a_bias=a_bias, b_fmt=b_fmt, b_bias=b_bias,
                       idle=16, stall=16)


@cocotb.test()
async def specials(dut):
    """NaN, ±Inf, zeros and denormals among the operands and in C; products that underflow to
    FP32 subnormals or zero; sums that overflow to Inf; CFP8 at biases 0 and 63."""
    tb, args = await _tb(dut)
    rng = np.random.default_rng(11)
    m, n, k = args["shape"]
    for kind in KINDS[2:]:
        for (a_fmt, b_fmt), bias in itertools.product(args.get("pairs", PAIRS), (0, 63)):
            a_bias, b_bias = _bias(rng, a_fmt, bias), _bias(rng, b_fmt, bias)
            a, b, c = operands(rng, m, n, k, a_fmt=a_fmt, a_bias=a_bias, b_fmt=b_fmt,
                               b_bias=b_bias, kind=kind)
            await tb.check(a, b, c, a_fmt=a_fmt, a_bias=a_bias, b_fmt=b_fmt, b_bias=b_bias,
                           idle=8, stall=8, what=f"{kind} {m}x{n}x{k} {a_fmt} x {b_fmt} "
                           f"bias {bias}")


@cocotb.test()
async def backpressure(dut):
    """Heavy idles on the input and backpressure on the output (about 80 % of cycles each):
    nothing is lost, repeated or reordered, and the interleave survives."""
    tb, args = await _tb(dut)
    rng = np.random.default_rng(5)
    for i, (m, n, k) in enumerate(args["shapes"]):
        a, b, c = operands(rng, m, n, k, kind="raw" if i % 2 else "normal")
        await tb.check(a, b, c, idle=200, stall=200, seed=100 + i)


@cocotb.test()
async def bad_format(dut):
    """A configuration naming a format the arrays cannot multiply (FP32, SHP, UHP, codes 6 and
    7) gives the defined result, the canonical NaN with Invalid in every element, and no hang;
    a good configuration afterwards works again."""
    tb, args = await _tb(dut)
    rng = np.random.default_rng(3)
    m, n, k = args["shape"]
    for codes in ((0, 1), (1, 4), (5, 2), (6, 7), (3, 7)):
        a, b, c = operands(rng, m, n, k)
        await tb.check_bad_format(a, b, c, codes, idle=10, stall=10)
    a, b, c = operands(rng, m, n, k)
    await tb.check(a, b, c)


@cocotb.test()
async def throughput(dut):
    """With no idles and no backpressure, a GEMM of ``K`` per tile keeps the arrays busy: the
    cycles stay within the schedule's bound (beats, the first group's C rows, the pipeline and
    the last group's rows) and the utilisation is reported."""
    tb, args = await _tb(dut)
    rng = np.random.default_rng(9)
    cfg = tb.config
    for m, n, k in args["shapes"]:
        a, b, c = operands(rng, m, n, k)
        cycles = await tb.check(a, b, c)
        tiles = -(-m // cfg.tile_rows) * -(-n // cfg.tile_cols)
        groups = -(-tiles // cfg.interleave)
        first = min(tiles, cfg.interleave) * cfg.tile_rows
        bound = (groups * cfg.interleave * k + first + cfg.fma_latency +
                 min(tiles, cfg.interleave) * cfg.tile_rows + 8)
        util = m * n * k / cycles / cfg.macs_per_cycle
        dut._log.info("%dx%dx%d: %d cycles (bound %d), %.1f MACs/cycle, %.1f %% of peak",
                      m, n, k, cycles, bound, m * n * k / cycles, 100 * util)
        assert cycles <= bound, f"{m}x{n}x{k} took {cycles} cycles, more than {bound}"
