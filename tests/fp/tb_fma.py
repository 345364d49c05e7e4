"""cocotb tests of the FMA unit (run by tests/fp/test_fma.py on both simulators).

Each test reads its sizes from ``tb_args()`` so the same test runs a million operations on
Verilator and a smaller set on Icarus. Every batch is checked bit for bit (z, flags, tag, order)
against the reference model ``verif.fp.fma`` (through ``verif.fp.fma_tb.expected``).
"""

import cocotb
import numpy as np

from hw.fp.formats import get_format
from sim.flow.runner import tb_args
from verif.fp import fma_tb as st
from verif.fp.fma_tb import FMATB


async def _tb(dut):
    args = tb_args()
    tb = FMATB(dut, tag_width=args.get("tag_width", 8),
               formats=tuple(args.get("formats", st.FMA_FORMATS)))
    await tb.reset()
    return tb, args


def _chunks(n, chunk):
    while n > 0:
        yield min(n, chunk)
        n -= chunk


@cocotb.test()
async def random_mix(dut):
    """Random FMAs mixing every multiplicand format (each operand its own, CFP8 at random biases)
    with addends aimed at the product: alignment, cancellation, ties; in chunks with light idles
    and backpressure."""
    tb, args = await _tb(dut)
    rng = np.random.default_rng(args["seed"])
    for k, n in enumerate(_chunks(args["n"], args.get("chunk", 250_000))):
        await tb.check(st.random_requests(rng, n, formats=tb.formats), idle=args.get("idle", 10),
                       stall=args.get("stall", 10), seed=args["seed"] * 100 + k,
                       what="random FMAs")
    dut._log.info("checked %d FMAs", tb.checked)


@cocotb.test()
async def hard_cases(dut):
    """FP32 edges: massive cancellation, the subnormal and tininess boundary, overflow, ties."""
    tb, args = await _tb(dut)
    rng = np.random.default_rng(args["seed"])
    for k, n in enumerate(_chunks(args["n"], args.get("chunk", 250_000))):
        await tb.check(st.hard_requests(rng, n), idle=20, stall=20, seed=k, what="hard FMAs")
    dut._log.info("checked %d FMAs", tb.checked)


@cocotb.test()
async def exhaustive_cfp8(dut):
    """Every pair of CFP8 codes (every ``stride``-th if given) for each format pair and bias
    pair of ``pairs``, with addends aimed at the products."""
    tb, args = await _tb(dut)
    rng = np.random.default_rng(8)
    for a_fmt, a_bias, b_fmt, b_bias in args["pairs"]:
        req = st.exhaustive_pair_requests(rng, a_fmt, a_bias, b_fmt, b_bias,
                                          stride=args.get("stride", 1))
        await tb.check(req, idle=10, stall=10,
                       what=f"{a_fmt}@{a_bias} x {b_fmt}@{b_bias} FMAs")
    dut._log.info("checked %d FMAs", tb.checked)


@cocotb.test()
async def specials(dut):
    """Every combination of FP32 special and boundary values for a, b and c (every
    ``stride``-th if given), BF16 and CFP8 specials, those of the built formats; then format
    codes the unit was not built for, which give 0x7FC00000 with Invalid."""
    tb, args = await _tb(dut)
    req = st.special_requests()
    codes = [get_format(f).code.value for f in tb.formats]
    keep = np.isin(req["a_fmt"], codes) & np.isin(req["b_fmt"], codes)
    req = {k: v[keep][::args.get("stride", 1)] for k, v in req.items()}
    await tb.check(req, idle=30, stall=30, what="special FMAs")
    rng = np.random.default_rng(3)
    await tb.check(st.unknown_code_requests(rng, 500, tb.formats), what="unknown formats")
    dut._log.info("checked %d FMAs", tb.checked)


@cocotb.test()
async def backpressure(dut):
    """Heavy random idles and backpressure (about 80 % of cycles each) lose, duplicate or
    reorder nothing, and every request is taken and answered in the cycle the contract says."""
    tb, args = await _tb(dut)
    rng = np.random.default_rng(5)
    await tb.check(st.random_requests(rng, args["n"], formats=tb.formats), idle=200, stall=200,
                   seed=9, what="FMAs under backpressure", cycles=True)
