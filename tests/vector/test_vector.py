"""The vector unit in RTL simulation, on Verilator and Icarus, against the sequence model.

One build per simulator (``verif.vector.unit_run.VECTOR_DESIGN``, the one ``d1core vectors --unit
vector`` and ``d1core bench`` use), and one simulation running the four cocotb tests of
``tests/vector/tb_vector.py`` in turn: every legal pair, a random mix under idles and
backpressure, illegal requests, sticky flags and seeds. Icarus simulates this design at a few
cycles per second (32 FMAs in the lanes and 15 adders in the reduction tree, every one evaluated
each cycle), so it runs the same four tests with the same checks but fewer requests: every op
once, in one of its types, each type in some op (``one_type_per_op``: 43 requests instead of
the 124 legal pairs, a third of the time; Verilator runs every pair 60 times, so no (op, type)
goes unchecked), then the random mix, illegal requests and sticky flags on ``ICARUS_PAIRS``, one
pair of every datapath of the unit (each lane path, the reduction tree, each pipe), with a few
requests each (Verilator: every pair, thousands at random).
"""

import pytest

from sim.flow.runner import run_cocotb
from tests.groups import same_build
from verif.harness import stream_harness
from verif.vector.unit_run import VECTOR_DESIGN

#: One (op, type) pair per datapath: FMA lane FP32 and BF16, the lane's 2-stage logic, the
#: adder tree and the max tree, the integer pipe (multiplier, sum tree), the move pipe and the
#: conversion pipe both ways; and the state ops, for the sticky-flag test.
ICARUS_PAIRS = [["fma", "fp32"], ["fnms", "bf16"], ["min", "fp32"], ["to_i32", "fp32"],
                ["redsum", "fp32"], ["redmax", "fp32"], ["mul", "int32"], ["redsum", "int8"],
                ["shuffle", "int16"], ["transpose8", "int8"], ["narrow", "fp32"],
                ["widen", "bf16"], ["rdflags", "int32"], ["clrflags", "int32"],
                ["seed", "int32"]]

SIZES = {
    "verilator": {"per_pair": 60, "n": 2000, "idle": 40, "stall": 40, "batches": 2},
    "icarus": {"per_pair": 1, "one_type_per_op": True, "n": 8, "idle": 40, "stall": 40,
               "batches": 1, "pairs": ICARUS_PAIRS},
}


#: The cocotb tests of a run: all of them in one simulation on Verilator; on Icarus, whose
#: simulation of this unit is the regression's longest, ``every_pair`` and the others in two
#: simulations that can run on two workers at once.
#: Verilator shares its build with the ``d1core vectors --unit vector`` tests, so it runs on their
#: worker (tests/groups.py).
RUNS = [pytest.param("verilator", None, marks=[same_build(VECTOR_DESIGN, "verilator"),
                                               pytest.mark.slow], id="verilator"),
        pytest.param("icarus", ["every_pair"], marks=pytest.mark.slow, id="icarus-every_pair"),
        pytest.param("icarus", ["random_mix", "illegal", "sticky_flags"], marks=pytest.mark.slow,
                     id="icarus-others")]


@pytest.mark.parametrize("sim, testcase", RUNS)
def test_vector_unit(sim, testcase):
    run_cocotb(VECTOR_DESIGN, "tests.vector.tb_vector", sim, harness=stream_harness, quiet=True,
               args=SIZES[sim],
               testcase=testcase)
