"""``d1core bench --only make-sim`` (sim/bench/make_sim.py) without running make: the parse of
``d1core sim``'s output (figures, a failed run, a missing line) and the section's arithmetic
(each run's split as the command prints it; core cycles/s = mesh's × cores)."""

import pytest

from sim.bench import BenchError, make_sim
from sim.commands import bench

OUTPUT = """d1core sim: the data-parallel training step ...
| step | loss (the mesh) | loss (the model) | bit for bit |
3 steps in 18,491 mesh cycles (the cores' start to the last one's end, loading excluded); simulated at 432 mesh cycles/s
time: 47.2 s (program and model 3.1 s, conversion and build 2.0 s, simulation 41.0 s, checking 1.1 s)
PASS: every core's losses, BF16 weights and FP32 masters equal the model's bit for bit
"""  # noqa: E501


def test_parse_takes_the_time_and_speed_lines():
    assert make_sim.parse(OUTPUT) == {"command_s": 47.2, "program_s": 3.1, "build_s": 2.0,
                                      "simulation_s": 41.0, "check_s": 1.1, "steps": 3,
                                      "cycles": 18_491, "speed": 432.0}


@pytest.mark.parametrize("output, message", [
    (OUTPUT.replace("PASS:", "FAIL:"), "make sim did not pass"),
    (OUTPUT.replace("time:", "times:"), "make sim printed no time or speed line"),
])
def test_parse_refuses_a_failed_or_unreadable_run(output, message):
    with pytest.raises(BenchError, match=f"^{message}"):
        make_sim.parse(output)


def test_section_reports_each_run_and_the_first_runs_build():
    first = {**make_sim.parse(OUTPUT), "wall_s": 400.0, "build_s": 350.0}
    later = {**make_sim.parse(OUTPUT), "wall_s": 50.0}
    text = make_sim.section({"setup_s": 120.0, "runs": [first, later], "cores": 4, "jobs": 2})
    assert "**120 s**" in text and "**400 s**" in text and "**50 s**" in text
    assert "of which the conversion and the build 350 s" in text
    assert "| later (run 2) | 50.0 | 3.1 | 2.0 | 41.0 | 1.1 | 2.8 | 18,491 | 432 | 1,728 |" in text


def test_make_sim_is_a_part_of_the_bench():
    assert "make-sim" in bench.PARTS
