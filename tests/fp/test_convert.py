"""The conversion unit in RTL simulation, on Verilator and Icarus, against the reference model.

Verilator runs the full sizes (every BF16 pattern through every narrowing conversion at biases
0, 7, 15, 31 and 63 in both rounding modes; every code of every format widened at those biases; a
million random requests). Icarus is one to two orders of magnitude slower on this design (see
docs/results.md), so it runs the same tests on smaller sets: every 4th BF16 pattern and 16-bit
code (all CFP8 codes) at biases 0 and 63 with RNE, and fewer random requests.
"""

import pytest

from hw.fp.convert import ConvertUnit
from sim.flow.build import Design
from sim.flow.runner import run_cocotb
from tests.groups import sims_of
from verif.harness import stream_harness

DESIGN = Design.of("fp_convert", ConvertUnit, tag_width=8)

FULL = {"verilator": True, "icarus": False}

CASES = {
    "exhaustive_bf16": lambda full: {"biases": [0, 7, 15, 31, 63] if full else [0, 63],
                                     "rounds": ["rne", "sr"] if full else ["rne"],
                                     "stride": 1 if full else 4},
    "exhaustive_widening": lambda full: {"biases": [0, 7, 15, 31, 63] if full else [0, 63],
                                         "stride": 1 if full else 4},
    "random_mix": lambda full: {"n": 1_000_000 if full else 50_000, "seed": 3},
    "corners": lambda full: {},
    "stochastic_seeds": lambda full: {"n": 20_000 if full else 4_000},
    "backpressure": lambda full: {"n": 50_000 if full else 5_000},
}


@pytest.mark.parametrize("sim", sims_of(DESIGN))
@pytest.mark.parametrize("case", list(CASES))
def test_convert(sim, case):
    run_cocotb(DESIGN, "tests.fp.tb_convert", sim, harness=stream_harness, testcase=case,
               quiet=True,
               args=CASES[case](FULL[sim]))
