"""A generic cocotb module: push batches of payload words through a harness-wrapped design.

Used by the command line (``d1core sim``, ``vectors``, ``bench``), which checks the responses
itself. ``tb_args()`` holds::

    {"batches": [{"stim": FILE, "resp": FILE, "idle": 0, "stall": 0, "seed": S or None,
                  "label": "..."}],
     "seed_port": "seed" or None, "summary": FILE}

Before a batch with a ``seed``, the value is written to the design's ``seed_port`` stream (one
cycle of valid). The summary file receives, per batch, the words sent, the cycles from start to the
last response and the wall-clock seconds of the run.
"""

import json
import sys
import time

import cocotb
from cocotb.triggers import RisingEdge

from sim.flow.runner import PROGRESS_PREFIX, report_progress, tb_args
from verif.harness import StreamHarness, read_words, write_words

#: Simulated cycles between two looks at the clock for a progress line.
PROGRESS_CYCLES = 2000


@cocotb.test()
async def stream(dut):
    """Run every batch; record responses and timing."""
    args = tb_args()
    port = args.get("seed_port")
    config = {f"{port}__valid": 0, f"{port}__payload": 0} if port else {}
    h = StreamHarness(dut)
    await h.reset(**config)
    summary = []
    for k, batch in enumerate(args["batches"]):
        words = read_words(batch["stim"])
        if port and batch.get("seed") is not None:
            await RisingEdge(dut.clk)
            getattr(dut, f"{port}__payload").value = batch["seed"] & 0xFFFFFFFF
            getattr(dut, f"{port}__valid").value = 1
            await RisingEdge(dut.clk)
            getattr(dut, f"{port}__valid").value = 0
        t0 = time.perf_counter()
        label = f"{PROGRESS_PREFIX}{k + 1}/{len(args['batches'])}] {batch.get('label', '')}"
        n_words, ticker = len(words), None
        if args.get("progress", True):
            ticker = cocotb.start_soon(report_progress(
                lambda label=label, n=n_words: f"{label}: {int(dut.cycles.value):,} cycles so "
                                               f"far, {int(dut.n_out.value):,} of {n:,} outputs",
                every_ns=PROGRESS_CYCLES * h.period_ns))
        out = await h.run(words, idle=batch.get("idle", 0), stall=batch.get("stall", 0),
                          timeout=batch.get("timeout", 10_000))
        seconds = time.perf_counter() - t0
        if ticker is not None:
            ticker.cancel()
        write_words(batch["resp"], out)
        summary.append({"label": batch.get("label", str(k)), "words": len(words),
                        "cycles": h.last_cycles, "seconds": seconds})
        if args.get("progress", True):
            print(f"{label}: {len(words)} words, {h.last_cycles} cycles, {seconds:.2f} s",
                  file=sys.stderr, flush=True)
    with open(args["summary"], "w") as f:
        json.dump(summary, f)
