"""cocotb tests of the conversion unit (run by tests/fp/test_convert.py on both simulators).

Each test reads its sizes from ``tb_args()`` so the same test runs a million conversions on
Verilator and a smaller set on Icarus. Every batch is checked bit for bit (data, flags, tag, order)
against ``verif.fp.convert.convert_requests``.
"""

import cocotb
import numpy as np

from hw.fp.formats import Round
from sim.flow.runner import tb_args
from verif.fp import stimulus as st
from verif.fp.convert_tb import ConvertTB


async def _tb(dut):
    args = tb_args()
    tb = ConvertTB(dut, tag_width=args.get("tag_width", 8))
    await tb.reset()
    return tb, args


@cocotb.test()
async def exhaustive_bf16(dut):
    """All 65,536 BF16 patterns (as FP32; every ``stride``-th one if given) through every
    narrowing conversion at the given biases and rounding modes, with light idles and
    backpressure."""
    tb, args = await _tb(dut)
    for name in st.CONVERSION_FORMATS:
        fixed = name in ("bf16", "uhp")
        for bias in ([0] if fixed else args["biases"]):
            for rnd in args["rounds"]:
                req = st.exhaustive_bf16_narrowing(name, bias, Round[rnd.upper()])
                req = {k: v[::args.get("stride", 1)] for k, v in req.items()}
                await tb.check(req, seed=0x1234 + bias, idle=16, stall=16,
                               what=f"{name} bias {bias} {rnd} conversions")
    dut._log.info("checked %d conversions", tb.checked)


@cocotb.test()
async def exhaustive_widening(dut):
    """Every code of every format widened to FP32, at the given biases (16-bit formats: every
    ``stride``-th code if given; CFP8: always all 256)."""
    tb, args = await _tb(dut)
    for name in st.CONVERSION_FORMATS:
        fixed = name in ("bf16", "uhp")
        for bias in ([0] if fixed else args["biases"]):
            req = st.exhaustive_widening(name, bias)
            req = {k: v[::args.get("stride", 1) if len(v) > 256 else 1] for k, v in req.items()}
            await tb.check(req, idle=8, stall=8,
                           what=f"{name} bias {bias} widenings")
    dut._log.info("checked %d conversions", tb.checked)


@cocotb.test()
async def random_mix(dut):
    """Random requests mixing every format, all 64 biases, both directions and rounding modes,
    in chunks, each after a different seed write."""
    tb, args = await _tb(dut)
    rng = np.random.default_rng(args["seed"])
    left = args["n"]
    k = 0
    while left:
        n = min(left, args.get("chunk", 250_000))
        await tb.check(st.random_requests(rng, n), seed=args["seed"] * 1000 + k,
                       idle=args.get("idle", 10), stall=args.get("stall", 10),
                       what="random conversions")
        left -= n
        k += 1
    dut._log.info("checked %d conversions", tb.checked)


@cocotb.test()
async def corners(dut):
    """Saturation edges, ties, tininess edges, denormals and FP32 specials in every format at
    biases 0, 1, 7, 15, 31 and 63 in both rounding modes; then FP32 and unknown format codes
    (6, 7), which must give Invalid and the defined result."""
    tb, _ = await _tb(dut)
    parts = [st.corner_requests(name, bias) for name in st.CONVERSION_FORMATS
             for bias in (0, 1, 7, 15, 31, 63)]
    await tb.check(st.concat(*parts), seed=77, idle=30, stall=30, what="corner conversions",
                   cycles=True)
    await tb.check(st.unknown_code_requests(), what="unknown-format requests", cycles=True)


@cocotb.test()
async def stochastic_seeds(dut):
    """SR is bit-exact for several seeds, including 0 (replaced by the documented constant) and
    a seed rewritten between two halves of a stream, under heavy backpressure."""
    tb, args = await _tb(dut)
    rng = np.random.default_rng(11)
    for seed in (0, 1, 0xDEADBEEF, 0xFFFFFFFF, 12345):
        req = st.random_requests(rng, args["n"], sr_fraction=1.0, widen_fraction=0.0)
        await tb.check(req, seed=seed, idle=64, stall=160, what=f"SR conversions, seed {seed:#x}")


@cocotb.test()
async def backpressure(dut):
    """Heavy random idles and backpressure (about 80 % of cycles each) lose, duplicate or reorder
    nothing, and every request is taken and answered in the cycle the contract says."""
    tb, args = await _tb(dut)
    rng = np.random.default_rng(5)
    await tb.check(st.random_requests(rng, args["n"]), seed=9, idle=200, stall=200,
                   what="conversions under backpressure", cycles=True)
