"""cocotb side of tests/sim/test_harness.py: the bulk harness around PlusOne."""

import cocotb
import numpy as np

from verif.harness import HarnessError, StreamHarness
from verif.runner import tb_args


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
