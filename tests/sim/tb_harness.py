"""cocotb side of tests/sim/test_harness.py: the bulk harness around PlusOne, and the harness
library's source and sink against a cycle model."""

from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from sim.flow.runner import tb_args
from verif.harness import (
    HarnessError,
    StreamHarness,
    harness_model,
    read_records,
    read_words,
    write_words,
)


@cocotb.test()
async def harness_roundtrip(dut):
    """Words go through in order with idles and backpressure, or the harness reports the defect."""
    args = tb_args()
    h = StreamHarness(dut)
    await h.reset()
    rng = np.random.default_rng(args["seed"])
    words = [int(w) for w in rng.integers(0, 2**32 - 1, size=args["n"], dtype=np.uint64)]
    expect = args["expect"]
    try:
        out = await h.run(words, idle=args["idle"], stall=args["stall"], timeout=200)
    except HarnessError as e:
        assert expect != "ok", f"unexpected harness error: {e}"
        assert expect in str(e), f"expected an error about {expect!r}, got: {e}"
        return
    assert expect == "ok", f"the harness missed a defect ({expect})"
    assert out == [(w + 1) & 0xFFFFFFFF for w in words]
    # A second batch in the same simulation reuses the harness.
    out2 = await h.run(words[:10], idle=0, stall=0)
    assert out2 == [(w + 1) & 0xFFFFFFFF for w in words[:10]]


def library_model(stimulus, *, count, timing, advance, drop, idle, stall, seed):
    """The cycles of :class:`tests.sim.test_harness.LibraryBench`: the library's source straight
    into its sink, as ``verif.harness.harness_model`` states their contract."""
    return harness_model(stimulus, count=count, timing=timing, advance=advance, drop=drop,
                         idle=idle, stall=stall, seed=seed)


@cocotb.test()
async def library(dut):
    """The library's source into its sink with idles, backpressure and delays (or cycle times),
    every record and the violation count against :func:`library_model`."""
    args = tb_args()
    rng = np.random.default_rng(11)
    cocotb.start_soon(Clock(dut.clk, 2, unit="ns").start())
    dut.start.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 1)
    violations = 0
    for k, (idle, stall, seed) in enumerate([(0, 0, 0), (90, 60, 7), (200, 10, 0x9E3779B9),
                                              (20, 220, 123456789)]):
        n = args["n"]
        words = [int(w) for w in rng.integers(0, 1 << 16, size=n)]
        if args["timing"] == 0:  # no first column: every word due at once
            stimulus = [(0, w) for w in words]
            write_words("stim.hex", words)
        else:
            whens = (np.cumsum(rng.integers(0, 4, size=n)) if args["timing"] == 2
                     else rng.choice([0, 0, 0, 1, 5], size=n))
            stimulus = [(int(t), w) for t, w in zip(whens, words, strict=True)]
            Path("stim.hex").write_text("".join(f"{t:x} {w:x}\n" for t, w in stimulus))
        count = n - 2 * k  # fewer than the file holds: the source stops at the limit
        dut.count.value, dut.idle.value, dut.stall.value = count, idle, stall
        dut.rand_seed.value, dut.drop.value = seed, args["drop"]
        dut.start.value = 1
        await RisingEdge(dut.done)
        dut.start.value = 0
        await ClockCycles(dut.clk, 1)
        accepts, responses, errors, cycles = library_model(
            stimulus, count=count, timing=args["timing"], advance=args["advance"],
            drop=args["drop"], idle=idle, stall=stall, seed=seed)
        assert read_records("acc.hex") == accepts, f"run {k}: accept records"
        if not args["stamp"]:  # payloads only
            responses = [w for _, w in responses]
        got = read_records("resp.hex") if args["stamp"] else read_words("resp.hex")
        assert got == responses, f"run {k}: response records"
        assert int(dut.errors.value) == errors, f"run {k}: {int(dut.errors.value)} violations"
        assert int(dut.cycles.value) == cycles, f"run {k}: {int(dut.cycles.value)} cycles"
        assert int(dut.sent.value) == count
        assert args["drop"] or errors == 0
        violations += errors
    assert violations > 0 or not args["drop"], "a broken hold rule went unnoticed"
