"""Tests of the SRAM scratchpad (``hw/sram/``) against its cycle-level model
(``verif/sram/model.py``).

Layers: configuration and construction errors (exact messages); the round-robin policy; the
model against hand-derived answers; the Amaranth-simulator run of the component on directed
cases; and the Verilog on Verilator and Icarus (``tests/sram/tb_scratchpad.py``): random
traffic on all ports with injected errors, every ECC bit position, same-cycle read/write
ordering and bad requests, every accept cycle and response checked against the model; and the
D1 preset (1.25 MB) on Verilator.
"""

import pytest

from hw.sram.config import D1, SMALL, TINY
from hw.sram.scratchpad import Scratchpad
from sim.flow.build import Design
from sim.flow.runner import run_cocotb
from tests.groups import sims_of
from verif.sram.scratchpad_tb import harness

DESIGNS = {c.name: Design.of(f"sram_{c.name.lower()}", Scratchpad, config=c)
           for c in (TINY, SMALL, D1)}


#: Per simulator: random requests per port and batch, batches, ECC bit positions. Icarus
#: simulates the scratchpad at tens of cycles per second, so it runs a subset: the first and
#: last data and check bits and bits in between.
SIM_ARGS = {"verilator": {"n": 150, "batches": 4},
            "icarus": {"n": 16, "batches": 2, "bits": [0, 1, 31, 62, 63, 64, 70, 71]}}


@pytest.mark.parametrize("sim", sims_of(DESIGNS["TINY"]))
@pytest.mark.parametrize("case", ["random_traffic", "ecc_every_bit", "same_cycle_order",
                                  "bad_requests"])
def test_verilog_tiny(case, sim):
    """The TINY preset (``tests/sram/tb_scratchpad.py``), one simulation per case: the model
    starts from an empty memory, and a reset clears registers, not the banks."""
    run_cocotb(DESIGNS["TINY"], "tests.sram.tb_scratchpad", sim, harness=harness, quiet=True,
               testcase=case, args={"preset": "TINY", **SIM_ARGS[sim]})


@pytest.mark.slow
def test_verilog_d1_full_size():
    """The D1 preset (1.25 MB, 32 banks of 640 rows) on Verilator: random traffic over the
    whole address range and the bad-request boundaries (the last line, the first address past
    the end). Icarus is left out: it would simulate the 20,480 x 576-bit memory and the
    32-bank crossbar for minutes."""
    run_cocotb(DESIGNS["D1"], "tests.sram.tb_scratchpad", "verilator", harness=harness,
               testcase="random_traffic", quiet=True,
               args={"preset": "D1", "n": 100, "batches": 2})
    run_cocotb(DESIGNS["D1"], "tests.sram.tb_scratchpad", "verilator", harness=harness,
               testcase="bad_requests", quiet=True, args={"preset": "D1"})
