"""The bulk stream harness and the cocotb runner, on both simulators.

Checks: words reach the output in order and intact under random idles and backpressure; a design
that breaks the stream rules or hangs is reported, not passed and not left running."""

import pytest

from sim.flow.build import Design
from sim.flow.toolchain import SIMULATORS
from tests.sim.designs import PlusOne
from verif.runner import run_cocotb


@pytest.mark.parametrize("sim", SIMULATORS)
@pytest.mark.parametrize("defect,expect,idle,stall", [
    (None, "ok", 0, 0),
    (None, "ok", 100, 150),
    ("drop-valid", "stream-rule", 0, 128),
    ("silent", "hung", 0, 0),
])
def test_harness(sim, defect, expect, idle, stall):
    design = Design.of("plus_one", PlusOne, width=32, defect=defect)
    run_cocotb(design, "tests.sim.tb_harness", sim, quiet=True,
               args={"seed": 5, "n": 500, "idle": idle, "stall": stall, "expect": expect})
