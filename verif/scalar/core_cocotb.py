"""cocotb side of the scalar core's bench (``verif/scalar/core_tb.py``): clock, reset, the run's
parameters onto the bench's ports, wait for ``done``, write ``summary.json``. Everything else
(memory, port models, the trace) runs in the bench's Verilog; the lockstep check runs in
``run_program`` afterwards."""

import json

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from sim.flow.runner import PROGRESS_PREFIX, report_progress, tb_args

#: Simulated cycles (of 1 ns) between two looks at the clock for a progress line.
PROGRESS_CYCLES = 5000


@cocotb.test()
async def run(dut):
    """Run the program in image.hex until the bench says done (tohost, max cycles or hang)."""
    args = tb_args()
    dut.seed.value = args["seed"]
    dut.stall.value = args["stall"]
    dut.latency.value = args["latency"]
    dut.max_cycles.value = args["max_cycles"]
    dut.tohost.value = args["tohost"]
    dut.tohost_en.value = int(args["tohost_en"])
    dut.rst.value = 1
    cocotb.start_soon(Clock(dut.clk, 1, unit="ns").start())
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    progress = cocotb.start_soon(report_progress(
        lambda: f"{PROGRESS_PREFIX}scalar core] {int(dut.cycles.value):,} cycles, "
                f"{int(dut.retired.value):,} retired so far", every_ns=PROGRESS_CYCLES))
    if not int(dut.done.value):
        await RisingEdge(dut.done)
    progress.cancel()
    await ClockCycles(dut.clk, 2)
    summary = {name: int(getattr(dut, name).value)
               for name in ("status", "cycles", "tohost_value", "proto_errors", "retired")}
    with open("summary.json", "w") as f:
        json.dump(summary, f)
