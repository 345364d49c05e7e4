"""cocotb side of the D1 core's bench (``verif/core/core_tb.py``): clock, reset, the run's
parameters onto the bench's ports of the same names, wait for ``done``, write ``summary.json``.
Loading, the run, the trace and the dump happen in the bench's Verilog."""

import json
import sys
import time

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, Timer

from sim.flow.runner import tb_args

PROGRESS_SECONDS = 5
PROGRESS_CYCLES = 5000
SUMMARY = ("status", "cycles", "tohost_value", "proto_errors", "retired")


async def _progress(dut):
    last = time.perf_counter()
    while True:
        await Timer(PROGRESS_CYCLES, unit="ns")
        if time.perf_counter() - last >= PROGRESS_SECONDS:
            last = time.perf_counter()
            print(f"  [core] {int(dut.cycles.value):,} cycles, "
                  f"{int(dut.retired.value):,} retired so far", file=sys.stderr, flush=True)


@cocotb.test()
async def run(dut):
    """Load, run and dump (the bench's three phases) until the bench says done."""
    for name, value in tb_args().items():
        getattr(dut, name).value = int(value)
    dut.rst.value = 1
    cocotb.start_soon(Clock(dut.clk, 1, unit="ns").start())
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    progress = cocotb.start_soon(_progress(dut))
    if not int(dut.done.value):
        await RisingEdge(dut.done)
    progress.cancel()
    await ClockCycles(dut.clk, 2)
    with open("summary.json", "w") as f:
        json.dump({name: int(getattr(dut, name).value) for name in SUMMARY}, f)
