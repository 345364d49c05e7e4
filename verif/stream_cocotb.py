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
from cocotb.triggers import RisingEdge, Timer

from sim.flow.runner import tb_args
from verif.harness import StreamHarness, read_words, write_words

#: Seconds between two progress lines of a long batch, and simulated cycles between two looks
#: at the clock (one timer callback each, so following the run costs next to nothing).
PROGRESS_SECONDS = 5
PROGRESS_CYCLES = 2000


async def _progress(dut, harness, label, n_words):
    """Every :data:`PROGRESS_SECONDS` of a long batch, print the cycles simulated so far and the
    outputs received (the runner echoes lines starting with ``  [`` on stderr)."""
    last = time.perf_counter()
    while True:
        await Timer(PROGRESS_CYCLES * harness.period_ns, unit="ns")
        if time.perf_counter() - last >= PROGRESS_SECONDS:
            last = time.perf_counter()
            print(f"{label}: {int(dut.cycles.value):,} cycles so far, "
                  f"{int(dut.n_out.value):,} of {n_words:,} outputs", file=sys.stderr, flush=True)


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
        ticker = (cocotb.start_soon(_progress(dut, h, f"  [{k + 1}/{len(args['batches'])}] "
                                              f"{batch.get('label', '')}", len(words)))
                  if args.get("progress", True) else None)
        out = await h.run(words, idle=batch.get("idle", 0), stall=batch.get("stall", 0),
                          timeout=batch.get("timeout", 10_000))
        seconds = time.perf_counter() - t0
        if ticker is not None:
            ticker.cancel()
        write_words(batch["resp"], out)
        summary.append({"label": batch.get("label", str(k)), "words": len(words),
                        "cycles": h.last_cycles, "seconds": seconds})
        if args.get("progress", True):
            print(f"  [{k + 1}/{len(args['batches'])}] {batch.get('label', '')}: "
                  f"{len(words)} words, {h.last_cycles} cycles, {seconds:.2f} s",
                  file=sys.stderr, flush=True)
    with open(args["summary"], "w") as f:
        json.dump(summary, f)
