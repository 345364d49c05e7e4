"""cocotb side of the benches that run programs (the scalar core's, ``verif/scalar/core_tb.py``,
and the D1 core's, ``verif/core/core_tb.py``): clock, reset, the run's parameters onto the bench's
ports of the same names, wait for ``done``, write ``summary.json``. Everything else (memory or
loading, port models, the trace) runs in the bench's Verilog; the checks run in Python
afterwards. The summary also holds the bench's own cycles from reset to ``done`` (all phases:
``clock_cycles``) and the wall-clock seconds they took (``clock_seconds``), for speed figures."""

import json
import time

import cocotb
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.triggers import ClockCycles, RisingEdge

from sim.flow.runner import PROGRESS_PREFIX, report_progress, tb_args

#: Simulated cycles (of 1 ns) between two looks at the clock for a progress line.
PROGRESS_CYCLES = 5000
#: The bench's outputs written to summary.json.
SUMMARY = ("status", "cycles", "tohost_value", "proto_errors", "retired")


@cocotb.test()
async def run(dut):
    """Run the bench until it says done (tohost, max cycles or hang)."""
    for name, value in tb_args().items():
        getattr(dut, name).value = int(value)
    dut.rst.value = 1
    cocotb.start_soon(Clock(dut.clk, 1, unit="ns").start())
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    t0, ns0 = time.perf_counter(), get_sim_time("ns")
    progress = cocotb.start_soon(report_progress(
        lambda: f"{PROGRESS_PREFIX}{dut._name}] {int(dut.cycles.value):,} cycles, "
                f"{int(dut.retired.value):,} retired so far", every_ns=PROGRESS_CYCLES))
    if not int(dut.done.value):
        await RisingEdge(dut.done)
    timing = {"clock_cycles": round(get_sim_time("ns") - ns0),  # a 1 ns clock
              "clock_seconds": time.perf_counter() - t0}
    progress.cancel()
    await ClockCycles(dut.clk, 2)
    with open("summary.json", "w") as f:
        json.dump({**{name: int(getattr(dut, name).value) for name in SUMMARY}, **timing}, f)
