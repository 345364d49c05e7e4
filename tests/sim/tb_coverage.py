"""cocotb test of the coverage flow's end-to-end test (tests/sim/test_coverage.py): drives the
tiny ``Classify`` design with values that take its ``m.If`` and its ``m.Else`` but never its
``m.Elif`` (``a == 5``), and never set bit 2 of ``a`` (so ``a[2]`` and ``o[1]`` never toggle)."""

import cocotb
from cocotb.triggers import Timer


@cocotb.test()
async def classify(dut):
    for a, o in [(0, 0), (3, 1), (1, 0), (3, 1), (0, 0), (2, 0)]:
        dut.a.value = a
        await Timer(1, unit="ns")
        assert int(dut.o.value) == o, (a, int(dut.o.value))
