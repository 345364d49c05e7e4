"""The FMA unit in RTL simulation, on Verilator and Icarus, against the reference model.

Two builds: the unit with every multiplicand format (FP32, BF16, CFP8), the design
``d1core vectors --unit fma`` runs; and the matrix units' configuration (BF16 and CFP8
multiplicands only, an 8-bit significand multiplier). Verilator runs the full sizes: a million
random FMAs mixing the formats, 200,000 hard FP32 cases, every combination of FP32 specials for
a, b and c, heavy backpressure; for the matrix configuration 300,000 random FMAs and every
pair of CFP8 codes for five format and bias pairs. Icarus is one to two
orders of magnitude slower on this design, so it runs the same tests on smaller sets (every 8th
special combination, tens of thousands of random FMAs), each in well under a minute.
"""

import pytest

from hw.fp.fma import MATRIX_FORMATS, FMAUnit
from sim.flow.build import Design
from sim.flow.runner import run_cocotb
from sim.flow.toolchain import SIMULATORS
from tests.groups import same_build
from verif.fp.fma_run import FMA_DESIGN
from verif.harness import stream_harness

DESIGNS = {
    "full": (FMA_DESIGN, None),
    "matrix": (Design.of("fp_fma_matrix", FMAUnit, tag_width=8, ab_formats=MATRIX_FORMATS),
               list(MATRIX_FORMATS)),
}

FULL = {"verilator": True, "icarus": False}

#: Format and bias pairs whose every code pair the matrix configuration runs (65,536 each).
CFP8_PAIRS = [("cfp8_143", 0, "cfp8_143", 0), ("cfp8_143", 63, "cfp8_143", 63),
              ("cfp8_152", 0, "cfp8_152", 63), ("cfp8_152", 63, "cfp8_143", 7),
              ("cfp8_143", 0, "cfp8_152", 0)]

CASES = {
    "full": {
        "random_mix": lambda full: {"n": 1_000_000 if full else 15_000, "seed": 3},
        "hard_cases": lambda full: {"n": 200_000 if full else 8_000, "seed": 4},
        "specials": lambda full: {"stride": 1 if full else 8},
        "backpressure": lambda full: {"n": 50_000 if full else 3_000},
    },
    "matrix": {
        "random_mix": lambda full: {"n": 300_000 if full else 8_000, "seed": 5},
        "exhaustive_cfp8": lambda full: {"pairs": CFP8_PAIRS, "stride": 1 if full else 64},
        "specials": lambda full: {"stride": 1 if full else 8},
    },
}


@pytest.mark.parametrize("config, case, sim", [
    pytest.param(c, k, sim, marks=same_build(DESIGNS[c][0], sim))
    for c in CASES for k in CASES[c] for sim in SIMULATORS])
def test_fma(config, case, sim):
    design, formats = DESIGNS[config]
    args = CASES[config][case](FULL[sim])
    if formats:
        args["formats"] = formats
    run_cocotb(design, "tests.fp.tb_fma", sim, harness=stream_harness, testcase=case, quiet=True,
               args=args)
